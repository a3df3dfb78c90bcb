"""Start-up and push against their floors (issue 11, item 19), side by side in one run.

    .venv/bin/python benchmarks/fast_start.py [--runs 15] [--push-runs 5]

1. `pcc-env --version` against a bare `python -c pass` of the same interpreter (target <= 6x);
   `pcc-env --help` is shown next to them, without a target.
2. `pcc-env push` of 50 keys (new values each run, so every key is sent) against an emulator
   with `--latency-ms 50 --provision-delay 0`, against the physical floor: a bare interpreter
   start plus the 4 round trips a push needs (read the set, delete the old record's marker, PUT,
   one status read), each round
   trip measured in this run on the same emulator (target <= 2x); and against
   `pipecat cloud secrets set --file --skip` on the same file (target <= 0.10x), when the pipecat
   CLI is installed (`make test` puts it in .venv-pipecat, or set $PCC_ENV_PIPECAT_CLI).
3. Two more anchors for the push, in the same runs: `anchors/stack_push.py`, the least a push
   can do with pcc-env's dependencies (Typer, python-dotenv, pydantic, httpx, stamina; the same
   4 requests, nothing else), which no push built on them can go under; and
   `anchors/stdlib_push.py`, 3 requests (no record) with the standard library only.

Runs alternate between the tool and its anchor; reported: medians and their ratio.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(__file__))
from _common import BIN, Emulator, emulator_process, median

ROOT = Path(__file__).resolve().parent.parent
PIPECAT = os.environ.get("PCC_ENV_PIPECAT_CLI") or str(ROOT / ".venv-pipecat" / "bin" / "pipecat")
PCC_ENV = str(BIN / "pcc-env")
ANCHORS = Path(__file__).resolve().parent / "anchors"


def clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIPECAT_", "PCC_ENV_"))}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # as installed: bytecode is cached
    env["NO_COLOR"] = "1"
    return env


def timed(argv: list[str], env: dict[str, str], cwd: str | None = None) -> float:
    started = time.perf_counter()
    proc = subprocess.run(
        argv, env=env, cwd=cwd, capture_output=True, text=True, stdin=subprocess.DEVNULL
    )
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv[:3])} failed: {(proc.stdout + proc.stderr)[-600:]}")
    return elapsed


def bench_version(runs: int) -> None:
    env = clean_env()
    bare: list[float] = []
    version: list[float] = []
    helps: list[float] = []
    timed([PCC_ENV, "--help"], env)  # compile and cache bytecode once
    for _ in range(runs):
        bare.append(timed([sys.executable, "-c", "pass"], env))
        version.append(timed([PCC_ENV, "--version"], env))
        helps.append(timed([PCC_ENV, "--help"], env))
    ratio = median(version) / median(bare)
    print(f"python -c pass:     median {median(bare) * 1000:.1f} ms ({runs} runs)")
    print(f"pcc-env --version:  median {median(version) * 1000:.1f} ms, ratio {ratio:.1f}x")
    print(f"pcc-env --help:     median {median(helps) * 1000:.1f} ms, ratio "
          f"{median(helps) / median(bare):.1f}x (no target)")  # fmt: skip
    print(f"--version target <= 6x: {'met' if ratio <= 6 else 'NOT met'}")


def round_trip(emu: Emulator, set_name: str, runs: int = 15) -> float:
    """One request/response to the emulator, as a client with a warm connection sees it."""
    emu.call("GET", f"/v1/secrets/{set_name}")
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        emu.call("GET", f"/v1/secrets/{set_name}")
        times.append(time.perf_counter() - started)
    return median(times)


def bench_push(runs: int) -> None:
    have_pipecat = os.access(PIPECAT, os.X_OK)
    with (
        tempfile.TemporaryDirectory() as tmp,
        emulator_process("--latency-ms", "50", "--provision-delay", "0") as emu,
    ):
        env = clean_env()
        env.update(emu.env())
        env.update({"HOME": tmp, "PCC_ENV_DATA_DIR": tmp + "/state"})
        env_file = Path(tmp) / ".env"
        ours: list[float] = []
        theirs: list[float] = []
        bare: list[float] = []
        stack: list[float] = []
        stdlib: list[float] = []
        requests: dict[str, int] = {}
        for run in range(runs + 1):  # run 0 warms caches and creates the sets
            env_file.write_text("".join(f"KEY_{i:02d}=value-{run}-{i}\n" for i in range(50)))
            emu.reset()
            t = timed([PCC_ENV, "push", str(env_file), "--set", "fast-start"], env, tmp)
            counts = {k.split()[0]: 0 for k in emu.stats()["requests"]}
            for route, n in emu.stats()["requests"].items():
                if "/_emulator" not in route:
                    counts[route.split()[0]] += n
            b = timed([sys.executable, "-c", "pass"], env)
            anchor = [str(env_file), "--set"]
            st = timed([sys.executable, str(ANCHORS / "stack_push.py"), *anchor, "fs-stack"], env)
            sl = timed([sys.executable, str(ANCHORS / "stdlib_push.py"), *anchor, "fs-stdlib"], env)
            their = None
            if have_pipecat:
                argv = [PIPECAT, "cloud", "secrets", "set", "fast-start-pc", "--file"]
                their = timed([*argv, str(env_file), "--skip"], env, tmp)
            if run:
                ours.append(t)
                bare.append(b)
                stack.append(st)
                stdlib.append(sl)
                requests = {k: v for k, v in counts.items() if v}
                if their is not None:
                    theirs.append(their)
        rtt = round_trip(emu, "fast-start")
    floor = median(bare) + 4 * rtt
    ratio = median(ours) / floor
    print(
        f"push of 50 keys, emulator --latency-ms 50 --provision-delay 0, {runs} runs: "
        f"median {median(ours) * 1000:.0f} ms, requests {requests}"
    )
    print(
        f"floor: python start {median(bare) * 1000:.0f} ms + 4 round trips of "
        f"{rtt * 1000:.1f} ms = {floor * 1000:.0f} ms; ratio {ratio:.2f}x "
        f"(target <= 2x: {'met' if ratio <= 2 else 'NOT met'})"
    )
    print(
        f"stack floor (anchors/stack_push.py: Typer, python-dotenv, pydantic, httpx, stamina; "
        f"4 requests): median {median(stack) * 1000:.0f} ms = {median(stack) / floor:.2f}x the "
        f"floor; pcc-env push / stack floor = {median(ours) / median(stack):.2f}x"
    )
    print(
        f"standard library only (anchors/stdlib_push.py, 3 requests, no record): median "
        f"{median(stdlib) * 1000:.0f} ms = {median(stdlib) / floor:.2f}x the floor"
    )
    if theirs:
        vs = median(ours) / median(theirs)
        print(
            f"pipecat cloud secrets set --file --skip: median {median(theirs):.2f} s; ratio "
            f"{vs:.3f}x (target <= 0.10x: {'met' if vs <= 0.10 else 'NOT met'})"
        )
    else:
        print("pipecat CLI not installed: no comparison (make .venv-pipecat/.installed)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--push-runs", type=int, default=5)
    args = parser.parse_args()
    bench_version(args.runs)
    bench_push(args.push_runs)


if __name__ == "__main__":
    main()
