// Images: cached manifests with their newest decision, and one digest in full — tags,
// platforms, layers, packages, vulnerabilities (sortable, with exceptions), signatures and
// signers, decisions and who pulled it.
import { ApiError, get } from "../api.js";
import { clear, definitions, field, h, section, select, table } from "../dom.js";
import * as f from "../format.js";
import { go } from "../shell.js";
import { signatureText } from "./quarantine.js";

const OUTCOMES = [["", "Any"], ["allow", "Allowed"], ["warn", "Warned"], ["deny", "Denied"], ["quarantine", "Quarantined"], ["pending", "Pending"]];
const SEVERITY_RANK = { critical: 5, high: 4, medium: 3, low: 2, none: 1, unknown: 0 };

export async function render(route) {
  if (route.rest[0]) return imagePage(route.rest[0]);
  return listPage(route.query);
}

async function listPage(query) {
  const wanted = { repository: query.get("repository") || "", outcome: query.get("outcome") || "" };
  const page = await get("/images", { ...wanted, cursor: query.get("cursor"), limit: 100 });
  const repository = field("images-repository", "Repository (exact)", h("input", { type: "text", value: wanted.repository }));
  const outcome = field("images-outcome", "Newest decision", select(OUTCOMES, wanted.outcome));
  const digest = field("images-digest", "Or open a digest", h("input", { type: "text", placeholder: "sha256:…" }));
  const form = h("form", { class: "filters card", role: "search", "aria-label": "Find images" },
    repository.wrap, outcome.wrap, digest.wrap, h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Show")));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const wantedDigest = digest.input.value.trim();
    if (wantedDigest) return go(`#/images/${encodeURIComponent(wantedDigest)}`);
    const params = new URLSearchParams(Object.entries({ repository: repository.input.value.trim(), outcome: outcome.input.value }).filter(([, v]) => v));
    return go(`#/images?${params}`);
  });
  const rows = page.items.map((image) => [
    h("span", { class: "mono image-name" }, f.imageName(image.upstream, image.repository)),
    image.tags.join(", ") || "—", f.imageLink(image.digest),
    image.decision ? f.badge(image.decision.outcome) : "—",
    image.quarantine ? image.quarantine.status : "—", f.bytes(image.size),
  ]);
  return h("div", { class: "page" }, h("h1", {}, "Images"), form,
    table("Cached images", ["Repository", "Tags", "Digest", "Decision", "Review", "Size"], rows, { id: "images", empty: "No cached image matches." }),
    page.next_cursor ? h("a", { href: `#/images?${new URLSearchParams({ ...wanted, cursor: page.next_cursor })}` }, "More →") : null);
}

async function imagePage(digest) {
  const path = `/images/${encodeURIComponent(digest)}`;
  const detail = await get(path);
  const page = h("div", { class: "page", id: "image" },
    h("h1", {}, "Image ", h("span", { class: "mono digest" }, digest)),
    summarySection(detail));
  const slots = {
    contents: slot(page, "Layers and platforms"),
    vulnerabilities: slot(page, "Vulnerabilities"),
    packages: slot(page, "Packages"),
    signatures: slot(page, "Signatures"),
  };
  page.append(decisionsSection(detail), pullersSection(detail));
  fill(slots.contents, () => get(`${path}/contents`), contentsView);
  fill(slots.vulnerabilities, () => get(`${path}/vulnerabilities`), vulnerabilitiesView);
  fill(slots.packages, () => get(`${path}/sbom`), packagesView);
  fill(slots.signatures, () => get(`${path}/signatures`), signaturesView);
  return page;
}

function slot(page, title) {
  const body = h("div", { class: "slot" }, h("p", { class: "muted" }, "Loading…"));
  page.append(section(title, body));
  return body;
}

async function fill(body, load, view) {
  try {
    clear(body).append(view(await load()));
  } catch (error) {
    const text = error instanceof ApiError && error.status === 404 ? error.message : `Unavailable: ${error.message}`;
    clear(body).append(h("p", { class: "muted" }, text));
  }
}

function summarySection(detail) {
  const rows = detail.repositories.map((r) => [
    h("span", { class: "mono image-name" }, f.imageName(r.upstream, r.repository)),
    r.tags.join(", ") || "—", r.decision ? f.badge(r.decision.outcome) : "—",
    r.quarantine ? r.quarantine.status : "—", f.timeNode(r.fetched_at),
  ]);
  const first = detail.repositories[0];
  return section("Where it is cached",
    definitions([
      ["media type", first ? first.media_type : "—"],
      ["size", first ? f.bytes(first.size) : "—"],
      ["in the content store", detail.stored ? `yes, last read ${f.time(detail.stored.last_access)}` : "no"],
    ]),
    table("Repositories and tags", ["Repository", "Tags", "Decision", "Review", "Cached"], rows, { id: "image-repositories" }));
}

// The registry reports a manifest's config type as its artifact type when it names none
// (OCI distribution spec, referrers); for a plain image that says nothing worth showing.
const IMAGE_CONFIGS = ["application/vnd.oci.image.config.v1+json", "application/vnd.docker.container.image.v1+json"];

