"""Which credentials one upstream's requests carry: stored ones, the settings', or none.

Credentials stored in the database (sealed, see `proxy.secrets`) take precedence over the
YAML settings' and may change while pullgate runs; `proxy.gate.credentials` calls
`use_stored` or `refuse` here whenever they do. A change hands the authenticator the new
credentials, which drops every token obtained with the old ones.
"""

from __future__ import annotations

from typing import Literal

from proxy.upstream.auth import Authenticator, Credentials
from proxy.upstream.errors import UpstreamError, UpstreamErrorKind

__all__ = ["CredentialSource", "UpstreamCredentials"]

# "unusable": stored credentials exist but cannot be opened here; every request fails.
CredentialSource = Literal["stored", "settings", "none", "unusable"]


class UpstreamCredentials:
    def __init__(self, upstream: str, auth: Authenticator, configured: Credentials | None) -> None:
        self._upstream = upstream
        self._auth = auth
        self._configured = configured  # from the settings
        self._stored = False
        self._unusable: str | None = None

    def __repr__(self) -> str:
        return f"UpstreamCredentials(upstream={self._upstream!r}, in_use={self.in_use!r})"

    @property
    def in_use(self) -> CredentialSource:
        if self._unusable is not None:
            return "unusable"
        if self._stored:
            return "stored"
        return "settings" if self._configured is not None else "none"

    @property
    def problem(self) -> str | None:
        """Why requests are refused, or None."""
        return self._unusable

    @property
    def username(self) -> str | None:
        current = self._auth.credentials
        return current.username if current is not None else None

    def use_stored(self, credentials: Credentials | None) -> None:
        """Stored credentials replace the settings' (None: back to the settings').

        The same credentials again (a key rotation sealed them anew) change nothing, so
        their tokens stay cached.
        """
        chosen = credentials if credentials is not None else self._configured
        changed = self._unusable is not None or chosen != self._auth.credentials
        self._stored, self._unusable = credentials is not None, None
        if changed:
            self._auth.use(chosen)

    def refuse(self, problem: str) -> None:
        """Fail every request with `problem` (safe to show) until `use_stored` is called.

        For stored credentials this replica cannot open: falling back to the settings'
        credentials, or to none, would pull as an account the operator has replaced.
        """
        self._unusable = problem
        self._auth.use(None)

    def check(self) -> None:
        """Raise the refusal, if requests are refused."""
        if self._unusable is not None:
            raise UpstreamError(self._upstream, UpstreamErrorKind.CREDENTIALS, self._unusable)
