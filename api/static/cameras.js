// The camera wall: status, fps, frame counters and a live score sparkline per camera.

import { request } from "./api.js";
import { sparkline } from "./charts.js";
import { badge, fmtInt, fmtScore, fmtTime, h, tone } from "./dom.js";

const REFRESH_MS = 3000;
const SPARK_POINTS = 120;

function stat(label, value, title) {
  return h("div", { title: title ?? null }, h("dt", {}, label), h("dd", {}, value));
}

function fmtFps(value) {
  return Number(value).toLocaleString("en", { maximumFractionDigits: 2 });
}

// The analysed rate is what the models see and the CPU pays for; the setting and the source's
// announced rate explain it (a 25 fps camera set to 10 is analysed every 3rd frame: 8.33 fps).
function rateTitle(camera) {
  const setting = `${camera.fps_setting === null ? "service default" : "camera's own"} setting `
    + `${fmtFps(camera.fps)} fps`;
  if (camera.source_fps === null || camera.source_fps === undefined) {
    return `Analysed fps; ${setting}; source rate unknown`;
  }
  const every = camera.analysis_stride > 1 ? `1 frame in ${camera.analysis_stride}`
    : "every frame";
  return `Analysed fps: ${every} of a ${fmtFps(camera.source_fps)} fps source; ${setting}`;
}

function card(camera, scores) {
  const points = scores?.points ?? [];
  const scored = points.filter((p) => p.score !== null);
  const latest = scored.length ? scored[scored.length - 1] : null;
  const headingId = `cam-${camera.id}`;
  return h("li", { class: `card ${tone(camera.status)}`, "aria-labelledby": headingId,
    "data-camera": camera.name },
    h("div", { class: "card-head" },
      h("h2", { id: headingId, title: camera.name }, camera.name),
      badge(camera.status),
    ),
    camera.status_reason ? h("p", { class: "reason" }, camera.status_reason) : null,
    !camera.enabled ? h("p", { class: "reason" }, "Disabled: not ingesting") : null,
    h("dl", { class: "stats" },
      stat("fps", fmtFps(camera.analysed_fps ?? camera.fps), rateTitle(camera)),
      stat("kept", fmtInt(camera.kept_frames), "Frames scored"),
      stat("pruned", fmtInt(camera.pruned_frames),
        camera.pruned_ratio === null ? "Frames skipped as static"
          : `Frames skipped as static (${(camera.pruned_ratio * 100).toFixed(1)} %)`),
      stat("dropped", fmtInt(camera.dropped_frames), "Frames lost (late or unreadable)"),
    ),
    h("div", { class: "spark-wrap" },
      h("div", { class: "spark-label" },
        h("span", {}, `Score, last ${points.length} frames`),
        h("span", {}, "latest ", h("strong", { class: "latest-score" },
          latest ? fmtScore(latest.score) : "—"))),
      sparkline(points, camera.threshold),
    ),
    h("div", { class: "card-foot" },
      h("span", {}, `threshold ${fmtScore(camera.threshold)}`),
      h("a", { href: `#/cameras/${encodeURIComponent(camera.name)}/masks`, class: "masks-link" },
        "Masks & zones", h("span", { class: "visually-hidden" }, ` of ${camera.name}`)),
      h("a", { href: `#/incidents?camera=${encodeURIComponent(camera.name)}` },
        "Incidents", h("span", { class: "visually-hidden" }, ` of ${camera.name}`), " →"),
    ),
  );
}

export async function render(main, _route, ctx) {
  const wall = h("ul", { class: "wall", "aria-label": "Cameras" });
  const updated = h("span", { class: "updated" });
  const problem = h("div", { role: "alert" });
  main.replaceChildren(
    h("div", { class: "page-head" },
      h("div", {}, h("h1", {}, "Cameras"),
        h("p", {}, `Live status and scores, refreshed every ${REFRESH_MS / 1000} s.`)),
      updated),
    problem,
    wall,
  );
  let busy = false;
  async function refresh() {
    if (busy) return;
    busy = true;
    try {
      const list = await request("/cameras");
      const scores = await Promise.all(list.map((c) =>
        request(`/cameras/${encodeURIComponent(c.name)}/scores?limit=${SPARK_POINTS}`)
          .catch(() => null)));
      if (!ctx.alive()) return;
      problem.replaceChildren();
      if (!list.length) {
        wall.replaceChildren(h("li", { class: "notice empty" },
          "No cameras yet. Add one with “vad camera add” or POST /cameras."));
      } else {
        wall.replaceChildren(...list.map((c, i) => card(c, scores[i])));
      }
      updated.textContent = `Updated ${fmtTime(new Date().toISOString(), { date: false })}`;
    } catch (error) {
      if (ctx.alive() && error.status !== 401) {
        problem.replaceChildren(h("p", { class: "notice error" }, `Refresh failed: ${error.message}`));
      }
    } finally {
      busy = false;
    }
  }
  await refresh();
  const timer = setInterval(refresh, REFRESH_MS);
  return () => clearInterval(timer);
}
