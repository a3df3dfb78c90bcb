"""`pcc-env push` of 50 and 500 keys against an emulator with --latency-ms 50, and
`push --all-targets` to 3 targets x 2 regions.

    .venv/bin/python benchmarks/push.py [--runs 3]

Each run pushes a fresh set (new values, so every key is sent) with the real command in its own
process and reads the emulator's request counts. Reported per size: median wall time, and the
requests (target: 1 GET for the plan + 1 PUT + the status polls of the wait). Anchor in the same
run: the `pipecat cloud secrets set --file --skip` CLI on the same file, when installed
(`make test` installs it in .venv-pipecat), which sends one PUT per key.

`--all-targets`: a project with 3 targets of 2 regions each (six sets, 20 keys, new values every
run) pushed with one `pcc-env push --all-targets`, against the same six sets pushed one after
another with `pcc-env push --set S --region R` (target: <= 0.35x).
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


def run_counted(
    emu: Emulator, argv: list[str], env: dict[str, str], cwd: str
) -> tuple[float, dict[str, int]]:
    emu.reset()
    started = time.perf_counter()
    proc = subprocess.run(
        argv, env=env, cwd=cwd, capture_output=True, text=True, stdin=subprocess.DEVNULL
    )
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"{argv[:3]} failed: {proc.stderr[-400:]}")
    counts: dict[str, int] = {}
    for route, n in emu.stats()["requests"].items():
        if "/_emulator" in route:
            continue
        # The agents listing (push names the agents it made stale) is counted on its own.
        key = "GET /agents" if " /v1/agents" in route else route.split()[0]
        counts[key] = counts.get(key, 0) + n
    return elapsed, counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sizes", type=int, nargs="+", default=[50, 500])
    args = parser.parse_args()
    have_pipecat = os.access(PIPECAT, os.X_OK)
    with (
        tempfile.TemporaryDirectory() as tmp,
        emulator_process("--latency-ms", "50", "--provision-delay", "0") as emu,
    ):
        env = {k: v for k, v in os.environ.items() if not k.startswith("PIPECAT_")}
        env.update(emu.env())
        env.update({"HOME": tmp, "NO_COLOR": "1", "PCC_ENV_DATA_DIR": tmp + "/state"})
        for size in args.sizes:
            ours: list[float] = []
            theirs: list[float] = []
            our_counts: dict[str, int] = {}
            their_counts: dict[str, int] = {}
            for run in range(args.runs):
                env_file = Path(tmp) / f"push-{size}-{run}.env"
                env_file.write_text(
                    "".join(f"KEY_{i:04d}=value-{run}-{i}-{'v' * 32}\n" for i in range(size))
                )
                t, our_counts = run_counted(
                    emu,
                    [str(BIN / "pcc-env"), "push", str(env_file), "--set", f"push-{size}-{run}"],
                    env,
                    tmp,
                )
                ours.append(t)
                if (
                    have_pipecat and size <= 50
                ):  # 500 sequential PUTs at 50 ms each take ~30 s a run
                    t, their_counts = run_counted(
                        emu,
                        [
                            PIPECAT,
                            "cloud",
                            "secrets",
                            "set",
                            f"pc-{size}-{run}",
                            "--file",
                            str(env_file),
                            "--skip",
                        ],
                        env,
                        tmp,
                    )
                    theirs.append(t)
            polls = our_counts.get("GET", 0) - 1
            print(
                f"{size} keys: pcc-env push median {median(ours):.2f}s; requests {our_counts} "
                f"(1 GET plan + {our_counts.get('PUT', 0)} PUT + {polls} status poll(s)"
                f" + {our_counts.get('GET /agents', 0)} agents listing, during the write)"
            )
            if theirs:
                print(
                    f"{size} keys: pipecat secrets set median {median(theirs):.2f}s; requests {their_counts}; "
                    f"ratio pcc-env/pipecat {median(ours) / median(theirs):.3f}"
                )
            ok = our_counts.get("PUT") == 1 and our_counts.get("DELETE", 0) == 0
            print(f"{size} keys: target 1 GET + 1 PUT + polls: {'met' if ok else 'NOT met'}")
        bench_all_targets(emu, env, tmp, args.runs)


TARGETS = ("alpha", "beta", "gamma")
REGIONS = ("us-west", "us-east")


def bench_all_targets(emu: Emulator, env: dict[str, str], tmp: str, runs: int) -> None:
    project = Path(tmp) / "targets-project"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        "".join(
            f'[tool.pcc-env.targets.{t}]\nset = "bench-{t}-{{region}}"\n'
            f"regions = {list(REGIONS)!r}\n\n".replace("'", '"')
            for t in TARGETS
        )
    )
    together: list[float] = []
    one_by_one: list[float] = []
    requests: dict[str, int] = {}
    for run in range(runs):
        (project / ".env").write_text(
            "".join(f"KEY_{i:02d}=value-{run}-{i}-{'v' * 32}\n" for i in range(20))
        )
        t, requests = run_counted(
            emu, [str(BIN / "pcc-env"), "push", "--all-targets"], env, str(project)
        )
        together.append(t)
        (project / ".env").write_text(
            "".join(f"KEY_{i:02d}=other-{run}-{i}-{'v' * 32}\n" for i in range(20))
        )
        started = time.perf_counter()
        for target in TARGETS:
            for region in REGIONS:
                argv = [str(BIN / "pcc-env"), "push", "--set", f"bench-{target}-{region}"]
                run_counted(emu, [*argv, "--region", region], env, str(project))
        one_by_one.append(time.perf_counter() - started)
    ratio = median(together) / median(one_by_one)
    print(
        f"--all-targets, 3 targets x 2 regions, 20 keys: median {median(together):.2f}s "
        f"(requests {requests}) vs the six sets one after another {median(one_by_one):.2f}s; "
        f"ratio {ratio:.3f} (target <= 0.35: {'met' if ratio <= 0.35 else 'NOT met'})"
    )


if __name__ == "__main__":
    main()
