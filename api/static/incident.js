// One incident: score plot over time, key frame, description, detector, times, clip.

import { blobUrl, request } from "./api.js";
import { zonesText } from "./masks.js";
import { scorePlot } from "./charts.js";
import { badge, fmtDuration, fmtScore, fmtTime, h, timeEl } from "./dom.js";
import { feedbackPanel } from "./feedback.js";

const REFRESH_MS = 5000;
const TABLE_ROWS = 500;

function fact(label, value) {
  return [h("dt", {}, label), h("dd", {}, value ?? "—")];
}

// Stage 2 (docs/stage2.md): one entry per analysed window, newest verdict data first.
function analysesList(analyses) {
  if (!Array.isArray(analyses) || !analyses.length) return null;
  return h("ul", { class: "log" }, analyses.map((a) => {
    if (a.status !== "done") {
      return h("li", {}, `window ${a.window_id} · ${a.status}${a.reason ? ` · ${a.reason}` : ""}`);
    }
    const scores = a.score_source === "not rated"
      ? "not rated (explanations only)"
      : `LLM ${fmtScore(a.score)} (${a.score_source}) → refined ${fmtScore(a.refined_score)}`;
    const captions = a.captions_clean ?? a.captions_raw ?? [];
    return h("li", {},
      h("p", {}, `window ${a.window_id} · ${scores}`),
      a.summary ? h("p", { class: "description" }, a.summary) : null,
      captions.length
        ? h("details", {}, h("summary", {}, `Captions of ${captions.length} frames`),
          h("ol", {}, captions.map((c) => h("li", {}, c))))
        : null,
      h("p", { class: "muted" }, [a.captioner, a.llm, a.prompt_version].filter(Boolean).join(" · ")));
  }));
}

function dataTable(curve) {
  const rows = curve.slice(0, TABLE_ROWS);
  return h("details", {},
    h("summary", {}, `Show the scores as a table (${curve.length} frames)`),
    h("div", { class: "table-wrap" }, h("table", {},
      h("thead", {}, h("tr", {}, ["Time", "Score", "Frame offset"].map((t) =>
        h("th", { scope: "col" }, t)))),
      h("tbody", {}, rows.map((p) => h("tr", {},
        h("td", { class: "num" }, timeEl(p.t)),
        h("td", { class: "num" }, p.score === null ? "not scored" : fmtScore(p.score)),
        h("td", { class: "num" }, p.offset)))))),
    curve.length > TABLE_ROWS ? h("p", { class: "hint" }, `First ${TABLE_ROWS} shown.`) : null,
  );
}

function keyFrame(item) {
  if (!item.key_frame_url) {
    return h("p", { class: "notice empty" }, "No key frame was stored for this incident.");
  }
  const img = h("img", { class: "keyframe", id: "key-frame",
    alt: `Key frame of incident ${item.id} on camera ${item.camera}, at the peak score` });
  blobUrl(item.key_frame_url)
    .then((url) => { img.src = url; })
    .catch((error) => { img.alt = `Key frame could not be loaded: ${error.message}`; });
  return h("figure", {}, img,
    h("figcaption", {}, `Peak ${fmtScore(item.peak_score)} at ${fmtTime(item.peak_at)}`));
}

function clip(item) {
  // GET /incidents/{id}/clip.webm (VP8, plays in browsers) cuts the clip from the frames retained
  // in Kafka: costly, so only on request. If the browser still cannot play it, offer the download.
  const url = item.clip_url ?? `/incidents/${item.id}/clip.webm`;
  const filename = `incident-${item.id}.webm`;
  const video = h("video", { controls: true, preload: "none", hidden: true,
    "aria-label": `Clip of incident ${item.id}` });
  const note = h("p", { class: "hint", "aria-live": "polite" },
    "The incident with a few seconds before and after, from the retained frames.");
  const load = h("button", { type: "button", class: "button secondary", id: "load-clip" },
    "Load clip");
  const actions = h("p", {}, load);
  load.addEventListener("click", async () => {
    load.disabled = true;
    load.textContent = "Cutting the clip…";
    try {
      const src = await blobUrl(url);
      video.addEventListener("error", () => {
        video.hidden = true;
        note.textContent = "This browser cannot play the clip's video codec; download it instead.";
      }, { once: true });
      video.src = src;
      video.hidden = false;
      note.textContent = "";
      actions.replaceChildren(h("a", { class: "button secondary", href: src, download: filename },
        "Download clip"));
    } catch (error) {
      load.disabled = false;
      load.textContent = "Try again";
      note.textContent = error.status === 410
        ? "The frames of this incident are no longer retained, so there is no clip."
        : `Clip unavailable: ${error.message}`;
    }
  });
  return h("section", { class: "panel", "aria-labelledby": "clip-title" },
    h("h2", { id: "clip-title" }, "Clip"), video, note, actions);
}

