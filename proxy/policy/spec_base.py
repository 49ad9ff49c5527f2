"""What every part of the policy document shares: unknown fields are errors, and the ids
and names that denials quote follow one pattern."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["ITEM_ID", "StrictSpec"]

# Rule, requirement, policy, exception, authority and trust material names.
ITEM_ID = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"


class StrictSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
