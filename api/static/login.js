// Sign in with an API token: checked against the API before it is kept (in sessionStorage).

import { request, session } from "./api.js";
import { h } from "./dom.js";

function explain(error) {
  if (error.status === 401) {
    return "That token was not accepted: it is invalid or has been revoked. " +
      "Create one with “vad token create” and try again.";
  }
  if (error.status === 403) return `The token is valid but may not read: ${error.message}`;
  return error.message || "Signing in failed.";
}

export async function render(main, { params }, ctx) {
  const message = h("div", { id: "login-message", "aria-live": "assertive" });
  if (params.has("expired")) {
    message.append(h("p", { class: "notice error", role: "alert" },
      "Your token is no longer accepted (revoked or expired). Please sign in again."));
    session.clear();
  }
  const input = h("input", {
    id: "token", name: "token", type: "password", autocomplete: "off", spellcheck: "false",
    required: true, "aria-describedby": "token-hint login-message",
  });
  const button = h("button", { type: "submit", class: "button", id: "sign-in" }, "Sign in");
  const form = h("form", { class: "login", novalidate: true, "aria-labelledby": "login-title" },
    h("h1", { id: "login-title" }, "VAD dashboard"),
    h("p", {}, "Sign in with an API token. It is kept only for this browser tab."),
    h("label", { for: "token" }, "API token"),
    input,
    h("p", { class: "hint", id: "token-hint" },
      "A read token shows everything; an admin token may also redeliver webhooks."),
    button,
    message,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const token = input.value.trim();
    message.replaceChildren();
    if (!token) {
      message.append(h("p", { class: "notice error", role: "alert" }, "Enter an API token."));
      input.focus();
      return;
    }
    button.disabled = true;
    button.textContent = "Checking…";
    try {
      const info = await request("/ui/session", { token });
      session.save(token, info);
      const next = params.get("next");
      ctx.go(next && next.startsWith("/") && !next.startsWith("/login") ? next : "/cameras");
    } catch (error) {
      message.append(h("p", { class: "notice error", role: "alert" }, explain(error)));
      input.select();
      input.focus();
    } finally {
      button.disabled = false;
      button.textContent = "Sign in";
    }
  });
  main.replaceChildren(form);
  input.focus();
}
