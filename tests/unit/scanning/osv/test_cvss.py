"""CVSS scores computed from vectors, checked against FIRST's published scores (vectors/)."""

from __future__ import annotations

from pathlib import Path

import pytest

from proxy.scanning.cvss import CvssError, parse_vector, roundup_v31, score

VECTORS = Path(__file__).parent / "vectors"


def _scored(name: str) -> list[tuple[str, float]]:
    lines = (VECTORS / name).read_text().splitlines()
    pairs = [line.rsplit(" - ", 1) for line in lines if line and not line.startswith("#")]
    return [(vector, float(value)) for vector, value in pairs]


@pytest.mark.parametrize(("vector", "expected"), _scored("cvss3_first_examples.txt"))
def test_v31_base_scores_are_those_of_firsts_examples(vector: str, expected: float) -> None:
    assert score(vector).score == expected
    assert score(vector).version == "3.1"


@pytest.mark.parametrize(("vector", "expected"), _scored("cvss4_first_calculator.txt"))
def test_v40_scores_are_those_of_firsts_calculator(vector: str, expected: float) -> None:
    assert score(vector).score == expected
    assert score(vector).version == "4.0"


def test_v30_vectors_score_like_v31_on_the_base_metrics() -> None:
    heartbleed = "AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"
    assert score(f"CVSS:3.0/{heartbleed}").score == score(f"CVSS:3.1/{heartbleed}").score == 7.5


def test_v31_roundup_is_free_of_float_noise() -> None:
    # Appendix A's reason for existing: ceil(4.000000000000001 * 10) / 10 would give 4.1.
    assert roundup_v31(4.000000000000001) == 4.0
    assert roundup_v31(4.0) == 4.0
    assert roundup_v31(4.02) == 4.1
    assert roundup_v31(0.0) == 0.0


def test_v3_temporal_and_environmental_metrics_do_not_change_the_base_score() -> None:
    base = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"
    assert score(f"{base}/E:U/RL:O/RC:U/CR:L/MAV:P/MC:N").score == 9.8


def test_no_impact_scores_zero() -> None:
    assert score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N").score == 0.0
    assert score("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:N/SC:N/SI:N/SA:N").score == 0.0


def test_metric_order_does_not_matter_and_supplemental_metrics_are_not_scored() -> None:
    ordered = score("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N").score
    shuffled = score("CVSS:4.0/SA:N/SI:N/SC:N/VA:H/VI:H/VC:H/UI:N/PR:N/AT:N/AC:L/AV:N/S:P/U:Red").score
    assert ordered == shuffled == 9.3


@pytest.mark.parametrize(
    "vector",
    [
        "",
        "AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",  # no prefix
        "CVSS:2.0/AV:N/AC:L/Au:N/C:P/I:P/A:P",
        "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H",  # A missing
        "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/A:L",  # A twice
        "CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",  # X is not a base value
        "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/JJ:H",
        "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/",
        "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:N/SC:N/SI:N/SA:J",
        "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:N/SC:N/SI:S/SA:N",  # S only in MSI
        "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/U:red",
        "CVSS:3.1/" + "E:X/" * 200 + "AV:N",
    ],
)
def test_invalid_vectors_are_refused(vector: str) -> None:
    with pytest.raises(CvssError):
        score(vector)


def test_parse_vector_answers_version_and_metrics() -> None:
    version, metrics = parse_vector("CVSS:4.0/AV:A/AC:H/AT:P/PR:L/UI:P/VC:L/VI:N/VA:N/SC:N/SI:N/SA:N/E:P")
    assert version == "4.0"
    assert metrics["AV"] == "A" and metrics["E"] == "P" and len(metrics) == 12
