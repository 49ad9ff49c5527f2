"""Several real `pullgate serve` processes sharing one database and one store, as replicas do.

Each replica is `python -m proxy serve --config FILE` on its own loopback port, with its own
config file and log file under the test's temp dir; all share the PostgreSQL database and
the storage directory (a shared filesystem standing in for S3). The schema is migrated once
beforehand, as an operator must for PostgreSQL (in this process: `pullgate migrate` itself
is tested in test_cli.py, and every process start costs a second or two of imports). `stop()` sends
SIGTERM and waits, so the graceful shutdown (audit flush) is part of every test. Crash
tests `kill()` a replica (SIGKILL) and `restart()` it on the same config, store and database.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import yaml

from db.migrate import upgrade
from db.policy_queries import PolicyStore
from db.session import create_engine, session_factory
from proxy.policy.document import parse_policy_document
from tests.support.registry import free_port

__all__ = ["Replica", "ReplicaSet", "Upstream", "start_replicas"]

ROOT = Path(__file__).resolve().parents[2]
_READY_TIMEOUT = 30.0
_STOP_TIMEOUT = 30.0
_LOG_TAIL = 6000

# Fast enough that a test sees another replica's change well inside its time budget.
_BASE_SETTINGS: dict[str, Any] = {
    "gate": {"policy_refresh_interval": "0.2s", "audit_flush_interval": "0.1s"},
    "cache": {"access_flush_interval": "0.2s"},
}


class Upstream(Protocol):
    """What replicas need to know of their upstream: a registry, or a relay in front of one."""

    @property
    def host(self) -> str: ...

    @property
    def url(self) -> str: ...


@dataclass
class Replica:
    """One `pullgate serve` process; `stop()` is idempotent and returns the exit code."""

    name: str
    port: int
    config_path: Path
    log_path: Path
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def kill(self) -> None:
        """SIGKILL: the process ends at once, nothing of it runs (no shutdown, no flush)."""
        self.process.kill()
        self.process.wait(_STOP_TIMEOUT)

    def restart(self) -> None:
        """Start the process again on the same config (store, database), and wait until ready."""
        assert self.process.poll() is not None, "stop() or kill() it first"
        self.process = _start_process(self.config_path, self.log_path)
        _wait_ready(self)

    def describe(self) -> str:
        """Exit status and the log's tail, for an assertion message or a failure report."""
        status = "running" if self.process.poll() is None else f"exited {self.process.returncode}"
        return f"--- replica {self.name} ({status}), {self.log_path}:\n{self.log_text()[-_LOG_TAIL:]}"


@dataclass
class ReplicaSet:
    replicas: list[Replica]
    database_url: str
    storage: Path
    admin_token: str

    def __getitem__(self, index: int) -> Replica:
        return self.replicas[index]

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run a `pullgate` command against the shared database (as an operator's shell would)."""
        return _cli(*args, config=self.replicas[0].config_path)


@contextmanager
def start_replicas(
    work_dir: Path,
    database_url: str,
    upstream: Upstream,
    *,
    count: int = 2,
    settings: Mapping[str, Any] | None = None,
    admin_token: bool = True,
    policy: str | None = None,
) -> Iterator[ReplicaSet]:
    """Migrate, create an admin token, start `count` replicas and wait until each is ready.

    `settings` is merged (one level deep) over the shared config. `policy` (a policy
    document) is applied before the replicas start, so that they decide by it from their
    first request. On exit every replica is stopped with SIGTERM and must exit 0 (unless a
    test killed it and did not restart it); each log's tail is printed, which pytest shows
    only when the test failed.
    """
    storage = work_dir / "shared-store"
    configs = [
        _write_config(work_dir / f"replica-{i}", i, database_url, storage, upstream, settings)
        for i in range(count)
    ]
    with ThreadPoolExecutor(1) as thread:  # loops of their own: the caller's may be running
        thread.submit(upgrade, database_url).result()
        if policy is not None:
            thread.submit(asyncio.run, _apply_policy(database_url, policy)).result()
    token = ""
    if admin_token:
        created = _check(
            _cli("token", "create", "--role", "admin", "--name", "replica-tests", config=configs[0])
        )
        token = created.stdout.splitlines()[0].strip()
    with ExitStack() as stack:
        replicas = [_spawn(chr(ord("A") + i), config) for i, config in enumerate(configs)]
        stack.callback(_stop_all, replicas)
        for replica in replicas:  # all start at once; start-up dominates the test's time
            _wait_ready(replica)
        yield ReplicaSet(replicas, database_url, storage, token)


async def _apply_policy(database_url: str, text: str) -> None:
    document = parse_policy_document(text)
    engine = create_engine(database_url, pool_size=1)
    try:
        policies = PolicyStore(session_factory(engine))
        await policies.replace_all(document.to_rules(), document.default_action, document.to_sections())
    finally:
        await engine.dispose()


def _write_config(
    directory: Path,
    index: int,
    database_url: str,
    storage: Path,
    upstream: Upstream,
    extra: Mapping[str, Any] | None,
) -> Path:
    directory.mkdir(parents=True)
    config: dict[str, Any] = {
        "listen": f"127.0.0.1:{free_port()}",
        "storage": {"backend": "filesystem", "path": str(storage)},
        "database": {"url": database_url, "pool_size": 4, "auto_migrate": False},
        "upstreams": [{"name": upstream.host, "url": upstream.url, "default": True}],
    }
    for key, value in [*_BASE_SETTINGS.items(), *(extra or {}).items()]:
        config[key] = {**config.get(key, {}), **value} if isinstance(value, Mapping) else value
    path = directory / "pullgate.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _env() -> dict[str, str]:
    # Only the config file speaks: an ambient PULLGATE_* variable would override it.
    return {key: value for key, value in os.environ.items() if not key.startswith("PULLGATE_")}


def _cli(*args: str, config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "proxy", *args, "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=config.parent,
        env=_env(),
        check=False,
    )


def _check(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    if result.returncode != 0:
        raise AssertionError(f"{' '.join(result.args)} exited {result.returncode}:\n{result.stderr}")
    return result


def _spawn(name: str, config: Path) -> Replica:
    port = int(yaml.safe_load(config.read_text())["listen"].rpartition(":")[2])
    log_path = config.parent / "pullgate.log"
    return Replica(name, port, config, log_path, _start_process(config, log_path))


def _start_process(config: Path, log_path: Path) -> subprocess.Popen[bytes]:
    with log_path.open("ab") as log:  # the child keeps its own descriptor; a restart appends
        return subprocess.Popen(
            [sys.executable, "-m", "proxy", "serve", "--config", str(config)],
            cwd=config.parent,
            env=_env(),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def _wait_ready(replica: Replica) -> None:
    deadline = time.monotonic() + _READY_TIMEOUT
    while time.monotonic() < deadline:
        if replica.process.poll() is not None:
            break
        try:
            with urllib.request.urlopen(f"{replica.url}/readyz", timeout=2) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    raise AssertionError(f"replica {replica.name} did not become ready\n{replica.describe()}")


def _stop_all(replicas: list[Replica]) -> None:
    codes = {replica.name: replica.stop() for replica in replicas}
    for replica in replicas:
        print(replica.describe())
    failed = {name: code for name, code in codes.items() if code != 0}
    assert not failed, f"replicas did not stop cleanly: {failed}"
