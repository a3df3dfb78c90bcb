"""Write the table ``cli/fast_completion.py`` answers Tab from (``completion_table.json``): the
whole app's commands and options, read from the Typer app itself. A development step (run after
a command or option changes; tests/test_completion_fast.py keeps the table equal to the app),
apart from ``completion`` because it imports the whole app, which imports ``completion``."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

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
    """``python -c 'from pcc_env.cli.completion_gen import write_table; write_table()'``"""
    text = json.dumps(completion_table(), indent=1, ensure_ascii=False) + "\n"
    TABLE_PATH.write_text(text, encoding="utf-8")
