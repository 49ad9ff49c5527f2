"""What a reviewer decided about a quarantined image, and how it changes a verdict.

A release is an exception: it turns a `quarantine` outcome into `allow` until it expires; it
never overrides a `deny` rule. A rejection denies the image from then on, whatever the rules
say.
"""

from __future__ import annotations

from db.quarantine_queries import QuarantineRow, QuarantineStatus
from proxy.policy.model import Outcome, Reason, Verdict

__all__ = ["apply_review"]


def apply_review(verdict: Verdict, review: QuarantineRow | None) -> Verdict:
    """`review` is the entry in force (a release that has expired is not passed in)."""
    if review is None or review.status is QuarantineStatus.PENDING:
        return verdict
    who = f"{review.reviewed_by or 'an admin'}"
    if review.reviewed_at is not None:
        who += f" at {review.reviewed_at:%Y-%m-%d %H:%M}Z"
    why = f": {review.review_reason}" if review.review_reason else ""
    if review.status is QuarantineStatus.REJECTED:
        return Verdict(Outcome.DENY, (Reason("review", f"rejected by {who}{why}"), *verdict.reasons))
    if verdict.outcome is Outcome.QUARANTINE:
        until = f" until {review.expires_at:%Y-%m-%d %H:%M}Z" if review.expires_at else ""
        return Verdict(
            Outcome.ALLOW, (Reason("exception", f"released by {who}{until}{why}"), *verdict.reasons)
        )
    return verdict
