"""`pcc-env watch` latency: file write -> set ready, and requests per save.

    .venv/bin/python benchmarks/watch_latency.py [--saves 50] [--debounce 100]

An emulator (`--provision-delay 0`) and a real `pcc-env watch` process. Each save changes one
value with an atomic rename; the time runs from just before the rename to the moment watch
prints that the set is ready (it prints after the wait for `ready` returns). Then 10 saves with
unchanged content must send 0 requests. Target (issue 6): p50 <= 150 ms + the debounce.
"""

from __future__ import annotations

import argparse
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(__file__))
from _common import BIN, emulator_process, median, percentile


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--saves", type=int, default=50)
    parser.add_argument("--debounce", type=int, default=100, help="ms (pcc-env watch --debounce)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, emulator_process("--provision-delay", "0") as emu:
        env_file = Path(tmp) / ".env"
        env_file.write_text("STATIC=1\nVALUE=0\n")
        env = {k: v for k, v in os.environ.items() if not k.startswith("PIPECAT_")}
        env.update(emu.env())
        env.update({"PCC_ENV_DATA_DIR": tmp + "/state", "NO_COLOR": "1"})
        proc = subprocess.Popen(
            [
                str(BIN / "pcc-env"),
                "watch",
                "--set",
                "bench-watch",
                "--debounce",
                str(args.debounce),
            ],
            cwd=tmp,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        lines: queue.Queue[tuple[float, str]] = queue.Queue()

        def reader() -> None:
            assert proc.stdout is not None
            for line in proc.stdout:
                lines.put((time.perf_counter(), line))

        threading.Thread(target=reader, daemon=True).start()

        def wait_for(word: str) -> float:
            while True:
                at, line = lines.get(timeout=30)
                if word in line:
                    return at

        wait_for("initial sync")
        time.sleep(1.0)  # let the first reconcile tick pass
        latencies = []
        emu.reset()
        for i in range(1, args.saves + 1):
            tmp_file = env_file.with_name(".env.tmp")
            tmp_file.write_text(f"STATIC=1\nVALUE={i}\n")
            started = time.perf_counter()
            os.replace(tmp_file, env_file)
            latencies.append(wait_for("synced") - started)
            time.sleep(0.05)
        stats = emu.stats()
        write_requests = sum(n for r, n in stats["requests"].items() if r.startswith("PUT"))
        all_requests = sum(n for r, n in stats["requests"].items() if "/_emulator" not in r)

        emu.reset()
        for _ in range(10):
            env_file.write_text(f"STATIC=1\nVALUE={args.saves}\n")
            wait_for("without changes")
        unchanged_requests = sum(
            n for r, n in emu.stats()["requests"].items() if "/_emulator" not in r
        )
        proc.send_signal(signal.SIGINT)
        proc.wait(15)

    ms = [x * 1000 for x in latencies]
    target = 150 + args.debounce
    print(f"{args.saves} saves, debounce {args.debounce} ms, emulator --provision-delay 0")
    print(
        f"file write -> ready: p50 {median(ms):.0f} ms, p95 {percentile(ms, 95):.0f} ms, max {max(ms):.0f} ms"
    )
    print(
        f"requests per save: {all_requests / args.saves:.2f} ({write_requests} PUT, "
        f"{all_requests - write_requests} status GET in total)"
    )
    print(f"unchanged saves: {unchanged_requests} requests for 10 saves (target 0)")
    ok = median(ms) <= target and unchanged_requests == 0
    print(
        f"target p50 <= {target} ms (150 + debounce) and 0 requests unchanged: {'met' if ok else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
