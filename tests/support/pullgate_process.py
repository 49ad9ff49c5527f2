"""pullgate as an operator runs it: a real `pullgate serve` process, for tests of the listener.

`start_pullgate_process(work_dir, upstreams, **settings)` writes a YAML config (SQLite and a
filesystem store under `work_dir`, scanning off so no background reader opens blob files),
migrates the database and applies an allow-everything policy, starts `python -m proxy serve`
and waits for `/readyz` (over TLS when `server.tls` is set, trusting `ca_file`).

`open_fds()` sorts the process's file descriptors into client connections, files under the
store and everything else, so a test can prove a connection or a spool file did not leak.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from db.migrate import upgrade
from db.session import create_engine, session_factory
from proxy.gate.stores import Stores
from proxy.policy.document import parse_policy_document
from tests.support.pullgate import ALLOW_ALL
from tests.support.registry import free_port

__all__ = ["FdCount", "PullgateProcess", "start_pullgate_process"]

_READY_TIMEOUT = 60.0
_STOP_TIMEOUT = 40.0  # the graceful stop waits up to 30 s for requests in flight
_LISTEN_STATE = "0A"  # in /proc/net/tcp


@dataclass(frozen=True)
class FdCount:
    clients: int  # TCP connections accepted on pullgate's port
    store: int  # files open under the store (blobs and spool files)
    database: int  # SQLite files: the pool opens connections as concurrency needs them, and keeps them
    total: int

    @property
    def rest(self) -> int:
        """Everything else: listening sockets, upstream connections, logs, the event loop."""
        return self.total - self.clients - self.store - self.database


@dataclass
class PullgateProcess:
    process: subprocess.Popen[bytes]
    port: int
    root: Path
    config: dict[str, Any]
    log_path: Path
    ssl_context: ssl.SSLContext | None

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"{'https' if self.ssl_context else 'http'}://{self.host}"

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def store_root(self) -> Path:
        return self.root / "blobs"

    def log_lines(self) -> list[dict[str, Any]]:
        """The JSON log lines written so far (anything else it printed is skipped)."""
        lines = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            try:
                lines.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        return lines

    async def wait_for_log(
        self, matches: Callable[[dict[str, Any]], bool], timeout: float = 20
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.log_lines():
                if matches(line):
                    return line
            assert self.process.poll() is None, f"pullgate exited:\n{self.log_path.read_text()[-3000:]}"
            await asyncio.sleep(0.1)
        raise AssertionError(f"no such log line in {timeout} s:\n{self.log_path.read_text()[-3000:]}")

    def open_fds(self) -> FdCount:
        sockets = _tcp_sockets(self.pid)
        clients = store = database = total = 0
        for entry in os.scandir(f"/proc/{self.pid}/fd"):
            try:
                target = os.readlink(entry.path)
            except FileNotFoundError:
                continue  # closed while we looked
            total += 1
            if target.startswith("socket:["):
                local_port, state = sockets.get(target[8:-1], (0, ""))
                clients += local_port == self.port and state != _LISTEN_STATE
            elif target.startswith(str(self.store_root)):
                store += 1
            elif target.startswith(str(self.root / "pullgate.db")):
                database += 1
        return FdCount(clients, store, database, total)

    def send_signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def start_pullgate_process(
    work_dir: Path,
    upstreams: Sequence[Mapping[str, Any]],
    *,
    ca_file: Path | None = None,
    policy: str = ALLOW_ALL,
    preexec: Callable[[], None] | None = None,
    **overrides: Any,
) -> PullgateProcess:
    work_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    database = f"sqlite+aiosqlite:///{work_dir / 'pullgate.db'}"
    config = _merge(
        {
            "listen": f"127.0.0.1:{port}",
            "storage": {"path": str(work_dir / "blobs")},
            "database": {"url": database},
            "upstreams": list(upstreams),
            "upstream_client": {"retries": 1, "backoff_initial": 0.01, "read_timeout": 5},
            "scanning": {"enabled": False},
            "log": {"level": "info"},
        },
        overrides,
    )
    config_path = work_dir / "pullgate.yaml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    upgrade(database)
    asyncio.run(_apply_policy(database, policy))
    log_path = work_dir / "pullgate.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "proxy", "serve", "--config", str(config_path)],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=work_dir,
            env={k: v for k, v in os.environ.items() if not k.startswith("PULLGATE_")},
            preexec_fn=preexec,  # noqa: PLW1509 - only resource limits, set before exec
        )
    context = ssl.create_default_context(cafile=str(ca_file)) if ca_file is not None else None
    running = PullgateProcess(process, port, work_dir, config, log_path, context)
    try:
        _wait_ready(running)
    except BaseException:
        running.stop()
        raise
    return running


async def _apply_policy(database: str, text: str) -> None:
    engine = create_engine(database, pool_size=1)
    try:
        document = parse_policy_document(text)
        await Stores.over(session_factory(engine)).policies.replace_all(
            document.to_rules(), document.default_action, document.to_sections()
        )
    finally:
        await engine.dispose()


def _wait_ready(running: PullgateProcess) -> None:
    deadline = time.monotonic() + _READY_TIMEOUT
    while time.monotonic() < deadline:
        if running.process.poll() is not None:
            raise AssertionError(
                f"pullgate serve exited {running.process.returncode}:\n{running.log_path.read_text()}"
            )
        try:
            with urllib.request.urlopen(
                f"{running.url}/readyz", timeout=2, context=running.ssl_context
            ) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.1)
    raise AssertionError(f"pullgate did not become ready:\n{running.log_path.read_text()[-3000:]}")


def _tcp_sockets(pid: int) -> dict[str, tuple[int, str]]:
    """Socket inode -> (local port, state) for the process's network namespace."""
    found: dict[str, tuple[int, str]] = {}
    for table in ("tcp", "tcp6"):
        try:
            rows = Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]
        except FileNotFoundError:
            continue
        for row in rows:
            fields = row.split()
            found[fields[9]] = (int(fields[1].rsplit(":", 1)[1], 16), fields[3])
    return found


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged
