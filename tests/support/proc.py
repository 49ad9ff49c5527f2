"""Run the world's external tools (skopeo, ctr, podman) without blocking the event loop."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence

__all__ = ["ToolError", "require_tool", "run_tool", "tool_env"]

# Set by the sandbox for AWS SDKs; Go tools that read it as a CA file can choke on it.
_DROPPED_ENV = ("AWS_CA_BUNDLE",)


class ToolError(AssertionError):
    """A tool failed or was missing; the message carries its output for the test report."""


def require_tool(name: str) -> str:
    """The tool's path; a missing tool is a broken test machine, so fail rather than skip."""
    path = shutil.which(name)
    if path is None:
        raise ToolError(f"required tool {name!r} is not installed (the test command installs it)")
    return path


def tool_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in _DROPPED_ENV}
    env.update(extra or {})
    return env


async def run_tool(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    timeout: float = 120.0,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` with ``tool_env(env)``; kill it after ``timeout`` seconds."""
    require_tool(argv[0])
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=tool_env(env),
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        out, err = await proc.communicate()
        raise ToolError(_describe(argv, "timed out", out, err)) from None
    result = subprocess.CompletedProcess(list(argv), proc.returncode or 0, out.decode(), err.decode())
    if check and result.returncode != 0:
        raise ToolError(_describe(argv, f"exited {result.returncode}", out, err))
    return result


def _describe(argv: Sequence[str], what: str, out: bytes, err: bytes) -> str:
    tail = (out.decode(errors="replace") + err.decode(errors="replace"))[-4000:]
    return f"{' '.join(argv)} {what}:\n{tail}"
