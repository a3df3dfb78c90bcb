"""A Tab against a bare interpreter start (issue 24, item 5), side by side in one run.

    .venv/bin/python benchmarks/completion.py [--runs 20]

Each run is a fresh `pcc-env` process with the variables bash's completion script sets
(`_PCC_ENV_COMPLETE=complete_bash COMP_WORDS=... COMP_CWORD=...`; zsh's for the one with help
texts), timed against `python -c pass` of the same interpreter, the runs interleaved. Completed:
a command name, option names, option names with their help (zsh), and set names from a fresh
cache (the cache file written in a temporary XDG_CACHE_HOME before each round; the API host is
one nobody listens on, so an answer that did not come from the cache would be empty).
Target: each <= 4x the bare start. Shown without a target: a completion the app answers
(after `--`: the cost every Tab paid before the fast path), and `--version`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(__file__))
from _common import BIN, median

PCC_ENV = str(BIN / "pcc-env")
HOST = "http://127.0.0.1:9"
TARGET = 4.0


def bash(line: str) -> dict[str, str]:
    words = line.split(" ")
    return {
        "_PCC_ENV_COMPLETE": "complete_bash",
        "COMP_WORDS": line,
        "COMP_CWORD": str(len(words) - 1),
    }


CASES: list[tuple[str, list[str], dict[str, str], str | None]] = [
    # label, argv after pcc-env, completion variables, what must appear in the output
    ("command name   (bash: 'pcc-env sec')", [], bash("pcc-env sec"), "secrets"),
    ("option names   (bash: 'pcc-env push --s')", [], bash("pcc-env push --s"), "--set"),
    (
        "options + help (zsh: 'pcc-env push --')",
        [],
        {"_PCC_ENV_COMPLETE": "complete_zsh", "_TYPER_COMPLETE_ARGS": "pcc-env push --"},
        '"--set":',
    ),
    (
        "cached set names (bash: 'pcc-env push --set ')",
        [],
        bash("pcc-env push --set "),
        "alpha-set",
    ),
]
NO_TARGET: list[tuple[str, list[str], dict[str, str], str | None]] = [
    ("the app answers (bash: 'pcc-env push -- ')", [], bash("pcc-env push -- "), None),
    ("pcc-env --version", ["--version"], {}, "pcc-env"),
]


def write_cache(cache: Path) -> None:
    path = cache / "pcc-env" / "set-names.json"
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    sets = [["alpha-set", "secret"], ["beta-set", "secret"]]
    path.write_text(json.dumps({"version": 1, "hosts": {HOST: {"at": time.time(), "sets": sets}}}))
    os.chmod(path, 0o600)


def timed(argv: list[str], env: dict[str, str], expect: str | None) -> float:
    started = time.perf_counter()
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0 or (expect is not None and expect not in proc.stdout):
        raise SystemExit(f"{argv} {env}: unexpected answer {(proc.stdout + proc.stderr)[-400:]!r}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as cache:
        base = {k: v for k, v in os.environ.items() if not k.startswith(("PIPECAT_", "PCC_ENV_"))}
        base.pop("PYTHONDONTWRITEBYTECODE", None)  # as installed: bytecode is cached
        base.update({"XDG_CACHE_HOME": cache, "PIPECAT_API_HOST": HOST, "COLUMNS": "200"})
        cases = CASES + NO_TARGET
        times: dict[str, list[float]] = {label: [] for label, *_ in cases}
        bare: list[float] = []
        for run in range(args.runs + 1):  # run 0 compiles and caches bytecode
            write_cache(Path(cache))
            b = timed([sys.executable, "-c", "pass"], base, None)
            for label, argv, env, expect in cases:
                t = timed([PCC_ENV, *argv], {**base, **env}, expect)
                if run:
                    times[label].append(t)
            if run:
                bare.append(b)
    floor = median(bare)
    print(f"python -c pass: median {floor * 1000:.1f} ms ({args.runs} runs, interleaved)")
    met = True
    for label, *_ in cases:
        ratio = median(times[label]) / floor
        if label in {c[0] for c in CASES}:
            met &= ratio <= TARGET
            verdict = f"target <= {TARGET:g}x: {'met' if ratio <= TARGET else 'NOT met'}"
        else:
            verdict = "no target"
        print(
            f"{label:<48} median {median(times[label]) * 1000:6.1f} ms, ratio {ratio:4.1f}x ({verdict})"
        )
    print("RESULT:", "target met" if met else "target NOT met")


if __name__ == "__main__":
    main()
