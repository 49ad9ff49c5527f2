"""The fuzzing campaign: coverage-guided (atheris, libFuzzer) runs of the parsers of untrusted
bytes, outside the pytest suite.

    .venv/bin/pip install -e '.[test,fuzz]'
    nice -n 19 .venv/bin/python -m tests.fuzz                     # every target, 90 s each
    nice -n 19 .venv/bin/python -m tests.fuzz manifest --seconds 600

`targets.py` says what each target feeds to which parser and which exception is that
parser's own; any other exception, a hang (`--timeout` per input) or memory past
`--rss-limit-mb` is a finding. `seeds.py` builds each target's starting corpus from the test
vectors and the test images; `run.py` is one target's fuzzing process; `__main__.py` runs
them one after the other and writes the counts to ``bench/results/fuzz-*.json``. Every finding
becomes a regression test in ``tests/unit`` named after what it broke.
"""
