"""Which rule wins when several match: the most specific one; at equal specificity, the strictest.

Specificity is a tuple compared left to right; the first field that differs decides:

  1. ``digest``               1 if the rule names a manifest digest
  2. ``tag``                  2 for an exact tag, 1 for a tag glob or ``tag_regex``, 0 for none
  3. ``repository_exact``     1 if the repository pattern has no wildcard at all
  4. ``repository_literals``  how many characters of the repository pattern are literal
  5. ``repository_bounded``   1 if the repository pattern does not use ``**``
  6. ``registry``             2 for an exact registry name, 1 for a registry glob, 0 for none

At equal specificity the action decides: deny beats quarantine beats allow. Then an enforced
rule beats a warn-only one, and finally the rule declared first wins (so the verdict never
depends on hashing or on the order of an index).

Examples (A beats B):

  ============================================  ==========================================
  A                                             B
  ============================================  ==========================================
  ``digest sha256:…`` (anything else)           ``library/alpine`` tag ``3.19``
  ``**`` tag ``latest``                         ``library/alpine`` (no tag)
  ``library/alpine`` tag ``latest``             ``**`` tag ``latest``
  ``library/*`` tag ``latest``                  ``library/*`` tag ``lat*``
  ``library/alpine``                            ``library/alp*`` (not exact)
  ``library/alp*``                              ``library/*`` (10 literal characters vs 7)
  ``library/*``                                 ``library/**`` (same literals, no ``**``)
  ``library/*`` on ``docker.io``                ``library/*`` on ``*.io``, or on any registry
  ``library/*`` deny                            ``library/*`` quarantine, then allow
  ============================================  ==========================================

Note the tag comes before the repository: a global "no ``latest``" rule beats a repository-wide
allow, and an exception for one repository's ``latest`` must name both.
"""

from __future__ import annotations

from typing import NamedTuple

from proxy.policy.model import Action, Match, Mode
from proxy.policy.patterns import (
    Glob,
    compile_registry_glob,
    compile_repository_glob,
    compile_tag_glob,
)

__all__ = ["ACTION_RANK", "Precedence", "Specificity", "precedence", "specificity", "specificity_of"]

ACTION_RANK = {Action.ALLOW: 0, Action.QUARANTINE: 1, Action.DENY: 2}


class Specificity(NamedTuple):
    digest: int
    tag: int
    repository_exact: int
    repository_literals: int
    repository_bounded: int
    registry: int


class Precedence(NamedTuple):
    """The full sort key of a rule: the greatest key among matching rules wins."""

    specificity: Specificity
    action: int
    enforced: int
    earlier: int  # minus the rule's position in the policy


def specificity_of(
    *, repository: Glob, registry: Glob | None, tag: Glob | None, has_tag_regex: bool, has_digest: bool
) -> Specificity:
    return Specificity(
        digest=int(has_digest),
        tag=_rank(tag) if tag is not None else int(has_tag_regex),
        repository_exact=int(repository.literal),
        repository_literals=repository.literal_chars,
        repository_bounded=int(not repository.doublestar),
        registry=_rank(registry) if registry is not None else 0,
    )


def _rank(glob: Glob) -> int:
    """2 for a wildcard-free glob, 1 for a real glob."""
    return 2 if glob.literal else 1


def specificity(match: Match) -> Specificity:
    """The specificity of a match as written in a policy (compiles its patterns)."""
    return specificity_of(
        repository=compile_repository_glob(match.repository),
        registry=None if match.registry is None else compile_registry_glob(match.registry),
        tag=None if match.tag is None else compile_tag_glob(match.tag),
        has_tag_regex=match.tag_regex is not None,
        has_digest=match.digest is not None,
    )


def precedence(spec: Specificity, action: Action, mode: Mode, position: int) -> Precedence:
    return Precedence(spec, ACTION_RANK[action], int(mode is Mode.ENFORCE), -position)
