"""Install what the benchmarks need when it is missing, the way scripts/test.sh does."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

__all__ = ["DEBIAN_PACKAGES", "ensure_debian_packages", "ensure_py_spy", "tool_versions"]

# curl and apache2-utils (ab) are the load clients: Debian's wrk 4.1.0 waits for a body after a
# HEAD answer that carries Content-Length, so HEAD load goes through `ab -i` instead.
DEBIAN_PACKAGES = ("docker-registry", "skopeo", "nginx", "wrk", "apache2-utils", "curl")


def _installed(package: str) -> bool:
    result = subprocess.run(
        ["dpkg-query", "-W", "-f=${Status}", package], capture_output=True, text=True, check=False
    )
    return "install ok installed" in result.stdout


def ensure_debian_packages(packages: tuple[str, ...] = DEBIAN_PACKAGES) -> list[str]:
    """Install the missing packages through apt; returns what was installed."""
    missing = [package for package in packages if not _installed(package)]
    if not missing:
        return []
    print(f"installing Debian packages: {' '.join(missing)}", flush=True)
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run([*sudo, "apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(
        [*sudo, "apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing],
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    return missing


def ensure_py_spy() -> str:
    """py-spy (PyPI) in the running interpreter's environment, for --profile."""
    found = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if found:
        return found
    print("installing py-spy into the virtualenv", flush=True)
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", "py-spy"], check=True
    )
    installed = shutil.which("py-spy", path=str(Path(sys.executable).parent))
    if installed is None:
        raise RuntimeError("py-spy was installed but cannot be found next to the interpreter")
    return installed


def _first_line(argv: list[str]) -> str:
    try:
        result = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unavailable ({exc})"
    text = (result.stdout or result.stderr).strip()
    return text.splitlines()[0] if text else "unknown"


def tool_versions() -> dict[str, str]:
    return {
        "docker-registry": _first_line(["docker-registry", "--version"]),
        "skopeo": _first_line(["skopeo", "--version"]),
        "nginx": _first_line(["nginx", "-v"]),
        "wrk": _first_line(["wrk", "-v"]),
        "ab": _first_line(["ab", "-V"]),
        "curl": _first_line(["curl", "--version"]),
    }
