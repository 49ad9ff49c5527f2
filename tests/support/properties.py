"""Hypothesis strategies for the OCI grammars, and example budgets that follow the profile.

The grammars are written from the specifications, as compositions rather than regexes, so
that a test comparing a parser with them compares two independent readings:

* distribution spec v1.1, "Pulling manifests": a repository name is components joined by
  ``/``; a component is runs of ``[a-z0-9]`` separated by ``.``, ``_``, ``__`` or one or
  more ``-``; a tag is ``[a-zA-Z0-9_]`` then up to 127 of ``[a-zA-Z0-9._-]``;
* image spec, "Digests": ``algorithm ":" encoded``, the algorithm components ``[a-z0-9]+``
  joined by one of ``+._-``, the encoded part ``[a-zA-Z0-9=_-]+``; registered algorithms
  restrict the encoded part further (sha256: 64, sha512: 128 lowercase hex digits).

The profiles themselves (``ci``, ``dev``, ``campaign``) are registered in `tests/conftest.py`;
`examples(n)` gives a test ``n`` examples under ``ci`` and proportionally more under the
others, so an expensive test keeps its share of the suite's budget.
"""

from __future__ import annotations

import string

from hypothesis import settings
from hypothesis import strategies as st

__all__ = [
    "ALNUM",
    "CI_EXAMPLES",
    "digest_text",
    "examples",
    "grammar_digests",
    "repository_components",
    "repository_names",
    "tags",
]

CI_EXAMPLES = 100  # the ci profile's max_examples; `examples` scales against it
ALNUM = string.ascii_lowercase + string.digits
_TAG_FIRST = string.ascii_letters + string.digits + "_"
_TAG_REST = _TAG_FIRST + ".-"
_HEX = "0123456789abcdef"
_ENCODED = string.ascii_letters + string.digits + "=_-"


def examples(ci: int) -> settings:
    """`ci` examples under the ci profile; scaled by the loaded profile's max_examples."""
    return settings(max_examples=max(1, ci * settings.default.max_examples // CI_EXAMPLES))


def _run(alphabet: str, max_size: int = 8) -> st.SearchStrategy[str]:
    return st.text(alphabet, min_size=1, max_size=max_size)


_SEPARATOR = st.one_of(st.just("."), st.just("_"), st.just("__"), st.text("-", min_size=1, max_size=3))


@st.composite
def repository_components(draw: st.DrawFn, max_runs: int = 3) -> str:
    runs = draw(st.lists(_run(ALNUM), min_size=1, max_size=max_runs))
    out = runs[0]
    for run in runs[1:]:
        out += draw(_SEPARATOR) + run
    return out


def repository_names(max_components: int = 4) -> st.SearchStrategy[str]:
    return (
        st.lists(repository_components(), min_size=1, max_size=max_components)
        .map("/".join)
        .filter(lambda name: len(name) <= 255)
    )


def tags() -> st.SearchStrategy[str]:
    return st.builds(
        lambda first, rest: first + rest, st.sampled_from(_TAG_FIRST), st.text(_TAG_REST, max_size=127)
    )


def digest_text(algorithm: str = "sha256") -> st.SearchStrategy[str]:
    """A digest pullgate can verify: a registered algorithm and its exact encoded form."""
    length = {"sha256": 64, "sha512": 128}[algorithm]
    return st.text(_HEX, min_size=length, max_size=length).map(lambda hexits: f"{algorithm}:{hexits}")


@st.composite
def grammar_digests(draw: st.DrawFn) -> str:
    """Anything the image spec's digest grammar admits, registered algorithm or not."""
    components = draw(st.lists(_run(ALNUM, 6), min_size=1, max_size=3))
    algorithm = components[0]
    for component in components[1:]:
        algorithm += draw(st.sampled_from("+._-")) + component
    return f"{algorithm}:{draw(_run(_ENCODED, 140))}"
