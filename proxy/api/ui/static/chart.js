// The pulls-over-time chart: stacked bars per time bucket, drawn as SVG by hand.
//
// No chart library (nothing is loaded from anywhere but pullgate), no inline styles (the CSP
// forbids them): colours come from classes in app.css. Each bar carries a <title> with its
// numbers, and the chart a text summary for screen readers.
import { time } from "./format.js";

const SVG = "http://www.w3.org/2000/svg";
export const SERIES = ["allow", "warn", "pending", "quarantine", "deny"];

function svg(tag, attributes = {}, ...children) {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  for (const child of children) element.append(child);
  return element;
}

function niceMax(value) {
  if (value <= 4) return 4; // whole-number grid lines for small counts
  const magnitude = 10 ** Math.floor(Math.log10(value));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= value / 4);
  return Math.ceil(value / step) * step;
}

/** An <svg> of `stats` (GET /stats/pulls): one stacked bar per bucket. */
export function pullChart(stats, { width = 960, height = 260 } = {}) {
  const margin = { top: 12, right: 8, bottom: 28, left: 40 };
  const inner = { width: width - margin.left - margin.right, height: height - margin.top - margin.bottom };
  const totals = stats.buckets.map((b) => SERIES.reduce((sum, s) => sum + (b.counts[s] || 0), 0));
  const top = niceMax(Math.max(0, ...totals));
  const y = (value) => margin.top + inner.height - (value / top) * inner.height;
  const slot = inner.width / Math.max(1, stats.buckets.length);
  const summary = SERIES.map((s) => `${stats.totals[s] || 0} ${s}`).join(", ");
  const chart = svg("svg", {
    viewBox: `0 0 ${width} ${height}`,
    class: "chart",
    role: "img",
    "aria-label": `Pulls from ${time(stats.since)} to ${time(stats.until)}: ${summary}`,
  });
  for (let i = 0; i <= 4; i += 1) {
    const value = (top / 4) * i;
    chart.append(svg("line", { x1: margin.left, x2: width - margin.right, y1: y(value), y2: y(value), class: "grid" }));
    const label = svg("text", { x: margin.left - 6, y: y(value) + 4, class: "axis", "text-anchor": "end" });
    label.textContent = Number.isInteger(value) ? String(value) : value.toFixed(1);
    chart.append(label);
  }
  stats.buckets.forEach((bucket, index) => {
    let base = 0;
    const group = svg("g", { class: "bar", "data-index": index });
    const title = svg("title");
    title.textContent = `${time(bucket.start)}: ` + SERIES.map((s) => `${bucket.counts[s] || 0} ${s}`).join(", ");
    group.append(title);
    for (const series of SERIES) {
      const count = bucket.counts[series] || 0;
      if (!count) continue;
      const x = margin.left + index * slot + slot * 0.1;
      group.append(svg("rect", {
        x, y: y(base + count), width: Math.max(1, slot * 0.8), height: y(base) - y(base + count),
        class: `series-${series}`, "data-series": series, "data-count": count,
      }));
      base += count;
    }
    chart.append(group);
  });
  for (const [index, bucket] of [[0, stats.buckets[0]], [stats.buckets.length - 1, stats.buckets.at(-1)]]) {
    if (!bucket) continue;
    const label = svg("text", {
      x: margin.left + index * slot + (index ? slot : 0), y: height - 8, class: "axis",
      "text-anchor": index ? "end" : "start",
    });
    label.textContent = time(index ? stats.until : bucket.start);
    chart.append(label);
  }
  return chart;
}
