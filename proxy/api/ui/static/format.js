// Small formatting helpers shared by the pages (all return text or DOM nodes, never HTML).
import { h } from "./dom.js";

export function time(value) {
  if (!value) return "—";
  const date = new Date(value);
  return date.toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
}

export function timeNode(value) {
  return h("time", { datetime: value || "" }, time(value));
}

export function ago(value) {
  if (!value) return "never";
  const seconds = Math.max(0, (Date.now() - new Date(value).getTime()) / 1000);
  if (seconds < 90) return `${Math.round(seconds)} s ago`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 129600) return `${Math.round(seconds / 3600)} h ago`;
  return `${Math.round(seconds / 86400)} days ago`;
}

export function bytes(value) {
  if (value === null || value === undefined) return "—";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let size = Number(value);
  let unit = 0;
  while (size >= 1024 && unit < units.length - 1) {
    size /= 1024;
    unit += 1;
  }
  return `${unit ? size.toFixed(1) : size} ${units[unit]}`;
}

export function short(digest) {
  if (!digest) return "—";
  const [algorithm, hex] = digest.split(":");
  return hex ? `${algorithm}:${hex.slice(0, 12)}` : digest;
}

export function percent(ratio) {
  return ratio === null || ratio === undefined ? "—" : `${(ratio * 100).toFixed(1)} %`;
}

const OUTCOME_TEXT = {
  allow: "allowed",
  warn: "warned",
  deny: "denied",
  quarantine: "quarantined",
  pending: "pending",
};

export function outcomeText(outcome) {
  return OUTCOME_TEXT[outcome] || outcome || "—";
}

export function badge(outcome) {
  return h("span", { class: `badge outcome-${outcome || "none"}` }, outcomeText(outcome));
}

export function severityBadge(severity) {
  return h("span", { class: `badge severity-${severity}` }, severity);
}

/** The image as people name it: upstream/repository[:tag]. */
export function imageName(upstream, repository, reference) {
  const base = [upstream, repository].filter(Boolean).join("/");
  return reference ? `${base}:${reference}` : base;
}

export function imageLink(digest, text) {
  return h("a", { href: `#/images/${encodeURIComponent(digest)}`, class: "mono" }, text || short(digest));
}

export function decisionLink(id, text) {
  return h("a", { href: `#/decisions/${encodeURIComponent(id)}`, class: "mono" }, text || id.slice(0, 8));
}

/** A datetime-local input's value as an RFC 3339 time in UTC (the API wants an offset). */
export function fromLocalInput(value) {
  if (!value) return null;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? null : date.toISOString();
}

export function toLocalInput(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  const local = new Date(date.getTime() - date.getTimezoneOffset() * 60000);
  return local.toISOString().slice(0, 16);
}
