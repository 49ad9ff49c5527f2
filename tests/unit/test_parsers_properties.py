"""Every parser of untrusted bytes raises only its own error, on mutated real inputs.

The same targets and seeds as the fuzzing campaign (`tests.fuzz`), driven by hypothesis
inside the suite: each example takes a seed (a published test vector, a signed envelope, a
layer with every kind of file the scanner reads) and flips, cuts, inserts or overwrites a few
bytes. A bounded number of examples per target keeps this within the suite's budget; the
coverage-guided campaign runs millions outside it.
"""

from __future__ import annotations

import contextlib
from functools import cache

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.seeds import SEEDS
from tests.fuzz.targets import TARGETS
from tests.support.properties import examples

_RUNS = st.sampled_from([b"\x00", b"\xff", b"[", b"{", b'"', b"9" * 30, b"\x30\x82\xff\xff", b"\xd2\x84"])


@cache
def seeds(target: str) -> tuple[bytes, ...]:
    return tuple(SEEDS[target]())


@st.composite
def mutated(draw: st.DrawFn, target: str) -> bytes:
    data = bytearray(draw(st.sampled_from(seeds(target))))
    for _ in range(draw(st.integers(1, 4))):
        where = draw(st.integers(0, len(data)))
        edit = draw(st.sampled_from(["flip", "cut", "insert", "overwrite"]))
        if edit == "flip" and where < len(data):
            data[where] ^= 1 << draw(st.integers(0, 7))
        elif edit == "cut":
            del data[where : where + draw(st.integers(1, 64))]
        elif edit == "insert":
            data[where:where] = draw(st.one_of(_RUNS, st.binary(min_size=1, max_size=8)))
        else:
            data[where : where + 4] = draw(st.binary(min_size=4, max_size=4))
    return bytes(data)


@pytest.mark.parametrize("name", sorted(TARGETS))
@given(data=st.data())
@examples(60)
def test_parsers_raise_only_their_own_errors(name: str, data: st.DataObject) -> None:
    target = TARGETS[name]
    blob = data.draw(mutated(name), label="input")
    with contextlib.suppress(target.domain):
        target.run(blob)


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_the_seeds_themselves_are_accepted_or_refused_cleanly(name: str) -> None:
    target = TARGETS[name]
    for seed in seeds(name):
        with contextlib.suppress(target.domain):
            target.run(seed)
