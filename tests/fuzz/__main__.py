"""Run the fuzzing campaign: each target in turn, at low priority, and write the counts.

    python -m tests.fuzz [TARGET ...] [--seconds 90] [--timeout 10] [--rss-limit-mb 2048]

Per target: a fresh corpus of its seeds (and a libFuzzer dictionary of the JSON keys and
short strings they hold) in a temporary directory, findings under
``fuzz-crashes/<time>/<target>/`` (not committed), the inputs tried, the time, and each
distinct finding, written to ``bench/results/fuzz-<time>.json`` and ``fuzz-latest.json``.
Exit status 1 if anything was found.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

from tests.fuzz.seeds import SEEDS, write_seeds
from tests.fuzz.targets import TARGETS

ROOT = Path(__file__).resolve().parents[2]
_DONE = re.compile(r"Done (\d+) runs in (\d+) second")
_PROGRESS = re.compile(r"^#(\d+)\s", re.MULTILINE)
_STOPS = {"ALARM: working on the last Unit": "timeout", "out-of-memory": "oom", "==ERROR": "crash"}


def main() -> int:
    args = _arguments()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    crashes = ROOT / "fuzz-crashes" / stamp
    results: dict[str, Any] = {
        "started": datetime.now(UTC).isoformat(),
        "engine": f"atheris {version('atheris')} (libFuzzer)",
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "commit": _commit(),
        "settings": {"seconds": args.seconds, "timeout": args.timeout, "rss_limit_mb": args.rss_limit_mb},
        "targets": {},
    }
    for target in args.targets:
        print(f"== {target}", file=sys.stderr, flush=True)
        results["targets"][target] = _run(target, crashes / target, args)
        print(
            json.dumps({k: v for k, v in results["targets"][target].items() if k != "findings"}),
            file=sys.stderr,
        )
    results["finished"] = datetime.now(UTC).isoformat()
    results["total_inputs"] = sum(t["inputs"] for t in results["targets"].values())
    results["total_findings"] = sum(len(t["findings"]) for t in results["targets"].values())
    text = json.dumps(results, indent=2) + "\n"
    out = ROOT / "bench" / "results"
    (out / f"fuzz-{stamp}.json").write_text(text)
    (out / "fuzz-latest.json").write_text(text)
    print(
        f"{results['total_inputs']} inputs, {results['total_findings']} findings -> bench/results/fuzz-{stamp}.json"
    )
    return 1 if results["total_findings"] else 0


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz", description=__doc__.splitlines()[0])
    parser.add_argument("targets", nargs="*", metavar="TARGET", help=f"default: all of {', '.join(SEEDS)}")
    parser.add_argument("--seconds", type=int, default=90, help="fuzzing time per target")
    parser.add_argument("--timeout", type=int, default=10, help="seconds one input may take (a hang)")
    parser.add_argument("--rss-limit-mb", type=int, default=2048, help="memory past this is a finding")
    parser.add_argument("--max-len", type=int, default=64 * 1024, help="largest input tried")
    args = parser.parse_args()
    unknown = set(args.targets) - set(SEEDS)
    if unknown:
        parser.error(f"unknown targets {sorted(unknown)}")
    args.targets = args.targets or list(SEEDS)
    return args


def _run(target: str, crash_dir: Path, args: argparse.Namespace) -> dict[str, Any]:
    crash_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"fuzz-{target}-") as scratch:
        corpus = Path(scratch) / "corpus"
        seeds = write_seeds(target, corpus)
        dictionary = _dictionary(corpus, Path(scratch) / "tokens.dict")
        command = [
            *(["nice", "-n", "19"] if os.name == "posix" else []),
            sys.executable, "-m", "tests.fuzz.run", target, str(crash_dir),
            f"-max_total_time={args.seconds}", f"-timeout={args.timeout}",
            f"-rss_limit_mb={args.rss_limit_mb}", f"-max_len={args.max_len}",
            f"-artifact_prefix={crash_dir}/", "-print_final_stats=1",
            *([f"-dict={dictionary}"] if dictionary else []),
            str(corpus),
        ]  # fmt: skip
        started = time.monotonic()
        log = crash_dir / "fuzz.log"
        with log.open("w") as output:
            status = subprocess.run(command, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT, check=False)
        elapsed = time.monotonic() - started
        corpus_size = len(list(corpus.iterdir()))
    return _summary(target, log, status.returncode, elapsed, seeds, corpus_size, crash_dir)


def _summary(
    target: str, log: Path, returncode: int, elapsed: float, seeds: int, corpus: int, crash_dir: Path
) -> dict[str, Any]:
    text = log.read_text(errors="replace")
    done = _DONE.search(text)
    progress = [int(n) for n in _PROGRESS.findall(text)]
    inputs = int(done.group(1)) if done else (max(progress) if progress else 0)
    stopped = (
        "time" if done and returncode == 0 else next((v for k, v in _STOPS.items() if k in text), "error")
    )
    findings_file = crash_dir / "findings.jsonl"
    findings = (
        [json.loads(line) for line in findings_file.read_text().splitlines()]
        if findings_file.exists()
        else []
    )
    if stopped != "time":
        findings.append({"target": target, "exception": stopped, "where": "see fuzz.log", "log": str(log)})
    return {
        "what": TARGETS[target].what,
        "inputs": inputs,
        "seconds": round(elapsed, 1),
        "inputs_per_second": round(inputs / elapsed) if elapsed else 0,
        "seeds": seeds,
        "corpus_at_end": corpus,
        "stopped_by": stopped,
        "findings": findings,
    }


def _dictionary(corpus: Path, path: Path) -> Path | None:
    """JSON keys and short strings of the seeds, as libFuzzer dictionary entries."""
    tokens: set[str] = set()
    for seed in corpus.iterdir():
        for start in (0, 1):  # some seeds carry a choice byte first
            try:
                _collect(json.loads(seed.read_bytes()[start:]), tokens)
                break
            except ValueError:
                continue
    if not tokens:
        return None
    usable = sorted(token for token in tokens if token.isascii() and token.isprintable())
    path.write_text("".join(f"{json.dumps(json.dumps(token))}\n" for token in usable))
    return path


def _collect(value: Any, tokens: set[str]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            tokens.add(key)
            _collect(item, tokens)
    elif isinstance(value, list):
        for item in value:
            _collect(item, tokens)
    elif isinstance(value, str) and len(value) <= 64:
        tokens.add(value)


def _commit() -> str:
    found = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    return found.stdout.strip()


if __name__ == "__main__":
    sys.exit(main())
