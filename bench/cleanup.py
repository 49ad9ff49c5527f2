"""Stop everything the benchmark started, however the run ends (return, error, Ctrl-C, SIGTERM)."""

from __future__ import annotations

import atexit
import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType

__all__ = ["Cleanup", "terminate_on_sigterm"]


class Cleanup:
    """Stop callbacks run once, newest first; also registered with atexit as a last resort."""

    def __init__(self) -> None:
        self._callbacks: list[tuple[str, Callable[[], None]]] = []
        self._lock = threading.Lock()
        atexit.register(self.run)

    def push(self, what: str, callback: Callable[[], None]) -> None:
        with self._lock:
            self._callbacks.append((what, callback))

    def discard(self, callback: Callable[[], None]) -> None:
        """Forget a callback that already ran (a service stopped early on purpose)."""
        with self._lock:
            self._callbacks = [(w, c) for w, c in self._callbacks if c is not callback]

    def run(self) -> None:
        while True:
            with self._lock:
                if not self._callbacks:
                    return
                what, callback = self._callbacks.pop()
            try:
                callback()
            except Exception as exc:  # one failing stop must not leave the others running
                print(f"bench: stopping {what} failed: {exc}", file=sys.stderr)


def terminate_on_sigterm() -> None:
    """Turn SIGTERM into KeyboardInterrupt so finally blocks (and the cleanup) run.

    SIGINT gets Python's own handler back too: a shell starting the benchmark in the
    background (``make bench &``) hands it SIGINT ignored, and Ctrl-C must still stop it.
    """

    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, signal.default_int_handler)
