"""``python -m bench.run [--quick] [--only 1,3] [--profile]``: the whole benchmark, one command.

Installs what is missing, measures machine noise, builds the world on loopback in a fresh
temp directory, runs the scenarios, prints the table and writes ``bench/results/*.json``.
Everything started is stopped however the run ends (see ``bench.cleanup``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from bench import deps, source
from bench.cleanup import Cleanup, terminate_on_sigterm
from bench.measure import CpuAccount, calibrate, cpu_times, load_average, wait_for_quiet
from bench.plan import FULL, QUICK, Plan
from bench.report import RESULTS_DIR, Check, Row, render_table, summary, write_results
from bench.scenarios import blob, cold, external, herd, manifests, memory, profiles
from bench.scenarios.base import ScenarioResult
from bench.world import World, build_world

__all__ = ["main"]

ScenarioFn = Callable[[World], Awaitable[ScenarioResult]]


def _scenarios(quick: bool) -> dict[str, tuple[str, ScenarioFn]]:
    async def policy(world: World) -> ScenarioResult:
        return await external.policy_scaling(quick, world.pullgate_source)

    async def rescan(world: World) -> ScenarioResult:
        return await external.rescan(quick, world.pullgate_source)

    return {
        "1": ("warm blob throughput", blob.run),
        "4": ("manifest requests", manifests.run),
        "2": ("cold pull", cold.run),
        "3": ("thundering herd", herd.run),
        "5": ("memory", memory.run),
        "6": ("policy scaling", policy),
        "7": ("rescan throughput", rescan),
    }


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bench.run", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, fewer repetitions (< 2 minutes)")
    parser.add_argument("--only", default="", help="comma-separated scenario numbers (default: all)")
    parser.add_argument("--profile", action="store_true", help="also profile pullgate with py-spy")
    parser.add_argument(
        "--policy-rules", type=int, default=None, help="rules for the policy hook (scenario 4)"
    )
    parser.add_argument(
        "--pullgate-ref", default=None, help="measure this git ref (exported) instead of the working tree"
    )
    parser.add_argument(
        "--pullgate-set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a pullgate setting for what-if runs, e.g. gate.audit_batch_size=5000 (repeatable)",
    )
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=None,
        help="wait up to this many seconds for an idle machine first (default 60, quick 5)",
    )
    parser.add_argument("--keep-work", action="store_true", help="keep the temp directory for inspection")
    parser.add_argument("--results", type=Path, default=RESULTS_DIR, help="where the JSON goes")
    return parser


def _overrides(assignments: list[str]) -> dict[str, Any]:
    """``a.b=VALUE`` (VALUE in YAML) -> ``{"a": {"b": value}}``, merged over all assignments."""
    result: dict[str, Any] = {}
    for assignment in assignments:
        key, sep, value = assignment.partition("=")
        if not sep or not key:
            raise SystemExit(f"--pullgate-set wants KEY=VALUE, got {assignment!r}")
        *parents, leaf = key.split(".")
        node = result
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = yaml.safe_load(value)
    return result


def _noise(runs: int) -> dict[str, Any]:
    """The fixed loop's spread, and how busy the machine was meanwhile (others' work shows)."""
    before = cpu_times()
    stats = calibrate(runs)
    usage = cpu_times().since(before)
    return {"loop_ms": stats.as_dict(), "cpu_during": usage, "loadavg": load_average()}


def _machine() -> dict[str, Any]:
    import aiohttp  # noqa: PLC0415 - only for its version

    return {
        "host": platform.node(),
        "kernel": platform.release(),
        "cpus": len(os.sched_getaffinity(0)),
        "python": platform.python_version(),
        "aiohttp": aiohttp.__version__,
        "tools": deps.tool_versions(),
    }


def _error_row(number: str, title: str, exc: BaseException) -> Row:
    return Row(
        f"{number} {title}",
        "-",
        "ERROR",
        checks=[Check("", "scenario ran", False)],
        note=f"{type(exc).__name__}: {exc}"[:300],
    )


async def _run_scenarios(
    world: World, selected: list[str], quick: bool
) -> tuple[dict[str, ScenarioResult], bool]:
    results: dict[str, ScenarioResult] = {}
    failed = False
    for number, (title, scenario) in _scenarios(quick).items():
        if number not in selected:
            continue
        print(f"== scenario {number}: {title}", flush=True)
        started, account = time.perf_counter(), CpuAccount.now()
        try:
            results[number] = await scenario(world)
        except Exception as exc:  # one broken scenario must not hide the others' numbers
            traceback.print_exc()
            results[number] = ScenarioResult([_error_row(number, title, exc)], {"error": repr(exc)})
            failed = True
        seconds, foreign = time.perf_counter() - started, CpuAccount.now().foreign_percent(account)
        results[number].data["foreign_cpu_percent"] = foreign
        results[number].data["seconds"] = round(seconds, 1)
        print(f"   done in {seconds:.1f} s; other processes used ~{foreign:.0f}% of the machine", flush=True)
    return results, failed


async def _profile(world: World, out_dir: Path) -> list[dict[str, Any]]:
    py_spy = deps.ensure_py_spy()
    print("== profiling pullgate with py-spy", flush=True)
    return [summary.as_dict() for summary in await profiles.run(world, py_spy, out_dir)]


def _noise_line(label: str, noise: dict[str, Any]) -> str:
    loop = noise["loop_ms"]
    cpu = noise["cpu_during"]
    return (
        f"{label}: loop {loop['median']:.1f} ms (min {loop['min']:.1f}, max {loop['max']:.1f}, "
        f"IQR {loop['iqr_percent']:.1f}%), machine busy {cpu['busy_percent']:.0f}% "
        f"(one core = 50%), steal {cpu['steal_percent']:.1f}%, loadavg {noise['loadavg'][0]:.2f}"
    )


def _code_under_test(args: argparse.Namespace, work: Path) -> tuple[dict[str, Any], Path | None]:
    """What pullgate is measured: the working tree, or ``--pullgate-ref`` exported to ``work``."""
    if args.pullgate_ref:
        return source.export_ref(args.pullgate_ref, work / "pullgate-src"), work / "pullgate-src"
    return source.describe_working_tree(), None


def _settle(args: argparse.Namespace) -> None:
    wait = args.wait_quiet if args.wait_quiet is not None else (5.0 if args.quick else 60.0)
    if wait > 0:
        busy = wait_for_quiet(wait)
        print(f"== machine busy {busy:.0f}% before starting (waited up to {wait:g} s for < 15%)", flush=True)


def _document(
    plan: Plan, results: dict[str, ScenarioResult], context: dict[str, Any], noise: dict[str, Any]
) -> dict[str, Any]:
    rows = [row for number in sorted(results) for row in results[number].rows]
    return {
        "plan": plan.as_dict(),
        "deviations_from_issue": plan.deviations(),
        **context,
        "machine": _machine(),
        "noise": noise,
        "summary": summary(rows),
        "rows": [row.as_dict() for row in rows],
        "scenarios": {number: result.data for number, result in sorted(results.items())},
        "table": render_table(rows),
    }


async def _main(args: argparse.Namespace, plan: Plan, cleanup: Cleanup, work: Path) -> int:
    started = datetime.now(UTC)
    installed = deps.ensure_debian_packages()
    selected = [s.strip() for s in args.only.split(",") if s.strip()] or list(_scenarios(args.quick))
    code, pullgate_source = _code_under_test(args, work)
    print(f"== measuring pullgate from {code['source']} ({code['commit'][:12]})", flush=True)
    _settle(args)
    cpu_start, noise_before = cpu_times(), _noise(plan.calibration_runs)
    print(_noise_line("noise before", noise_before), flush=True)
    print(f"== building the world in {work} ({plan.name} plan)", flush=True)
    overrides = _overrides(args.pullgate_set)
    world = await build_world(plan, work, cleanup, pullgate_source, overrides)
    results, failed = await _run_scenarios(world, selected, args.quick)
    noise_after = _noise(plan.calibration_runs)
    noise = {
        "before": noise_before,
        "after": noise_after,
        "drift": round(noise_after["loop_ms"]["median"] / noise_before["loop_ms"]["median"], 3),
        "cpu_whole_run": cpu_times().since(cpu_start),
    }
    context = {
        "started": started.isoformat(),
        "installed_packages": installed,
        "pullgate_code": code,
        "pullgate_overrides": overrides,
        "profiles": await _profile(world, args.results / "raw") if args.profile else [],
        "seconds": round((datetime.now(UTC) - started).total_seconds(), 1),
    }
    document = _document(plan, results, context, noise)
    path = write_results(document, plan.name, args.results)
    _print_report(plan, document, path)
    return 1 if failed else 0


def _print_report(plan: Plan, document: dict[str, Any], path: Path) -> None:
    print()
    print(document["table"])
    print()
    noise = document["noise"]
    print(_noise_line("noise before", noise["before"]))
    print(_noise_line("noise after ", noise["after"]))
    print(f"noise drift (after/before median): {noise['drift']:.3f}; whole run: {noise['cpu_whole_run']}")
    for note in plan.deviations():
        print(f"{plan.name} plan: {note}")
    if document["pullgate_overrides"]:
        print(f"pullgate settings changed for this run: {document['pullgate_overrides']}")
    counts = document["summary"]
    print(
        f"targets met: {counts['met']} of {counts['targets']}; {document['seconds']:.0f} s; results: {path}"
    )
    for profile in document["profiles"]:
        cpu = profile["cpu_cores"]
        print(
            f"profile {profile['name']}: event-loop thread {cpu['main_thread']} cores, other threads "
            f"{cpu['other_threads']}; {profile['idle_percent']}% of samples idle; "
            f"{profile['sqlite_busy_thread_seconds']} thread-s waiting for SQLite's write lock; busiest frames:"
        )
        for name, share in profile["top_self_percent"][:8]:
            print(f"    {share:5.1f}%  {name}")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    plan = QUICK if args.quick else FULL
    if args.policy_rules is not None:
        plan = replace(plan, policy_rules=args.policy_rules)
    terminate_on_sigterm()
    cleanup = Cleanup()
    work = Path(tempfile.mkdtemp(prefix="pullgate-bench-"))
    if not args.keep_work:
        cleanup.push("work directory", lambda: shutil.rmtree(work, ignore_errors=True))
    try:
        return asyncio.run(_main(args, plan, cleanup, work))
    except KeyboardInterrupt:
        print("\nbench: interrupted; stopping everything", file=sys.stderr)
        return 130
    finally:
        cleanup.run()


if __name__ == "__main__":
    sys.exit(main())
