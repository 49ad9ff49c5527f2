// Decisions: the audit feed, filtered (image, decision, client, time range), and one
// decision's page with every check and reason — #/decisions/<id>, where a denial's id leads.
import { get } from "../api.js";
import { definitions, field, h, section, select, table } from "../dom.js";
import * as f from "../format.js";
import { go } from "../shell.js";

const OUTCOMES = [["", "Any"], ["allow", "Allowed"], ["warn", "Warned"], ["deny", "Denied"],
  ["quarantine", "Quarantined"], ["pending", "Pending"]];
const KINDS = [["pull", "Pulls"], ["admin", "Admin changes"], ["rescan", "Rescans"], ["", "Everything"]];
const FILTERS = ["repository", "digest", "outcome", "client", "since", "until", "kind"];

export async function render(route) {
  if (route.rest[0]) return decisionPage(route.rest[0]);
  return feedPage(route.query);
}

async function feedPage(query) {
  const wanted = Object.fromEntries(FILTERS.map((name) => [name, query.get(name) || ""]));
  if (!query.has("kind")) wanted.kind = "pull";
  const page = await get("/audit", { ...wanted, cursor: query.get("cursor"), limit: 50 });
  const rows = page.items.map((event) => [
    f.timeNode(event.created_at),
    event.kind === "pull" ? f.badge(event.outcome) : h("span", { class: "badge" }, event.detail?.action || event.kind),
    h("span", { class: "mono image-name" }, f.imageName(event.upstream, event.repository, event.reference) || "—"),
    h("span", { class: "mono" }, event.identity || event.client_address || "—"),
    event.decision_id ? f.decisionLink(event.decision_id, "Open") : event.digest ? f.imageLink(event.digest) : "—",
  ]);
  const next = page.next_cursor ? h("a", {
    href: `#/decisions?${new URLSearchParams({ ...wanted, cursor: page.next_cursor })}`, id: "feed-next",
  }, "Older →") : null;
  return h("div", { class: "page" },
    h("h1", {}, "Decisions"),
    filterForm(wanted),
    table("Audit events, newest first", ["Time", "Decision", "Image", "Client", ""], rows,
      { id: "feed", empty: "No events match." }),
    next);
}

function filterForm(wanted) {
  const repository = field("filter-repository", "Repository", h("input", { type: "text", value: wanted.repository, placeholder: "library/alpine" }));
  const outcome = field("filter-outcome", "Decision", select(OUTCOMES, wanted.outcome));
  const client = field("filter-client", "Client (address or identity)", h("input", { type: "text", value: wanted.client }));
  const since = field("filter-since", "From", h("input", { type: "datetime-local", value: f.toLocalInput(wanted.since) }));
  const until = field("filter-until", "Until", h("input", { type: "datetime-local", value: f.toLocalInput(wanted.until) }));
  const kind = field("filter-kind", "Events", select(KINDS, wanted.kind));
  const form = h("form", { class: "filters card", id: "feed-filters", role: "search", "aria-label": "Filter the audit feed" },
    repository.wrap, outcome.wrap, client.wrap, since.wrap, until.wrap, kind.wrap,
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Filter"),
      h("a", { href: "#/decisions", class: "button" }, "Clear")));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const chosen = {
      repository: repository.input.value.trim(), outcome: outcome.input.value, client: client.input.value.trim(),
      since: f.fromLocalInput(since.input.value), until: f.fromLocalInput(until.input.value), kind: kind.input.value,
      digest: wanted.digest,
    };
    const params = new URLSearchParams(Object.entries(chosen).filter(([, v]) => v));
    if (!chosen.kind) params.set("kind", "");
    go(`#/decisions?${params}`);
  });
  return form;
}

async function decisionPage(id) {
  const decision = await get(`/decisions/${encodeURIComponent(id)}`);
  const name = f.imageName(decision.upstream, decision.repository, decision.reference);
  return h("div", { class: "page", id: "decision" },
    h("h1", {}, "Decision ", h("span", { class: "mono" }, decision.id)),
    section("Verdict", h("p", { class: "verdict" }, f.badge(decision.outcome), " ",
      h("span", { class: "mono image-name" }, name)),
    definitions([
      ["image", h("span", { class: "mono" }, `${decision.upstream}/${decision.repository}@${decision.digest}`)],
      ["tag asked for", decision.reference || "— (by digest)"],
      ["decided", f.timeNode(decision.created_at)],
      ["policy version", String(decision.policy_version)],
      ["rules", decision.rule_ids.length ? decision.rule_ids.join(", ") : "—"],
    ]),
    h("p", { class: "links" }, f.imageLink(decision.digest, "Image page"), " · ",
      h("a", { href: `#/decisions?${new URLSearchParams({ digest: decision.digest })}` }, "Every pull of this digest"),
      decision.outcome === "quarantine" ? [" · ", h("a", { href: "#/quarantine" }, "Quarantine queue")] : null)),
    section("Checks and reasons", h("ol", { class: "checks", id: "checks" }, decision.reasons.map(reasonItem))));
}

function reasonItem(reason) {
  const detail = Object.entries(reason.detail || {});
  return h("li", { class: "card check", dataset: { check: reason.check } },
    h("h3", {}, h("span", { class: "badge" }, reason.check),
      reason.rule_id ? [" ", h("a", { href: `#/rules?edit=${encodeURIComponent(reason.rule_id)}`, class: "mono" }, reason.rule_id)] : null),
    h("p", { class: "message" }, reason.message),
    detail.length ? h("details", { open: true }, h("summary", {}, "Details"),
      definitions(detail.map(([key, value]) => [key, detailValue(value)]))) : null);
}

function detailValue(value) {
  if (value === null || typeof value !== "object") return h("span", { class: "mono" }, String(value));
  return h("pre", { class: "json" }, JSON.stringify(value, null, 2));
}
