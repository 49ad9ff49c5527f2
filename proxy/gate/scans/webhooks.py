"""Webhooks: tell other systems when an image's verdict changes (a rescan found a new
vulnerability, an exception expired). JSON POSTs, retried with exponential backoff; with a
secret, the body's HMAC-SHA256 is sent as ``X-Pullgate-Signature: sha256=<hex>`` so the
receiver can check it came from pullgate.

Delivery runs in its own task behind a bounded queue: a slow or dead receiver never holds
up a scan or a pull. A notice that still fails after every attempt is logged with its body's
event id (the audit log keeps the verdict change itself).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
from typing import Any

import aiohttp

from proxy.scan_settings import WebhookSettings

__all__ = ["WebhookNotifier"]

log = logging.getLogger(__name__)

QUEUE_SIZE = 10_000
FIRST_BACKOFF = 0.5


class WebhookNotifier:
    def __init__(self, hooks: tuple[WebhookSettings, ...], *, backoff: float = FIRST_BACKOFF) -> None:
        self._hooks = hooks
        self._secrets = {
            str(h.url): h.secret_file.read_bytes().strip() if h.secret_file else None for h in hooks
        }
        self._backoff = backoff
        self._queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(QUEUE_SIZE)
        self._task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None
        self.delivered = 0
        self.failed = 0

    def start(self) -> None:
        if self._hooks and self._task is None:
            self._session = aiohttp.ClientSession()
            self._task = asyncio.create_task(self._deliver(), name="webhooks")

    async def close(self, drain_seconds: float = 5.0) -> None:
        if self._task is not None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(drain_seconds):
                    await self._queue.join()
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    def notify(self, event: dict[str, Any]) -> None:
        if not self._hooks:
            return
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            self.failed += 1
            log.error("webhook queue full; dropped notice %s", event.get("id"))

    async def _deliver(self) -> None:
        while True:
            event = await self._queue.get()
            try:
                body = json.dumps(event, separators=(",", ":"), sort_keys=True).encode()
                await asyncio.gather(*(self._post(hook, body, event) for hook in self._hooks))
            finally:
                self._queue.task_done()

    async def _post(self, hook: WebhookSettings, body: bytes, event: dict[str, Any]) -> None:
        assert self._session is not None
        headers = {"Content-Type": "application/json", "User-Agent": "pullgate-webhook/1"}
        secret = self._secrets[str(hook.url)]
        if secret:
            headers["X-Pullgate-Signature"] = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
        delay = self._backoff
        for attempt in range(1, hook.attempts + 1):
            try:
                timeout = aiohttp.ClientTimeout(total=hook.timeout)
                async with self._session.post(
                    str(hook.url), data=body, headers=headers, timeout=timeout
                ) as resp:
                    if resp.status < 300:
                        self.delivered += 1
                        return
                    problem = f"HTTP {resp.status}"
            except (aiohttp.ClientError, TimeoutError) as exc:
                problem = f"{type(exc).__name__}: {exc}"
            if attempt < hook.attempts:
                await asyncio.sleep(delay)
                delay *= 2
        self.failed += 1
        log.error(
            "webhook %s: notice %s not delivered after %d attempts (%s)",
            hook.url,
            event.get("id"),
            hook.attempts,
            problem,
        )
