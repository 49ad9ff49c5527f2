"""Real container runtimes as registry clients: containerd (through ``ctr``) and podman.

Both are isolated under temp directories: containerd gets its own root, state and gRPC
socket (cri plugin disabled, no debug or metrics listeners); podman gets its own storage
(vfs), registries.conf, storage.conf and signature policy, so nothing touches the host's.

Sandbox notes (measured here): containerd's ``native`` and ``overlayfs`` snapshotters both
load, and ``ctr image pull`` unpacks with either (about 0.1 s for a small image). ``native``
is the default because it needs nothing from the filesystem, whereas overlayfs cannot sit
on a temp dir that is itself on overlayfs. ``unpack=False`` fetches content only
(``ctr content fetch``). Unix socket paths are limited to 108 bytes, so containerd's root,
state and sockets live in a short ``/tmp/pg-ctrd-*`` directory, removed on stop; its
config and log stay in ``work_dir``. podman 4.3 refuses a runroot longer than 50
characters (short ``/tmp/pg-podman-*`` dir) and fails if ``REGISTRY_AUTH_FILE`` is
missing (an empty one is written); ``pull`` needs no cgroup or runtime flags.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

from tests.support.proc import ToolError, require_tool, run_tool, tool_env

__all__ = [
    "Containerd",
    "Podman",
    "ctr_pull",
    "make_podman",
    "podman_pull",
    "start_containerd",
    "write_hosts_dir",
    "write_registries_conf",
]

_READY_TIMEOUT = 20.0
_STOP_TIMEOUT = 10.0


@dataclass
class Containerd:
    """A running ``containerd --config FILE``; ``stop()`` is idempotent."""

    address: Path
    base_dir: Path
    config_path: Path
    log_path: Path
    process: subprocess.Popen[bytes]
    namespace: str = "test"

    async def ctr(
        self, *args: str, timeout: float = 120.0, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run ``ctr --address SOCK -n NAMESPACE ARGS…``."""
        argv = ["ctr", "--address", str(self.address), "-n", self.namespace, *args]
        return await run_tool(argv, timeout=timeout, check=check)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.base_dir, ignore_errors=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _containerd_config(base: Path) -> str:
    return f"""version = 2
root = "{base}/root"
state = "{base}/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]

[grpc]
  address = "{base}/containerd.sock"

[ttrpc]
  address = "{base}/containerd.sock.ttrpc"

[debug]
  address = ""
  level = "info"

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "{base}/opt"
"""


def start_containerd(work_dir: Path) -> Containerd:
    """Start containerd isolated under a short temp dir and wait for its gRPC socket."""
    binary = require_tool("containerd")
    require_tool("ctr")
    work_dir.mkdir(parents=True, exist_ok=True)
    base = Path(tempfile.mkdtemp(prefix="pg-ctrd-", dir="/tmp"))
    config_path = work_dir / "containerd.toml"
    config_path.write_text(_containerd_config(base))
    log_path = work_dir / "containerd.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [binary, "--config", str(config_path)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=tool_env(),
        )
    daemon = Containerd(base / "containerd.sock", base, config_path, log_path, process)
    try:
        _wait_for_socket(daemon)
    except ToolError:
        daemon.stop()
        raise
    return daemon


def _wait_for_socket(daemon: Containerd) -> None:
    deadline = time.monotonic() + _READY_TIMEOUT
    while time.monotonic() < deadline:
        if daemon.process.poll() is not None:
            raise ToolError(f"containerd exited early:\n{daemon.log_text()[-4000:]}")
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.connect(str(daemon.address))
                return
        except OSError:
            time.sleep(0.05)
    raise ToolError(f"containerd socket not ready after {_READY_TIMEOUT}s:\n{daemon.log_text()[-4000:]}")


def write_hosts_dir(
    hosts_dir: Path,
    registry_host: str,
    server_host: str,
    *,
    capabilities: Sequence[str] = ("pull", "resolve"),
) -> Path:
    """``hosts_dir/<registry_host>/hosts.toml`` sending pulls for ``registry_host`` to ``server_host``."""
    target = hosts_dir / registry_host
    target.mkdir(parents=True, exist_ok=True)
    caps = ", ".join(f'"{cap}"' for cap in capabilities)
    text = f'server = "http://{server_host}"\n\n[host."http://{server_host}"]\n  capabilities = [{caps}]\n'
    (target / "hosts.toml").write_text(text)
    return hosts_dir


