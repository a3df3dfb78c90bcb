"""Requests made side by side that never hold up the end of the command.

A ``ThreadPoolExecutor``'s workers are joined when the interpreter exits, so Ctrl-C (or any
error) in the caller still waits for every request and poll in flight, up to a minute of
waiting for ``ready``. These helpers run the work in daemon threads instead: the caller gets
its ``Future``s, and an interrupted caller ends at once. Work abandoned this way is a read, a
wait, or a write whose outcome the command then reports as unknown, as for a single write cut by
Ctrl-C.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def in_background(fn: Callable[[], R], name: str) -> Future[R]:
    """``fn()`` in one daemon thread."""
    return map_in_background(lambda _: fn(), [None], max_workers=1, name=name)[0]


def map_in_background(
    fn: Callable[[T], R], items: Sequence[T], *, max_workers: int, name: str
) -> list[Future[R]]:
    """``fn`` over ``items`` in at most ``max_workers`` daemon threads; one future per item,
    in order. An exception (any ``BaseException``) is delivered by its future."""
    futures: list[Future[R]] = [Future() for _ in items]
    queue = list(zip(items, futures, strict=True))
    queue.reverse()
    lock = threading.Lock()

    def work() -> None:
        while True:
            with lock:
                if not queue:
                    return
                item, future = queue.pop()
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn(item))
            except BaseException as exc:  # delivered to whoever reads the future
                future.set_exception(exc)

    for i in range(min(max_workers, len(items))):
        threading.Thread(target=work, name=f"{name}-{i}", daemon=True).start()
    return futures
