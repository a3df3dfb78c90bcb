"""What the set's revision record (issue 22) costs a push, in requests and time.

    .venv/bin/python benchmarks/team_record.py [--runs 5] [--keys 50]

Against a `pcc-env emulator` process, with the real `pcc-env push --no-wait` in its own process
(--no-wait: the status polls of the wait, whose number depends on timing, are left out; the
agents listing push makes during a write is counted apart). Three pushes per run, each from a
fresh data dir (CI) or laptop A's:

* first push of a new set (no record to replace): before issue 22, 1 GET + 1 PUT;
* a push that changes one value of a set with a record: before, 1 GET + 1 PUT;
* a push that sends nothing, from a fresh data dir (CI): before, 1 GET and no write (and only
  from the machine that pushed last); now 1 GET, no write, from any machine.

Targets: the nothing-to-send push sends 1 GET and no write; the record costs a writing push at
most one request more than before. Also: the time of one values digest (scrypt) over the keys.
"""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(__file__))
from _common import BIN, Emulator, emulator_process, median

from pcc_env.revision import values_digest

BEFORE = {"first": {"GET": 1, "PUT": 1}, "change": {"GET": 1, "PUT": 1}, "nothing": {"GET": 1}}


def push(emu: Emulator, cwd: Path, data: Path) -> tuple[float, dict[str, int]]:
    emu.reset()
    env = {**os.environ, **emu.env(), "PCC_ENV_DATA_DIR": str(data), "NO_COLOR": "1"}
    started = time.perf_counter()
    proc = subprocess.run(
        [str(BIN / "pcc-env"), "push", "--no-wait"],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"push failed: {proc.stderr[-400:]}")
    counts: dict[str, int] = {}
    for route, n in emu.stats()["requests"].items():
        if "/_emulator" in route or " /v1/agents" in route:
            continue
        method = route.split()[0]
        counts[method] = counts.get(method, 0) + n
    return elapsed, counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keys", type=int, default=50)
    args = parser.parse_args()
    times: dict[str, list[float]] = {"first": [], "change": [], "nothing": []}
    seen: dict[str, dict[str, int]] = {}
    met = True
    with emulator_process() as emu, tempfile.TemporaryDirectory() as tmp:
        for run in range(args.runs):
            root = Path(tmp) / f"run{run}"
            root.mkdir()
            (root / "pcc-deploy.toml").write_text(f'secret_set = "team-bench-{run}"\n')
            values = {f"KEY_{i:03d}": secrets.token_hex(16) for i in range(args.keys)}
            env_file = root / ".env"
            env_file.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
            laptop, ci = root / "laptop-a", root / "ci"
            for name, data in (("first", laptop), ("change", laptop), ("nothing", ci)):
                if name == "change":
                    values["KEY_000"] = secrets.token_hex(16)
                    env_file.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
                elapsed, counts = push(emu, root, data)
                times[name].append(elapsed)
                if seen.setdefault(name, counts) != counts:
                    print(f"{name}: requests differ between runs: {seen[name]} vs {counts}")
    for name, label in (
        ("first", "first push of a new set (no record yet)"),
        ("change", "push changing 1 of the keys (set with a record)"),
        ("nothing", "push that sends nothing, from a fresh data dir (CI)"),
    ):
        now, before = seen[name], BEFORE[name]
        extra = sum(now.values()) - sum(before.values())
        if name == "nothing":
            ok = now == {"GET": 1}
            target = "1 GET, no write"
        else:
            ok = extra <= 1
            target = "at most 1 request more than before"
        met = met and ok
        print(
            f"{label}: requests {now} (before issue 22: {before}; +{extra}); "
            f"median {median(times[name]):.2f}s; target {target}: {'met' if ok else 'NOT met'}"
        )
    sample = {f"KEY_{i:03d}": secrets.token_hex(16) for i in range(args.keys)}
    digests = []
    for _ in range(args.runs):
        started = time.perf_counter()
        values_digest("ABCDEF", sample)
        digests.append(time.perf_counter() - started)
    print(f"one values digest (scrypt N=2**12 r=8 p=1) over {args.keys} keys: "
          f"median {median(digests) * 1000:.0f} ms")  # fmt: skip
    print("RESULT: targets met" if met else "RESULT: targets NOT met")


if __name__ == "__main__":
    main()
