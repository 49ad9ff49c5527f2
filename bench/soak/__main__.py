"""``python -m bench.soak [--minutes 10] [--connections 500]``: pullgate under a long mixed load.

A real ``pullgate serve`` (SQLite, filesystem store, scanning on) in front of a real upstream
registry takes, for the whole run, ``connections`` concurrent connections pulling manifests
(by tag, by digest, HEAD) and blobs of allowed, denied and flipping images, while the churn
(`bench.soak.churn`) writes rules, flips a decision, requests rescans and imports database
updates. Reported: requests served, 5xx answers (target 0), client-side errors (wrong bytes,
unexpected statuses: target 0), p99 latency, RSS and open descriptors over time (target:
flat), and audit records written against decisions the clients received (target: equal,
counted in the database after a graceful stop). Results go to ``bench/results/soak-*.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from bench import deps
from bench.cleanup import Cleanup, terminate_on_sigterm
from bench.report import RESULTS_DIR
from bench.soak.churn import Churn
from bench.soak.monitor import Monitor
from bench.soak.world import SoakWorld, build_soak_world

_MIX = {"manifest_tag": 0.45, "manifest_digest": 0.15, "manifest_head": 0.1, "blob": 0.3}
_ACCEPT = "application/vnd.oci.image.manifest.v1+json"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=500)
    parser.add_argument("--images", type=int, default=12, help="allowed images (plus 2 denied, 1 flipping)")
    parser.add_argument("--vulndb-every", type=float, default=120.0, help="seconds between database updates")
    parser.add_argument("--quick", action="store_true", help="1 minute, 100 connections: a smoke run")
    parser.add_argument("--set", action="append", default=[], help="pullgate setting KEY=YAML (repeatable)")
    parser.add_argument("--results", type=Path, default=RESULTS_DIR)
    parser.add_argument("--keep-work", action="store_true", help="keep the temp directory (logs, database)")
    return parser


def _overrides(pairs: list[str]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        node = tree
        *parents, last = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = yaml.safe_load(value)
    return tree


def _raise_fd_limit() -> int:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # the children inherit it
    return hard


async def _warm(world: SoakWorld) -> int:
    """Every image pulled once by tag: caches filled, first scans queued. Answers counted."""
    answers = 0
    async with aiohttp.ClientSession() as session:
        for image in world.images:
            url = f"{world.pullgate.url}/v2/{image.repo}/manifests/{image.tag}"
            async with session.get(url, headers={"Accept": _ACCEPT}) as response:
                await response.read()
                answers += response.status in (200, 403)
    return answers


async def _run_load(world: SoakWorld, args: argparse.Namespace, seconds: float) -> dict[str, Any]:
    plan = {
        "base_url": world.pullgate.url,
        "images": [image.as_plan() for image in world.images],
        "mix": _MIX,
        "seconds": seconds,
        "connections": args.connections,
    }
    plan_path, result_path = world.work / "load-plan.json", world.work / "load-result.json"
    plan_path.write_text(json.dumps(plan))
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.soak.load", str(plan_path), str(result_path)
    )
    code = await process.wait()
    if code != 0:
        raise RuntimeError(f"the load generator exited {code}")
    result: dict[str, Any] = json.loads(result_path.read_text())
    return result


def _stop_gracefully(world: SoakWorld) -> float:
    """SIGTERM, as an orchestrator would; the audit queue is flushed before the process exits."""
    process = world.pullgate.process
    started = time.monotonic()
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(120)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        raise RuntimeError("pullgate did not stop within 120 s of SIGTERM") from None
    return time.monotonic() - started


def _audit_counts(world: SoakWorld) -> dict[str, int]:
    database = world.pullgate.data_dir / "pullgate.db"
    with contextlib.closing(sqlite3.connect(database)) as connection:
        rows = connection.execute("SELECT kind, count(*) FROM audit_events GROUP BY kind").fetchall()
    return {str(kind): int(count) for kind, count in rows}


async def _soak(args: argparse.Namespace, work: Path, cleanup: Cleanup) -> dict[str, Any]:
    world = await build_soak_world(work, cleanup, args.images, _overrides(args.set))
    warm_answers = await _warm(world)
    stop = asyncio.Event()
    monitor = Monitor(world.pullgate.pid)
    churn = Churn(world, args.vulndb_every)
    background = [asyncio.create_task(monitor.run(stop)), asyncio.create_task(churn.run(stop))]
    started = time.monotonic()
    try:
        load = await _run_load(world, args, args.minutes * 60)
    finally:
        stop.set()
        await asyncio.gather(*background, return_exceptions=True)
    elapsed = time.monotonic() - started
    stop_seconds = _stop_gracefully(world)
    audit = _audit_counts(world)
    log_lines = _log_problems(world)
    decisions = warm_answers + load["manifest_answers"]
    return {
        "elapsed_seconds": round(elapsed, 1),
        "load": load,
        "requests_per_second": round(load["total_requests"] / elapsed, 1),
        "churn": {"done": dict(churn.done), "failed": dict(churn.failed), "failures": churn.failures},
        "rss_mib": monitor.trend("rss_mib"),
        "fds": monitor.trend("fds"),
        "threads": monitor.trend("threads"),
        "samples": [vars(s) for s in monitor.samples],
        "decisions_received_by_clients": decisions,
        "audit_records": audit,
        "audit_equals_decisions": audit.get("pull", 0) == decisions,
        "graceful_stop_seconds": round(stop_seconds, 1),
        "log_problems": log_lines,
    }


def _log_problems(world: SoakWorld) -> dict[str, Any]:
    """Warnings and errors pullgate logged (it logs at warning level here), kept with the results."""
    text = world.pullgate.log_path.read_text(errors="replace")
    shutil.copyfile(world.pullgate.log_path, world.work / "pullgate.log")
    lines = [line for line in text.splitlines() if line.strip()]
    return {"lines": len(lines), "first": lines[:20]}


def _report(result: dict[str, Any]) -> str:
    load, rss, fds = result["load"], result["rss_mib"], result["fds"]
    lines = [
        f"requests served      {load['total_requests']} in {result['elapsed_seconds']} s ({result['requests_per_second']}/s)",
        f"5xx answers          {load['server_errors']} (target 0)",
        f"client-side errors   {sum(load['errors'].values())} {load['errors'] or ''} (target 0)",
        f"latency              p50 <= {load['p50_ms_at_most']} ms, p99 <= {load['p99_ms_at_most']} ms",
        f"RSS MiB              {rss.get('second_quarter_median')} -> {rss.get('last_quarter_median')} (max {rss.get('max')}); flat: {rss.get('flat')}",
        f"open descriptors     {fds.get('second_quarter_median')} -> {fds.get('last_quarter_median')} (max {fds.get('max')}); flat: {fds.get('flat')}",
        f"audit vs decisions   {result['audit_records'].get('pull', 0)} pull records, {result['decisions_received_by_clients']} decisions received; equal: {result['audit_equals_decisions']}",
        f"churn                {result['churn']['done']}, failed {result['churn']['failed'] or 0}",
        f"graceful stop        {result['graceful_stop_seconds']} s",
    ]
    return "\n".join(lines)


def main() -> int:
    args = _parser().parse_args()
    if args.quick:
        args.minutes, args.connections = 1.0, 100
    terminate_on_sigterm()
    deps.ensure_debian_packages(("docker-registry",))
    fd_limit = _raise_fd_limit()
    cleanup = Cleanup()
    work = Path(tempfile.mkdtemp(prefix="pullgate-soak-"))
    try:
        result = asyncio.run(_soak(args, work, cleanup))
    finally:
        cleanup.run()
        if args.keep_work:
            print(f"work directory kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    result["plan"] = {**vars(args), "results": str(args.results), "fd_limit": fd_limit}
    result["finished"] = datetime.now(UTC).isoformat()
    print(_report(result))
    args.results.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = args.results / f"soak-{stamp}{'-quick' if args.quick else ''}.json"
    path.write_text(json.dumps(result, indent=2))
    print(f"results: {path}")
    ok = load_ok(result)
    return 0 if ok else 1


def load_ok(result: dict[str, Any]) -> bool:
    load = result["load"]
    return (
        load["server_errors"] == 0
        and not load["errors"]
        and result["audit_equals_decisions"]
        and bool(result["rss_mib"].get("flat", False))
        and bool(result["fds"].get("flat", False))
        and not result["churn"]["failed"]
    )


if __name__ == "__main__":
    sys.exit(main())
