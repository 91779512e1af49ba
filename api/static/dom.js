// Building DOM without innerHTML: data from the API is always inserted as text.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

const SVG_NS = "http://www.w3.org/2000/svg";

export function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

function setAttrs(el, attrs) {
  for (const [key, value] of Object.entries(attrs ?? {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") el.setAttribute("class", value);
    else if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (key === "value" && "value" in el) el.value = value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
}

const pad = (n) => String(n).padStart(2, "0");

/** Local date and time, e.g. 2026-01-01 13:00:05. */
export function fmtTime(iso, { date = true } = {}) {
  if (!iso) return "—";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const time = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  return date ? `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${time}` : time;
}

export function timeEl(iso, options) {
  return h("time", { datetime: iso ?? null, title: iso ?? null }, fmtTime(iso, options));
}

export function fmtDuration(startIso, endIso) {
  if (!startIso) return "—";
  const end = endIso ? new Date(endIso) : new Date();
  let seconds = Math.max(0, Math.round((end - new Date(startIso)) / 1000));
  const hours = Math.floor(seconds / 3600);
  seconds -= hours * 3600;
  const minutes = Math.floor(seconds / 60);
  seconds -= minutes * 60;
  if (hours) return `${hours} h ${pad(minutes)} min`;
  if (minutes) return `${minutes} min ${pad(seconds)} s`;
  return `${seconds} s`;
}

export const fmtScore = (x) => (x === null || x === undefined ? "—" : Number(x).toFixed(2));
export const fmtInt = (x) => (x === null || x === undefined ? "—" : Number(x).toLocaleString("en"));

const TONES = {
  online: "ok",
  delivered: "ok",
  closed: "idle",
  connecting: "warn",
  reconnecting: "warn",
  pending: "warn",
  open: "bad",
  offline: "bad",
  dead: "bad",
  error: "bad",
};

export const tone = (status) => TONES[status] ?? "idle";

export function badge(status, label) {
  return h("span", { class: `badge ${tone(status)}` }, label ?? status);
}

export function announce(text) {
  const region = document.getElementById("announce");
  if (region) region.textContent = text;
}
