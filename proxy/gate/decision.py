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


def denial(decision: Decision, console: str | None = None) -> RegistryError:
    """The 403 for a refused pull; `console` (the console's decision URL less the id, from
    `ui.public_url`) adds a link to the decision's page to the detail and the message."""
    verb = {
        Outcome.DENY: "denied",
        Outcome.QUARANTINE: "quarantined pending review",
        Outcome.PENDING: "not yet decided (checks still running; retry later)",
    }.get(decision.outcome, "denied")
    checks = "; ".join(r.message for r in decision.reasons) or "no reason recorded"
    link = f", {console}{decision.id}" if console else ""
    ending = f"(decision {decision.id}{link})"
    message = f"pullgate: {decision.image} is {verb}: {checks} {ending}"
    if len(message) > _MAX_MESSAGE:  # the ending is kept: it is how the denial is looked up
        message = message[: _MAX_MESSAGE - len(ending) - 4] + f"... {ending}"
    detail = {
        "decision_id": decision.id,
        "outcome": decision.outcome.value,
        "image": decision.image,
        "policy_version": decision.policy_version,
        "reasons": decision.reasons_as_dicts(),
    }
    if console:
        detail["decision_url"] = f"{console}{decision.id}"
    headers = {"Retry-After": "30"} if decision.outcome is Outcome.PENDING else None
    return RegistryError(ErrorCode.DENIED, message, detail=detail, headers=headers)


def warning_header(decision: Decision) -> str:
    """RFC 7234 warn-code 299 ("miscellaneous persistent warning"), as DESIGN.md §2.4 asks."""
    # The engine puts the warn-mode rule that would have blocked first; the rest say what allowed.
    blocking = decision.reasons[0].message if decision.reasons else "a warn-mode rule"
    text = f"pullgate: would block {decision.image}: {blocking} (decision {decision.id})"
    return '299 - "' + text.replace("\\", "\\\\").replace('"', '\\"')[:1000] + '"'
