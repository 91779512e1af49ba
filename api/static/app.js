// The dashboard shell: hash routing, the session, the top bar.

import { onUnauthorized, session } from "./api.js";
import { announce, h } from "./dom.js";
import * as cameras from "./cameras.js";
import * as incident from "./incident.js";
import * as incidents from "./incidents.js";
import * as login from "./login.js";
import * as masks from "./masks.js";
import * as webhooks from "./webhooks.js";

const ROUTES = [
  { pattern: /^\/login$/, view: login, nav: null, title: "Sign in" },
  { pattern: /^\/cameras$/, view: cameras, nav: "cameras", title: "Cameras" },
  { pattern: /^\/cameras\/([^/]+)\/masks$/, view: masks, nav: "cameras", title: "Masks and zones" },
  { pattern: /^\/incidents$/, view: incidents, nav: "incidents", title: "Incidents" },
  { pattern: /^\/incidents\/(\d+)$/, view: incident, nav: "incidents", title: "Incident" },
  { pattern: /^\/webhooks$/, view: webhooks, nav: "webhooks", title: "Webhook deliveries" },
];

const main = document.getElementById("main");
const topbar = document.getElementById("topbar");
let cleanup = null;
let generation = 0;

function parseHash() {
  const raw = location.hash.replace(/^#/, "") || "/cameras";
  const [path, search = ""] = raw.split("?");
  return { path, params: new URLSearchParams(search) };
}

export function go(path, params) {
  const search = params ? new URLSearchParams(params).toString() : "";
  location.hash = `#${path}${search ? `?${search}` : ""}`;
}

function showShell(route) {
  const signedIn = Boolean(session.token) && route.view !== login;
  topbar.hidden = !signedIn;
  if (!signedIn) return;
  const info = session.info;
  document.getElementById("who").textContent = info
    ? `${info.name} · ${info.scopes.includes("admin") ? "admin" : "read-only"}`
    : "";
  for (const link of topbar.querySelectorAll("[data-nav]")) {
    if (link.dataset.nav === route.nav) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

async function render() {
  const { path, params } = parseHash();
  let route = ROUTES.find((r) => r.pattern.test(path));
  if (!route) {
    go("/cameras");
    return;
  }
  if (!session.token && route.view !== login) {
    go("/login", { next: `${path}${params.toString() ? `?${params}` : ""}` });
    return;
  }
  if (session.token && route.view === login && !params.has("expired")) {
    go("/cameras");
    return;
  }
  if (cleanup) cleanup();
  cleanup = null;
  const mine = ++generation;
  const ctx = { alive: () => mine === generation, go };
  const match = path.match(route.pattern);
  showShell(route);
  document.title = `${route.title} · VAD dashboard`;
  main.replaceChildren(h("p", { class: "notice empty", "aria-busy": "true" }, "Loading…"));
  try {
    const done = await route.view.render(main, { params, match }, ctx);
    if (mine === generation) cleanup = typeof done === "function" ? done : null;
    else if (typeof done === "function") done();
  } catch (error) {
    if (mine !== generation || error.status === 401) return;
    main.replaceChildren(h("p", { class: "notice error", role: "alert" }, error.message));
  }
  if (mine === generation) announce(`${document.title} loaded`);
}

onUnauthorized(() => {
  session.clear();
  go("/login", { expired: "1" });
});

document.getElementById("logout").addEventListener("click", () => {
  session.clear();
  go("/login");
});

window.addEventListener("hashchange", render);
render();
