"""Which pullgate is measured: the working tree (default) or a git ref exported to a temp dir.

Other people edit the working tree while benchmarks run; ``--pullgate-ref HEAD`` measures a
fixed, committed state instead. The export is put first on PYTHONPATH of the pullgate
processes, ahead of the editable install (whose import hook comes after the path search).
"""

from __future__ import annotations

import io
import subprocess
import tarfile
from pathlib import Path
from typing import Any

__all__ = ["describe_working_tree", "export_ref"]

_REPO = Path(__file__).resolve().parent.parent
_PACKAGES = ("proxy", "db", "migrations")


def _git(*args: str) -> str:
    result = subprocess.run(["git", *args], cwd=_REPO, capture_output=True, text=True, check=True)
    return result.stdout.strip()


def export_ref(ref: str, destination: Path) -> dict[str, Any]:
    """Write the packages of ``ref`` under ``destination``; returns what was exported."""
    commit = _git("rev-parse", "--verify", f"{ref}^{{commit}}")
    archive = subprocess.run(
        ["git", "archive", "--format=tar", commit, *_PACKAGES], cwd=_REPO, capture_output=True, check=True
    ).stdout
    destination.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(destination, filter="data")
    return {"source": f"git ref {ref}", "commit": commit, "path": str(destination)}


def describe_working_tree() -> dict[str, Any]:
    changed = [line[3:] for line in _git("status", "--porcelain").splitlines()]
    return {
        "source": "working tree",
        "commit": _git("rev-parse", "HEAD"),
        "uncommitted_paths": [p for p in changed if p.startswith(_PACKAGES)],
    }
