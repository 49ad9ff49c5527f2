// Trust material (public keys, Sigstore trusted roots, Notation trust stores and policies)
// and the signature requirements that use it. Material is validated by the API before it is
// stored; its complaint is shown beside the content.
import { ApiError, api, get } from "../api.js";
import { clear, field, h, section, select, setError, table } from "../dom.js";
import * as f from "../format.js";
import { confirmDialog, go, toast } from "../shell.js";

// MaterialKind in proxy/signatures/trust.py.
const KINDS = ["public_key", "trusted_root", "notation_trust_policy", "notation_ca", "notation_signing_authority", "notation_tsa"];

export async function render(route, session) {
  const writes = session.me.writes;
  const [materials, policy] = await Promise.all([get("/trust"), get("/policy")]);
  const viewer = h("div", { id: "trust-content" });
  const rows = materials.items.map((m) => [
    h("span", { class: "mono" }, m.name), m.kind, h("span", { class: "mono" }, m.sha256.slice(0, 16)), f.timeNode(m.updated_at),
    h("div", { class: "row-actions" },
      h("button", { type: "button", "aria-label": `Show ${m.name}`, onclick: () => show(m.name, viewer) }, "Show"),
      writes ? h("button", { type: "button", class: "danger", "aria-label": `Delete ${m.name}`, onclick: () => remove(m) }, "Delete") : null),
  ]);
  const requirements = (policy.document.signature_requirements || []).map((r) => [
    h("span", { class: "mono" }, r.id), h("span", { class: "mono" }, JSON.stringify(r.match)), r.mode || "enforce",
    String(r.threshold || 1), (r.authorities || []).map((a) => a.name).join(", "),
  ]);
  return h("div", { class: "page" }, h("h1", {}, "Trust material"),
    section("Material", table("Trust material", ["Name", "Kind", "SHA-256", "Updated", ""], rows, { id: "trust", empty: "No trust material stored." }), viewer),
    writes ? section("Add or replace", materialForm()) : null,
    section("Signature requirements", table("Signature requirements", ["ID", "Match", "Mode", "Signers needed", "Authorities"], requirements,
      { id: "requirements", empty: "No signature requirement: images are not required to be signed." })));
}

async function show(name, viewer) {
  try {
    const material = await get(`/trust/${encodeURIComponent(name)}`);
    clear(viewer).append(h("h3", {}, material.name), h("pre", { class: "json" }, material.content));
  } catch (error) {
    clear(viewer).append(h("p", { class: "error" }, error.message));
  }
}

function materialForm() {
  const name = field("trust-name", "Name", h("input", { type: "text", required: true, pattern: "[A-Za-z0-9][A-Za-z0-9._-]{0,63}" }));
  const kind = field("trust-kind", "Kind", select(KINDS, "public_key"));
  const content = field("trust-body", "Content", h("textarea", { rows: 8, required: true, spellcheck: "false" }),
    "The file as you have it: cosign.pub, trusted_root.json, a trust policy, a PEM bundle.");
  const problem = h("p", { class: "error", role: "alert" });
  const form = h("form", { id: "trust-form", novalidate: true }, name.wrap, kind.wrap, content.wrap, problem,
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Store")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    for (const part of [name, content]) setError(part, "");
    problem.textContent = "";
    const wanted = name.input.value.trim();
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(wanted)) {
      setError(name, "Letters, digits, dot, dash and underscore; up to 64 characters.");
      return;
    }
    try {
      const answer = await api("PUT", `/trust/${encodeURIComponent(wanted)}`, { body: { kind: kind.input.value, content: content.input.value } });
      toast(answer.data.changed ? `Stored ${wanted}; policy version ${answer.data.policy_version}.` : `${wanted} was already stored as it is.`);
      go("#/trust");
    } catch (error) {
      if (error instanceof ApiError && (error.field === "content" || error.field === "kind")) setError(error.field === "kind" ? kind : content, error.message);
      else problem.textContent = error.message;
    }
  });
  return form;
}

async function remove(material) {
  const done = await confirmDialog({
    title: `Delete ${material.name}?`,
    text: "Signature requirements naming it can no longer be met: images they cover are denied until it is back.",
    confirm: "Delete",
    action: () => api("DELETE", `/trust/${encodeURIComponent(material.name)}`).then((r) => r.data),
  });
  if (done) {
    toast(`Deleted ${material.name}.`);
    go("#/trust");
  }
}
