"""pcc_env.concurrency: side-by-side work that never holds up the end of the command."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest

from pcc_env.concurrency import in_background, map_in_background
from tests.cli_helpers import ROOT


def test_results_come_back_in_order_with_at_most_max_workers_at_once() -> None:
    running = 0
    most = 0
    lock = threading.Lock()

    def work(i: int) -> int:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.02 * (5 - i % 5))  # later items finish first
        with lock:
            running -= 1
        return i * i

    futures = map_in_background(work, list(range(10)), max_workers=3, name="t")
    assert [f.result(timeout=10) for f in futures] == [i * i for i in range(10)]
    assert most == 3


def test_an_exception_is_delivered_by_its_future_and_the_others_still_run() -> None:
    def work(i: int) -> int:
        if i == 1:
            raise ValueError("item one")
        return i

    first, second, third = map_in_background(work, [0, 1, 2], max_workers=1, name="t")
    assert first.result(timeout=5) == 0
    with pytest.raises(ValueError, match="item one"):
        second.result(timeout=5)
    assert third.result(timeout=5) == 2
    assert map_in_background(work, [], max_workers=4, name="t") == []


def test_in_background_runs_in_a_named_daemon_thread() -> None:
    def where() -> tuple[str, bool]:
        t = threading.current_thread()
        return t.name, t.daemon

    assert in_background(where, name="pcc-env-x").result(timeout=5) == ("pcc-env-x-0", True)


def test_work_in_flight_never_holds_up_the_exit_of_the_process() -> None:
    """What a ThreadPoolExecutor would do: its workers are joined at exit."""
    code = (
        "import time\n"
        "from pcc_env.concurrency import map_in_background\n"
        "map_in_background(lambda s: time.sleep(s), [30, 30], max_workers=2, name='t')\n"
        "time.sleep(0.1)\n"
    )
    started = time.monotonic()
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=20)
    assert time.monotonic() - started < 10
