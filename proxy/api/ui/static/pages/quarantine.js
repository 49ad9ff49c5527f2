// The quarantine queue: each held image with why it was held, its scan summary and its
// signatures; release (with a reason and an optional expiry) or reject, after confirmation.
// Auditors see the same queue without the buttons (and the API refuses them anyway).
import { get, post } from "../api.js";
import { clear, definitions, field, h, select } from "../dom.js";
import * as f from "../format.js";
import { confirmDialog, go, toast } from "../shell.js";

const STATUSES = [["pending", "Pending"], ["released", "Released"], ["rejected", "Rejected"], ["", "All"]];
const SEVERITIES = ["critical", "high", "medium", "low", "none", "unknown"];

export async function render(route, session) {
  const status = route.query.has("status") ? route.query.get("status") : "pending";
  const cursor = route.query.get("cursor");
  const page = await get("/quarantine", { status, cursor, limit: 50 });
  const picker = select(STATUSES, status);
  picker.id = "quarantine-status";
  picker.addEventListener("change", () => go(`#/quarantine?status=${picker.value}`));
  const list = h("ol", { class: "entries", id: "quarantine-list" });
  for (const entry of page.items) list.append(entryCard(entry, session.me.writes));
  if (!page.items.length) list.append(h("li", { class: "empty" }, "Nothing here."));
  const more = page.next_cursor
    ? h("a", { href: `#/quarantine?status=${status}&cursor=${encodeURIComponent(page.next_cursor)}` }, "More →")
    : null;
  return h("div", { class: "page" },
    h("div", { class: "page-head" }, h("h1", {}, "Quarantine queue"),
      h("div", { class: "inline-field" }, h("label", { for: "quarantine-status" }, "Status"), picker)),
    list, more);
}

function entryCard(entry, writes) {
  const name = f.imageName(entry.upstream, entry.repository, entry.reference);
  const why = h("div", { class: "why" }, h("p", { class: "muted" }, "Loading the decision…"));
  const signatures = h("div", { class: "signatures" }, h("p", { class: "muted" }, "Checking signatures…"));
  const card = h("li", { class: "card entry", dataset: { entry: entry.id, status: entry.status } },
    h("h2", {}, h("span", { class: "mono image-name" }, name), " ", h("span", { class: `badge status-${entry.status}` }, entry.status)),
    definitions([
      ["digest", f.imageLink(entry.digest, entry.digest)],
      ["held since", f.timeNode(entry.created_at)],
      ["rules", entry.rule_ids.length ? entry.rule_ids.join(", ") : "—"],
      ["decision", f.decisionLink(entry.decision_id, entry.decision_id)],
      ["reviewed", entry.reviewed_by ? `${entry.reviewed_by}, ${f.time(entry.reviewed_at)}: ${entry.review_reason}` : null],
      ["expires", entry.expires_at ? f.time(entry.expires_at) : null],
    ]),
    h("h3", {}, "Why it was held"), why,
    h("h3", {}, "Scan"), scanSummary(entry.scan), writes && !entry.scan ? scanButton(entry) : null,
    h("h3", {}, "Signatures"), signatures,
    writes ? actions(entry, name) : null);
  loadWhy(entry, why);
  loadSignatures(entry, signatures);
  return card;
}

async function loadWhy(entry, box) {
  try {
    const decision = await get(`/decisions/${encodeURIComponent(entry.decision_id)}`);
    clear(box).append(h("ul", { class: "reasons" }, decision.reasons.map((r) =>
      h("li", {}, h("span", { class: "badge" }, r.check), " ", h("span", { class: "message" }, r.message)))));
  } catch (error) {
    clear(box).append(h("p", { class: "error" }, `Decision unavailable: ${error.message}`));
  }
}

function scanSummary(scan) {
  if (!scan) return h("p", { class: "scan-summary" }, "No finished scan.");
  const counts = SEVERITIES.filter((s) => scan.by_severity[s]).map((s) => `${scan.by_severity[s]} ${s}`);
  return h("p", { class: "scan-summary" },
    `${scan.findings} finding${scan.findings === 1 ? "" : "s"}${counts.length ? ` (${counts.join(", ")})` : ""}`,
    ` — ${scan.scanner}, database ${scan.db_version}, ${f.time(scan.finished_at)}`);
}

