"""Shell completion: the ``--install-completion`` / ``--show-completion`` options, and set names
completed from the API.

A Tab that names a command, an option or a cached set name is answered by
``cli/fast_completion.py`` from ``completion_table.json`` before this app is imported; the
rest runs the whole CLI, so it must be quick and must never print anything but candidates: set
names come from one ``GET /secrets`` bounded to ``BUDGET`` seconds in total (keyring included,
through the client's deadline), are cached per API host for ``set_name_cache.CACHE_TTL``
seconds in the user cache dir (names and types only, file 0600), and any failure (no key, no
network, a slow server) completes nothing, silently. ``completion_table`` writes the table from
this app; a test keeps the two equal.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

from pcc_env.cli.set_name_cache import CACHE_VERSION, cache_file, fresh, read_cache

BUDGET = 1.0
SHELLS = ("bash", "zsh", "fish")


# Set names --------------------------------------------------------------------------------------


def cache_path() -> Path:
    return Path(cache_file())


def _write_cache(path: Path, hosts: dict[str, Any]) -> None:
    from pcc_env.dotenv_file import atomic_write_text
    from pcc_env.sync import private_dir

    private_dir(path.parent)
    text = json.dumps({"version": CACHE_VERSION, "hosts": hosts})
    atomic_write_text(path, text, mode=0o600)


def _fetch(api_host: str, budget: float) -> list[tuple[str, str]]:
    """Every set's (name, type), within ``budget`` seconds, keyring lookup included."""
    from pcc_env.client import NO_RETRIES, SecretsClient
    from pcc_env.credentials import resolve_api_key
    from pcc_env.rules import check_set_name

    started = time.monotonic()
    key = resolve_api_key(api_host, timeout=budget)
    left = budget - (time.monotonic() - started)
    if left <= 0:
        raise TimeoutError("the keyring used the whole budget")  # nothing to cache
    with (
        SecretsClient(
            api_key=key.value, api_host=api_host, timeout=left, retry=NO_RETRIES
        ) as client,
        client.deadline(left),
    ):
        sets = client.list_sets()
    names: list[tuple[str, str]] = []
    for s in sets:
        try:
            check_set_name(s.name)  # only names a shell can take as they are
        except ValueError:
            continue
        names.append((s.name, s.type))
    return names


def set_names(api_host: str | None) -> list[tuple[str, str]]:
    """The (name, type) of every set, from the cache when it is fresh, else from the API."""
    from pcc_env.credentials import resolve_api_host

    host = resolve_api_host(api_host)
    path = cache_path()
    hosts = read_cache(path)
    now = time.time()
    cached = fresh(hosts.get(host), now)
    if cached is not None:
        return cached
    names = _fetch(host, BUDGET)
    hosts = {h: e for h, e in hosts.items() if fresh(e, now) is not None}
    hosts[host] = {"at": now, "sets": [list(n) for n in names]}
    with contextlib.suppress(OSError):  # a read-only cache dir: ask the API each time
        _write_cache(path, hosts)
    return names


def _completer(*types: str) -> Callable[[typer.Context, str], list[str]]:
    def complete(ctx: typer.Context, incomplete: str) -> list[str]:
        try:
            found = set_names(ctx.params.get("api_host"))
        except Exception:  # no key, no network, a slow server: complete nothing, say nothing
            return []
        return sorted({n for n, t in found if t in types and n.startswith(incomplete)})

    complete.set_types = types  # type: ignore[attr-defined]  # read by completion_table()
    return complete


complete_secret_set = _completer("secret")
complete_image_pull_secret = _completer("imagePullSecret")
complete_any_set = _completer("secret", "imagePullSecret")


# Installing --------------------------------------------------------------------------------------


def _shell(ctx: typer.Context, flag: str) -> str:
    """The shell named after the flag (``--show-completion zsh``), else the one running us."""
    args: list[str] = getattr(ctx.find_root().command, "raw_args", [])
    after = args[args.index(flag) + 1 :] if flag in args else []
    if after:
        return after[0]
    try:
        from typer._completion_shared import _get_shell_name

        detected = _get_shell_name()
    except Exception:
        detected = None
    return detected or os.path.basename(os.environ.get("SHELL", ""))


def _check(ctx: typer.Context, shell: str) -> str:
    from pcc_env.cli.output import fail

    prog = ctx.find_root().info_name or "pcc-env"
    if " " in prog:  # run as `pipecat env`: the script must call pcc-env itself
        raise fail(
            "shell completion is for the pcc-env command: run 'pcc-env --install-completion'"
        )
    if shell not in SHELLS:
        shown = repr(shell) if shell.isalnum() and len(shell) < 20 else "this shell"
        raise fail(
            f"shell completion is available for {', '.join(SHELLS)}, not {shown}: name one, "
            "e.g. 'pcc-env --show-completion bash'",
            2,
        )
    return prog


