"""Webhooks over real HTTP: signed JSON bodies, retries with backoff, give-up after the attempts."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

from aiohttp import web

from proxy.gate.scans.webhooks import WebhookNotifier
from proxy.scan_settings import WebhookSettings


class Receiver:
    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.bodies: list[tuple[bytes, dict[str, str]]] = []
        self.attempts = 0

    async def handle(self, request: web.Request) -> web.Response:
        self.attempts += 1
        if self.attempts <= self.failures:
            return web.Response(status=503)
        self.bodies.append((await request.read(), dict(request.headers)))
        return web.Response(status=204)


async def _serve(aiohttp_server: Any, receiver: Receiver) -> str:
    app = web.Application()
    app.router.add_post("/hook", receiver.handle)
    server = await aiohttp_server(app)
    return f"http://127.0.0.1:{server.port}/hook"


async def test_a_signed_notice_arrives_after_retries(aiohttp_server: Any, tmp_path: Path) -> None:
    receiver = Receiver(failures=2)
    url = await _serve(aiohttp_server, receiver)
    secret = tmp_path / "secret"
    secret.write_text("s3cret\n")
    notifier = WebhookNotifier((WebhookSettings(url=url, secret_file=secret, attempts=4),), backoff=0.01)
    notifier.start()
    notifier.notify({"id": "n1", "event": "verdict.changed", "digest": "sha256:ab"})
    await notifier.close()
    assert receiver.attempts == 3 and notifier.delivered == 1
    ((body, headers),) = receiver.bodies
    assert json.loads(body)["event"] == "verdict.changed"
    expected = "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert headers["X-Pullgate-Signature"] == expected
    assert headers["Content-Type"] == "application/json"


async def test_a_dead_receiver_is_given_up_on_without_blocking(aiohttp_server: Any) -> None:
    receiver = Receiver(failures=100)
    url = await _serve(aiohttp_server, receiver)
    notifier = WebhookNotifier((WebhookSettings(url=url, attempts=3),), backoff=0.01)
    notifier.start()
    notifier.notify({"id": "n2"})  # returns at once: delivery is in the background
    await notifier.close(drain_seconds=5)
    assert receiver.attempts == 3 and notifier.failed == 1 and notifier.delivered == 0


async def test_no_hooks_means_nothing_runs() -> None:
    notifier = WebhookNotifier(())
    notifier.start()
    notifier.notify({"id": "n3"})
    async with asyncio.timeout(1):
        await notifier.close()
    assert notifier.delivered == notifier.failed == 0
