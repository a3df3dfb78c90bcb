"""``pcc-env run -- COMMAND``: a local run with the environment Pipecat Cloud would mount.

The .env values are read exactly as ``push`` sends them (same files, same guards, literal), the
settings model is checked before anything starts, and the child gets the values through its
environment only, never its argv. Its stdout and stderr are pumped through ``StreamMasker`` so
that secret values reach neither the terminal nor a coding agent's transcript. pcc-env stays
the child's parent: signals are forwarded and the child's exit code is returned.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from pcc_env import targets
from pcc_env.cli import user_environ
from pcc_env.cli.common import AllowReservedFlag, NoInterpolateFlag, SkipEmptyFlag, TargetOption
from pcc_env.cli.output import EXIT_USAGE, fail, handle_errors, info, warn
from pcc_env.cli.project import SettingsOption, resolve_model, resolve_targets
from pcc_env.errors import SettingsError
from pcc_env.rules import show_key
from pcc_env.run import StreamMasker, child_environment, values_to_mask

if TYPE_CHECKING:
    from pydantic_settings import BaseSettings

# Forwarded to the child. SIGINT and SIGQUIT come from the keyboard too: then the terminal has
# sent them to the child already (see ``_terminal_sent_it``).
FORWARDED = tuple(
    getattr(signal, name)
    for name in ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2")
    if hasattr(signal, name)
)
FROM_KEYBOARD = {getattr(signal, n) for n in ("SIGINT", "SIGQUIT") if hasattr(signal, n)}
EXIT_NOT_FOUND, EXIT_CANNOT_RUN = 127, 126  # as shells report them
CHUNK = 64 * 1024


@handle_errors
def run(
    command: Annotated[
        list[str],
        typer.Argument(
            help="The command to run and its arguments (put them after --).",
            show_default=False,
            metavar="COMMAND",
        ),
    ],
    target: TargetOption = None,
    env_file: Annotated[
        Path | None,
        typer.Option("--env-file", help="The .env file. Default: the target's files, else .env."),
    ] = None,
    settings: SettingsOption = None,
    no_masking: Annotated[
        bool, typer.Option("--no-masking", help="Pass the command's output through unmasked.")
    ] = False,
    skip_empty: SkipEmptyFlag = False,
    no_interpolate: NoInterpolateFlag = False,
    allow_reserved: AllowReservedFlag = False,
) -> None:
    """Run a command with the .env values in its environment, secrets masked in its output."""
    (chosen,) = resolve_targets(
        target, env_file=env_file, settings=settings, need_set=False, on_shared="ignore"
    )
    model, _ = resolve_model(chosen.settings)
    optional = _optional_names(model)
    values, skipped = targets.read_env_files(
        chosen.env_files,
        interpolate=not no_interpolate,
        skip_empty=skip_empty,
        empty_ok=lambda: optional,
    )
    targets.check_reserved(values, allow=allow_reserved)
    # An empty value of a field with a default is unset, as the model reads it: the command
    # does not get it (a bot's os.getenv("LOG_LEVEL", "INFO") would see "", not the default).
    defaults = [k for k in skipped if not skip_empty and (k in optional or k.upper() in optional)]
    skipped = [k for k in skipped if k not in defaults]
    if skipped:
        warn(f"left out keys with empty values: {', '.join(skipped)}")
    if defaults:
        info(f"empty, so unset (their defaults apply): {', '.join(map(show_key, defaults))}")
    env = child_environment(user_environ(), values, model)
    loaded = None
    if model is not None:
        from pcc_env.runtime import load_settings

        try:
            loaded = load_settings(model, env_file=None, environ=env)
        except SettingsError as exc:
            raise fail(f"{exc} The command was not started.", EXIT_USAGE) from None
    masks = [] if no_masking else values_to_mask(values, env, model, loaded)
    del values, loaded
    raise typer.Exit(supervise(command, env, masks))


def _optional_names(model: type[BaseSettings] | None) -> set[str]:
    from pcc_env.runtime import optional_env_names

    return optional_env_names(model) if model is not None else set()


def supervise(argv: Sequence[str], env: dict[str, str], masks: Sequence[str]) -> int:
    """Run ``argv`` with ``env``; its output masked when there is anything to mask. Returns
    its exit code, 128+N when signal N ended it (as shells do)."""
    proc: subprocess.Popen[bytes] | None = None
    early: list[int] = []

    def forward(signum: int, _frame: Any = None) -> None:
        if proc is None:
            early.append(signum)
        elif not (signum in FROM_KEYBOARD and _terminal_sent_it() and _in_our_group(proc.pid)):
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signum)

    sys.stdout.flush()
    sys.stderr.flush()
    previous = {sig: signal.signal(sig, forward) for sig in FORWARDED}
    try:
        with _output_channels(bool(masks)) as channels:
            try:
                proc = subprocess.Popen(
                    list(argv),
                    env=env,
                    stdout=channels[0].child_end,
                    stderr=(channels[1] if len(channels) > 1 else channels[0]).child_end,
                )
            except FileNotFoundError:
                raise fail("cannot start the command: not found", EXIT_NOT_FOUND) from None
            except OSError as exc:
                raise fail(
                    f"cannot start the command ({errno.errorcode.get(exc.errno or 0, 'error')})",
                    EXIT_CANNOT_RUN,
                ) from None
            for sig in early:
                forward(sig)
            pumps = [c.start(StreamMasker(masks)) for c in channels if c.parent_end is not None]
            code = proc.wait()
        # The child is gone: Ctrl-C is ours again while a process it left behind still holds
        # its output open (the pumps end when every writer has closed it).
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        previous = {}
        for pump in pumps:
            pump.join()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 128 - code if code < 0 else code


def _terminal_sent_it() -> bool:
    """True when we (and so the child, which shares our process group) are in the foreground
    of a terminal: a key press there signals the whole group, and forwarding it would deliver
    Ctrl-C twice. ``kill -INT`` aimed at pcc-env alone from elsewhere is then not forwarded."""
    try:
        fd = os.open("/dev/tty", os.O_RDONLY | os.O_NOCTTY)
    except OSError:
        return False
    try:
        return os.tcgetpgrp(fd) == os.getpgrp()
    except OSError:
        return False
    finally:
        os.close(fd)


def _in_our_group(pid: int) -> bool:
    """Whether the child is still in our process group, where a key press reaches it too. A
    command that made a group of its own (``setpgrp``, as process managers do) gets Ctrl-C only
    through us."""
    try:
        return os.getpgid(pid) == os.getpgrp()
    except OSError:  # already gone: nothing to send
        return True


class _Channel:
    """One output stream of the child (stdout or stderr) and where it ends up.

    Unmasked: the child writes to our own descriptor. Masked: through a pipe, or a
    pseudo-terminal when ours is a terminal (the child keeps its colours and line buffering),
    read by a pump thread that writes the masked bytes to our descriptor.
    """

    def __init__(self, fd: int, masked: bool) -> None:
        self.fd = fd
        self.parent_end: int | None = None
        self.child_end: int | None = None
        if not masked:
            return
        if os.isatty(fd):
            import pty
            import termios

            self.parent_end, self.child_end = pty.openpty()
            attrs = termios.tcgetattr(self.child_end)
            attrs[1] &= ~termios.OPOST  # "\n" stays "\n": a multi-line value still matches
            termios.tcsetattr(self.child_end, termios.TCSANOW, attrs)
            with contextlib.suppress(OSError):  # the child sees our window size
                import fcntl

                size = fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8)
                fcntl.ioctl(self.child_end, termios.TIOCSWINSZ, size)
        else:
            self.parent_end, self.child_end = os.pipe()
        os.set_inheritable(self.parent_end, False)

    def start(self, masker: StreamMasker) -> threading.Thread:
        # Our copy of the child's end must close, or the pump would never see end of stream.
        if self.child_end is not None:
            os.close(self.child_end)
            self.child_end = None
        thread = threading.Thread(target=self._pump, args=(masker,), daemon=True)
        thread.start()
        return thread

    def _pump(self, masker: StreamMasker) -> None:
        assert self.parent_end is not None
        writable = True
        while True:
            try:
                data = os.read(self.parent_end, CHUNK)
            except OSError as exc:
                if exc.errno == errno.EINTR:
                    continue
                data = b""  # EIO: a pseudo-terminal whose every writer has closed it
            shown = masker.feed(data) if data else masker.close()
            if writable and shown:
                writable = _write_all(self.fd, shown)
                if not writable:
                    # Our reader is gone (`| head`): so is the child's, as with a plain pipe.
                    break
            if not data:
                break
        os.close(self.parent_end)
        self.parent_end = None

    def close(self) -> None:
        for fd in (self.parent_end, self.child_end):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)


def _write_all(fd: int, data: bytes) -> bool:
    view = memoryview(data)
    while view:
        try:
            written = os.write(fd, view)
        except InterruptedError:
            continue
        except OSError:  # EPIPE and friends: nobody reads our output any more
            return False
        view = view[written:]
    return True


def _same_destination(a: int, b: int) -> bool:
    """Whether two of our descriptors lead to one file, pipe or terminal (``2>&1``, a shell in
    a terminal): the command's stdout and stderr are then one stream to mask."""
    try:
        sa, sb = os.fstat(a), os.fstat(b)
    except OSError:
        return False
    return (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)


@contextlib.contextmanager
def _output_channels(masked: bool) -> Iterator[tuple[_Channel, ...]]:
    """One channel per destination. When stdout and stderr lead to the same place, the child
    gets one pipe (or terminal) for both and one masker sees their bytes in the order written:
    a value written half to each is masked whole, as the merged output would show it."""
    if masked and _same_destination(1, 2):
        channels: tuple[_Channel, ...] = (_Channel(1, masked),)
    else:
        channels = (_Channel(1, masked), _Channel(2, masked))
    try:
        yield channels
    finally:
        for c in channels:
            if c.child_end is not None:
                c.close()
