"""The gate when it cannot decide: the database is unavailable, or deciding itself failed.

Either way the answer is a denial (DESIGN.md invariant 2). A database outage gets its own
wording, "could not decide: the database is unavailable", so an operator reading the client's
error knows where to look; the decision it carries is not in the decisions table (that is
where the database would have kept it) but its audit record is queued like any other and
written once the database is back.

What an outage does not deny, with `gate.audit_durability: async`: a decision made while the
database was reachable, for the same image under the policy version this replica last saw,
still inside `gate.decision_cache_ttl` (docs/policy.md, "When the database is unavailable").
With `ack` (the default) such a pull is refused too (`unaudited`): it would be a pull nobody
could later find in the audit log.
"""

from __future__ import annotations

import uuid

from db.errors import database_unavailable, describe
from proxy.gate.decision import Decision
from proxy.gate.policy_state import PolicyUnavailableError
from proxy.gate.records import now
from proxy.oci.errors import ErrorCode, RegistryError
from proxy.policy.model import Outcome, Reason

__all__ = ["cannot_decide", "unaudited", "unavailable"]


def unavailable(error: BaseException) -> bool:
    """Whether deciding failed because the database could not be used."""
    if isinstance(error, PolicyUnavailableError) and error.__cause__ is not None:
        error = error.__cause__
    return database_unavailable(error)


def cannot_decide(image: str, error: BaseException, policy_version: int = 0) -> Decision:
    """A denial for an image the gate could not decide, saying why in the client's terms."""
    if unavailable(error):
        cause = error.__cause__ if isinstance(error, PolicyUnavailableError) and error.__cause__ else error
        reason = Reason(
            "gate",
            f"could not decide: the database is unavailable ({describe(cause)}); denied to be safe",
            detail={"database": "unavailable"},
        )
    else:
        reason = Reason("gate", f"the gate could not decide ({type(error).__name__}); denied to be safe")
    return Decision(str(uuid.uuid4()), Outcome.DENY, (reason,), policy_version, image, now())


def unaudited(decision: Decision, failing: bool) -> RegistryError:
    """The refusal of a pull that would be served but whose audit record cannot be committed.

    With the database known to be failing it is a denial, worded like the other outage
    denials; a commit that only took too long is a 503 to retry, the record still queued.
    """
    if failing:
        return RegistryError(
            ErrorCode.DENIED,
            f"pullgate: {decision.image} cannot be served now: its audit record cannot be written "
            f"(the database is unavailable); denied to be safe (decision {decision.id})",
            detail={"decision_id": decision.id, "outcome": decision.outcome.value, "database": "unavailable"},
        )
    return RegistryError(
        ErrorCode.UNAVAILABLE,
        "pullgate could not write its audit log in time, and answers no pull it cannot audit; retry later",
        headers={"Retry-After": "10"},
    )