function contentsView(contents) {
  const layers = contents.layers.map((l, i) => [String(i + 1), h("span", { class: "mono" }, f.short(l.digest)), l.media_type, f.bytes(l.size)]);
  const platforms = [
    ...(contents.platform ? [[contents.platform, h("span", { class: "mono" }, f.short(contents.digest)), "this image, as its config says"]] : []),
    ...contents.manifests.map((m) => [m.platform || "—", f.imageLink(m.digest), "platform manifest of this index"]),
    ...contents.listed_by.map((m) => [m.platform || "—", f.imageLink(m.digest), "listed by this index"]),
  ];
  return h("div", {},
    definitions([["manifest", contents.media_type], ["config", contents.config ? f.short(contents.config.digest) : null],
      ["artifact type", IMAGE_CONFIGS.includes(contents.artifact_type) ? null : contents.artifact_type], ["subject", contents.subject_digest ? f.imageLink(contents.subject_digest) : null]]),
    table("Platforms", ["Platform", "Digest", ""], platforms, { id: "platforms", empty: "No platform information (the image's config is not cached, and no cached index lists it)." }),
    table("Layers", ["#", "Digest", "Media type", "Size"], layers, { id: "layers", empty: "No layers (an index)." }));
}

function vulnerabilitiesView(report) {
  const holder = h("div", {});
  const state = { key: "severity", descending: true };
  const sorters = {
    severity: (a, b) => SEVERITY_RANK[a.severity] - SEVERITY_RANK[b.severity] || (a.cvss_score || 0) - (b.cvss_score || 0),
    vulnerability: (a, b) => a.vulnerability.localeCompare(b.vulnerability),
    package: (a, b) => a.package.localeCompare(b.package),
    cvss: (a, b) => (a.cvss_score || 0) - (b.cvss_score || 0),
  };
  const draw = () => {
    const ordered = [...report.findings].sort(sorters[state.key]);
    if (state.descending) ordered.reverse();
    const header = (key, label) => h("button", {
      type: "button", class: "sort", dataset: { sort: key },
      "aria-label": `Sort by ${label}${state.key === key ? (state.descending ? ", sorted descending" : ", sorted ascending") : ""}`,
      onclick: () => {
        state.descending = state.key === key ? !state.descending : key === "severity" || key === "cvss";
        state.key = key;
        draw();
      },
    }, label, state.key === key ? (state.descending ? " ▼" : " ▲") : "");
    const rows = ordered.map((v) => [
      h("span", { class: "mono" }, v.vulnerability), f.severityBadge(v.severity), v.cvss_score === null ? "—" : String(v.cvss_score),
      h("span", { class: "mono" }, `${v.package} ${v.installed_version}`), v.fixed_version || "no fix yet",
      v.waived_by.length ? h("span", { class: "waived" }, v.waived_by.map((w) => `waived by ${w.exception} in ${w.image}${w.justification ? ` (${w.justification})` : ""}`).join("; ")) : "counts",
    ]);
    clear(holder).append(
      h("p", {}, `${report.findings.length} finding(s), scan by ${report.scanner}, database ${report.db_version}, ${f.time(report.scanned_at)}`),
      table("Vulnerabilities", [header("vulnerability", "ID"), header("severity", "Severity"), header("cvss", "CVSS"),
        header("package", "Package"), "Fixed in", "Exception"], rows, { id: "vulnerabilities", empty: "No vulnerabilities found." }));
  };
  draw();
  return holder;
}

function packagesView(sbom) {
  const components = (sbom.components || []).slice(0, 2000);
  const rows = components.map((c) => [h("span", { class: "mono" }, c.name), c.version || "—", c.type || "—", h("span", { class: "mono" }, c.purl || "—")]);
  return table(`Packages (${components.length})`, ["Name", "Version", "Type", "Package URL"], rows, { id: "packages", empty: "The inventory lists no packages." });
}

function signaturesView(answer) {
  return h("div", { id: "signatures" }, answer.items.map((state) => h("div", { class: "signature-state" },
    h("h3", { class: "mono" }, f.imageName(state.upstream, state.repository)),
    h("p", { class: "signature-summary" }, signatureText(state)),
    state.signers.length ? h("ul", { class: "signers" }, state.signers.map((s) => h("li", {}, h("strong", {}, s.authority), " ", h("span", { class: "mono" }, s.signer)))) : null,
    state.checks.length ? h("ul", { class: "reasons" }, state.checks.map((c) => h("li", {},
      h("span", { class: `badge ${c.detail?.held ? "outcome-allow" : "outcome-deny"}` }, c.detail?.held ? "met" : "not met"), " ",
      h("span", { class: "message" }, c.message)))) : null,
    table("Signature artifacts", ["Kind", "Artifact", "Found as"], state.artifacts.map((a) => [a.kind, h("span", { class: "mono" }, f.short(a.digest)), a.found_by]),
      { empty: "No signature artifacts found." }))));
}

function decisionsSection(detail) {
  const rows = detail.decisions.map((d) => [f.timeNode(d.created_at), f.badge(d.outcome),
    h("span", { class: "mono image-name" }, f.imageName(d.upstream, d.repository, d.reference)), String(d.policy_version), f.decisionLink(d.id, "Open")]);
  return section("Decisions", table("Decisions about this digest", ["Time", "Decision", "Image", "Policy", ""], rows, { id: "image-decisions" }));
}

function pullersSection(detail) {
  const rows = detail.pulled_by.items.map((p) => [h("span", { class: "mono" }, p.client_address || "—"), p.identity || "—",
    String(p.pulls), String(p.served), f.timeNode(p.first_at), f.timeNode(p.last_at)]);
  return section("Who pulled it", table("Clients that pulled this digest", ["Address", "Identity", "Pulls", "Served", "First", "Last"], rows,
    { id: "pullers", empty: "Nobody pulled it yet." }));
}
