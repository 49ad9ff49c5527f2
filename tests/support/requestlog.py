"""A record of the requests a test server saw, for asserting on upstream traffic."""

from __future__ import annotations

import threading
from dataclasses import dataclass

__all__ = ["RecordedRequest", "RequestLog"]


@dataclass
class RecordedRequest:
    """Recorded when the request arrives and updated as the answer goes out, so a client that
    has read a whole answer always finds its request counted (no race with the server thread)."""

    method: str
    path: str
    query: str
    status: int
    bytes_sent: int


class RequestLog:
    """Thread-safe list of requests; servers append from their own loop thread."""

    def __init__(self) -> None:
        self._entries: list[RecordedRequest] = []
        self._lock = threading.Lock()

    def add(self, entry: RecordedRequest) -> None:
        with self._lock:
            self._entries.append(entry)

    @property
    def entries(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def matching(self, method: str | None = None, path_suffix: str = "") -> list[RecordedRequest]:
        """Requests whose method matches (any if None) and whose path ends with ``path_suffix``."""
        return [
            entry
            for entry in self.entries
            if (method is None or entry.method == method.upper()) and entry.path.endswith(path_suffix)
        ]

    def count(self, method: str | None = None, path_suffix: str = "") -> int:
        return len(self.matching(method, path_suffix))

    def bytes_sent(self, method: str | None = None, path_suffix: str = "") -> int:
        return sum(entry.bytes_sent for entry in self.matching(method, path_suffix))
