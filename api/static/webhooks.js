// Webhook subscriptions and their delivery log (status code, latency, attempts); admins redeliver.

import { query, request, session } from "./api.js";
import { badge, fmtInt, h, timeEl } from "./dom.js";

const REFRESH_MS = 5000;

function attemptsLog(delivery) {
  if (!delivery.log.length) return "—";
  return h("details", {},
    h("summary", {}, `${delivery.log.length} attempt${delivery.log.length === 1 ? "" : "s"}`),
    h("ol", { class: "log" }, delivery.log.map((a) => h("li", {},
      timeEl(a.started_at, { date: false }), " · ",
      a.ok ? "ok" : h("span", { class: "error-text" }, "failed"),
      a.status_code ? ` · HTTP ${a.status_code}` : "",
      ` · ${Math.round(a.latency_ms)} ms`,
      a.error ? ` · ${a.error}` : ""))));
}

function subscriptionSummary(hook) {
  return h("dl", { class: "facts" },
    h("dt", {}, "URL"), h("dd", {}, h("code", {}, hook.url)),
    h("dt", {}, "Events"), h("dd", {}, hook.events.join(", ")),
    h("dt", {}, "Cameras"), h("dd", {}, hook.cameras?.length ? hook.cameras.join(", ") : "all"),
    h("dt", {}, "Min score"), h("dd", {}, hook.min_score ?? "any"),
    h("dt", {}, "Enabled"), h("dd", {}, hook.enabled ? "yes" : "no (paused)"),
    hook.description ? [h("dt", {}, "Note"), h("dd", {}, hook.description)] : null);
}

export async function render(main, { params }, ctx) {
  const hooks = await request("/webhooks");
  const head = h("div", { class: "page-head" }, h("div", {},
    h("h1", {}, "Webhook deliveries"),
    h("p", {}, "Every event sent to each subscriber, with the result of each attempt.")));
  if (!hooks.length) {
    main.replaceChildren(head, h("p", { class: "notice empty" },
      "No webhook subscriptions yet. An admin token can add one with POST /webhooks."));
    return undefined;
  }
  const selectedId = Number(params.get("webhook")) || hooks[0].id;
  const hook = hooks.find((w) => w.id === selectedId) ?? hooks[0];
  const statusFilter = params.get("status") ?? "";

  const hookSelect = h("select", { id: "f-webhook" }, hooks.map((w) =>
    h("option", { value: w.id, selected: w.id === hook.id }, `#${w.id} ${w.url}`)));
  const statusSelect = h("select", { id: "f-delivery-status" },
    [["", "Any status"], ["pending", "Pending"], ["delivered", "Delivered"], ["dead", "Dead letter"]]
      .map(([v, t]) => h("option", { value: v, selected: v === statusFilter }, t)));
  const apply = () => ctx.go("/webhooks", Object.fromEntries(Object.entries({
    webhook: hookSelect.value, status: statusSelect.value }).filter(([, v]) => v)));
  hookSelect.addEventListener("change", apply);
  statusSelect.addEventListener("change", apply);
  const filters = h("form", { class: "filters", "aria-label": "Choose deliveries",
    onsubmit: (e) => { e.preventDefault(); apply(); } },
    h("div", { class: "field" }, h("label", { for: "f-webhook" }, "Subscription"), hookSelect),
    h("div", { class: "field" }, h("label", { for: "f-delivery-status" }, "Status"), statusSelect));

  const message = h("div", { role: "status" });
  const results = h("div", {});
  main.replaceChildren(head, filters,
    h("section", { class: "panel", "aria-label": "Subscription" }, subscriptionSummary(hook)),
    h("div", { class: "stack" }, message, results));

  const admin = session.isAdmin;
  async function redeliver(delivery, button) {
    button.disabled = true;
    try {
      await request(`/webhooks/${hook.id}/deliveries/${delivery.id}/redeliver`, { method: "POST" });
      message.replaceChildren(h("p", { class: "notice" },
        `Delivery ${delivery.id} queued again (same event id ${delivery.event_id}).`));
      await load();
    } catch (error) {
      message.replaceChildren(h("p", { class: "notice error" }, error.message));
      button.disabled = false;
    }
  }

  let signature = "";
  async function load() {
    let rows;
    try {
      rows = await request(`/webhooks/${hook.id}/deliveries${query({ status: statusFilter, limit: 100 })}`);
    } catch (error) {
      if (ctx.alive() && error.status !== 401) {
        results.replaceChildren(h("p", { class: "notice error", role: "alert" }, error.message));
      }
      return;
    }
    if (!ctx.alive()) return;
    const sig = JSON.stringify(rows.map((d) => [d.id, d.status, d.attempts]));
    if (sig === signature) return;
    signature = sig;
    if (!rows.length) {
      results.replaceChildren(h("p", { class: "notice empty" }, "No deliveries yet."));
      return;
    }
    const cols = ["Delivery", "Event", "Incident", "Status", "Attempts", "Last HTTP", "Latency",
      "Last error", "Created", "Delivered", "Log"];
    if (admin) cols.push("Action");
    results.replaceChildren(h("div", { class: "table-wrap" }, h("table", {},
      h("caption", { class: "visually-hidden" }, `Deliveries of webhook ${hook.id}, newest first`),
      h("thead", {}, h("tr", {}, cols.map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, rows.map((d) => {
        const action = admin && d.status !== "pending"
          ? h("button", { type: "button", class: "button secondary small" }, "Redeliver",
            h("span", { class: "visually-hidden" }, ` delivery ${d.id}`))
          : null;
        action?.addEventListener("click", () => redeliver(d, action));
        return h("tr", { "data-delivery": d.id },
          h("td", { class: "num" }, d.id),
          h("td", {}, d.event_type, h("br"), h("code", { title: d.event_id }, d.event_id.slice(0, 12))),
          h("td", {}, d.incident_id ? h("a", { href: `#/incidents/${d.incident_id}` }, `#${d.incident_id}`) : "—"),
          h("td", {}, badge(d.status, d.status === "dead" ? "dead letter" : d.status)),
          h("td", { class: "num" }, fmtInt(d.attempts)),
          h("td", { class: "num" }, d.last_status_code ?? "—"),
          h("td", { class: "num" }, d.last_latency_ms === null ? "—" : `${Math.round(d.last_latency_ms)} ms`),
          h("td", {}, d.last_error ?? "—"),
          h("td", { class: "num" }, timeEl(d.created_at)),
          h("td", { class: "num" }, d.delivered_at ? timeEl(d.delivered_at) : "—"),
          h("td", {}, attemptsLog(d)),
          admin ? h("td", {}, action ?? "—") : null);
      })))));
  }
  await load();
  const timer = setInterval(load, REFRESH_MS);
  return () => clearInterval(timer);
}
