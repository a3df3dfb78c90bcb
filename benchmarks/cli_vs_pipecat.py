"""`pcc-env secrets set --file` against `pipecat cloud secrets set --file --skip`, side by side.

    .venv/bin/python benchmarks/cli_vs_pipecat.py [--runs 5] [--keys 50]

One emulator (`--latency-ms 50 --provision-delay 0`), a 50-key .env file, runs alternating
between the two tools; each run writes a fresh set. Reports median wall time, the ratio, and the
requests each tool sent (from /_emulator/stats). Also `pcc-env --help` vs `pipecat --help`.
Targets (issue 3): set ratio <= 0.15 with 1 PUT against 50; --help ratio <= 0.5.
The pipecat CLI comes from .venv-pipecat (`make test` installs it) or $PCC_ENV_PIPECAT_CLI.
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


def timed(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"{argv[:4]} failed ({proc.returncode}): {proc.stderr[-500:]}")
    return elapsed


def requests_for(
    emu: Emulator, argv: list[str], env: dict[str, str]
) -> tuple[float, dict[str, int]]:
    emu.reset()
    elapsed = timed(argv, env)
    stats = emu.stats()
    by_method: dict[str, int] = {}
    for route, n in stats["requests"].items():
        if route.startswith(("GET /_emulator", "POST /_emulator")):
            continue
        method = route.split()[0]
        by_method[method] = by_method.get(method, 0) + n
    return elapsed, by_method


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keys", type=int, default=50)
    args = parser.parse_args()
    if not os.access(PIPECAT, os.X_OK):
        raise SystemExit(
            f"pipecat CLI not found at {PIPECAT}: run 'make test' (or set PCC_ENV_PIPECAT_CLI)"
        )

    with tempfile.TemporaryDirectory() as tmp:
        env_file = Path(tmp) / "bench.env"
        env_file.write_text(
            "".join(f"BENCH_KEY_{i:03d}=value-{i}-{'x' * 24}\n" for i in range(args.keys))
        )
        base_env = {k: v for k, v in os.environ.items() if not k.startswith("PIPECAT_")}
        base_env.update(
            {
                "HOME": tmp,
                "NO_COLOR": "1",
                "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
            }
        )
        with emulator_process("--latency-ms", "50", "--provision-delay", "0") as emu:
            env = {**base_env, **emu.env()}
            ours: list[float] = []
            theirs: list[float] = []
            our_reqs: dict[str, int] = {}
            their_reqs: dict[str, int] = {}
            for run in range(args.runs):
                t, our_reqs = requests_for(
                    emu,
                    [PCC_ENV, "secrets", "set", f"bench-pcc-{run}", "--file", str(env_file)],
                    env,
                )
                ours.append(t)
                t, their_reqs = requests_for(
                    emu,
                    [
                        PIPECAT,
                        "cloud",
                        "secrets",
                        "set",
                        f"bench-pipecat-{run}",
                        "--file",
                        str(env_file),
                        "--skip",
                    ],
                    env,
                )
                theirs.append(t)

        help_ours: list[float] = []
        help_theirs: list[float] = []
        for _ in range(args.runs):
            help_ours.append(timed([PCC_ENV, "--help"], base_env))
            help_theirs.append(timed([PIPECAT, "--help"], base_env))

    set_ratio = median(ours) / median(theirs)
    help_ratio = median(help_ours) / median(help_theirs)
    print(
        f"{args.keys}-key .env, emulator --latency-ms 50 --provision-delay 0, {args.runs} alternating runs"
    )
    print(
        f"pcc-env secrets set --file (waits for ready): median {median(ours):.2f}s, requests {our_reqs}"
    )
    print(
        f"pipecat cloud secrets set --file --skip:       median {median(theirs):.2f}s, requests {their_reqs}"
    )
    print(f"set wall-time ratio pcc-env/pipecat: {set_ratio:.3f} (target <= 0.15)")
    print(
        f"PUTs: pcc-env {our_reqs.get('PUT', 0)} vs pipecat {their_reqs.get('PUT', 0)} (target 1 vs {args.keys})"
    )
    print(
        f"--help: pcc-env median {median(help_ours) * 1000:.0f} ms, pipecat {median(help_theirs) * 1000:.0f} ms, "
        f"ratio {help_ratio:.3f} (target <= 0.5)"
    )
    ok = set_ratio <= 0.15 and our_reqs.get("PUT") == 1 and help_ratio <= 0.5
    print("RESULT:", "targets met" if ok else "targets NOT met")


if __name__ == "__main__":
    main()
