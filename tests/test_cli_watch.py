"""``pcc-env watch`` against the emulator: editor save styles, bursts, faults, signals."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pcc_env.emulator.server import EmulatorServer
from pcc_env.testing import run_emulator
from tests.cli_helpers import PCC_ENV, ROOT, run_cli

SET = "watch-set"


class Watch:
    def __init__(
        self,
        emu: EmulatorServer,
        directory: Path,
        *args: str,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.emu = emu
        self.dir = directory
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PIPECAT_", "PCC_ENV_"))}
        env.update(emu.env())
        env.update(
            {
                "PCC_ENV_DATA_DIR": str(directory / ".state"),
                "PYTHONPATH": str(ROOT),
                "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
                "NO_COLOR": "1",
                **(extra_env or {}),
            }
        )
        self.proc = subprocess.Popen(
            [PCC_ENV, "watch", "--set", SET, *args],
            cwd=directory,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def expect(self, pattern: str, timeout: float = 10) -> str:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no line matching {pattern!r}; seen: {self.seen}")
            try:
                line = self.lines.get(timeout=remaining)
            except queue.Empty:
                continue
            self.seen.append(line)
            if re.search(pattern, line):
                return line

    def ready(self, pattern: str = "initial sync", timeout: float = 10) -> str:
        """The initial sync is done and the file watcher is running (it starts right after)."""
        line = self.expect(pattern, timeout)
        time.sleep(0.7)
        return line

    def quiet(self, seconds: float) -> list[str]:
        """Lines printed during ``seconds`` (to prove nothing happened)."""
        end = time.monotonic() + seconds
        got = []
        while (left := end - time.monotonic()) > 0:
            try:
                got.append(self.lines.get(timeout=left))
            except queue.Empty:
                break
        self.seen += got
        return got

    def stop(self, sig: int = signal.SIGINT) -> tuple[int, str, str]:
        self.proc.send_signal(sig)
        out_tail = []
        try:
            self.proc.wait(15)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
        while not self.lines.empty():
            out_tail.append(self.lines.get())
        assert self.proc.stderr is not None
        return self.proc.returncode, "\n".join(out_tail), self.proc.stderr.read()


@pytest.fixture
def env_file(tmp_path: Path) -> Path:
    path = tmp_path / ".env"
    path.write_text("A=1\nB=2\n")
    return path


@pytest.fixture
def watch(emulator: EmulatorServer, env_file: Path) -> Iterator[Watch]:
    w = Watch(emulator, env_file.parent, "--debounce-ms", "60")
    w.ready("initial sync: \\+A \\+B")
    yield w
    if w.proc.poll() is None:
        w.stop()


def atomic_save(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp-save")
    tmp.write_text(text)
    os.replace(tmp, path)


def puts(emu: EmulatorServer) -> list[list[str]]:
    """The user keys of each PUT (the set's revision record, issue 22, left out)."""
    return _user_writes(emu, "PUT")


def deletes(emu: EmulatorServer) -> list[list[str]]:
    """The user keys of each DELETE (the replaced revision record's marker left out)."""
    return _user_writes(emu, "DELETE")


def user_keys_of(emu: EmulatorServer) -> list[str]:
    """The set's keys but its revision record (issue 22)."""
    from pcc_env.revision import user_keys

    return user_keys(emu.emulator.store.get_set(SET).keys)


def _user_writes(emu: EmulatorServer, method: str) -> list[list[str]]:
    from pcc_env.revision import user_keys

    keys = [user_keys(w["keys"]) for w in emu.stats()["writes"] if w["method"] == method]
    return [k for k in keys if k]


def test_atomic_rename_saves(watch: Watch, env_file: Path) -> None:
    for i in range(3):
        atomic_save(env_file, f"A=1\nB=v{i}\n")
        watch.expect("synced: ~B")
    assert watch.emu.check_value(SET, "B", "v2")
    assert puts(watch.emu) == [["A", "B"], ["B"], ["B"], ["B"]]


def test_truncate_then_write_with_pauses_never_pushes_partial(
    emulator: EmulatorServer, env_file: Path
) -> None:
    w = Watch(emulator, env_file.parent, "--debounce-ms", "150", "--prune", "--yes")
    w.ready()
    full = "A=1\n" + "".join(f"K{i}=new{i}\n" for i in range(10))
    with open(env_file, "w") as fh:  # truncate
        fh.flush()
        time.sleep(0.05)  # pause shorter than the debounce
        fh.write(full[: len(full) // 2])
        fh.flush()
        time.sleep(0.05)
        fh.write(full[len(full) // 2 :])
    w.expect("synced: \\+K0 .*\\+K9.*-B")
    # later events of the same save may make it look again: never another push
    assert not [line for line in w.quiet(0.5) if re.search(r"\d synced:", line)]
    code, _, _ = w.stop()
    assert code == 0
    assert puts(emulator)[1] == [f"K{i}" for i in range(10)]
    assert deletes(emulator) == [["B"]]  # only the key really removed
    assert all(emulator.check_value(SET, f"K{i}", f"new{i}") for i in range(10))


def test_vim_style_rename_to_backup(watch: Watch, env_file: Path) -> None:
    backup = env_file.with_name(".env~")
    os.rename(env_file, backup)
    env_file.write_text("A=1\nB=vim\n")
    backup.unlink()
    watch.expect("synced: ~B")
    assert watch.emu.check_value(SET, "B", "vim")


def test_delete_and_recreate(watch: Watch, env_file: Path) -> None:
    env_file.unlink()
    watch.expect("missing; waiting")
    env_file.write_text("A=1\nB=back\n")
    watch.expect("synced: ~B")
    assert watch.emu.check_value(SET, "B", "back")


def test_empty_and_unparsable_files_are_not_synced(watch: Watch, env_file: Path) -> None:
    env_file.write_text("")
    watch.expect("is empty; not syncing")
    env_file.write_text("A=1\nthis line is broken canary-w1\nB=2\n")
    line = watch.expect("not synced: .*line 2")
    assert "canary-w1" not in line
    assert puts(watch.emu) == [["A", "B"]]


def test_unchanged_saves_send_nothing(watch: Watch, env_file: Path) -> None:
    before = watch.emu.stats()["total"]
    for _ in range(3):
        env_file.write_text("A=1\nB=2\n")
        watch.expect("saved without changes: nothing sent")
    env_file.write_text("# a comment only changes nothing\nA=1\nB=2\n")
    watch.expect("saved without changes")
    assert watch.emu.stats()["total"] == before


def test_prune_off_keeps_removed_keys(watch: Watch, env_file: Path) -> None:
    env_file.write_text("A=1\n")
    watch.expect("kept on the remote: B")
    assert deletes(watch.emu) == []
    assert sorted(user_keys_of(watch.emu)) == ["A", "B"]


def test_prune_on_deletes_removed_keys(emulator: EmulatorServer, env_file: Path) -> None:
    w = Watch(emulator, env_file.parent, "--debounce-ms", "60", "--prune", "--yes")
    w.ready()
    env_file.write_text("A=1\n")
    w.expect("synced: -B")
    assert user_keys_of(emulator) == ["A"]
    w.stop()


def test_prune_without_yes_and_no_tty_exits_2(emulator: EmulatorServer, env_file: Path) -> None:
    w = Watch(emulator, env_file.parent, "--prune")
    code = w.proc.wait(20)
    assert code == 2 and emulator.stats()["total"] == 0


def test_burst_of_200_saves_converges(emulator: EmulatorServer, env_file: Path) -> None:
    w = Watch(emulator, env_file.parent, "--debounce-ms", "50", "--prune", "--yes")
    w.ready()
    for i in range(200):
        text = "A=1\n" + "".join(f"K{j}=round{i}-{j}\n" for j in range(5))
        if i % 2:
            atomic_save(env_file, text)
        else:
            env_file.write_text(text)
        time.sleep(0.01)
    final = {"A": "1", **{f"K{j}": f"round199-{j}" for j in range(5)}}
    deadline = time.monotonic() + 15
    while not all(emulator.check_value(SET, k, v) for k, v in final.items()):
        assert time.monotonic() < deadline, w.seen
        time.sleep(0.1)
    w.quiet(0.5)
    code, _, _ = w.stop()
    assert code == 0
    assert sorted(user_keys_of(emulator)) == sorted(final)
    # no request ever carried an empty or partial file: every PUT after the first holds all
    # five keys (each save changes all of them), and only B was ever deleted
    for keys in puts(emulator)[1:]:
        assert sorted(keys) == sorted(k for k in final if k != "A"), keys
    assert sorted(k for d in deletes(emulator) for k in d) == ["B"]
    assert len(puts(emulator)) < 100  # coalesced, not one per save


def test_fault_rate_converges(env_file: Path) -> None:
    with run_emulator(provision_delay=0, fault_rate=0.3, fault_seed=5) as emu:
        w = Watch(emu, env_file.parent, "--debounce-ms", "50")
        w.ready(timeout=30)
        for i in range(15):
            atomic_save(env_file, f"A=1\nB=f{i}\n")
            w.expect("synced: ~B|sync failed", timeout=30)
            time.sleep(0.1)
        deadline = time.monotonic() + 60
        while not emu.check_value(SET, "B", "f14"):
            assert time.monotonic() < deadline, w.seen
            time.sleep(0.2)
        w.stop()
        assert sum(emu.stats()["faults"].values()) > 0


def test_persistent_failure_keeps_running_and_recovers(tmp_path: Path, env_file: Path) -> None:
    first = run_emulator(provision_delay=0)
    emu = first.__enter__()
    w = Watch(emu, env_file.parent, "--debounce-ms", "50")
    w.ready()
    port, token = emu.port, emu.token
    first.__exit__(None, None, None)  # the service goes away
    atomic_save(env_file, "A=1\nB=offline\n")
    w.expect("sync failed: .*cannot reach", timeout=90)
    assert w.proc.poll() is None  # still watching
    with run_emulator(provision_delay=0, port=port, token=token) as back:
        w.expect("synced: ~B", timeout=90)  # retried after the back-off
        assert back.check_value(SET, "B", "offline")
        code, _, _ = w.stop()
    assert code == 0


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_exits_0_with_summary(watch: Watch, env_file: Path, sig: int) -> None:
    atomic_save(env_file, "A=1\nB=9\n")
    watch.expect("synced")
    code, out, err = watch.stop(sig)
    assert code == 0, err
    assert "Stopped. 2 sync(s)" in out and "Traceback" not in err


def test_no_value_in_watch_output(emulator: EmulatorServer, env_file: Path) -> None:
    canary = "canary-watch-e3f1"
    env_file.write_text(f"A={canary}\n")
    w = Watch(
        emulator, env_file.parent, "--debounce-ms", "50", extra_env={"PCC_ENV_LOG_LEVEL": "DEBUG"}
    )
    w.ready()
    atomic_save(env_file, f"A={canary}x\nBAD.KEY={canary}\n")
    w.expect("not synced")
    atomic_save(env_file, f"A={canary}y\n")
    w.expect("synced")
    code, out, err = w.stop()
    assert code == 0
    assert "DEBUG" in err  # logging was on
    assert canary not in "\n".join(w.seen) + out + err
    for path in env_file.parent.rglob("*"):
        if path.is_file() and path != env_file:
            assert canary not in path.read_text(errors="replace")


def test_force_polling(
    emulator: EmulatorServer, env_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WATCHFILES_FORCE_POLLING", "1")
    w = Watch(emulator, env_file.parent, "--debounce-ms", "50")
    w.ready()
    atomic_save(env_file, "A=1\nB=polled\n")
    w.expect("synced: ~B")
    assert emulator.check_value(SET, "B", "polled")
    code, _, _ = w.stop()
    assert code == 0


# Guards of push, applied to every sync (issue 10, items 10, 11 and 15) -----------------------


def test_prune_never_follows_a_replaced_file(emulator: EmulatorServer, env_file: Path) -> None:
    w = Watch(emulator, env_file.parent, "--debounce-ms", "50", "--prune", "--yes")
    w.ready()
    atomic_save(env_file, "UNRELATED=1\n")
    line = w.expect("not synced: .*would delete 2 of the 2 keys")
    assert "push --prune" in line
    w.quiet(2.5)  # past the deletion quiet period: still nothing deleted
    code, _, _ = w.stop()
    assert code == 0
    assert deletes(emulator) == [] and puts(emulator) == [["A", "B"]]
    assert sorted(user_keys_of(emulator)) == ["A", "B"]


@pytest.mark.parametrize("skip_empty", [False, True])
def test_a_blanked_file_is_never_synced(
    emulator: EmulatorServer, env_file: Path, skip_empty: bool
) -> None:
    extra = ["--skip-empty"] if skip_empty else []
    w = Watch(emulator, env_file.parent, "--debounce-ms", "50", "--prune", "--yes", *extra)
    w.ready()
    atomic_save(env_file, "A=\nB=\n")  # cp .env.example .env
    w.expect("every value is empty" if skip_empty else "not synced: .*empty values")
    w.stop()
    assert deletes(emulator) == [] and puts(emulator) == [["A", "B"]]
    assert emulator.check_value(SET, "A", "1") and emulator.check_value(SET, "B", "2")


def test_slow_writer_never_puts_a_truncated_value_or_a_spurious_delete(
    emulator: EmulatorServer, env_file: Path
) -> None:
    w = Watch(emulator, env_file.parent, "--debounce-ms", "60", "--prune", "--yes")
    w.ready()
    writer = (
        "{ printf 'A=sk-full-'; sleep .6; printf 'value-2\\n'; sleep .6; printf 'B=3\\n'; } > .env"
    )
    subprocess.run(["bash", "-c", writer], cwd=env_file.parent, check=True)
    w.expect("synced: ~A ~B", timeout=15)
    w.quiet(2.5)
    code, _, _ = w.stop()
    assert code == 0
    assert deletes(emulator) == []
    assert puts(emulator) == [["A", "B"], ["A", "B"]]  # one sync, with the whole file
    assert emulator.check_value(SET, "A", "sk-full-value-2") and emulator.check_value(SET, "B", "3")


def test_an_unwritable_data_dir_stops_watch_before_any_write(
    emulator: EmulatorServer, env_file: Path
) -> None:
    blocker = env_file.parent / "not-a-dir"
    blocker.write_text("")
    w = Watch(emulator, env_file.parent, extra_env={"PCC_ENV_DATA_DIR": str(blocker / "state")})
    code = w.proc.wait(20)
    assert w.proc.stderr is not None
    err = w.proc.stderr.read()
    assert code == 2, err
    assert "PCC_ENV_DATA_DIR" in err and "Traceback" not in err
    assert emulator.stats()["total"] == 0


def test_debounce_carries_its_unit_and_the_old_name_is_hidden() -> None:
    r = run_cli("watch", "--help", env={"COLUMNS": "120"})
    assert r.code == 0 and "--debounce-ms" in r.stdout
    assert "--debounce " not in r.stdout and "--debounce\n" not in r.stdout
