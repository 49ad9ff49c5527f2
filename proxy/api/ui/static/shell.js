// What every page shares: the route, navigation, error boxes, the toast and the dialog.
import { ApiError } from "./api.js";
import { clear, h } from "./dom.js";

export function parseRoute(hash = window.location.hash) {
  const [path, queryText = ""] = hash.replace(/^#\/?/, "").split("?");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  return { page: parts[0] || "overview", rest: parts.slice(1), query: new URLSearchParams(queryText) };
}

/** Navigate; the same address again re-renders the page (after a change was made). */
export function go(hash) {
  if (window.location.hash === hash) window.dispatchEvent(new HashChangeEvent("hashchange"));
  else window.location.hash = hash;
}

export function errorBox(error) {
  const message = error instanceof ApiError ? `${error.message} (${error.status} ${error.code})` : String(error);
  return h("p", { class: "error-box", role: "alert" }, message);
}

let toastTimer = null;

export function toast(message) {
  const box = document.getElementById("toast");
  box.textContent = message;
  box.classList.add("shown");
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => box.classList.remove("shown"), 6000);
}

/**
 * A confirmation dialog: `fields` are field() parts shown in it; `action(values)` runs on
 * confirm and may throw an ApiError, which is shown in the dialog (which then stays open).
 */
export function confirmDialog({ title, text, fields = [], confirm = "Confirm", danger = true, action }) {
  const dialog = document.getElementById("confirm");
  document.getElementById("confirm-title").textContent = title;
  document.getElementById("confirm-text").textContent = text;
  const holder = clear(document.getElementById("confirm-fields"));
  for (const part of fields) holder.append(part.wrap);
  const error = document.getElementById("confirm-error");
  error.textContent = "";
  const ok = document.getElementById("confirm-ok");
  ok.textContent = confirm;
  ok.className = danger ? "danger" : "primary";
  const form = document.getElementById("confirm-form");
  const cancel = document.getElementById("confirm-cancel");
  return new Promise((resolve) => {
    const done = (result) => {
      form.onsubmit = null;
      cancel.onclick = null;
      dialog.close();
      resolve(result);
    };
    form.onsubmit = async (event) => {
      event.preventDefault();
      ok.disabled = true;
      try {
        done(await action());
      } catch (problem) {
        error.textContent = problem instanceof ApiError ? problem.message : String(problem);
      } finally {
        ok.disabled = false;
      }
    };
    cancel.onclick = () => done(null);
    dialog.oncancel = () => resolve(null);
    dialog.showModal();
    (fields[0]?.input || ok).focus();
  });
}

