"""Start and stop the servers under test, all on loopback with their own temp directories.

- the upstream: ``docker-registry`` (distribution 2.8) with filesystem storage;
- the peer: a second ``docker-registry`` in proxy mode in front of the upstream;
- the limit: nginx serving the very blob file with ``sendfile on``;
- pullgate: the real ``pullgate serve`` subprocess with a generated config.

Registries come from ``tests.support.registry``; only their logging is quieted (warnings, no
access log) so that neither side of the comparison pays for a log line per request.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bench.cleanup import Cleanup
from tests.support.proc import tool_env
from tests.support.registry import RunningRegistry, free_port, start_registry

__all__ = [
    "Nginx",
    "PullgateProcess",
    "ServiceError",
    "start_nginx",
    "start_peer",
    "start_pullgate",
    "start_upstream",
    "stop_registry",
    "wait_http",
]

_QUIET_REGISTRY_LOG: dict[str, Any] = {"log": {"level": "warn", "accesslog": {"disabled": True}}}
_READY_TIMEOUT = 60.0
_STOP_TIMEOUT = 15.0


class ServiceError(RuntimeError):
    pass


def wait_http(
    url: str, process: subprocess.Popen[bytes], log_path: Path, timeout: float = _READY_TIMEOUT
) -> None:
    """Wait until ``url`` answers 200; fail early with the log tail if the process died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServiceError(f"{url}: process exited {process.returncode}:\n{_tail(log_path)}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.05)
    raise ServiceError(f"{url} not ready after {timeout:g}s:\n{_tail(log_path)}")


def _tail(path: Path) -> str:
    try:
        return path.read_text(errors="replace")[-3000:]
    except OSError:
        return "(no log)"


def _stop_process(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    """Signal the process group we created (its own session), wait, then kill what is left.

    Only a process still running is signalled: once reaped, its group id is not ours any more.
    """
    if process.poll() is not None:
        return
    os.killpg(process.pid, sig)
    try:
        process.wait(_STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    with contextlib.suppress(ProcessLookupError):  # stray children (nginx workers) share the group
        os.killpg(process.pid, signal.SIGKILL)


# -- registries ----------------------------------------------------------------------------


def _registered(registry: RunningRegistry, cleanup: Cleanup, storage: Path | None) -> RunningRegistry:
    def stop() -> None:
        registry.stop()
        if storage is not None:
            shutil.rmtree(storage, ignore_errors=True)

    cleanup.push(f"registry {registry.url}", stop)
    return registry


def start_upstream(work_dir: Path, cleanup: Cleanup) -> RunningRegistry:
    registry = start_registry(work_dir, name="upstream", extra_config=_QUIET_REGISTRY_LOG)
    return _registered(registry, cleanup, None)


def start_peer(work_dir: Path, remote_url: str, cleanup: Cleanup, name: str = "peer") -> RunningRegistry:
    """distribution's pull-through cache; a new ``name`` gives an empty cache."""
    registry = start_registry(
        work_dir, name=name, proxy={"remoteurl": remote_url}, extra_config=_QUIET_REGISTRY_LOG
    )
    return _registered(registry, cleanup, work_dir / name)


def stop_registry(registry: RunningRegistry) -> None:
    """Stop a registry now and remove its storage (its cleanup entry then finds nothing to do)."""
    registry.stop()
    shutil.rmtree(registry.root_dir.parent, ignore_errors=True)


# -- pullgate ------------------------------------------------------------------------------


@dataclass
class PullgateProcess:
    process: subprocess.Popen[bytes]
    port: int
    data_dir: Path
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> None:
        _stop_process(self.process)
        shutil.rmtree(self.data_dir, ignore_errors=True)


def _merged(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        nested = isinstance(value, Mapping) and isinstance(merged.get(key), dict)
        merged[key] = _merged(merged[key], value) if nested else value
    return merged


def pullgate_config(
    data_dir: Path, port: int, upstream_url: str, overrides: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """SQLite and filesystem storage in ``data_dir``; warnings only; no access log.

    ``overrides`` (nested settings, e.g. from ``--pullgate-set``) win over these defaults.
    """
    host = upstream_url.split("://", 1)[1]
    config = {
        "listen": f"127.0.0.1:{port}",
        "storage": {"backend": "filesystem", "path": str(data_dir / "blobs")},
        "database": {"url": f"sqlite+aiosqlite:///{data_dir / 'pullgate.db'}"},
        "upstreams": [{"name": host, "url": upstream_url, "default": True}],
        "log": {"level": "warning", "access_log": False},
    }
    return _merged(config, overrides or {})


def start_pullgate(
    work_dir: Path,
    upstream_url: str,
    cleanup: Cleanup,
    name: str = "pullgate",
    source: Path | None = None,
    database: Path | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> PullgateProcess:
    """``pullgate serve`` on a free port with an empty data directory ``work_dir/name``.

    ``source``: a directory of exported packages to run instead of the working tree.
    ``database``: a SQLite file to start from (migrated, policy applied; no cached content).
    ``overrides``: settings merged into the generated config.
    """
    data_dir = work_dir / name
    shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir(parents=True)
    if database is not None:
        shutil.copyfile(database, data_dir / "pullgate.db")
    port = free_port()
    config_path = data_dir / "pullgate.yaml"
    config = pullgate_config(data_dir, port, upstream_url, overrides)
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    log_path = data_dir / "pullgate.log"
    binary = Path(sys.executable).parent / "pullgate"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(binary), "serve", "--config", str(config_path)],
            cwd=data_dir,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=tool_env({"PYTHONPATH": str(source)} if source is not None else None),
            start_new_session=True,
        )
    running = PullgateProcess(process, port, data_dir, log_path)
    cleanup.push(f"pullgate {running.url}", running.stop)
    try:
        wait_http(f"{running.url}/readyz", process, log_path)
    except ServiceError:
        running.stop()
        raise
    return running


# -- nginx ---------------------------------------------------------------------------------

_NGINX_CONF = """\
user root;
worker_processes auto;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000;
    default_type application/octet-stream;
    client_body_temp_path {root}/tmp;
    proxy_temp_path {root}/tmp;
    fastcgi_temp_path {root}/tmp;
    uwsgi_temp_path {root}/tmp;
    scgi_temp_path {root}/tmp;
    server {{
        listen 127.0.0.1:{port};
        root {root}/www;
    }}
}}
"""


@dataclass
class Nginx:
    process: subprocess.Popen[bytes]
    port: int
    root: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        _stop_process(self.process, signal.SIGQUIT)


def start_nginx(work_dir: Path, files: dict[str, Path], cleanup: Cleanup) -> Nginx:
    """nginx serving each ``files[name]`` at ``/name`` (hard links: the very same file)."""
    root = work_dir / "nginx"
    (root / "www").mkdir(parents=True)
    (root / "tmp").mkdir()
    for name, source in files.items():
        os.link(source, root / "www" / name)
    (root / "www" / "ping").write_text("ok\n")
    port = free_port()
    conf = root / "nginx.conf"
    conf.write_text(_NGINX_CONF.format(root=root, port=port))
    log_path = root / "error.log"
    with (root / "stderr.log").open("wb") as stderr:
        process = subprocess.Popen(
            ["nginx", "-p", str(root), "-c", str(conf), "-g", "daemon off;"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            start_new_session=True,
        )
    nginx = Nginx(process, port, root)
    cleanup.push(f"nginx {nginx.url}", nginx.stop)
    wait_http(f"{nginx.url}/ping", process, log_path)
    return nginx
