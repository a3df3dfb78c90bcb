"""A Tab answered before the Typer app is imported: commands, options and cached set names.

Every Tab runs ``pcc-env`` with ``_PCC_ENV_COMPLETE`` set (the scripts of ``--show-completion``:
``complete_bash`` with ``COMP_WORDS``/``COMP_CWORD``, ``complete_zsh``/``complete_fish`` with
``_TYPER_COMPLETE_ARGS``). Importing the app (Typer, rich, httpx, every command module) costs
about 20 interpreter starts; this module reads ``completion_table.json`` (written from the app
by ``completion_gen.write_table``, kept equal to it by tests/test_completion_fast.py) and follows
Click's completion rules on it. Whatever it is not sure to answer as the app would (a set
name not cached, a value of another kind, ``--``, an unknown word, a help text that Typer would
wrap at this width) returns None, and the app answers, as before.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

COMPLETE_VAR = "_PCC_ENV_COMPLETE"
# pathlib is not imported: it loads urllib.parse and ipaddress, a tenth of a Tab's budget.
_TABLE = os.path.join(os.path.dirname(__file__), "completion_table.json")
_SHELLS = ("bash", "zsh", "fish")
_DEFAULT_API_HOST = "https://api.pipecat.daily.co"  # credentials.DEFAULT_API_HOST (a test checks)


class _Unsure(Exception):
    """The app must answer this one."""


def answer(environ: Mapping[str, str]) -> tuple[str, int] | None:
    """What to print and the exit status, or None when the app must answer."""
    instruction, _, shell = environ.get(COMPLETE_VAR, "").partition("_")
    if instruction != "complete" or shell not in _SHELLS:
        return None  # `source_bash` and the like: the app prints the script
    try:
        args, incomplete = _words(shell, environ)
        with open(_TABLE, encoding="utf-8") as f:
            table = json.loads(f.read())["commands"]
        items = _complete(table, args, incomplete, environ)
        return _format(shell, items, environ)
    except (_Unsure, OSError, ValueError, KeyError, IndexError):
        return None


def _split(text: str) -> list[str]:
    """Click's ``split_arg_string``: shlex, keeping an unfinished last word as it is."""
    import shlex

    lex = shlex.shlex(text, posix=True)
    lex.whitespace_split = True
    lex.commenters = ""
    out: list[str] = []
    try:
        out.extend(lex)
    except ValueError:
        out.append(lex.token)
    return out


def _words(shell: str, environ: Mapping[str, str]) -> tuple[list[str], str]:
    """The complete words after the program name, and the word being completed."""
    if shell == "bash":
        words = _split(environ["COMP_WORDS"])
        cword = int(environ["COMP_CWORD"])
        if cword < 1:
            raise _Unsure
        return words[1:cword], words[cword] if cword < len(words) else ""
    line = environ.get("_TYPER_COMPLETE_ARGS", "")
    args = _split(line)[1:]
    if args and not line.endswith(" "):
        return args[:-1], args[-1]
    return args, ""


def _option(node: dict[str, Any], word: str) -> dict[str, Any]:
    for option in node["options"]:
        if word in option["opts"] or any(n["value"] == word for n in option["names"]):
            return option  # type: ignore[no-any-return]
    raise _Unsure  # an unknown option, or -abc: Click's parser decides


def _complete(
    table: dict[str, Any], args: list[str], incomplete: str, environ: Mapping[str, str]
) -> list[dict[str, Any]]:
    """The candidates, as the app's Click context would find them (shell_completion.py)."""
    if "--" in args:
        raise _Unsure
    path = ""
    node = table[path]
    given: dict[str, str | None] = {}  # option name -> its value, at this command's level
    positionals = 0
    i = 0
    while i < len(args):
        word = args[i]
        if word.startswith("-") and word != "-" and (node["interspersed"] or not positionals):
            name, eq, value = word.partition("=")
            option = _option(node, name if eq else word)
            if not option["plain"] or (eq and not option["value"]):
                raise _Unsure  # a callback runs while completing, or Click's parser decides
            if option["value"] and not eq:
                if i + 1 == len(args):  # `--set <Tab>`
                    if incomplete.startswith("-") or incomplete == "=":
                        raise _Unsure  # Click lists options here, with --set half-parsed
                    return _sets(option, given, incomplete, environ)
                value = args[i + 1]
                if value.startswith("-"):
                    raise _Unsure
                i += 1
            given[option["name"]] = value if option["value"] else None
        elif "commands" in node:
            path = f"{path} {word}".strip()
            if path not in table or word not in [c["value"] for c in node["commands"]]:
                raise _Unsure  # an unknown or hidden command
            node, given, positionals = table[path], {}, 0
        else:
            if not node["interspersed"]:
                raise _Unsure  # `run`: the rest is the child's
            positionals += 1
        i += 1
    if incomplete == "=":
        incomplete = ""
    elif "=" in incomplete and incomplete.startswith("-"):
        name, _, incomplete = incomplete.partition("=")
        option = _option(node, name)
        if option["value"] and name in option["opts"]:
            return _sets(option, given, incomplete, environ)
        raise _Unsure
    if incomplete.startswith("-"):
        return _commands(node, given, incomplete)
    # The first argument without a value completes it.
    for filled, argument in enumerate(node["arguments"]):
        if argument["nargs"] == -1 or filled >= positionals:
            return _sets(argument, given, incomplete, environ)
        if argument["nargs"] != 1:
            raise _Unsure
    return _commands(node, given, incomplete)


