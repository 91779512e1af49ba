// The incident list: filters (camera, zone, min score, status, since), key-frame thumbnails,
// the zones each incident touched, paging.

import { blobUrl, query, request } from "./api.js";
import { badge, fmtDuration, fmtScore, h, timeEl } from "./dom.js";
import { zonesText } from "./masks.js";

const PAGE = 25;
const REFRESH_MS = 10000;

function localToIso(value) {
  if (!value) return "";
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? "" : d.toISOString();
}

export function thumbnail(item, { className = "thumb" } = {}) {
  if (!item.key_frame_url) {
    return h("span", { class: `${className} none` }, "no key frame");
  }
  const img = h("img", {
    class: className, alt: `Key frame of incident ${item.id} (${item.camera})`,
    width: 120, height: 80, decoding: "async",
  });
  blobUrl(item.key_frame_url)
    .then((url) => { img.src = url; })
    .catch(() => { img.alt = "Key frame could not be loaded"; });
  return img;
}

function scoreBar(score) {
  const pct = Math.round(Math.min(Math.max(score, 0), 1) * 100);
  return h("span", { class: "scorebar" },
    h("span", { class: "bar", "aria-hidden": "true" }, h("i", { "data-w": pct })),
    fmtScore(score));
}

function row(item) {
  const link = `#/incidents/${item.id}`;
  const tr = h("tr", { "data-incident": item.id },
    h("td", {}, h("a", { href: link, tabindex: "-1", "aria-hidden": "true" }, thumbnail(item))),
    h("td", {}, h("a", { href: link }, `#${item.id}`)),
    h("td", {}, item.camera),
    h("td", {}, badge(item.status)),
    h("td", { class: "num" }, timeEl(item.started_at)),
    h("td", { class: "num" }, fmtDuration(item.started_at, item.ended_at),
      item.ended_at ? null : h("span", { class: "visually-hidden" }, " so far")),
    h("td", { class: "num" }, scoreBar(item.peak_score)),
    h("td", {}, zonesText(item.zones) ?? "—"),
    h("td", {}, [item.scorer, item.rule].filter(Boolean).join(" · ") || "—"),
  );
  // CSP forbids inline style attributes in markup, but CSSOM writes are allowed.
  const bar = tr.querySelector("[data-w]");
  bar.style.width = `${bar.dataset.w}%`;
  return tr;
}

function field(id, label, control) {
  return h("div", { class: "field" }, h("label", { for: id }, label), control);
}

export async function render(main, { params }, ctx) {
  const current = {
    camera: params.get("camera") ?? "",
    min_score: params.get("min_score") ?? "",
    status: params.get("status") ?? "",
    zone: params.get("zone") ?? "",
    since: params.get("since") ?? "",
    text: params.get("text") ?? "",
    offset: Number(params.get("offset") ?? 0) || 0,
  };
  const cameras = await request("/cameras");
  const cameraSelect = h("select", { id: "f-camera", name: "camera" },
    h("option", { value: "" }, "All cameras"),
    cameras.map((c) => h("option", { value: c.name, selected: c.name === current.camera }, c.name)));
  const minScore = h("input", { id: "f-min-score", name: "min_score", type: "number", min: 0,
    max: 1, step: 0.01, inputmode: "decimal", value: current.min_score, placeholder: "0.00" });
  const status = h("select", { id: "f-status", name: "status" },
    [["", "Any status"], ["open", "Open"], ["closed", "Closed"]].map(([v, label]) =>
      h("option", { value: v, selected: v === current.status }, label)));
  const zone = h("input", { id: "f-zone", name: "zone", type: "search", maxlength: 60,
    value: current.zone, placeholder: "any zone" });
  const since = h("input", { id: "f-since", name: "since", type: "datetime-local",
    value: current.since });
  const text = h("input", { id: "f-text", name: "text", type: "search", maxlength: 200,
    value: current.text, placeholder: "camera, rule, scorer" });
  const form = h("form", { class: "filters", role: "search", "aria-label": "Filter incidents" },
    field("f-text", "Search", text),
    field("f-camera", "Camera", cameraSelect),
    field("f-zone", "Zone", zone),
    field("f-min-score", "Min peak score", minScore),
    field("f-status", "Status", status),
    field("f-since", "Active since (local time)", since),
    h("div", { class: "actions" },
      h("button", { type: "submit", class: "button" }, "Apply filters"),
      h("button", { type: "button", class: "button secondary",
        onclick: () => ctx.go("/incidents") }, "Reset")),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const next = { camera: cameraSelect.value, zone: zone.value.trim(), min_score: minScore.value,
      status: status.value, since: since.value, text: text.value.trim() };
    ctx.go("/incidents", Object.fromEntries(Object.entries(next).filter(([, v]) => v !== "")));
  });

  const results = h("div", { id: "incident-results" });
  const heading = h("p", {}, "");
  main.replaceChildren(
    h("div", { class: "page-head" }, h("div", {}, h("h1", {}, "Incidents"), heading)),
    form,
    results,
  );

  const apiQuery = query({
    camera: current.camera, zone: current.zone, min_score: current.min_score, status: current.status,
    since: localToIso(current.since), text: current.text, limit: PAGE, offset: current.offset, sort: "-started_at",
  });
  let signature = "";

  async function load() {
    let page;
    try {
      page = await request(`/incidents${apiQuery}`);
    } catch (error) {
      if (ctx.alive() && error.status !== 401) {
        results.replaceChildren(h("p", { class: "notice error", role: "alert" }, error.message));
      }
      return;
    }
    if (!ctx.alive()) return;
    const sig = JSON.stringify([page.total, page.items.map((i) => [i.id, i.status, i.peak_score])]);
    if (sig === signature) return;
    signature = sig;
    heading.textContent = `${page.total.toLocaleString("en")} matching, newest first.`;
    if (!page.items.length) {
      results.replaceChildren(h("p", { class: "notice empty" }, "No incidents match these filters."));
      return;
    }
    const table = h("table", {},
      h("caption", { class: "visually-hidden" }, "Incidents, newest first"),
      h("thead", {}, h("tr", {},
        ["Key frame", "Incident", "Camera", "Status", "Started", "Duration", "Peak score",
          "Zones", "Detector"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, page.items.map(row)),
    );
    const first = page.offset + 1;
    const last = page.offset + page.items.length;
    const pageTo = (offset) => {
      const next = Object.fromEntries(Object.entries({ ...current, offset })
        .filter(([k, v]) => v !== "" && !(k === "offset" && !v)));
      ctx.go("/incidents", next);
    };
    const pager = h("nav", { class: "pager", "aria-label": "Pages" },
      h("span", {}, `${first}–${last} of ${page.total.toLocaleString("en")}`),
      h("div", { class: "actions" },
        h("button", { type: "button", class: "button secondary small", disabled: page.offset === 0,
          onclick: () => pageTo(Math.max(0, page.offset - PAGE)) }, "← Newer"),
        h("button", { type: "button", class: "button secondary small",
          disabled: last >= page.total, onclick: () => pageTo(page.offset + PAGE) }, "Older →")));
    results.replaceChildren(h("div", { class: "table-wrap" }, table), pager);
  }

  await load();
  const timer = current.offset === 0 ? setInterval(load, REFRESH_MS) : null;
  return () => timer && clearInterval(timer);
}
