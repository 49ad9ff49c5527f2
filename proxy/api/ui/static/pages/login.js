// Log in with an admin API token (pullgate token create --role admin|auditor).
import { ApiError, token, whoami } from "../api.js";
import { field, h, setError } from "../dom.js";

export function loginPage(onLoggedIn, problem) {
  const secret = field("login-token", "API token", h("input", {
    type: "password", name: "token", autocomplete: "off", required: true, spellcheck: "false",
  }), "An admin or auditor token from `pullgate token create`. It is kept in this tab only.");
  const submit = h("button", { type: "submit", class: "primary", id: "login-submit" }, "Log in");
  const form = h("form", { class: "card login", id: "login-form", "aria-labelledby": "login-title" },
    h("h1", { id: "login-title" }, "pullgate console"),
    h("p", {}, "Review quarantined images, explain denials, manage rules."),
    secret.wrap, submit);
  if (problem) setError(secret, problem);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const value = secret.input.value.trim();
    if (!value) {
      setError(secret, "Enter a token.");
      return;
    }
    submit.disabled = true;
    token.set(value);
    try {
      const me = await whoami();
      onLoggedIn(me);
    } catch (error) {
      token.clear();
      setError(secret, error instanceof ApiError && error.status === 401
        ? "This token is unknown or revoked."
        : `Could not log in: ${error.message}`);
      secret.input.focus();
    } finally {
      submit.disabled = false;
    }
  });
  return h("div", { class: "login-wrap" }, form);
}