def show_completion(ctx: typer.Context, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    from typer._completion_shared import get_completion_script

    shell = _shell(ctx, "--show-completion")
    prog = _check(ctx, shell)
    var = "_{}_COMPLETE".format(prog.replace("-", "_").upper())
    sys.stdout.write(get_completion_script(prog_name=prog, complete_var=var, shell=shell) + "\n")
    raise typer.Exit()


def install_completion(ctx: typer.Context, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    from typer._completion_shared import install

    from pcc_env.cli.output import info, success

    shell = _shell(ctx, "--install-completion")
    prog = _check(ctx, shell)
    shell, path = install(shell=shell, prog_name=prog)
    success(f"{shell} completion installed in {path}.")
    info("It takes effect in new shells (or source that file now).")
    raise typer.Exit()


# The fast path's table ---------------------------------------------------------------------------

TABLE_PATH = Path(__file__).with_name("completion_table.json")
_WIDE = 10**6  # a console width at which no help wraps


def completion_table() -> dict[str, Any]:
    """What the whole app completes, for ``cli/fast_completion.py``: per command path, its
    subcommands, options and arguments, with each candidate formatted by Typer's own zsh and
    fish classes (help text as Typer renders it, unwrapped, with the console width from which
    it stays unwrapped)."""
    import typer.main
    from rich.cells import cell_len
    from typer import rich_utils
    from typer._click.shell_completion import CompletionItem
    from typer._completion_classes import FishComplete, ZshComplete
    from typer.core import TyperArgument, TyperGroup, TyperOption

    from pcc_env.cli.app import build_app

    if rich_utils.MAX_WIDTH is not None:
        raise RuntimeError("unset TERMINAL_WIDTH to write the completion table")

    def line(value: str, help_text: str | None) -> dict[str, Any]:
        item = CompletionItem(value, help=help_text)
        saved = os.environ.pop("COLUMNS", None)
        os.environ["COLUMNS"] = str(_WIDE)
        try:
            zsh = ZshComplete.format_completion(None, item)  # type: ignore[arg-type]
            fish = FishComplete.format_completion(None, item)  # type: ignore[arg-type]
        finally:
            os.environ.pop("COLUMNS")
            if saved is not None:
                os.environ["COLUMNS"] = saved
        # The width below which rich wraps the help: its longest rendered line, in cells.
        width = max((cell_len(x) for x in (zsh + "\n" + fish).split("\n")), default=0)
        return {"value": value, "zsh": zsh, "fish": fish, "width": width if help_text else 0}

    def kind(param: Any) -> str:
        custom = param._custom_shell_complete
        if custom is not None:
            cells = [c.cell_contents for c in custom.__closure__ or ()]
            types = [getattr(c, "set_types", None) for c in cells if callable(c)]
            found = [t for t in types if t is not None]
            return "sets:" + ",".join(found[0]) if len(found) == 1 else "other"
        desc = param.type_descriptor
        return "other" if desc.is_choice or desc.is_file else "none"

    commands: dict[str, Any] = {}

    def walk(path: str, command: Any, ctx: Any) -> None:
        options, arguments = [], []
        for param in command.get_params(ctx):
            if isinstance(param, TyperOption):
                plain = param.nargs == 1
                help_option = param.name == "help"
                opts = list(param.opts)
                if help_option:  # Click builds them from a set: in the order they are declared
                    opts.sort(key=ctx.help_option_names.index)
                options.append(
                    {
                        "name": param.name,
                        "opts": opts,
                        "names": [line(n, param.help) for n in opts + param.secondary_opts],
                        "value": not (param.is_flag or param.count),
                        "multiple": param.multiple,
                        "hidden": param.hidden,
                        # An option whose callback runs while completing (--version prints).
                        "plain": plain and (param.callback is None or help_option),
                        "complete": kind(param),
                    }
                )
            elif isinstance(param, TyperArgument):
                arguments.append(
                    {"name": param.name, "nargs": param.nargs, "complete": kind(param)}
                )
            else:  # pragma: no cover - Typer makes only these two
                raise TypeError(param)
        node: dict[str, Any] = {
            "options": options,
            "arguments": arguments,
            "interspersed": command.allow_interspersed_args and not command.ignore_unknown_options,
        }
        if isinstance(command, TyperGroup):
            subs = []
            for name in command.list_commands(ctx):
                sub = command.get_command(ctx, name)
                if sub is None:
                    continue
                if not sub.hidden:
                    subs.append(line(name, sub.get_short_help_str()))
                with sub.make_context(name, [], parent=ctx, resilient_parsing=True) as sub_ctx:
                    walk(f"{path} {name}".strip(), sub, sub_ctx)
            node["commands"] = subs
        commands[path] = node

    root = typer.main.get_command(build_app())
    with root.make_context("pcc-env", [], resilient_parsing=True) as ctx:
        walk("", root, ctx)
    return {"typer": typer.__version__, "commands": commands}


def write_table() -> None:
    """``python -c 'from pcc_env.cli.completion import write_table; write_table()'``"""
    text = json.dumps(completion_table(), indent=1, ensure_ascii=False) + "\n"
    TABLE_PATH.write_text(text, encoding="utf-8")
