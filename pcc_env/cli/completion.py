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
