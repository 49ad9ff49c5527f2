"""Python package versions as PEP 440 defines them (https://peps.python.org/pep-0440/).

A version is ``[N!]N(.N)*[{a|b|rc}N][.postN][.devN][+local]``. Parsing accepts the spellings
the PEP's "Normalization" section allows (case, a leading ``v``, surrounding whitespace,
``alpha``/``beta``/``c``/``pre``/``preview`` for pre-releases, ``rev``/``r``/``-N`` for
post-releases, ``-``/``_``/``.`` separators, implicit numbers, leading zeros) and `normalize`
prints the canonical form.

Ordering is the PEP's "Summary of permitted suffixes and relative ordering": epoch, then the
release with trailing zeros ignored (``1.0 == 1.0.0``), then ``.devN`` < ``aN`` < ``bN`` <
``rcN`` < final < ``.postN``, where a dev release of a pre- or post-release sorts just before
it, then the local label, absent before present, segment by segment with numbers above words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from types import MappingProxyType

from proxy.scanning.versions._common import checked
from proxy.scanning.versions.errors import InvalidVersion

__all__ = ["PythonVersion", "compare", "normalize", "parse"]

_SCHEME = "PEP 440"

# The grammar of the PEP's appendix, written out with a group per part. Every repetition is
# over a separator-led group, so matching stays linear in the (bounded) input.
_VERSION = re.compile(
    r"""
    v?
    (?:(?P<epoch>[0-9]+)!)?
    (?P<release>[0-9]+(?:\.[0-9]+)*)
    (?:[-_.]?(?P<pre_l>alpha|a|beta|b|preview|pre|c|rc)[-_.]?(?P<pre_n>[0-9]+)?)?
    (?:
        -(?P<post_n1>[0-9]+)
      | [-_.]?(?P<post_l>post|rev|r)[-_.]?(?P<post_n2>[0-9]+)?
    )?
    (?:[-_.]?(?P<dev_l>dev)[-_.]?(?P<dev_n>[0-9]+)?)?
    (?:\+(?P<local>[a-z0-9]+(?:[-_.][a-z0-9]+)*))?
    """,
    re.VERBOSE | re.IGNORECASE | re.ASCII,
)
_PRE_PHASES = MappingProxyType(
    {
        "a": "a",
        "alpha": "a",
        "b": "b",
        "beta": "b",
        "c": "rc",
        "pre": "rc",
        "preview": "rc",
        "rc": "rc",
    }
)
_PHASE_RANK = MappingProxyType({"a": 0, "b": 1, "rc": 2})

# An ordering key: tuples of ints and strings, compared element by element.
_Key = tuple[object, ...]


@dataclass(frozen=True, slots=True)
class PythonVersion:
    epoch: int
    release: tuple[int, ...]
    pre: tuple[str, int] | None  # ("a" | "b" | "rc", number)
    post: int | None
    dev: int | None
    local: tuple[int | str, ...] | None  # lower-cased words, numbers as ints


def parse(text: str) -> PythonVersion:
    """Parse any spelling PEP 440 accepts, or raise InvalidVersion."""
    match = _VERSION.fullmatch(checked(_SCHEME, text).strip(" \t\n\r\f\v"))
    if match is None:
        raise InvalidVersion(_SCHEME, text, "not a PEP 440 version")
    part = match.group
    pre = None
    if part("pre_l"):
        pre = (_PRE_PHASES[part("pre_l").lower()], int(part("pre_n") or 0))
    post = None
    if part("post_n1") or part("post_l"):
        post = int(part("post_n1") or part("post_n2") or 0)
    local = None
    if part("local"):
        local = tuple(
            int(segment) if segment.isdigit() else segment.lower()
            for segment in re.split(r"[-_.]", part("local"))
        )
    return PythonVersion(
        epoch=int(part("epoch") or 0),
        release=tuple(int(n) for n in part("release").split(".")),
        pre=pre,
        post=post,
        dev=int(part("dev_n") or 0) if part("dev_l") else None,
        local=local,
    )


def normalize(text: str) -> str:
    """The canonical spelling of a version, as PEP 440's normalization rules produce it."""
    v = parse(text)
    out = f"{v.epoch}!" if v.epoch else ""
    out += ".".join(str(n) for n in v.release)
    if v.pre is not None:
        out += f"{v.pre[0]}{v.pre[1]}"
    if v.post is not None:
        out += f".post{v.post}"
    if v.dev is not None:
        out += f".dev{v.dev}"
    if v.local is not None:
        out += "+" + ".".join(str(segment) for segment in v.local)
    return out


def compare(a: str, b: str) -> int:
    """-1, 0 or 1 as `a` sorts before, with or after `b` under PEP 440."""
    ka, kb = _key(parse(a)), _key(parse(b))
    # Keys are built so that elements at the same position always have the same type.
    return (ka > kb) - (ka < kb)


def _key(v: PythonVersion) -> _Key:
    release = list(v.release)
    while len(release) > 1 and release[-1] == 0:
        release.pop()  # 1.0 and 1.0.0 are the same release
    # Each part leads with a rank so that "absent" sorts where the PEP puts it.
    if v.pre is not None:
        pre: _Key = (1, _PHASE_RANK[v.pre[0]], v.pre[1])
    elif v.dev is not None and v.post is None:
        pre = (0, 0, 0)  # 1.0.dev1 sorts before 1.0a1
    else:
        pre = (2, 0, 0)  # a final (or post) release sorts after its pre-releases
    post: _Key = (0, 0) if v.post is None else (1, v.post)
    dev: _Key = (1, 0) if v.dev is None else (0, v.dev)  # a dev release precedes its base
    # No local label sorts first; numeric segments sort above alphanumeric ones.
    local: _Key = () if v.local is None else tuple(_local_segment(s) for s in v.local)
    return (v.epoch, tuple(release), pre, post, dev, local)


def _local_segment(segment: int | str) -> _Key:
    return (1, segment, "") if isinstance(segment, int) else (0, 0, segment)
