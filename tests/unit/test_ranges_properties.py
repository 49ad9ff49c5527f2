"""`parse_range` against a small model of RFC 9110 §14 (single byte ranges).

The model reads the grammar plainly, character by character, with Python's unbounded
integers: ``range-unit "=" 1#range-spec``, a range-spec being ``1*DIGIT "-" [1*DIGIT]`` or
``"-" 1*DIGIT``, list elements separated by commas with optional whitespace, empty ones
ignored (§5.6.1.2). Then it applies §14.1.1 (satisfiable: first-pos below the length, or a
non-zero suffix) and pullgate's documented choices: other units ignored, several ranges
refused, an empty blob served whole.
"""

from __future__ import annotations

import string

from hypothesis import given
from hypothesis import strategies as st

from proxy.api.ranges import ByteRange, parse_range
from proxy.oci.errors import ErrorCode, RegistryError

IGNORE, REFUSE = "ignore", "refuse"
_TOKEN = set(string.ascii_letters + string.digits + "!#$%&'*+-.^_`|~")


def _is_number(text: str) -> bool:
    return len(text) > 0 and all(c in "0123456789" for c in text)


def model(header: str, size: int) -> ByteRange | str:
    value = header.strip(" \t")
    if "=" not in value:
        return REFUSE
    unit, range_set = value.split("=", 1)
    if not unit or not set(unit) <= _TOKEN:
        return REFUSE
    if unit.lower() != "bytes":
        return IGNORE
    elements = [element.strip(" \t") for element in range_set.split(",")]
    specs = [element for element in elements if element != ""]
    if len(specs) != 1:
        return REFUSE
    spec = specs[0]
    if spec.startswith("-"):
        if not _is_number(spec[1:]):
            return REFUSE
        suffix = int(spec[1:])
        if suffix == 0:
            return REFUSE
        return IGNORE if size == 0 else ByteRange(max(0, size - suffix), size)
    if "-" not in spec:
        return REFUSE
    first, last = spec.split("-", 1)
    if not _is_number(first) or (last != "" and not _is_number(last)):
        return REFUSE
    start = int(first)
    if last != "" and int(last) < start:
        return REFUSE
    if start >= size:
        return REFUSE
    end = size if last == "" else min(int(last) + 1, size)
    return ByteRange(start, end)


def actual(header: str, size: int) -> ByteRange | str:
    try:
        answer = parse_range(header, size)
    except RegistryError as exc:
        assert exc.code is ErrorCode.RANGE_INVALID and exc.status == 416
        assert exc.headers["Content-Range"] == f"bytes */{size}"
        return REFUSE
    return IGNORE if answer is None else answer


_SIZES = st.one_of(st.integers(0, 3), st.integers(0, 2**40), st.just(2**63 - 1))
_POSITIONS = st.one_of(
    st.integers(0, 1000).map(str),
    st.integers(0, 10**30).map(str),  # past any size, and past a 64-bit integer
    st.text("0", min_size=1, max_size=25).flatmap(
        lambda zeros: st.integers(0, 99).map(lambda n: zeros + str(n))
    ),
    st.sampled_from(["", "x", "1.5", "+1", "-1", "\u0661", "\u00b2", "1e3", " 1", "\u0e51\u0e52"]),
)
_OWS = st.sampled_from(["", " ", "\t", "  ", "\x0b", "\u00a0"])


@st.composite
def range_specs(draw: st.DrawFn) -> str:
    shape = draw(st.sampled_from(["int", "open", "suffix", "junk"]))
    first, last = draw(_POSITIONS), draw(_POSITIONS)
    spec = {"int": f"{first}-{last}", "open": f"{first}-", "suffix": f"-{last}"}.get(shape)
    return spec if spec is not None else draw(st.text("0123456789-, ", max_size=8))


@st.composite
def headers(draw: st.DrawFn) -> str:
    unit = draw(st.sampled_from(["bytes", "Bytes", "BYTES", "items", "byte", "", "by tes", "bytes "]))
    specs = draw(st.lists(range_specs(), min_size=0, max_size=3))
    padding = draw(st.lists(_OWS, min_size=len(specs) * 2, max_size=len(specs) * 2))
    elements = [padding[2 * i] + spec + padding[2 * i + 1] for i, spec in enumerate(specs)]
    if draw(st.booleans()):
        elements.insert(draw(st.integers(0, len(elements))), draw(_OWS))  # an empty list element
    return draw(_OWS) + unit + draw(st.sampled_from(["=", "", "=="])) + ",".join(elements) + draw(_OWS)


@given(headers(), _SIZES)
def test_parse_range_agrees_with_the_rfc_model(header: str, size: int) -> None:
    assert actual(header, size) == model(header, size), header


@given(st.text(max_size=60), _SIZES)
def test_any_header_is_a_range_a_refusal_or_ignored(header: str, size: int) -> None:
    answer = actual(header, size)
    assert answer == model(header, size), header
    if isinstance(answer, ByteRange):
        assert 0 <= answer.start < answer.end <= size
        assert answer.content_range(size) == f"bytes {answer.start}-{answer.end - 1}/{size}"


@given(st.integers(0, 2**64), st.integers(0, 2**64), st.integers(1, 2**64))
def test_a_served_range_always_lies_within_the_blob(first: int, last: int, size: int) -> None:
    for header in (f"bytes={first}-{last}", f"bytes={first}-", f"bytes=-{last}"):
        answer = actual(header, size)
        if isinstance(answer, ByteRange):
            assert 0 <= answer.start < answer.end <= size and answer.length == answer.end - answer.start
