// Rules: list, create, edit (with the rule's ETag, so a concurrent edit is not lost) and
// delete, with the API's validation errors shown beside the field they name; and a dry run:
// what would a pull of this image reference get now?
import { ApiError, api, get, post } from "../api.js";
import { clear, definitions, field, h, section, select, setError, table } from "../dom.js";
import * as f from "../format.js";
import { confirmDialog, go, toast } from "../shell.js";

const MATCH = ["repository", "registry", "tag", "tag_regex", "digest"];

export async function render(route, session) {
  const writes = session.me.writes;
  const [rules, policy] = await Promise.all([get("/rules", { limit: 1000 }), get("/policy")]);
  const editing = route.query.get("edit");
  const page = h("div", { class: "page" }, h("h1", {}, "Rules"),
    h("p", {}, "Images no rule matches: ", h("strong", { id: "default-action" }, policy.document.default_action),
      `. Policy version ${policy.version}.`),
    section("Rules", rulesTable(rules.items, writes)));
  if (writes) page.append(await ruleForm(editing));
  page.append(dryRunSection());
  return page;
}

function matchText(match) {
  return MATCH.filter((k) => match[k]).map((k) => `${k} ${match[k]}`).join(", ") || "any";
}

function rulesTable(rules, writes) {
  const rows = rules.map((rule) => [
    h("span", { class: "mono" }, rule.id), h("span", { class: `badge action-${rule.action}` }, rule.action), rule.mode,
    h("span", { class: "mono" }, matchText(rule.match)), h("span", { class: "message" }, rule.description || "—"),
    rule.owner || "—", rule.expires_at ? f.time(rule.expires_at) : "—",
    writes ? h("div", { class: "row-actions" },
      h("a", { href: `#/rules?edit=${encodeURIComponent(rule.id)}`, class: "button", "aria-label": `Edit rule ${rule.id}` }, "Edit"),
      h("button", { type: "button", class: "danger", "aria-label": `Delete rule ${rule.id}`, onclick: () => remove(rule) }, "Delete")) : null,
  ].filter((cell) => cell !== null));
  const headers = ["ID", "Action", "Mode", "Match", "Description", "Owner", "Expires", ...(writes ? [""] : [])];
  return table("Rules", headers, rows, { id: "rules", empty: "No rules: every image gets the default action." });
}

async function ruleForm(editing) {
  let current = null;
  let etag = null;
  if (editing) {
    const answer = await api("GET", `/rules/${encodeURIComponent(editing)}`);
    current = answer.data;
    etag = answer.headers.get("ETag");
  }
  const value = (name) => (current ? current[name] ?? "" : "");
  const parts = {
    id: field("rule-id", "ID", h("input", { type: "text", value: value("id"), required: true, readonly: Boolean(current) })),
    ...Object.fromEntries(MATCH.map((name) => [`match.${name}`, field(`rule-match-${name}`, `Match: ${name.replace("_", " ")}`,
      h("input", { type: "text", value: current ? current.match[name] ?? "" : name === "repository" ? "**" : "" }),
      name === "repository" ? "Glob: * within a path component, ** across them." : null)])),
    action: field("rule-action", "Action", select(["allow", "deny", "quarantine"], value("action") || "deny")),
    mode: field("rule-mode", "Mode", select(["enforce", "warn"], value("mode") || "enforce")),
    description: field("rule-description", "Description", h("input", { type: "text", value: value("description") })),
    owner: field("rule-owner", "Owner", h("input", { type: "text", value: value("owner") })),
    expires_at: field("rule-expires", "Expires (optional)", h("input", { type: "datetime-local", value: f.toLocalInput(value("expires_at")) })),
  };
  const problem = h("p", { class: "error", role: "alert", id: "rule-form-error" });
  const submit = h("button", { type: "submit", class: "primary", id: "rule-save" }, current ? "Save changes" : "Create rule");
  const form = h("form", { class: "rule-form", id: "rule-form", novalidate: true },
    Object.values(parts).map((p) => p.wrap), problem,
    h("div", { class: "actions" }, submit, current ? h("a", { href: "#/rules", class: "button" }, "Cancel") : null));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    for (const part of Object.values(parts)) setError(part, "");
    problem.textContent = "";
    const body = {
      id: parts.id.input.value.trim(),
      match: Object.fromEntries(MATCH.map((name) => [name, parts[`match.${name}`].input.value.trim()]).filter(([, v]) => v)),
      action: parts.action.input.value, mode: parts.mode.input.value,
      description: parts.description.input.value, owner: parts.owner.input.value,
      expires_at: f.fromLocalInput(parts.expires_at.input.value),
    };
    submit.disabled = true;
    try {
      if (current) await api("PUT", `/rules/${encodeURIComponent(current.id)}`, { body, headers: { "If-Match": etag } });
      else await post("/rules", body);
      toast(current ? `Rule ${body.id} saved.` : `Rule ${body.id} created.`);
      go("#/rules");
    } catch (error) {
      showProblems(error, parts, problem);
    } finally {
      submit.disabled = false;
    }
  });
  return section(current ? `Edit rule ${current.id}` : "New rule", form);
}

function showProblems(error, parts, problem) {
  if (!(error instanceof ApiError)) {
    problem.textContent = String(error);
    return;
  }
  const problems = error.details.length ? error.details : [{ field: error.field, message: error.message }];
  let placed = false;
  for (const { field: name, message } of problems) {
    const part = parts[name] || parts[(name || "").split(".").slice(0, 2).join(".")];
    if (part) {
      setError(part, message);
      if (!placed) part.input.focus();
      placed = true;
    }
  }
  problem.textContent = error.status === 412
    ? "Someone changed this rule meanwhile: reload it and edit again."
    : placed ? "Fix the fields marked above." : error.message;
}

async function remove(rule) {
  const done = await confirmDialog({
    title: `Delete rule ${rule.id}?`,
    text: `Images it matches (${matchText(rule.match)}) fall to other rules or the default action at once.`,
    confirm: "Delete",
    action: () => api("DELETE", `/rules/${encodeURIComponent(rule.id)}`).then((r) => r.data),
  });
  if (done) {
    toast(`Rule ${rule.id} deleted; policy version ${done.policy_version}.`);
    go("#/rules");
  }
}

function dryRunSection() {
  const image = field("dry-run-image", "Image reference", h("input", { type: "text", placeholder: "docker.io/library/alpine:3.19", required: true }),
    "As a runtime names it; nothing is recorded.");
  const result = h("div", { id: "dry-run-result", "aria-live": "polite" });
  const form = h("form", { id: "dry-run-form", novalidate: true }, image.wrap,
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "What would happen?")), result);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    setError(image, "");
    clear(result).append(h("p", { class: "muted" }, "Asking the gate…"));
    try {
      const verdict = await post("/decisions/dry-run", { image: image.input.value.trim() });
      clear(result).append(
        h("p", { class: "verdict" }, f.badge(verdict.outcome), " ", h("span", { class: "mono" }, verdict.image)),
        definitions([["served", verdict.serves ? "yes" : "no"], ["policy version", String(verdict.policy_version)]]),
        h("ul", { class: "reasons" }, verdict.reasons.map((r) => h("li", {}, h("span", { class: "badge" }, r.check), " ", h("span", { class: "message" }, r.message)))));
    } catch (error) {
      clear(result);
      setError(image, error.message);
    }
  });
  return section("Dry run", form);
}
