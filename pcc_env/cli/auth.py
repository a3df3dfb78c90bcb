"""``pcc-env login / logout / whoami``: the API key in the OS keyring."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from pcc_env.cli.common import ApiHost, JsonFlag, read_hidden
from pcc_env.cli.output import (
    fail,
    handle_errors,
    info,
    print_json,
    stdin_is_tty,
    success,
    table,
    warn,
)
from pcc_env.credentials import (
    API_KEY_ENV,
    check_keyring_storable,
    delete_api_key,
    resolve_api_host,
    resolve_api_key,
    store_api_key,
)
from pcc_env.errors import UnauthorizedError


@handle_errors
def login(
    stdin: Annotated[
        bool, typer.Option("--stdin", help="Read the key from standard input.")
    ] = False,
    api_host: ApiHost = None,
    json: JsonFlag = False,
) -> None:
    """Store a Pipecat Cloud private API key in the OS keyring, after checking it works.

    The key is read from a hidden prompt, or from standard input (never from the command line).
    Keyring backends that keep the key in plain text (keyrings.alt's files) or not at all are
    refused: set PIPECAT_API_KEY instead.
    """
    import os

    from pcc_env.client import SecretsClient

    host = resolve_api_host(api_host)
    check_keyring_storable()  # before asking: a plain-text or null backend is refused
    if os.environ.get(API_KEY_ENV):
        warn(
            f"{API_KEY_ENV} is set in this environment: commands use it before the key stored "
            f"by login. Unset it to use the stored key."
        )
    if stdin or not stdin_is_tty():
        key = sys.stdin.read().strip() if sys.stdin is not None else ""
        if not key:
            why = "" if stdin else "standard input is not a terminal, so the key is read from it: "
            raise fail(
                f"no API key given ({why}nothing on standard input). Pipe the key in: "
                "echo \"$KEY\" | pcc-env login --stdin; or run 'pcc-env login' in a terminal "
                "to type it at a hidden prompt.",
                2,
            )
    else:
        key = read_hidden(f"Private API key for {host}").strip()
    if not key:
        raise fail("no API key given", 2)
    with SecretsClient(api_key=key, api_host=host) as client:
        try:
            client.list_sets()
        except UnauthorizedError:
            raise fail(
                f"{host} refused this API key; nothing was stored.", kind="UnauthorizedError"
            ) from None
    store_api_key(host, key)
    if json:
        print_json(
            {"apiHost": host, "stored": True, "envKeySet": bool(os.environ.get(API_KEY_ENV))}
        )
    else:
        success(f"Logged in to {host}: the key is in the OS keyring.")


@handle_errors
def logout(api_host: ApiHost = None, json: JsonFlag = False) -> None:
    """Remove the stored API key for the API host from the OS keyring."""
    import os

    host = resolve_api_host(api_host)
    removed = delete_api_key(host)
    env_set = bool(os.environ.get(API_KEY_ENV))
    if json:
        print_json({"apiHost": host, "removed": removed, "envKeySet": env_set})
        return
    if removed:
        success(f"Removed the API key for {host} from the OS keyring.")
    else:
        info(f"No API key for {host} was stored in the OS keyring.")
    if env_set:
        info(f"{API_KEY_ENV} is still set in this environment and will be used.")


@handle_errors
def whoami(api_host: ApiHost = None, json: JsonFlag = False) -> None:
    """Show the API host, where the key comes from (masked), and whether it is accepted."""
    from pcc_env.client import SecretsClient

    host = resolve_api_host(api_host)
    key = resolve_api_key(host)
    with SecretsClient(api_key=key.value, api_host=host) as client:
        try:
            client.list_sets()
            accepted = True
        except UnauthorizedError:
            accepted = False
    source = {"env": API_KEY_ENV, "keyring": "OS keyring", "argument": "argument"}[key.source]
    if json:
        print_json(
            {"apiHost": host, "keySource": key.source, "key": key.masked, "accepted": accepted}
        )
    else:
        table(
            ["API host", "key from", "key", "accepted"],
            [[host, source, key.masked, "yes" if accepted else "no"]],
        )
    if not accepted:
        raise typer.Exit(1)