// The stage-2 LLM's fusion weight on this camera, set from its ratings of normal footage:
// "explanations only" says the rating would not change the score, so it is not asked for
// (docs/stage2.md).
function weightNote(weight) {
  if (!weight) return null;
  const name = weight.model || "LLM";
  const text = weight.explanations_only
    ? `${name}: explanations only (weight 0; the rating is skipped): ${weight.reason}`
    : `${name}: may raise the score (weight ${weight.weight}) where it rates above ` +
      `${fmtScore(weight.normal_p95)}, its normal footage's 95th percentile`;
  return h("p", { class: "stage2-weight" }, text);
}

function view(item) {
  const description = item.explanation ?? null;
  const stages = analysesList(item.stage2);
  return [
    h("a", { class: "back", href: `#/incidents?camera=${encodeURIComponent(item.camera)}` },
      `← Incidents of ${item.camera}`),
    h("div", { class: "page-head" },
      h("div", {},
        h("h1", {}, `Incident #${item.id} · ${item.camera} `, badge(item.status)),
        h("p", {}, `${fmtTime(item.started_at)} · ${fmtDuration(item.started_at, item.ended_at)}` +
          `${item.ended_at ? "" : " so far"} · peak ${fmtScore(item.peak_score)}`))),
    h("div", { class: "incident-grid" },
      h("div", { class: "stack" },
        h("section", { class: "panel", "aria-labelledby": "plot-heading" },
          h("h2", { id: "plot-heading" }, "Score over time"),
          scorePlot(item.score_curve, {
            threshold: item.threshold, peakAt: item.peak_at, peakScore: item.peak_score,
          }),
          h("div", { class: "plot-legend", "aria-hidden": "true" },
            h("span", {}, "frame score"), h("span", { class: "thr" }, "threshold")),
          dataTable(item.score_curve)),
        description || stages
          ? h("section", { class: "panel", "aria-labelledby": "desc-title" },
            h("h2", { id: "desc-title" }, "Description"),
            description ? h("p", { class: "description" }, description) : null,
            stages ? [h("h3", {}, "Stage 2: captions and rating"), weightNote(item.stage2_weight),
              stages] : null)
          : null,
        clip(item)),
      h("div", { class: "stack" },
        h("section", { class: "panel", "aria-labelledby": "kf-title" },
          h("h2", { id: "kf-title" }, "Key frame"), keyFrame(item)),
        feedbackPanel(item),
        h("section", { class: "panel", "aria-labelledby": "facts-title" },
          h("h2", { id: "facts-title" }, "Details"),
          h("dl", { class: "facts" },
            fact("Camera", h("a", { href: `#/incidents?camera=${encodeURIComponent(item.camera)}` },
              item.camera)),
            fact("Status", item.status),
            fact("Started", timeEl(item.started_at)),
            fact("Ended", item.ended_at ? timeEl(item.ended_at) : "ongoing"),
            fact("Duration", fmtDuration(item.started_at, item.ended_at)),
            fact("Peak score", fmtScore(item.peak_score)),
            fact("Fused score", item.fused_score == null ? null : fmtScore(item.fused_score)),
            fact("Peak at", timeEl(item.peak_at)),
            fact("Threshold", fmtScore(item.threshold)),
            fact("Scorer", item.scorer),
            fact("Rule", item.rule),
            fact("Zones", zonesText(item.zones)),
            fact("Windows", `${item.first_window_seq}–${item.last_window_seq}`),
            fact("Updated", timeEl(item.updated_at))))),
    ),
  ];
}

export async function render(main, { match }, ctx) {
  const id = match[1];
  let item;
  try {
    item = await request(`/incidents/${id}`);
  } catch (error) {
    if (error.status === 404) {
      main.replaceChildren(h("p", { class: "notice error", role: "alert" },
        `There is no incident #${id}.`), h("a", { href: "#/incidents" }, "← All incidents"));
      return undefined;
    }
    throw error;
  }
  main.replaceChildren(...view(item));
  if (item.status !== "open") return undefined;
  // An open incident keeps growing: follow it until it closes.
  const timer = setInterval(async () => {
    try {
      const fresh = await request(`/incidents/${id}`);
      if (!ctx.alive()) return;
      if (fresh.updated_at !== item.updated_at || fresh.score_curve.length !== item.score_curve.length) {
        const open = [...main.querySelectorAll("details[open]")].length > 0;
        item = fresh;
        main.replaceChildren(...view(item));
        if (open) main.querySelector("details")?.setAttribute("open", "");
      }
      if (fresh.status !== "open") clearInterval(timer);
    } catch {
      /* the next tick tries again; a 401 has already sent us to the login page */
    }
  }, REFRESH_MS);
  return () => clearInterval(timer);
}
