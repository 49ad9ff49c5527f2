"""One fuzz target's process: atheris (libFuzzer) over `targets.TARGETS[name]`.

    python -m tests.fuzz.run NAME CRASH_DIR [libFuzzer options] CORPUS_DIR...

pullgate's modules (and asn1crypto, pure Python) are imported under atheris's instrumentation
so coverage guides the search. An exception outside the target's domain does not stop the
run: the input is saved under CRASH_DIR once per distinct (exception type, innermost
pullgate frame), a line is appended to ``CRASH_DIR/findings.jsonl``, and fuzzing goes on, so
one run reports every distinct finding with the count of inputs tried. Hangs (libFuzzer's
``-timeout``) and memory (``-rss_limit_mb``) do stop it; the campaign reads those from the log.
"""

from __future__ import annotations

import hashlib
import json
import sys
import traceback
from pathlib import Path

import atheris

with atheris.instrument_imports(include=["proxy", "asn1crypto"]):
    from tests.fuzz.targets import TARGETS, Target


def _where(exc: BaseException) -> str:
    """The innermost frame in pullgate's code (else the innermost at all): what broke."""
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if "/proxy/" in f.filename] or frames
    frame = ours[-1]
    return f"{frame.filename.rpartition('/proxy/')[2] or frame.filename}:{frame.lineno} {frame.name}"


class Recorder:
    def __init__(self, target: Target, crash_dir: Path) -> None:
        self.target = target
        self.crash_dir = crash_dir
        self.seen: set[tuple[str, str]] = set()
        crash_dir.mkdir(parents=True, exist_ok=True)

    def __call__(self, data: bytes) -> None:
        try:
            self.target.run(data)
        except self.target.domain:
            return
        except Exception as exc:  # a finding: anything but the parser's own error
            self.record(data, exc)

    def record(self, data: bytes, exc: Exception) -> None:
        key = (type(exc).__name__, _where(exc))
        if key in self.seen:
            return
        self.seen.add(key)
        name = f"{key[0]}-{hashlib.sha1(data).hexdigest()[:12]}"
        (self.crash_dir / f"{name}.bin").write_bytes(data)
        finding = {
            "target": self.target.name,
            "exception": key[0],
            "where": key[1],
            "message": str(exc)[:300],
            "input": f"{name}.bin",
            "traceback": traceback.format_exception(exc)[-6:],
        }
        with (self.crash_dir / "findings.jsonl").open("a") as out:
            out.write(json.dumps(finding) + "\n")
        print(f"FINDING {key[0]} at {key[1]}: {str(exc)[:200]}", file=sys.stderr, flush=True)


def main() -> None:
    name, crash_dir, *libfuzzer = sys.argv[1:]
    recorder = Recorder(TARGETS[name], Path(crash_dir))
    atheris.Setup([sys.argv[0], *libfuzzer], recorder)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
