"""Run real ``docker-registry`` (CNCF distribution 2.8) processes on loopback ports.

Each registry gets its own storage directory and config file under ``work_dir`` and
keeps its stderr log there, so a failing test can point at what the upstream saw.
Start-up takes about 0.1 s, which is why fixtures can afford function scope.
"""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import bcrypt
import yaml

from tests.support.auth import Auth, Basic
from tests.support.proc import require_tool, tool_env
from tests.support.tokens import TokenServer

__all__ = [
    "RegistryStartError",
    "RunningRegistry",
    "free_port",
    "start_htpasswd_registry",
    "start_proxy_registry",
    "start_registry",
    "start_token_registry",
    "write_htpasswd",
]

_READY_TIMEOUT = 15.0
_STOP_TIMEOUT = 5.0
_PORT_ATTEMPTS = 3


class RegistryStartError(RuntimeError):
    pass


@dataclass
class RunningRegistry:
    """A live ``docker-registry serve`` process; ``stop()`` is idempotent."""

    url: str
    host: str
    port: int
    root_dir: Path
    log_path: Path
    config_path: Path
    process: subprocess.Popen[bytes]
    credentials: tuple[str, str] | None = None
    token_server: TokenServer | None = None
    config: dict[str, Any] = field(default_factory=dict)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def auth_for(self, repo: str, actions: Sequence[str] = ("pull", "push")) -> Auth:
        """What a client needs here: a bearer token, Basic credentials, or nothing."""
        if self.token_server is not None:
            subject = self.credentials[0] if self.credentials else ""
            return self.token_server.mint([f"repository:{repo}:{','.join(actions)}"], subject=subject)
        if self.credentials is not None:
            return Basic(*self.credentials)
        return None

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def free_port() -> int:
    """A port the kernel just handed out; callers retry if someone else grabs it first."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_registry(
    work_dir: Path,
    *,
    name: str = "registry",
    auth: Mapping[str, Any] | None = None,
    proxy: Mapping[str, Any] | None = None,
    extra_config: Mapping[str, Any] | None = None,
) -> RunningRegistry:
    """Start a registry with filesystem storage in ``work_dir/NAME`` and wait until ``/v2/`` answers."""
    binary = require_tool("docker-registry")
    base = work_dir / name
    base.mkdir(parents=True, exist_ok=True)
    last_error: RegistryStartError | None = None
    for attempt in range(_PORT_ATTEMPTS):
        port = free_port()
        config = _config(base / "storage", port, auth, proxy, extra_config)
        config_path = base / "config.yml"
        config_path.write_text(yaml.safe_dump(config, sort_keys=False))
        log_path = base / f"registry-{attempt}.log"
        try:
            return _launch(binary, config, config_path, log_path, base / "storage", port)
        except RegistryStartError as error:  # most likely the port was taken in between
            last_error = error
    assert last_error is not None
    raise last_error


def _config(
    storage: Path,
    port: int,
    auth: Mapping[str, Any] | None,
    proxy: Mapping[str, Any] | None,
    extra: Mapping[str, Any] | None,
) -> dict[str, Any]:
    config: dict[str, Any] = {
        "version": 0.1,
        "log": {"level": "info", "accesslog": {"disabled": False}},
        "storage": {
            "filesystem": {"rootdirectory": str(storage)},
            "delete": {"enabled": True},
            "maintenance": {"uploadpurging": {"enabled": False}},
        },
        "http": {"addr": f"127.0.0.1:{port}", "secret": "pullgate-test-secret"},
    }
    if auth is not None:
        config["auth"] = dict(auth)
    if proxy is not None:
        config["proxy"] = dict(proxy)
    config.update(extra or {})
    return config


def _launch(
    binary: str, config: dict[str, Any], config_path: Path, log_path: Path, storage: Path, port: int
) -> RunningRegistry:
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [binary, "serve", str(config_path)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=tool_env(),
        )
    registry = RunningRegistry(
        url=f"http://127.0.0.1:{port}",
        host=f"127.0.0.1:{port}",
        port=port,
        root_dir=storage,
        log_path=log_path,
        config_path=config_path,
        process=process,
        config=config,
    )
    try:
        _wait_ready(registry)
    except RegistryStartError:
        registry.stop()
        raise
    return registry


def _wait_ready(registry: RunningRegistry) -> None:
    """Any HTTP answer from ``/v2/`` (200, or 401 with auth) means the registry serves."""
    deadline = time.monotonic() + _READY_TIMEOUT
    while time.monotonic() < deadline:
        if registry.process.poll() is not None:
            raise RegistryStartError(f"registry exited early:\n{registry.log_text()[-4000:]}")
        try:
            with urllib.request.urlopen(f"{registry.url}/v2/", timeout=1):
                return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.02)
    raise RegistryStartError(f"registry not ready after {_READY_TIMEOUT}s:\n{registry.log_text()[-4000:]}")


def write_htpasswd(path: Path, users: Mapping[str, str]) -> Path:
    """An htpasswd file with bcrypt hashes, the only scheme distribution accepts."""
    lines = [
        f"{user}:{bcrypt.hashpw(pw.encode(), bcrypt.gensalt(rounds=4)).decode()}"
        for user, pw in users.items()
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def start_htpasswd_registry(
    work_dir: Path, *, username: str = "alice", password: str = "wonderland", name: str = "htpasswd"
) -> RunningRegistry:
    """A registry that demands HTTP Basic credentials (``auth: htpasswd``)."""
    work_dir.mkdir(parents=True, exist_ok=True)
    htpasswd = write_htpasswd(work_dir / f"{name}.htpasswd", {username: password})
    auth = {"htpasswd": {"realm": "pullgate-test", "path": str(htpasswd)}}
    registry = start_registry(work_dir, name=name, auth=auth)
    registry.credentials = (username, password)
    return registry


def start_token_registry(
    work_dir: Path, token_server: TokenServer, *, name: str = "token"
) -> RunningRegistry:
    """A registry behind the docker token flow, trusting ``token_server``'s certificate."""
    work_dir.mkdir(parents=True, exist_ok=True)
    bundle = work_dir / f"{name}-root.pem"
    bundle.write_bytes(token_server.certificate_pem)
    auth = {
        "token": {
            "realm": token_server.realm,
            "service": token_server.service,
            "issuer": token_server.issuer,
            "rootcertbundle": str(bundle),
        }
    }
    registry = start_registry(work_dir, name=name, auth=auth)
    registry.token_server = token_server
    registry.credentials = next(iter(token_server.users.items()), None)
    return registry


def start_proxy_registry(
    work_dir: Path,
    remote_url: str,
    *,
    username: str | None = None,
    password: str | None = None,
    name: str = "peer-proxy",
) -> RunningRegistry:
    """distribution's own pull-through cache in front of ``remote_url`` (the benchmark peer)."""
    proxy: dict[str, Any] = {"remoteurl": remote_url}
    if username is not None:
        proxy.update(username=username, password=password or "")
    return start_registry(work_dir, name=name, proxy=proxy)
