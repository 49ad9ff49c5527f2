"""Scenarios 6 and 7: parts that live elsewhere or do not exist yet.

6. Policy scaling is measured by ``bench/policy_scaling.py`` (written separately). When the
   module exists it runs as ``python -m bench.policy_scaling``, with ``--quick`` when it
   offers that, else with fewer ``--subjects`` for a quick run. Its JSON is taken from
   ``bench/results/policy_scaling.json`` when the run rewrote that file, else from stdout,
   and included as is.
7. Rescan throughput is measured by ``bench/rescan_throughput.py`` (images re-matched per
   second after a vulnerability-database update), run the same way.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.report import Check, Row
from bench.scenarios.base import ScenarioResult
from tests.support.proc import tool_env

__all__ = ["policy_scaling", "rescan"]

_BENCH_DIR = Path(__file__).resolve().parent.parent
_MODULE = _BENCH_DIR / "policy_scaling.py"
_RESULTS_FILE = _BENCH_DIR / "results" / "policy_scaling.json"
_TIMEOUT = 900.0
_QUICK_SUBJECTS = "2000"


async def _run(argv: list[str], env: dict[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
    proc = await asyncio.create_subprocess_exec(
        *argv,
        cwd=_BENCH_DIR.parent,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        await proc.communicate()
        return subprocess.CompletedProcess(argv, -1, "", f"timed out after {timeout:g}s")
    return subprocess.CompletedProcess(argv, proc.returncode or 0, out.decode(), err.decode())


async def _argv(env: dict[str, str], quick: bool) -> list[str]:
    argv = [sys.executable, "-m", "bench.policy_scaling"]
    if not quick:
        return argv
    helptext = (await _run([*argv, "--help"], env, 60)).stdout
    if "--quick" in helptext:
        return [*argv, "--quick"]
    if "--subjects" in helptext:
        return [*argv, "--subjects", _QUICK_SUBJECTS]
    return argv


def _output(result: subprocess.CompletedProcess[str], started: float) -> Any:
    if _RESULTS_FILE.exists() and _RESULTS_FILE.stat().st_mtime >= started:
        return json.loads(_RESULTS_FILE.read_text())
    text = result.stdout.strip()
    for candidate in (text, text.splitlines()[-1] if text else ""):
        try:
            return json.loads(candidate)
        except json.JSONDecodeError:
            continue
    return None


async def policy_scaling(quick: bool, source: Path | None = None) -> ScenarioResult:
    """Run bench/policy_scaling.py (on the exported ``source`` when given) and keep its JSON."""
    if not _MODULE.exists():
        row = Row("6 policy scaling", "-", "not available yet", checks=[Check("", "", None)])
        return ScenarioResult([row], {"status": "not available yet"})
    env = tool_env({"PYTHONPATH": str(source)} if source is not None else None)
    argv = await _argv(env, quick)
    started = time.time()
    # The module rewrites its committed results file; its owner's figures are put back after.
    committed = _RESULTS_FILE.read_bytes() if _RESULTS_FILE.exists() else None
    try:
        result = await _run(argv, env, _TIMEOUT)
        output = _output(result, started) if result.returncode == 0 else None
    finally:
        if committed is not None:
            _RESULTS_FILE.write_bytes(committed)
    command = " ".join(["python", *argv[1:]])
    if output is None:
        status = f"failed: exit {result.returncode}" if result.returncode else "ran, no JSON found"
        row = Row("6 policy scaling", "-", status, note=(result.stderr or result.stdout)[-300:].strip())
        return ScenarioResult([row], {"status": status, "command": command, "stderr": result.stderr[-2000:]})
    note = f"`{command}`: its JSON is in the results file; its own table:\n" + result.stdout.strip()
    row = Row("6 policy scaling", "-", "ran: see results JSON", note=note)
    return ScenarioResult([row], {"status": "ok", "command": command, "output": output})


async def rescan(quick: bool, source: Path | None = None) -> ScenarioResult:
    """Run bench/rescan_throughput.py: stored inventories re-matched after a database update."""
    env = tool_env({"PYTHONPATH": str(source)} if source is not None else None)
    argv = [sys.executable, "-m", "bench.rescan_throughput", *(["--quick"] if quick else [])]
    result = await _run(argv, env, _TIMEOUT)
    command = " ".join(["python", *argv[1:]])
    try:
        output = json.loads(result.stdout.strip().splitlines()[-1]) if result.returncode == 0 else None
    except (json.JSONDecodeError, IndexError):
        output = None
    if output is None:
        status = f"failed: exit {result.returncode}"
        row = Row("7 rescan throughput", "-", status, note=(result.stderr or result.stdout)[-300:].strip())
        return ScenarioResult([row], {"status": status, "command": command})
    measured = f"{output['images_per_second']} images/s"
    note = (
        f"`{command}`: {output['rescanned']} inventories of {output['packages_per_image']} packages against "
        f"{output['records']} OSV records in {output['seconds']} s ({output['database']}); no layer fetched"
    )
    row = Row(
        "7 rescan throughput",
        "images/s",
        measured,
        checks=[Check(measured, "reported (no ratio target)", None)],
        note=note,
    )
    return ScenarioResult([row], {"status": "ok", "command": command, "output": output})
