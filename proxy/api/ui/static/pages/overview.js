// Overview: pulls per outcome over time, what is refused most, the cache, upstreams and the
// vulnerability database — each from its own admin API call, so one failing shows where.
import { get } from "../api.js";
import { SERIES, pullChart } from "../chart.js";
import { definitions, h, section, table } from "../dom.js";
import * as f from "../format.js";
import { errorBox } from "../shell.js";

const RANGES = [["1h", "Last hour", 3600, 60], ["24h", "Last 24 hours", 86400, 48], ["7d", "Last 7 days", 604800, 56]];

export async function render(route) {
  const chosen = RANGES.find(([key]) => key === route.query.get("range")) || RANGES[0];
  const [, , seconds, buckets] = chosen;
  const until = new Date();
  const since = new Date(until.getTime() - seconds * 1000);
  const range = { since: since.toISOString(), until: until.toISOString() };
  const [pulls, denials, cache, upstreams, vulndb] = await Promise.allSettled([
    get("/stats/pulls", { ...range, buckets }),
    get("/stats/denials", { ...range, limit: 10 }),
    get("/cache"),
    get("/upstreams"),
    get("/vulndb"),
  ]);
  return h("div", { class: "page" },
    h("div", { class: "page-head" }, h("h1", {}, "Overview"), rangePicker(chosen[0])),
    settled(pulls, pullsSection),
    h("div", { class: "columns" }, settled(denials, reasonsSection), settled(denials, imagesSection)),
    h("div", { class: "columns" },
      settled(cache, cacheSection), settled(upstreams, upstreamsSection), vulndbSection(vulndb)));
}

function settled(result, build) {
  return result.status === "fulfilled" ? build(result.value) : section("Unavailable", errorBox(result.reason));
}

function rangePicker(current) {
  return h("nav", { class: "segmented", "aria-label": "Time range" },
    RANGES.map(([key, label]) => h("a", {
      href: `#/overview?range=${key}`, "aria-current": key === current ? "true" : null,
    }, label)));
}

function pullsSection(stats) {
  const tiles = h("ul", { class: "tiles", id: "pull-totals" }, SERIES.map((series) => h("li", {
    class: `tile series-${series}-edge`, dataset: { outcome: series },
  }, h("span", { class: "tile-number" }, String(stats.totals[series] || 0)),
  h("span", { class: "tile-label" }, f.outcomeText(series)))));
  const legend = h("ul", { class: "legend", "aria-hidden": "true" },
    SERIES.map((s) => h("li", {}, h("span", { class: `swatch series-${s}` }), f.outcomeText(s))));
  return section("Pulls", tiles, h("figure", { class: "chart-box", id: "pull-chart" }, pullChart(stats, chartSize()),
    h("figcaption", {}, `${f.time(stats.since)} – ${f.time(stats.until)}, ${stats.buckets.length} buckets`)), legend);
}

function chartSize() {
  // A phone gets a taller drawing, so that its labels stay readable when scaled down.
  return window.matchMedia("(max-width: 760px)").matches ? { width: 420, height: 300 } : { width: 960, height: 260 };
}

function reasonsSection(denials) {
  const rows = denials.reasons.map((r) => [
    h("span", { class: "badge" }, r.check), r.source ? h("span", { class: "mono" }, r.source) : "—",
    String(r.count), h("span", { class: "message" }, r.example),
  ]);
  return section("Top denial reasons",
    table("Top denial reasons", ["Check", "Rule / requirement", "Pulls", "Example"], rows,
      { id: "top-reasons", empty: "No pull was refused in this range." }));
}

function imagesSection(denials) {
  const rows = denials.images.map((i) => [
    h("span", { class: "mono" }, f.imageName(i.upstream, i.repository)), f.imageLink(i.digest), String(i.count),
    f.timeNode(i.last_at),
  ]);
  return section("Top denied images",
    table("Top denied images", ["Image", "Digest", "Pulls", "Last"], rows,
      { id: "top-images", empty: "No image was refused in this range." }));
}

function cacheSection(cache) {
  const kinds = Object.entries(cache.objects).map(([kind, totals]) =>
    [`${kind}s`, `${totals.objects} (${f.bytes(totals.bytes)})`]);
  const ratios = Object.entries(cache.hit_ratio).map(([kind, ratio]) => [`hit ratio, ${kind}s`, f.percent(ratio)]);
  return section("Cache", h("div", { id: "cache-facts" }, definitions([
    ["stored", f.bytes(cache.stored_bytes)],
    ["limit", cache.max_bytes === null ? "unbounded" : f.bytes(cache.max_bytes)],
    ...kinds,
    ...(ratios.length ? ratios : [["hit ratio", "— (no requests yet)"]]),
    ["evicted", f.bytes(cache.evicted_bytes)],
  ])));
}

function upstreamsSection(page) {
  return section("Upstreams", h("ul", { class: "health", id: "upstreams" }, page.items.map((u) =>
    h("li", { class: u.healthy ? "ok" : "bad" },
      h("span", { class: "badge" }, u.healthy ? "healthy" : "unreachable"),
      h("span", { class: "mono" }, u.name), u.default ? " (default) " : " ",
      u.healthy ? `${u.latency_ms.toFixed(0)} ms` : h("span", { class: "message" }, u.error || "")))));
}

function vulndbSection(result) {
  if (result.status === "rejected") {
    const reason = result.reason;
    return section("Vulnerability database", h("p", { id: "vulndb" }, reason.status === 409
      ? "Scanning is disabled." : `Unavailable: ${reason.message}`));
  }
  const db = result.value;
  return section("Vulnerability database", h("div", { id: "vulndb" }, definitions([
    ["version", String(db.version)],
    ["records", String(db.records)],
    ["updated", db.updated_at ? `${f.time(db.updated_at)} (${f.ago(db.updated_at)})` : "never imported"],
    ["source", db.source || "—"],
  ])));
}