def _commands(node: dict[str, Any], given: dict[str, str | None], incomplete: str) -> list[Any]:
    """A command's shell_complete: subcommands, then (for '-...') the options not given."""
    items = [c for c in node.get("commands", []) if c["value"].startswith(incomplete)]
    if incomplete and not incomplete[0].isalnum():
        for option in node["options"]:
            if option["hidden"] or (not option["multiple"] and option["name"] in given):
                continue
            items += [n for n in option["names"] if n["value"].startswith(incomplete)]
    return items


def _sets(
    param: dict[str, Any],
    given: dict[str, str | None],
    incomplete: str,
    environ: Mapping[str, str],
) -> list[dict[str, Any]]:
    """A parameter's values: none for a plain one, set names from a fresh cache."""
    kind: str = param["complete"]
    if kind == "none":
        return []
    if not kind.startswith("sets:"):
        raise _Unsure
    import time

    from pcc_env.cli.set_name_cache import cache_file, fresh, read_cache, simple_host

    raw = given.get("api_host") or environ.get("PIPECAT_API_HOST") or _DEFAULT_API_HOST
    host = simple_host(raw)
    if host is None:  # the app's rules, with their imports
        from pcc_env.credentials import resolve_api_host
        from pcc_env.errors import ConfigError

        try:
            host = resolve_api_host(given.get("api_host"))
        except ConfigError:
            return []  # the app's completer completes nothing for an unusable host, too
    names = fresh(read_cache(cache_file()).get(host), time.time())
    if names is None:
        raise _Unsure  # not cached: the app asks the API, within its 1 s budget
    types = kind.removeprefix("sets:").split(",")
    found = sorted({n for n, t in names if t in types and n.startswith(incomplete)})
    return [{"value": n, "zsh": f'"{_zsh_escape(n)}"', "fish": n, "width": 0} for n in found]


def _zsh_escape(s: str) -> str:
    return (
        s.replace('"', '""')
        .replace("'", "''")
        .replace("$", "\\$")
        .replace("`", "\\`")
        .replace(":", r"\\:")
    )


def _width(environ: Mapping[str, str]) -> int:
    """The console width rich gives Typer's help texts (rich's Console.size)."""
    if environ.get("TERMINAL_WIDTH") is not None or environ.get("TERM") in ("dumb", "unknown"):
        raise _Unsure
    width = 0
    for fd in (0, 1, 2):
        try:
            width = os.get_terminal_size(fd).columns
        except (AttributeError, ValueError, OSError):
            continue
        break
    columns = environ.get("COLUMNS")
    if columns is not None and columns.isdigit():
        if not int(columns):
            raise _Unsure  # rich keeps a width of 0 as it is
        width = int(columns)
    return width or 80


def _format(shell: str, items: list[dict[str, Any]], environ: Mapping[str, str]) -> tuple[str, int]:
    """Typer's output for the shell (typer/_completion_classes.py), echoed with a newline."""
    if shell == "bash":
        return "".join(f"{item['value']}\n" for item in items) or "\n", 0
    if any(item["width"] for item in items) and _width(environ) < max(i["width"] for i in items):
        raise _Unsure  # rich would wrap a help text: the app prints it as it does
    if shell == "zsh":
        if not items:
            return "_files\n", 0
        return "_arguments '*: :((" + "\n".join(item["zsh"] for item in items) + "))'\n", 0
    action = environ.get("_TYPER_COMPLETE_FISH_ACTION", "")
    if action == "get-args":
        return "".join(f"{item['fish']}\n" for item in items) or "\n", 0
    if action == "is-args":
        return "", 0 if items else 1
    return "\n", 0
