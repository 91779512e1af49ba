// Masks and zones of one camera (#/cameras/NAME/masks), drawn with clicks on its latest key
// frame. A mask hides part of the view from stage 1 and the detector; a zone names a part of it,
// and incidents say which zones they touched. Coordinates are fractions of the frame (0..1).

import { blobUrl, request, session } from "./api.js";
import { h, s } from "./dom.js";

const MIN_POINTS = 3;
const MAX_POINTS = 64;

/** "road, yard", "none" or null (the camera had no zones): for incident details. */
export function zonesText(zones) {
  if (zones === null || zones === undefined) return null;
  return zones.length ? zones.join(", ") : "none";
}

function pointsAttr(points) {
  return points.map(([x, y]) => `${x},${y}`).join(" ");
}

function round(value) {
  return Math.min(1, Math.max(0, Math.round(value * 10000) / 10000));
}

function centroid(points) {
  const n = points.length;
  return [points.reduce((a, p) => a + p[0], 0) / n, points.reduce((a, p) => a + p[1], 0) / n];
}

/** The SVG overlay (viewBox 0..1 in both axes, stretched over the frame). */
function overlay(masks, zones, draft) {
  const shapes = [];
  for (const m of masks) {
    shapes.push(s("polygon", { class: "mask-shape", points: pointsAttr(m.points),
      "data-region": m.id }));
  }
  for (const z of zones) {
    const [cx, cy] = centroid(z.points);
    shapes.push(s("polygon", { class: "zone-shape", points: pointsAttr(z.points),
      "data-region": z.id }));
    shapes.push(s("text", { class: "zone-label", x: cx, y: cy, "text-anchor": "middle" }, z.zone));
  }
  if (draft.length) {
    shapes.push(s("polyline", { class: "draft-line", points: pointsAttr([...draft, draft[0]]) }));
    for (const [x, y] of draft) shapes.push(s("circle", { class: "draft-point", cx: x, cy: y, r: 0.008 }));
  }
  return s("svg", { class: "region-overlay", viewBox: "0 0 1 1", preserveAspectRatio: "none",
    "aria-hidden": "true", "data-draft": draft.length }, shapes);
}

function regionList(title, rows, admin, onRemove) {
  return h("section", { class: "panel", "aria-label": title },
    h("h2", {}, title),
    rows.length
      ? h("ul", { class: "region-list" }, rows.map((r) => h("li", { "data-region": r.id },
        h("span", {}, `#${r.id}${r.zone ? ` ${r.zone}` : ""} · ${r.points.length} points`),
        admin ? h("button", { type: "button", class: "button small secondary",
          "aria-label": `Remove ${r.zone ? `zone ${r.zone} polygon` : "mask"} ${r.id}`,
          onclick: () => onRemove(r) }, "Remove") : null)))
      : h("p", { class: "hint" }, "None yet."));
}

