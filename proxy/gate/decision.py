"""A decision as the gate hands it out, and the denial a client reads.

Denials follow DESIGN.md invariant 4: HTTP 403 `DENIED`, a message that names the image, each
failed check and the decision id to look up in the admin API, and the same facts as
structured `detail` for tools.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from proxy.oci.errors import ErrorCode, RegistryError
from proxy.policy.model import Outcome, Reason

__all__ = ["Decision", "denial", "warning_header"]

_MAX_MESSAGE = 2000  # runtimes print the message on one line; keep it readable


@dataclass(frozen=True, slots=True)
class Decision:
    id: str
    outcome: Outcome
    reasons: tuple[Reason, ...]
    policy_version: int
    image: str  # upstream/repository@digest, as a person would name it
    decided_at: datetime

    @property
    def rule_ids(self) -> list[str]:
        return [r.rule_id for r in self.reasons if r.rule_id is not None]

    def reasons_as_dicts(self) -> list[dict[str, Any]]:
        return [r.as_dict() for r in self.reasons]


def denial(decision: Decision) -> RegistryError:
    verb = {
        Outcome.DENY: "denied",
        Outcome.QUARANTINE: "quarantined pending review",
        Outcome.PENDING: "not yet decided (checks still running; retry later)",
    }.get(decision.outcome, "denied")
    checks = "; ".join(r.message for r in decision.reasons) or "no reason recorded"
    message = f"pullgate: {decision.image} is {verb}: {checks} (decision {decision.id})"
    if len(message) > _MAX_MESSAGE:
        message = message[: _MAX_MESSAGE - 40] + f"... (decision {decision.id})"
    detail = {
        "decision_id": decision.id,
        "outcome": decision.outcome.value,
        "image": decision.image,
        "policy_version": decision.policy_version,
        "reasons": decision.reasons_as_dicts(),
    }
    headers = {"Retry-After": "30"} if decision.outcome is Outcome.PENDING else None
    return RegistryError(ErrorCode.DENIED, message, detail=detail, headers=headers)


def warning_header(decision: Decision) -> str:
    """RFC 7234 warn-code 299 ("miscellaneous persistent warning"), as DESIGN.md §2.4 asks."""
    # The engine puts the warn-mode rule that would have blocked first; the rest say what allowed.
    blocking = decision.reasons[0].message if decision.reasons else "a warn-mode rule"
    text = f"pullgate: would block {decision.image}: {blocking} (decision {decision.id})"
    return '299 - "' + text.replace("\\", "\\\\").replace('"', '\\"')[:1000] + '"'
