"""Policy engine latency at 10, 1,000 and 100,000 rules.

Run: ``.venv/bin/python -m bench.policy_scaling [--subjects 20000] [--seed 1]``
Prints p50/p99/max of `PolicyEngine.evaluate` per policy size and writes
``bench/results/policy_scaling.json``. The target is p99 <= 1 ms at 100,000 rules.

Policies look like an organisation's: many teams, each with exact repositories, namespace
globs at several depths, tag pins and globs, a few regexes, digest pins and exceptions that
expire; plus a handful of global rules (no ``latest``, debug images, registry-wide rules)
that every image has to be checked against.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from proxy.policy.engine import PolicyEngine
from proxy.policy.model import Action, Match, Mode, Rule, Subject

NOW = datetime(2025, 6, 1, tzinfo=UTC)
SIZES = (10, 1_000, 100_000)
REGISTRIES = ("docker.io", "ghcr.io", "quay.io", "registry.example.com", "127.0.0.1:5001")
SERVICES = ("api", "web", "worker", "db", "cache", "gateway", "auth", "billing", "search", "etl")
TAGS = ("latest", "stable", "1.0.0", "1.2.3", "2.0.0-rc1", "v3", "main", "dev-abc123", "3.19", "nightly")
RESULTS = Path(__file__).parent / "results" / "policy_scaling.json"


def global_rules() -> list[Rule]:
    return [
        Rule("no-latest", Match(tag="latest"), Action.DENY, description="pin a version"),
        Rule("no-nightly", Match(tag_regex=r"nightly(-[0-9]+)?"), Action.QUARANTINE),
        Rule("debug-images", Match(repository="**/debug-*"), Action.DENY),
        Rule("tmp-images", Match(repository="*/tmp-*"), Action.DENY, Mode.WARN),
        Rule("library", Match(repository="library/*", registry="docker.io"), Action.ALLOW),
        Rule("internal", Match(registry="*.example.com"), Action.ALLOW),
        Rule("ghcr-rc", Match(registry="ghcr.io", tag="*-rc*"), Action.QUARANTINE),
        Rule("local", Match(registry="127.0.0.1:*"), Action.ALLOW),
        Rule("everything-warn", Match(repository="**"), Action.DENY, Mode.WARN),
        Rule("quay-deny", Match(registry="quay.io"), Action.DENY),
    ]


def team_rule(rng: random.Random, n: int, teams: int) -> Rule:
    team = f"team{rng.randrange(teams)}"
    service = rng.choice(SERVICES) + str(rng.randrange(5))
    registry = rng.choices([None, rng.choice(REGISTRIES), "*.example.com"], weights=[50, 45, 5])[0]
    roll = rng.random()
    fields: dict[str, str] = {}
    if roll < 0.35:
        fields["repository"] = f"{team}/{service}"
        kind = rng.random()
        if kind < 0.4:
            fields["tag"] = rng.choice(TAGS)
        elif kind < 0.55:
            fields["tag"] = rng.choice(("1.*", "v*", "*-rc*", "dev-*"))
    elif roll < 0.65:
        fields["repository"] = rng.choice(
            (
                f"{team}/*",
                f"{team}/**",
                f"{team}/{service}/*",
                f"{team}/*/{service}",
                f"{team}/{service[:3]}*",
            )
        )
        if rng.random() < 0.3:
            fields["tag"] = rng.choice(("1.*", "v*", "stable", "main"))
    elif roll < 0.72:
        fields["repository"] = f"{team}/**"
        fields["tag_regex"] = rng.choice((r"v[0-9]+", r"[0-9]+\.[0-9]+\.[0-9]+", r"dev-[0-9a-f]{6}"))
    else:
        fields["digest"] = f"sha256:{rng.getrandbits(256):064x}"
        if rng.random() < 0.5:
            fields["repository"] = f"{team}/{service}"
    if registry is not None:
        fields["registry"] = registry
    expires = rng.choice([None] * 8 + [NOW - timedelta(days=1), NOW + timedelta(days=30)])
    mode = Mode.WARN if rng.random() < 0.05 else Mode.ENFORCE
    action = rng.choices(list(Action), weights=[60, 30, 10])[0]
    return Rule(f"rule-{n}", Match(**fields), action, mode, expires_at=expires)


def build_rules(size: int, rng: random.Random) -> list[Rule]:
    rules = global_rules()[:size]
    teams = max(1, size // 25)
    rules += [team_rule(rng, n, teams) for n in range(size - len(rules))]
    return rules


def subjects(rules: list[Rule], count: int, rng: random.Random) -> list[Subject]:
    digests = [r.match.digest for r in rules if r.match.digest]
    teams = max(1, len(rules) // 25)
    made = []
    for _ in range(count):
        if rng.random() < 0.7:
            team = f"team{rng.randrange(teams)}"
        else:
            team = rng.choice(("library", "bitnami", "unknown", f"other{rng.randrange(1000)}"))
        parts = [team, rng.choice(SERVICES) + str(rng.randrange(5))]
        if rng.random() < 0.2:
            parts.append(rng.choice(("debug-tools", "api", "sidecar")))
        digest = (
            rng.choice(digests) if digests and rng.random() < 0.1 else f"sha256:{rng.getrandbits(256):064x}"
        )
        tags = frozenset(rng.sample(TAGS, rng.randint(0, 3)))
        made.append(Subject(rng.choice(REGISTRIES), "/".join(parts), digest, tags))
    return made


def measure(size: int, count: int, seed: int) -> dict[str, object]:
    rng = random.Random(seed)
    rules = build_rules(size, rng)
    started = time.perf_counter()
    engine = PolicyEngine(rules, Action.DENY)
    build_s = time.perf_counter() - started
    images = subjects(rules, count, rng)
    for subject in images[:1000]:  # warm-up: caches, branch predictors, the registry memo
        engine.evaluate(subject, NOW)
    latencies = []
    outcomes: Counter[str] = Counter()
    for subject in images:
        begin = time.perf_counter_ns()
        verdict = engine.evaluate(subject, NOW)
        latencies.append(time.perf_counter_ns() - begin)
        outcomes[verdict.outcome] += 1
    latencies.sort()
    us = [n / 1000 for n in latencies]
    return {
        "rules": size,
        "subjects": count,
        "build_seconds": round(build_s, 3),
        "p50_us": round(us[len(us) // 2], 1),
        "p99_us": round(us[int(len(us) * 0.99)], 1),
        "max_us": round(us[-1], 1),
        "mean_us": round(statistics.fmean(us), 1),
        "outcomes": dict(sorted(outcomes.items())),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    results = [measure(size, args.subjects, args.seed) for size in SIZES]
    print(f"{'rules':>8} {'build s':>8} {'p50 us':>8} {'p99 us':>8} {'max us':>8}")
    for row in results:
        print(
            f"{row['rules']:>8} {row['build_seconds']:>8} {row['p50_us']:>8} {row['p99_us']:>8} {row['max_us']:>8}"
        )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "benchmark": "policy_scaling",
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "results": results,
    }
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