export async function render(main, { match }, ctx) {
  const name = decodeURIComponent(match[1]);
  const base = `/cameras/${encodeURIComponent(name)}`;
  const admin = session.isAdmin;
  const state = { masks: [], zones: [], draft: [], kind: "mask" };
  const problem = h("div", { role: "alert", id: "region-message" });
  const stage = h("div", { class: "region-stage", id: "region-stage" });
  const lists = h("div", { class: "stack" });
  const img = h("img", { class: "keyframe", id: "region-frame", draggable: "false",
    alt: `Latest key frame of camera ${name}` });
  let frame = img; // what clicks are measured against (a blank view when there is no frame)
  const zoneName = h("input", { id: "zone-name", maxlength: 60, placeholder: "e.g. road",
    "aria-describedby": "zone-hint" });
  const save = h("button", { type: "button", class: "button", id: "save-polygon", disabled: true },
    "Save polygon");
  const undo = h("button", { type: "button", class: "button secondary", id: "undo-point",
    disabled: true }, "Undo point");
  const cancel = h("button", { type: "button", class: "button secondary", id: "cancel-polygon",
    disabled: true }, "Cancel");
  const count = h("p", { class: "hint", id: "draft-count", "aria-live": "polite" });

  function say(text, error = true) {
    problem.replaceChildren(text ? h("p", { class: `notice${error ? " error" : ""}` }, text) : "");
  }

  function redraw() {
    stage.querySelector("svg")?.remove();
    stage.append(overlay(state.masks, state.zones, state.draft));
    const n = state.draft.length;
    save.disabled = n < MIN_POINTS;
    undo.disabled = cancel.disabled = n === 0;
    count.textContent = n
      ? `${n} point${n > 1 ? "s" : ""}${n < MIN_POINTS ? ` (at least ${MIN_POINTS})` : ""}`
      : "Click on the frame to place points.";
    lists.replaceChildren(
      regionList("Masks", state.masks, admin, remove),
      regionList("Zones", state.zones, admin, remove));
  }

  async function load() {
    [state.masks, state.zones] = await Promise.all(
      [request(`${base}/masks`), request(`${base}/zones`)]);
    if (ctx.alive()) redraw();
  }

  async function remove(region) {
    try {
      await request(`${base}/${region.kind === "mask" ? "masks" : "zones"}/${region.id}`,
        { method: "DELETE" });
      say(null);
      await load();
    } catch (error) {
      say(`Could not remove it: ${error.message}`);
    }
  }

  stage.addEventListener("click", (event) => {
    if (!admin) return;
    const box = frame.getBoundingClientRect();
    if (!box.width || !box.height) return;
    if (state.draft.length >= MAX_POINTS) {
      say(`A polygon has at most ${MAX_POINTS} points.`);
      return;
    }
    state.draft.push([round((event.clientX - box.left) / box.width),
      round((event.clientY - box.top) / box.height)]);
    redraw();
  });
  undo.addEventListener("click", () => { state.draft.pop(); redraw(); });
  cancel.addEventListener("click", () => { state.draft = []; redraw(); });
  save.addEventListener("click", async () => {
    const zone = zoneName.value.trim();
    if (state.kind === "zone" && !zone) {
      say("Give the zone a name first.");
      zoneName.focus();
      return;
    }
    const body = state.kind === "zone" ? { name: zone, points: state.draft } : { points: state.draft };
    try {
      await request(`${base}/${state.kind === "zone" ? "zones" : "masks"}`, { method: "POST", body });
      state.draft = [];
      say(`${state.kind === "zone" ? `Zone ${zone}` : "Mask"} saved; workers use it within seconds.`,
        false);
      await load();
    } catch (error) {
      say(`Not saved: ${error.message}`);
    }
  });

  function kindChoice(value, label) {
    return h("label", { class: "choice" },
      h("input", { type: "radio", name: "region-kind", value, id: `kind-${value}`,
        checked: value === state.kind,
        onchange: () => { state.kind = value; zoneName.disabled = value !== "zone"; } }),
      ` ${label}`);
  }

  zoneName.disabled = true;
  stage.append(img);
  main.replaceChildren(
    h("div", { class: "page-head" },
      h("div", {}, h("h1", {}, `Masks and zones · ${name}`),
        h("p", {}, "Masks hide parts of the view from stage 1 and the detector (a clock, trees, "
          + "a road outside the fence). Zones name parts of it; incidents say which they touched."))),
    problem,
    h("div", { class: "region-layout" },
      h("div", { class: "stack" },
        stage,
        admin
          ? h("div", { class: "panel region-tools" },
            h("fieldset", {}, h("legend", {}, "Draw a"), kindChoice("mask", "mask"),
              kindChoice("zone", "zone named")),
            h("div", {}, h("label", { for: "zone-name" }, "Zone name"), zoneName,
              h("p", { class: "hint", id: "zone-hint" }, "Several polygons may share a zone.")),
            count,
            h("div", { class: "actions" }, save, undo, cancel))
          : h("p", { class: "hint" }, "Drawing needs an admin token.")),
      lists),
    h("a", { href: "#/cameras" }, "← Cameras"));
  try {
    img.src = await blobUrl(`${base}/key-frame.jpg`);
  } catch (error) {
    if (error.status === 404) {
      frame = h("div", { class: "keyframe region-blank", id: "region-frame" });
      img.replaceWith(frame);
      say("No key frame yet (this camera has no incident): drawing on a blank 4:3 view.", false);
    } else {
      throw error;
    }
  }
  await load();
}