function scanButton(entry) {
  const button = h("button", { type: "button", class: "scan-now" }, "Scan now");
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      const done = await post(`/scans/${encodeURIComponent(entry.digest)}/rescan`, { image: `${entry.upstream}/${entry.repository}` });
      toast(`Scan ${done.result}; reload the queue in a moment for its summary.`);
    } catch (error) {
      toast(`Could not scan: ${error.message}`);
      button.disabled = false;
    }
  });
  return h("div", { class: "actions" }, button);
}

async function loadSignatures(entry, box) {
  try {
    const answer = await get(`/images/${encodeURIComponent(entry.digest)}/signatures`,
      { upstream: entry.upstream, repository: entry.repository });
    const state = answer.items[0];
    clear(box).append(h("p", { class: "signature-summary" }, signatureText(state)));
  } catch (error) {
    clear(box).append(h("p", { class: "error" }, `Signatures unavailable: ${error.message}`));
  }
}

export function signatureText(state) {
  if (!state) return "Not cached in this repository.";
  if (state.problem) return `Could not be checked: ${state.problem}`;
  const found = `${state.artifacts.length} signature artifact${state.artifacts.length === 1 ? "" : "s"} found`;
  const signers = state.signers.length
    ? `; signed by ${state.signers.map((s) => `${s.authority} (${s.signer})`).join(", ")}` : "";
  if (!state.requirements) return `${found}${signers}; no signature requirement applies.`;
  const held = state.checks.filter((c) => c.detail?.held).length;
  return `${found}${signers}; ${held} of ${state.checks.length} requirement(s) met (${f.outcomeText(state.verdict)}).`;
}

function actions(entry, name) {
  const buttons = [];
  if (entry.status === "pending") {
    buttons.push(h("button", { type: "button", class: "primary release", onclick: () => release(entry, name) }, "Release…"));
  }
  if (entry.status !== "rejected") {
    buttons.push(h("button", { type: "button", class: "danger reject", onclick: () => reject(entry, name) }, "Reject…"));
  }
  return h("div", { class: "actions" }, buttons);
}

async function release(entry, name) {
  const reason = field(`release-reason-${entry.id}`, "Reason (for the audit log)", h("textarea", { required: true, rows: 3, maxlength: 2000 }));
  const expiry = field(`release-expiry-${entry.id}`, "Exception expires (optional)", h("input", { type: "datetime-local" }),
    "Your local time. Leave empty for an exception without end.");
  const done = await confirmDialog({
    title: "Release this image?",
    text: `${name} (${f.short(entry.digest)}) will be served to every client until the exception ends.`,
    fields: [reason, expiry],
    confirm: "Release",
    danger: false,
    action: () => {
      const text = reason.input.value.trim();
      if (!text) throw new Error("A reason is required.");
      return post(`/quarantine/${entry.id}/release`, { reason: text, expires_at: f.fromLocalInput(expiry.input.value) });
    },
  });
  if (done) {
    toast(`Released ${name}; policy version ${done.policy_version}.`);
    go(window.location.hash);
  }
}

async function reject(entry, name) {
  const reason = field(`reject-reason-${entry.id}`, "Reason (for the audit log)", h("textarea", { required: true, rows: 3, maxlength: 2000 }));
  const done = await confirmDialog({
    title: "Reject this image for good?",
    text: `${name} (${f.short(entry.digest)}) will be denied from now on; a rejection cannot be undone here.`,
    fields: [reason],
    confirm: "Reject",
    action: () => {
      const text = reason.input.value.trim();
      if (!text) throw new Error("A reason is required.");
      return post(`/quarantine/${entry.id}/reject`, { reason: text });
    },
  });
  if (done) {
    toast(`Rejected ${name}.`);
    go(window.location.hash);
  }
}
