// The operator's verdict on an incident (issue 20): confirmed, or a false alarm that the camera's
// model learns as normal (a new model version, seconds); undo restores the previous version.
// Admin tokens act; read-only tokens see the verdict.

import { request, session } from "./api.js";
import { h, timeEl } from "./dom.js";

const LABELS = { confirmed: "Confirmed incident", false_alarm: "False alarm" };

function verdictLine(feedback) {
  if (!feedback) return ["No verdict yet."];
  const parts = [h("strong", {}, LABELS[feedback.verdict] ?? feedback.verdict)];
  if (feedback.author) parts.push(` by ${feedback.author}`);
  if (feedback.created_at) parts.push(" · ", timeEl(feedback.created_at));
  if (feedback.model_version) parts.push(` · taught model v${feedback.model_version}`);
  if (feedback.note) parts.push(h("br"), `“${feedback.note}”`);
  return parts;
}

export function feedbackPanel(item) {
  let feedback = item.feedback ?? null;
  const status = h("p", { id: "feedback-status", "aria-live": "polite" }, verdictLine(feedback));
  const changes = h("ul", { class: "log", id: "feedback-changes" });
  const error = h("p", { class: "notice error", role: "alert", id: "feedback-error", hidden: true });
  const panel = h("section", { class: "panel", "aria-labelledby": "feedback-title" },
    h("h2", { id: "feedback-title" }, "Verdict"), status, changes, error);
  if (!session.isAdmin) return panel;

  const note = h("input", { id: "feedback-note", type: "text", maxlength: 2000,
    placeholder: "Why (optional)", "aria-label": "Note with the verdict" });
  const confirmed = h("button", { type: "button", class: "button secondary",
    id: "feedback-confirmed" }, "Confirmed");
  const falseAlarm = h("button", { type: "button", class: "button secondary",
    id: "feedback-false-alarm",
    title: "Nothing was wrong: the camera's model learns these frames as normal" }, "False alarm");
  const undo = h("button", { type: "button", class: "button secondary", id: "feedback-undo" },
    "Undo verdict");
  const buttons = [confirmed, falseAlarm, undo];
  const refresh = () => { undo.hidden = !feedback; };

  async function send(method, body, busyText, button) {
    const label = button.textContent;
    buttons.forEach((b) => { b.disabled = true; });
    button.textContent = busyText;
    error.hidden = true;
    try {
      const result = await request(`/incidents/${item.id}/feedback`, { method, body });
      feedback = result.verdict
        ? { verdict: result.verdict, note: result.note, author: session.info?.name,
          model_version: result.verdict === "false_alarm" ? result.model_version : null }
        : null;
      status.replaceChildren(...verdictLine(feedback));
      changes.replaceChildren(...result.lines.map((line) => h("li", {}, line)));
    } catch (failure) {
      error.textContent = `The verdict was not recorded: ${failure.message}`;
      error.hidden = false;
    } finally {
      button.textContent = label;
      buttons.forEach((b) => { b.disabled = false; });
      refresh();
    }
  }

  confirmed.addEventListener("click", () => send("POST",
    { verdict: "confirmed", note: note.value.trim() || null }, "Saving…", confirmed));
  falseAlarm.addEventListener("click", () => send("POST",
    { verdict: "false_alarm", note: note.value.trim() || null }, "Learning…", falseAlarm));
  undo.addEventListener("click", () => send("DELETE", undefined, "Undoing…", undo));
  refresh();
  panel.append(h("div", { class: "field" }, note), h("p", { class: "actions" }, ...buttons));
  return panel;
}
