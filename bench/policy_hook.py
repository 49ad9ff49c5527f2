"""The policy every benchmarked pullgate runs with: N generated rules plus one that allows ours.

pullgate denies what no rule allows, so the bench images need an allow rule; the issue also
asks for manifest throughput "with 1,000 rules loaded" (``--policy-rules N``, default 1000).
The rules look like an organisation's (exact repositories, namespace globs, tag globs and
regexes, digest pins, a few global rules) and none of them matches the bench images, so
every decision walks a realistic index and still ends in the allow rule.

The document is applied once, with the real CLI (``pullgate migrate``, then ``pullgate
policy apply``), to a template database; every pullgate started afterwards gets a copy of
it, so each still begins with an empty cache but does not pay two CLI start-ups.
"""

from __future__ import annotations

import random
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

from bench.services import pullgate_config
from tests.support.proc import tool_env

__all__ = ["ALLOW_RULE_ID", "PolicyLoad", "policy_document", "prepare_database"]

ALLOW_RULE_ID = "bench-images"
_REGISTRIES = ("docker.io", "ghcr.io", "quay.io", "registry.example.com")
_GLOBAL_RULES: tuple[dict[str, Any], ...] = (
    {"id": "no-latest", "match": {"tag": "latest"}, "action": "deny"},
    {"id": "debug-images", "match": {"repository": "**/debug-*"}, "action": "deny"},
    {"id": "quay-review", "match": {"registry": "quay.io"}, "action": "quarantine"},
)


@dataclass(frozen=True)
class PolicyLoad:
    requested: int
    loaded: int  # generated rules in force (the allow rule for the bench images not counted)
    status: str
    database_template: Path | None

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["database_template"] = str(self.database_template) if self.database_template else None
        return data


def _team_rule(rng: random.Random, index: int) -> dict[str, Any]:
    team, service = f"team{index % 97}", f"svc{index}"
    registry = rng.choice(_REGISTRIES)
    kind = index % 5
    if kind == 0:
        match: dict[str, str] = {"registry": registry, "repository": f"{team}/{service}"}
    elif kind == 1:
        match = {"repository": f"{team}/{service}/**"}
    elif kind == 2:
        match = {"repository": f"{team}/{service}", "tag": f"{rng.randrange(1, 9)}.*-rc*"}
    elif kind == 3:
        match = {"registry": registry, "repository": f"{team}/*", "tag_regex": f"nightly-{index}-[0-9]+"}
    else:
        match = {"digest": "sha256:" + rng.randbytes(32).hex()}
    action = ("allow", "deny", "quarantine", "deny", "deny")[kind]
    return {"id": f"gen-{index:06d}", "match": match, "action": action, "owner": team}


def policy_document(rule_count: int, seed: int = 1) -> dict[str, Any]:
    """``rule_count`` rules (globals first, then team rules) plus the allow rule for the bench."""
    rng = random.Random(seed)
    generated = [dict(rule) for rule in _GLOBAL_RULES[:rule_count]]
    generated += [_team_rule(rng, i) for i in range(rule_count - len(generated))]
    allow = {
        "id": ALLOW_RULE_ID,
        "match": {"registry": "127.0.0.1:*", "repository": "library/*"},
        "action": "allow",
        "description": "the benchmark's own images",
    }
    return {"default_action": "deny", "rules": [*generated, allow]}


def _pullgate(argv: list[str], config: Path, source: Path | None) -> str:
    binary = Path(sys.executable).parent / "pullgate"
    env = tool_env({"PYTHONPATH": str(source)} if source is not None else None)
    result = subprocess.run(
        [str(binary), *argv, "--config", str(config)], capture_output=True, text=True, env=env, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"pullgate {' '.join(argv)} failed: {(result.stderr or result.stdout)[-1500:]}")
    return result.stdout.strip()


def prepare_database(work_dir: Path, rule_count: int, source: Path | None) -> PolicyLoad:
    """Migrate a template database and apply the policy to it with the real CLI."""
    directory = work_dir / "pullgate-template"
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "pullgate.yaml"
    config.write_text(yaml.safe_dump(pullgate_config(directory, 9, "http://127.0.0.1:9"), sort_keys=False))
    policy = directory / "policy.yaml"
    policy.write_text(yaml.safe_dump(policy_document(rule_count), sort_keys=False))
    _pullgate(["migrate"], config, source)
    try:
        applied = _pullgate(["policy", "apply", "-f", str(policy)], config, source)
    except RuntimeError as exc:  # a pullgate from before the gate: nothing to load, nothing denied
        return PolicyLoad(rule_count, 0, f"NOT LOADED: {exc}"[:400], directory / "pullgate.db")
    status = f"{rule_count} generated rules + 1 allowing the bench images ({applied})"
    return PolicyLoad(rule_count, rule_count, status, directory / "pullgate.db")