async def ctr_pull(
    containerd: Containerd,
    ref: str,
    hosts_dir: Path,
    *,
    plain_http: bool = True,
    unpack: bool = True,
    snapshotter: str = "native",
    platform: str | None = None,
    all_platforms: bool = False,
    user: str | None = None,
    timeout: float = 120.0,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """``ctr image pull`` (or ``ctr content fetch`` with ``unpack=False``) through ``hosts_dir``."""
    args = ["image", "pull", "--snapshotter", snapshotter] if unpack else ["content", "fetch"]
    args += ["--hosts-dir", str(hosts_dir)]
    if plain_http:
        args.append("--plain-http")
    if platform is not None:
        args += ["--platform", platform]
    if all_platforms:
        args.append("--all-platforms")
    if user is not None:
        args += ["--user", user]
    return await containerd.ctr(*args, ref, timeout=timeout, check=check)


@dataclass(frozen=True)
class Podman:
    """Isolated podman storage and configuration; ``run`` adds the global flags."""

    root: Path
    runroot: Path
    tmpdir: Path
    registries_conf: Path
    storage_conf: Path
    policy_path: Path

    def env(self) -> dict[str, str]:
        return {
            "CONTAINERS_REGISTRIES_CONF": str(self.registries_conf),
            "CONTAINERS_STORAGE_CONF": str(self.storage_conf),
            "REGISTRY_AUTH_FILE": str(self.tmpdir / "auth.json"),
            "TMPDIR": str(self.tmpdir),
        }

    async def run(
        self, *args: str, timeout: float = 120.0, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        argv = [
            "podman",
            "--root",
            str(self.root),
            "--runroot",
            str(self.runroot),
            "--tmpdir",
            str(self.tmpdir),
            "--storage-driver",
            "vfs",
            "--events-backend",
            "none",
            *args,
        ]
        return await run_tool(argv, env=self.env(), timeout=timeout, check=check)

    def cleanup(self) -> None:
        shutil.rmtree(self.runroot, ignore_errors=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.cleanup()


def write_registries_conf(
    path: Path, rewrites: Mapping[str, str] | None = None, *, insecure_hosts: Sequence[str] = ()
) -> Path:
    """registries.conf (v2) mapping each ``prefix`` to ``location``, all plain HTTP.

    ``rewrites={"127.0.0.1:5001": "127.0.0.1:5000"}`` sends pulls of the upstream to the proxy.
    """
    blocks = ['unqualified-search-registries = []\nshort-name-mode = "disabled"\n']
    for prefix, location in (rewrites or {}).items():
        blocks.append(f'[[registry]]\nprefix = "{prefix}"\nlocation = "{location}"\ninsecure = true\n')
    rewritten = set((rewrites or {}).values())
    for host in [*rewritten, *insecure_hosts]:
        blocks.append(f'[[registry]]\nlocation = "{host}"\ninsecure = true\n')
    path.write_text("\n".join(blocks))
    return path


def make_podman(work_dir: Path, rewrites: Mapping[str, str] | None = None) -> Podman:
    """Podman confined to ``work_dir``; ``rewrites`` as in ``write_registries_conf``.

    podman 4.3 refuses a runroot longer than 50 characters, so the runroot is a short
    ``/tmp/pg-podman-*`` directory that ``Podman.cleanup()`` removes.
    """
    require_tool("podman")
    for sub in ("root", "tmp"):
        (work_dir / sub).mkdir(parents=True, exist_ok=True)
    runroot = Path(tempfile.mkdtemp(prefix="pg-podman-", dir="/tmp"))
    storage_conf = work_dir / "storage.conf"
    storage_conf.write_text(
        f'[storage]\ndriver = "vfs"\nrunroot = "{runroot}"\ngraphroot = "{work_dir / "root"}"\n'
    )
    (work_dir / "tmp" / "auth.json").write_text('{"auths": {}}\n')
    policy = work_dir / "policy.json"
    policy.write_text('{"default": [{"type": "insecureAcceptAnything"}]}\n')
    return Podman(
        root=work_dir / "root",
        runroot=runroot,
        tmpdir=work_dir / "tmp",
        registries_conf=write_registries_conf(work_dir / "registries.conf", rewrites),
        storage_conf=storage_conf,
        policy_path=policy,
    )


async def podman_pull(
    podman: Podman,
    ref: str,
    *,
    creds: str | None = None,
    platform: str | None = None,
    timeout: float = 120.0,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """``podman pull`` over plain HTTP with the podman's own signature policy."""
    args = ["pull", "--tls-verify=false", "--signature-policy", str(podman.policy_path)]
    if creds is not None:
        args += ["--creds", creds]
    if platform is not None:
        args += ["--platform", platform]
    return await podman.run(*args, ref, timeout=timeout, check=check)
