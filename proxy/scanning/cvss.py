"""CVSS base scores computed from vector strings: v3.0, v3.1 and v4.0.

Advisories carry vectors, not always scores, and a score written beside a vector may be
stale; the vector is what FIRST defines the score from, so pullgate computes it.

- v3.x: the base equations of the CVSS v3.1 specification, section 7.1
  (https://www.first.org/cvss/v3.1/specification-document), which v3.0 shares. Roundup is
  the v3.1 definition of Appendix A (integer arithmetic, so 4.000000000000001 is 4.0) for
  3.1 vectors, and plain ceiling to one decimal for 3.0 vectors, as the v3.0 specification
  and FIRST's v3.0 calculator define it. Temporal and environmental metrics are validated
  but do not enter the base score.
- v4.0: the MacroVector interpolation of the CVSS v4.0 specification, section 8
  (https://www.first.org/cvss/v4.0/specification-document), computed as FIRST's calculator
  does: the algorithm and data of its ``cvss40.js`` (github.com/RedHatProductSecurity/
  cvss-v4-calculator), rounding as first.org/cvss/calculator/4.0 rounds (`_round1`).
  Threat and environmental metrics, when a vector carries them, enter the score as they do
  in that calculator (CVSS-BT/BE/BTE); absent, they take the worst case (E:A, CR/IR/AR:H),
  which yields the CVSS-B score. Supplemental metrics are validated and never scored.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

__all__ = ["CvssError", "CvssScore", "parse_vector", "roundup_v31", "score"]


class CvssError(ValueError):
    """A vector string that is not a valid CVSS v3.0, v3.1 or v4.0 vector."""


@dataclass(frozen=True, slots=True)
class CvssScore:
    version: str  # "3.0", "3.1" or "4.0"
    score: float
    vector: str


# -- vector strings ---------------------------------------------------------------------------
# Metric names and their values, as the specifications' vector string tables list them
# (v3.1 section 6, v4.0 section 7); one letter per value unless written with commas.
_V3_BASE = "AV:NALP AC:LH PR:NLH UI:NR S:UC C:HLN I:HLN A:HLN"
_V3_OPTIONAL = (
    "E:XUPFH RL:XOTWU RC:XURC CR:XLMH IR:XLMH AR:XLMH MAV:XNALP MAC:XLH MPR:XNLH MUI:XNR MS:XUC "
    "MC:XNLH MI:XNLH MA:XNLH"
)
_V4_BASE = "AV:NALP AC:LH AT:NP PR:NLH UI:NPA VC:HLN VI:HLN VA:HLN SC:HLN SI:HLN SA:HLN"
_V4_OPTIONAL = (
    "E:XAPU CR:XHML IR:XHML AR:XHML MAV:XNALP MAC:XLH MAT:XNP MPR:XNLH MUI:XNPA MVC:XHLN MVI:XHLN "
    "MVA:XHLN MSC:XHLN MSI:XSHLN MSA:XSHLN S:XNP AU:XNY R:XAUI V:XDC RE:XLMH U:X,Clear,Green,Amber,Red"
)


def _metric_table(text: str) -> Mapping[str, frozenset[str]]:
    table = {}
    for item in text.split():
        name, _, values = item.partition(":")
        table[name] = frozenset(values.split(",") if "," in values else values)
    return MappingProxyType(table)


_SPECS = {
    version: (_metric_table(base), _metric_table(optional))
    for version, base, optional in (
        ("3.0", _V3_BASE, _V3_OPTIONAL),
        ("3.1", _V3_BASE, _V3_OPTIONAL),
        ("4.0", _V4_BASE, _V4_OPTIONAL),
    )
}
_MAX_VECTOR = 512  # every v4.0 metric spelled out is ~170 characters


def parse_vector(vector: str) -> tuple[str, dict[str, str]]:
    """(version, metrics) of a CVSS v3.0/v3.1/v4.0 vector string; raises CvssError.

    Metrics may come in any order (v3.0 allowed it, and advisories do not all keep the
    specified order); every base metric must be present, none twice, each with a value the
    specification defines.
    """
    if len(vector) > _MAX_VECTOR:
        raise CvssError("CVSS vector is too long")
    prefix, _, rest = vector.strip().partition("/")
    version = prefix.removeprefix("CVSS:")
    if not prefix.startswith("CVSS:") or version not in _SPECS:
        raise CvssError(f"not a CVSS v3/v4 vector: {vector[:40]!r}")
    base, optional = _SPECS[version]
    metrics: dict[str, str] = {}
    for part in rest.split("/"):
        name, sep, value = part.partition(":")
        allowed = base.get(name) or optional.get(name) or frozenset()
        if not sep or value not in allowed:
            raise CvssError(f"invalid CVSS:{version} metric {part!r}")
        if name in metrics:
            raise CvssError(f"CVSS:{version} metric {name} given twice")
        metrics[name] = value
    missing = [name for name in base if name not in metrics]
    if missing:
        raise CvssError(f"CVSS:{version} vector lacks base metrics {', '.join(missing)}")
    return version, metrics


def score(vector: str) -> CvssScore:
    """The score of a v3.0, v3.1 or v4.0 vector string; raises CvssError."""
    version, metrics = parse_vector(vector)
    value = _score_v4(metrics) if version == "4.0" else _score_v3(version, metrics)
    return CvssScore(version, value, vector.strip())


# -- v3.x: specification section 7.1 and 7.4 (metric values) ----------------------------------
_V3_WEIGHTS: Mapping[str, Mapping[str, float]] = {
    "AV": {"N": 0.85, "A": 0.62, "L": 0.55, "P": 0.2},
    "AC": {"L": 0.77, "H": 0.44},
    "UI": {"N": 0.85, "R": 0.62},
    "CIA": {"H": 0.56, "L": 0.22, "N": 0.0},
}
# Privileges Required weighs more when the scope changes (section 7.4).
_V3_PR = {"U": {"N": 0.85, "L": 0.62, "H": 0.27}, "C": {"N": 0.85, "L": 0.68, "H": 0.5}}


def roundup_v31(value: float) -> float:
    """CVSS v3.1 Appendix A: the smallest one-decimal number >= value, free of float noise."""
    int_input = math.floor(value * 100_000 + 0.5)  # round half up, as FIRST's calculator
    if int_input % 10_000 == 0:
        return int_input / 100_000.0
    return (math.floor(int_input / 10_000) + 1) / 10.0


def _roundup_v30(value: float) -> float:
    return math.ceil(value * 10) / 10


def _score_v3(version: str, m: Mapping[str, str]) -> float:
    cia = _V3_WEIGHTS["CIA"]
    iss = 1 - ((1 - cia[m["C"]]) * (1 - cia[m["I"]]) * (1 - cia[m["A"]]))
    changed = m["S"] == "C"
    impact = 7.52 * (iss - 0.029) - 3.25 * (iss - 0.02) ** 15 if changed else 6.42 * iss
    exploitability = (
        8.22 * _V3_WEIGHTS["AV"][m["AV"]] * _V3_WEIGHTS["AC"][m["AC"]] * _V3_PR[m["S"]][m["PR"]]
    ) * _V3_WEIGHTS["UI"][m["UI"]]
    if impact <= 0:
        return 0.0
    roundup = roundup_v31 if version == "3.1" else _roundup_v30
    if changed:
        return roundup(min(1.08 * (impact + exploitability), 10))
    return roundup(min(impact + exploitability, 10))


# -- v4.0: specification section 8, as cvss40.js computes it ----------------------------------
# Data transcribed from FIRST's reference calculator, cvss40.js in
# github.com/RedHatProductSecurity/cvss-v4-calculator (Copyright FIRST, Red Hat and
# contributors, BSD-2-Clause): LOOKUP_TABLE, MAX_COMPOSED, MAX_SEVERITY and METRIC_LEVELS.
#
# The score of each MacroVector: one row per EQ1 EQ2 EQ3, its scores in (EQ4, EQ5, EQ6)
# order, 000000 first; EQ3=2 exists with EQ6=1 only.
_MACRO_SCORES = """
000 10 9.9 9.8 9.5 9.5 9.2 10 9.6 9.3 8.7 9.1 8.1 9.3 9 8.9 8 8.1 6.8
001 9.8 9.5 9.5 9.2 9 8.4 9.3 9.2 8.9 8.1 8.1 6.5 8.8 8 7.8 7 6.9 4.8
002 9.2 8.2 7.2 7.9 6.9 5 6.9 5.5 2.7
010 9.9 9.7 9.5 9.2 9.2 8.5 9.5 9.1 9 8.3 8.4 7.1 9.2 8.1 8.2 7.1 7.2 5.3
011 9.5 9.3 9.2 8.5 8.5 7.3 9.2 8.2 8 7.2 7 5.9 8.4 7 7.1 5.2 5 3
012 8.6 7.5 5.2 7.1 5.2 2.9 6.3 2.9 1.7
100 9.8 9.5 9.4 8.7 9.1 8.1 9.4 8.9 8.6 7.4 7.7 6.4 8.7 7.5 7.4 6.3 6.3 4.9
101 9.4 8.9 8.8 7.7 7.6 6.7 8.6 7.6 7.4 5.8 5.9 5 7.2 5.7 5.7 5.2 5.2 2.5
102 8.3 7 5.4 6.5 5.8 2.6 5.3 2.1 1.3
110 9.5 9 8.8 7.6 7.6 7 9 7.7 7.5 6.2 6.1 5.3 7.7 6.6 6.8 5.9 5.2 3
111 8.9 7.8 7.6 6.7 6.2 5.8 7.4 5.9 5.7 5.7 4.7 2.3 6.1 5.2 5.7 2.9 2.4 1.6
112 7.1 5.9 3 5.8 2.6 1.5 2.3 1.3 0.6
200 9.3 8.7 8.6 7.2 7.5 5.8 8.6 7.4 7.4 6.1 5.6 3.4 7 5.4 5.2 4 4 2.2
201 8.5 7.5 7.4 5.5 6.2 5.1 7.2 5.7 5.5 4.1 4.6 1.9 5.3 3.6 3.4 1.9 1.9 0.8
202 6.4 5.1 2 4.7 2.1 1.1 2.4 0.9 0.4
210 8.8 7.5 7.3 5.3 6 5 7.3 5.5 5.9 4 4.1 2 5.4 4.3 4.5 2.2 2 1.1
211 7.5 5.5 5.8 4.5 4 2.1 6.1 5.1 4.8 1.8 2 0.9 4.6 1.8 1.7 0.7 0.8 0.2
212 5.3 2.4 1.4 2.4 1.2 0.5 1 0.3 0.1
"""
Macro = tuple[int, ...]  # EQ1..EQ6


def _macro_scores(text: str) -> Mapping[Macro, float]:
    scores: dict[Macro, float] = {}
    for line in text.strip().splitlines():
        prefix, *values = line.split()
        eq1, eq2, eq3 = (int(digit) for digit in prefix)
        classes = itertools.product(range(3), range(3), (1,) if eq3 == 2 else (0, 1))
        for (eq4, eq5, eq6), value in zip(classes, values, strict=True):
            scores[(eq1, eq2, eq3, eq4, eq5, eq6)] = float(value)
    return MappingProxyType(scores)


_LOOKUP = _macro_scores(_MACRO_SCORES)
# The highest-severity vectors of each class of each EQ (EQ3 and EQ6 jointly), and the
# depth of each class (its largest severity distance + 1, in steps of 0.1).
_HIGHEST: tuple[Mapping[object, tuple[str, ...]], ...] = (
    {0: ("AV:N/PR:N/UI:N",), 1: ("AV:A/PR:N/UI:N", "AV:N/PR:L/UI:N", "AV:N/PR:N/UI:P"),
     2: ("AV:P/PR:N/UI:N", "AV:A/PR:L/UI:P")},
    {0: ("AC:L/AT:N",), 1: ("AC:H/AT:N", "AC:L/AT:P")},
    {(0, 0): ("VC:H/VI:H/VA:H/CR:H/IR:H/AR:H",),
     (0, 1): ("VC:H/VI:H/VA:L/CR:M/IR:M/AR:H", "VC:H/VI:H/VA:H/CR:M/IR:M/AR:M"),
     (1, 0): ("VC:L/VI:H/VA:H/CR:H/IR:H/AR:H", "VC:H/VI:L/VA:H/CR:H/IR:H/AR:H"),
     (1, 1): ("VC:L/VI:H/VA:L/CR:H/IR:M/AR:H", "VC:L/VI:H/VA:H/CR:H/IR:M/AR:M",
              "VC:H/VI:L/VA:H/CR:M/IR:H/AR:M", "VC:H/VI:L/VA:L/CR:M/IR:H/AR:H",
              "VC:L/VI:L/VA:H/CR:H/IR:H/AR:M"),
     (2, 1): ("VC:L/VI:L/VA:L/CR:H/IR:H/AR:H",)},
    {0: ("SC:H/SI:S/SA:S",), 1: ("SC:H/SI:H/SA:H",), 2: ("SC:L/SI:L/SA:L",)},
    {0: ("E:A",), 1: ("E:P",), 2: ("E:U",)},
)  # fmt: skip
_DEPTH: tuple[Mapping[object, int], ...] = (
    {0: 1, 1: 4, 2: 5},
    {0: 1, 1: 2},
    {(0, 0): 7, (0, 1): 6, (1, 0): 8, (1, 1): 8, (2, 1): 10},
    {0: 6, 1: 5, 2: 4},
    {0: 1, 1: 1, 2: 1},
)
# Severity levels within each metric; distances from a highest-severity vector sum these.
_LEVELS: Mapping[str, Mapping[str, float]] = {
    "AV": {"N": 0.0, "A": 0.1, "L": 0.2, "P": 0.3},
    "PR": {"N": 0.0, "L": 0.1, "H": 0.2},
    "UI": {"N": 0.0, "P": 0.1, "A": 0.2},
    "AC": {"L": 0.0, "H": 0.1},
    "AT": {"N": 0.0, "P": 0.1},
    "VC": {"H": 0.0, "L": 0.1, "N": 0.2},
    "VI": {"H": 0.0, "L": 0.1, "N": 0.2},
    "VA": {"H": 0.0, "L": 0.1, "N": 0.2},
    "SC": {"H": 0.1, "L": 0.2, "N": 0.3},
    "SI": {"S": 0.0, "H": 0.1, "L": 0.2, "N": 0.3},
    "SA": {"S": 0.0, "H": 0.1, "L": 0.2, "N": 0.3},
    "CR": {"H": 0.0, "M": 0.1, "L": 0.2},
    "IR": {"H": 0.0, "M": 0.1, "L": 0.2},
    "AR": {"H": 0.0, "M": 0.1, "L": 0.2},
    "E": {"U": 0.2, "P": 0.1, "A": 0.0},
}
# Unset threat and security-requirement metrics assume the worst case (section 8.2).
_WORST_CASE = {"E": "A", "CR": "H", "IR": "H", "AR": "H"}
_IMPACTS = ("VC", "VI", "VA", "SC", "SI", "SA")
_EQ_KEYS = (0, 1, (2, 5), 3, 4)  # the macro-vector positions each EQ's class is read from


def _effective(m: Mapping[str, str], metric: str) -> str:
    value = m.get(metric, "X")
    if value == "X" and metric in _WORST_CASE:
        return _WORST_CASE[metric]
    modified = m.get("M" + metric, "X")  # an environmental override replaces the base value
    return modified if modified != "X" else value


def _macro_vector(m: Mapping[str, str]) -> Macro:
    """The six equivalence classes EQ1..EQ6 (specification table 24)."""
    e = {metric: _effective(m, metric) for metric in (*_LEVELS, "MSI", "MSA")}
    av_pr_ui = (e["AV"], e["PR"], e["UI"])
    eq1 = 0 if av_pr_ui == ("N", "N", "N") else 1 if "N" in av_pr_ui and e["AV"] != "P" else 2
    eq2 = 0 if (e["AC"], e["AT"]) == ("L", "N") else 1
    eq3 = 0 if e["VC"] == e["VI"] == "H" else 1 if "H" in (e["VC"], e["VI"], e["VA"]) else 2
    eq4 = 0 if "S" in (e["MSI"], e["MSA"]) else 1 if "H" in (e["SC"], e["SI"], e["SA"]) else 2
    eq5 = {"A": 0, "P": 1, "U": 2}[e["E"]]
    high = any(e[req] == e[impact] == "H" for req, impact in (("CR", "VC"), ("IR", "VI"), ("AR", "VA")))
    return eq1, eq2, eq3, eq4, eq5, 0 if high else 1


def _score_v4(m: Mapping[str, str]) -> float:
    if all(_effective(m, metric) == "N" for metric in _IMPACTS):
        return 0.0
    macro = _macro_vector(m)
    value = _LOOKUP[macro]
    classes = [_class(macro, key) for key in _EQ_KEYS]
    # 1a. Each EQ's maximal scoring difference: to its next lower MacroVector, if one exists.
    lower = [_lookup(macro, 0), _lookup(macro, 1), _lower_eq3eq6(macro), _lookup(macro, 3), _lookup(macro, 4)]
    # 1b. The severity distance from the first highest-severity vector of the MacroVector
    # that is at least as severe as this vector in every metric.
    d = _distances(m, classes)
    distance = (
        d["AV"] + d["PR"] + d["UI"],
        d["AC"] + d["AT"],
        d["VC"] + d["VI"] + d["VA"] + d["CR"] + d["IR"] + d["AR"],
        d["SC"] + d["SI"] + d["SA"],
    )
    # 1c-d. Distance over depth, times the scoring difference; EQ5 has no depth (always 0).
    # 2. Their mean over the EQs that have a lower MacroVector.
    total, existing = 0.0, 0
    for eq, lower_score in enumerate(lower):
        if lower_score is None:
            continue
        existing += 1
        if eq < 4:
            total += (value - lower_score) * (distance[eq] / (_DEPTH[eq][classes[eq]] * 0.1))
    mean = total / existing if existing else 0.0
    # 3. The MacroVector's score less the mean distance, rounded to one decimal.
    return _round1(max(0.0, min(10.0, value - mean)))


def _class(macro: Macro, key: int | tuple[int, int]) -> object:
    return macro[key] if isinstance(key, int) else (macro[key[0]], macro[key[1]])


def _lookup(macro: Macro, *positions: int) -> float | None:
    shifted = tuple(level + (i in positions) for i, level in enumerate(macro))
    return _LOOKUP.get(shifted)


def _lower_eq3eq6(macro: Macro) -> float | None:
    # EQ3 and EQ6 descend together: 00 has two next lower classes (the higher score counts),
    # 01 and 11 descend in EQ3, 10 in EQ6, and 21 is the lowest.
    eq3, eq6 = macro[2], macro[5]
    if (eq3, eq6) == (0, 0):
        left, right = _lookup(macro, 5), _lookup(macro, 2)
        return None if left is None or right is None else max(left, right)
    if eq6 == 1 and eq3 < 2:
        return _lookup(macro, 2)
    return _lookup(macro, 5) if (eq3, eq6) == (1, 0) else None


def _distances(m: Mapping[str, str], classes: list[object]) -> dict[str, float]:
    candidates = itertools.product(*(_HIGHEST[eq][cls] for eq, cls in enumerate(classes)))
    distances: dict[str, float] = {}
    for parts in candidates:
        highest = dict(metric.split(":") for part in parts for metric in part.split("/"))
        distances = {
            metric: levels[_effective(m, metric)] - levels[highest[metric]]
            for metric, levels in _LEVELS.items()
        }
        if all(value >= 0 for value in distances.values()):
            break
    return distances  # when none qualifies, the last candidate's, as the reference does


def _round1(value: float) -> float:
    # Half up, after adding 10^-6 so that float noise cannot turn a half down (8.6 - 7.15 is
    # 1.4499999999999993, which must round to 1.5): FIRST's calculator rounds so, and the
    # vectors it scored are the reference scores.
    shifted = (value + 1e-6) * 10
    return math.floor(shifted + 0.5) / 10
