"""Settings of the web console (`ui:`), in their own module like the other large sections."""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, field_validator

__all__ = ["UiSettings"]


class UiSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # The web console at /ui: static files calling the admin API from the browser.
    enabled: bool | None = None  # None: on whenever the admin API is
    # Where people reach pullgate (https://pullgate.example.com); denials then link to the
    # decision's console page (detail.decision_url). None: denials carry the id only.
    public_url: str | None = None

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{value!r} must be an http:// or https:// URL")
        if parts.username or parts.password or parts.query or parts.fragment:
            raise ValueError("public_url takes no credentials, query or fragment")
        return value.rstrip("/")
