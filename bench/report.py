"""The results: table rows with their targets, the printed table, and the JSON files."""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.measure import Stats

__all__ = [
    "RESULTS_DIR",
    "Check",
    "Row",
    "at_least",
    "at_most",
    "cell",
    "render_table",
    "summary",
    "write_results",
]

RESULTS_DIR = Path(__file__).resolve().parent / "results"


@dataclass(frozen=True)
class Check:
    """One target: what was measured against what, and whether it held (None: not judged)."""

    measured: str  # "0.72x nginx"
    target: str  # "≥ 0.9x nginx"
    met: bool | None


@dataclass
class Row:
    scenario: str
    metric: str
    pullgate: str
    peer: str = ""
    limit: str = ""
    checks: list[Check] = field(default_factory=list)
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def cell(stats: Stats | None, digits: int = 0, scale: float = 1.0) -> str:
    """``median (min..max)`` of a series, scaled (e.g. bytes/s to MB/s)."""
    if stats is None:
        return "n/a"
    fmt = f"{{:.{digits}f}}"
    median, low, high = (fmt.format(v * scale) for v in (stats.median, stats.min, stats.max))
    return median if stats.n == 1 else f"{median} ({low}..{high})"


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


def at_least(value: float, reference: float, factor: float, against: str) -> Check:
    """Higher is better: value must be ≥ factor x reference."""
    ratio = _ratio(value, reference)
    measured = "n/a" if ratio is None else f"{ratio:.2f}x {against}"
    return Check(measured, f"≥ {factor:g}x {against}", None if ratio is None else ratio >= factor)


def at_most(value: float, reference: float, factor: float, against: str, strict: bool = False) -> Check:
    """Lower is better: value must be ≤ factor x reference (< with ``strict``)."""
    ratio = _ratio(value, reference)
    measured = "n/a" if ratio is None else f"{ratio:.2f}x {against}"
    if ratio is None:
        return Check(measured, f"≤ {factor:g}x {against}", None)
    met = ratio < factor if strict else ratio <= factor
    return Check(measured, f"{'<' if strict else '≤'} {factor:g}x {against}", met)


_HEADERS = ("scenario", "metric", "pullgate", "peer", "limit", "ratio", "target", "met?")


def _met_text(met: bool | None) -> str:
    return {True: "yes", False: "NO", None: "-"}[met]


def _lines(rows: Sequence[Row]) -> list[tuple[str, ...]]:
    lines: list[tuple[str, ...]] = []
    for row in rows:
        checks = row.checks or [Check("", "", None)]
        for index, check in enumerate(checks):
            first = index == 0
            lines.append(
                (
                    row.scenario if first else "",
                    row.metric if first else "",
                    row.pullgate if first else "",
                    row.peer if first else "",
                    row.limit if first else "",
                    check.measured,
                    check.target,
                    _met_text(check.met) if check.target else "",
                )
            )
        if row.note:
            lines.append(("", f"  note: {row.note}", "", "", "", "", "", ""))
    return lines


def render_table(rows: Sequence[Row]) -> str:
    lines = _lines(rows)
    widths = [len(h) for h in _HEADERS]
    for line in lines:
        if line[1].startswith("  note:"):
            continue  # notes run across the columns
        widths = [max(w, len(v)) for w, v in zip(widths, line, strict=True)]
    out = [" | ".join(h.ljust(w) for h, w in zip(_HEADERS, widths, strict=True))]
    out.append("-+-".join("-" * w for w in widths))
    indent = " " * (widths[0] + 3)
    for line in lines:
        if line[1].startswith("  note:"):
            out.extend(indent + text for text in line[1].strip().splitlines())
        else:
            out.append(" | ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip())
    return "\n".join(out)


def summary(rows: Sequence[Row]) -> dict[str, int]:
    judged = [check.met for row in rows for check in row.checks if check.met is not None]
    return {"targets": len(judged), "met": sum(1 for met in judged if met)}


def write_results(document: dict[str, Any], plan_name: str, directory: Path = RESULTS_DIR) -> Path:
    """``results/<UTC timestamp>-<plan>.json``, copied to ``latest.json`` and ``latest-<plan>.json``."""
    directory.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = directory / f"{stamp}-{plan_name}.json"
    path.write_text(json.dumps(document, indent=2, sort_keys=False) + "\n")
    shutil.copyfile(path, directory / "latest.json")
    shutil.copyfile(path, directory / f"latest-{plan_name}.json")
    return path
