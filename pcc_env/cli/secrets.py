"""``pcc-env secrets ...``: the seed CLI's commands, with one PUT per set and a wait for ready."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from pcc_env.cli.common import (
    ApiHost,
    JsonFlag,
    NeverAsksFlag,
    NoWaitFlag,
    OrganizationOption,
    RegionOption,
    SkipFlag,
    TimeoutOption,
    confirm_or_exit,
    make_client,
    note_organization,
    read_hidden,
)
from pcc_env.cli.completion import (
    complete_any_set,
    complete_image_pull_secret,
    complete_secret_set,
)
from pcc_env.cli.output import (
    EXIT_USAGE,
    add_error_context,
    after_write,
    fail,
    handle_errors,
    info,
    print_json,
    spinner,
    stdin_is_tty,
    success,
    table,
)
from pcc_env.errors import BadRequestError, InputError
from pcc_env.rules import (
    check_region,
    check_set_name,
    display_name,
    escape_text,
    looks_like_credential,
    parse_assignments,
    redact_name,
)

if TYPE_CHECKING:
    from pcc_env.client import SecretsClient
    from pcc_env.models import SecretSetSummary

app = typer.Typer(
    name="secrets",
    help="Manage secret sets (the 'pipecat cloud secrets' commands).",
    no_args_is_help=True,
    rich_markup_mode=None,  # as the root: plain help, whole option names at any width
)


def redeploy_hint(client: SecretsClient, name: str, written_at: float | None) -> str:
    """After a write: which agents that bind the set are now stale (none, when none binds it)."""
    from pcc_env.cli.deploy import stale_hint

    return stale_hint(client, name, None, written_at)


def wait_with_spinner(client: SecretsClient, name: str, timeout: float) -> SecretSetSummary:
    """The wait after a write (Ctrl-C says how to follow it)."""
    with after_write(name), spinner(f"Waiting for '{name}' to be ready..."):
        return client.wait_ready(name, timeout=timeout)


@app.command("set")
@handle_errors
def set_(
    name: Annotated[
        str,
        typer.Argument(
            help="Secret set name, e.g. my-secrets.", autocompletion=complete_secret_set
        ),
    ],
    pairs: Annotated[
        list[str] | None,
        typer.Argument(
            help="KEY=VALUE pairs. A bare KEY reads its value from a hidden prompt "
            "(or from stdin with --stdin).",
            show_default=False,
        ),
    ] = None,
    file: Annotated[
        Path | None, typer.Option("--file", "-f", help="Read the pairs from a .env file.")
    ] = None,
    stdin: Annotated[
        bool,
        typer.Option("--stdin", help="Read the value of each bare KEY from a line of stdin."),
    ] = False,
    region: RegionOption = None,
    no_wait: NoWaitFlag = False,
    timeout: TimeoutOption = 60.0,
    yes: NeverAsksFlag = False,
    organization: OrganizationOption = None,
    json: JsonFlag = False,
    api_host: ApiHost = None,
) -> None:
    """Create or update a secret set: all pairs in one request, then wait until it is ready.

    Values given as KEY=VALUE are visible to other local users in the process list while the
    command runs; --file, --stdin or the prompt keep them out of argv."""
    from pcc_env.dotenv_file import read_env_file, secrets_to_send

    check_set_name(name)
    note_organization(organization)
    check_region(region, source="--region")
    if pairs and file:
        raise fail("pass KEY=VALUE pairs or --file, not both", EXIT_USAGE)
    if file is not None:
        values, _ = secrets_to_send(read_env_file(file), interpolate=False)
    elif pairs:
        parsed = parse_assignments(pairs)
        bare = [n for n, (_, v) in enumerate(parsed, start=1) if v is None]
        if bare and not stdin and not stdin_is_tty():
            # `secrets set NAME KEY VALUE` would otherwise make a key named after the value.
            raise fail(
                f"argument {', '.join(map(str, bare))} has no '=': write KEY=VALUE (a value is "
                "never a separate argument), pass --stdin to read the value of a bare KEY from "
                "standard input, or run on a terminal to be prompted",
                EXIT_USAGE,
            )
        # Values typed at the prompt are checked by the client, before any request.
        values = {
            k: v if v is not None else read_hidden(f"Value for {k}", from_stdin=stdin)
            for k, v in parsed
        }
    else:
        raise fail("give KEY=VALUE pairs or --file PATH", EXIT_USAGE)
    from pcc_env.rules import record_key_problems
    from pcc_env.sync import PushState, raced_with, write_recorded

    problems = record_key_problems(values)
    if problems:
        raise InputError(problems)
    state = PushState()
    state.check_writable()
    with make_client(api_host) as client:
        with spinner(f"Sending {len(values)} secret(s) to '{name}'..."):
            used, revision = write_recorded(client, name, values, region=region, state=state)
        document = {
            "name": name,
            "region": used,
            "keys": list(values),
            "accepted": True,
            "recordedAt": revision.written_at.isoformat(),
        }
        add_error_context(**document)  # a failed wait still says the write was accepted
        if not json:
            success(f"Secret set '{name}' accepted in {used}: {', '.join(values)}")
        status = "pending"
        if not no_wait:
            ready = wait_with_spinner(client, name, timeout)
            status = ready.status
            raced_with(name, revision, ready.keys, "secrets set")
            if not json:
                success(f"Secret set '{name}' is ready.")
        hint = redeploy_hint(client, name, revision.timestamp) if not json else ""
    if json:
        print_json({**document, "status": status})
    else:
        info(hint)


def _summary_row(s: SecretSetSummary) -> list[str]:
    kind = "image pull secret" if s.type == "imagePullSecret" else "secret set"
    status = s.status + (
        f" ({s.error_message})" if s.status == "failed" and s.error_message else ""
    )
    return [s.name, kind, s.region, status]


@app.command("list")
@handle_errors
def list_(
    name: Annotated[
        str | None,
        typer.Argument(help="Show the keys of this set.", autocompletion=complete_any_set),
    ] = None,
    region: Annotated[
        str | None,
        typer.Option("--region", "-r", help="Only sets in this region.", show_default=False),
    ] = None,
    json: JsonFlag = False,
    organization: OrganizationOption = None,
    api_host: ApiHost = None,
) -> None:
    """List secret sets, or the keys of one set (never values: the API does not return them)."""
    note_organization(organization)
    check_region(region, source="--region")
    with make_client(api_host) as client:
        if name is None:
            sets = [s for s in client.list_sets() if region is None or s.region == region]
            if json:
                print_json({"sets": [s.dump() for s in sets]})
            elif not sets:
                info(f"No secret sets in '{escape_text(region)}'." if region else "No secret sets.")
            else:
                table(["name", "type", "region", "status"], [_summary_row(s) for s in sets])
            return
        try:
            detail = client.get_set(name)
        except BadRequestError:
            # The API refuses to read an image pull secret by name: say what it is instead.
            entry = next((s for s in client.list_sets() if s.name == name), None)
            if entry is None or entry.type != "imagePullSecret":
                raise
            _show_image_pull_secret(entry, json)
            return
    if region is not None and detail.region != region:
        raise fail(
            f"secret set '{name}' is in region '{detail.region}', not '{escape_text(region)}'"
        )
    if json:
        print_json({"name": name, **detail.dump()})
        return
    status: str = detail.status
    if detail.status == "failed" and detail.error_message:
        status += f" ({detail.error_message})"
    from pcc_env.revision import read_record

    table(["key"], [[k] for k in detail.keys], title=f"{name} ({detail.region}, {status})")
    record = read_record(detail.keys)
    if record.markers:
        # Shown, as the pipecat CLI shows it: a key of the set, but no secret.
        at = record.latest.shown_time if record.latest is not None else "unknown format"
        info(
            f"{', '.join(record.markers)}: pcc-env's revision record of the set (last write by "
            f"pcc-env: {at}), not a secret; pcc-env replaces it on each write."
        )


def _show_image_pull_secret(entry: SecretSetSummary, json: bool) -> None:
    if json:
        print_json(entry.dump())
        return
    table(["name", "type", "region", "status"], [_summary_row(entry)])
    info(
        f"'{entry.name}' is an image pull secret: it has no keys to list, by design (it holds "
        "registry credentials, which the API never returns)."
    )


def check_key_names(keys: list[str]) -> None:
    """Refuse, before any request, a key to remove that looks like a credential: a value pasted
    where its key's name belongs (``unset SET <value>``) would go into the DELETE URL, the
    server's logs and the 404 message."""
    pasted = [str(n) for n, key in enumerate(keys, start=1) if looks_like_credential(key)]
    if pasted:
        raise InputError(
            f"key {', '.join(pasted)} to remove looks like a credential, not a key name (not "
            "shown; nothing was sent): give the names of the keys, e.g. OPENAI_API_KEY"
        )


@app.command("unset")
@handle_errors
def unset(
    name: Annotated[
        str, typer.Argument(help="Secret set name.", autocompletion=complete_secret_set)
    ],
    keys: Annotated[list[str], typer.Argument(help="Keys to remove.")],
    yes: SkipFlag = False,
    organization: OrganizationOption = None,
    json: JsonFlag = False,
    api_host: ApiHost = None,
) -> None:
    """Remove keys from a secret set."""
    from pcc_env.rules import check_keys

    check_set_name(name)
    check_keys(keys)
    check_key_names(keys)
    note_organization(organization)
    confirm_or_exit(f"Remove {', '.join(keys)} from {display_name(name)}?", yes)
    from pcc_env.sync import PushState, write_recorded

    removed: list[str] = []
    absent: list[str] = []
    state = PushState()
    state.check_writable()
    hint = ""
    with make_client(api_host) as client:
        for key in keys:
            add_error_context(name=redact_name(name), removed=removed, absent=absent)
            if client.delete_key(name, key):
                removed.append(key)
                if not json:
                    success(f"Removed {key} from '{name}'.")
            else:
                absent.append(key)
                if not json:
                    info(f"{key} is not in '{name}' (already gone; the connection dropped once).")
        # The key list changed: a new record (covering no value) moves the set's time.
        _, revision = write_recorded(client, name, {}, state=state)
        if not json:
            hint = redeploy_hint(client, name, revision.timestamp)
    if json:
        print_json({"name": name, "removed": removed, "absent": absent})
    else:
        info(hint)


@app.command("delete")
@handle_errors
def delete(
    name: Annotated[str, typer.Argument(help="Secret set name.", autocompletion=complete_any_set)],
    yes: SkipFlag = False,
    organization: OrganizationOption = None,
    json: JsonFlag = False,
    api_host: ApiHost = None,
) -> None:
    """Delete a whole secret set."""
    check_set_name(name)
    note_organization(organization)
    confirm_or_exit(f"Delete the secret set {display_name(name)} and all its keys?", yes)
    with make_client(api_host) as client:
        deleted = client.delete_set(name)
    if json:
        print_json({"name": name, "deleted": deleted})
    elif deleted:
        success(f"Deleted the secret set '{name}'.")
    else:
        info(
            f"The secret set {display_name(name)} does not exist (already gone; the connection "
            "dropped once)."
        )


@app.command("wait")
@handle_errors
def wait(
    name: Annotated[str, typer.Argument(help="Secret set name.", autocompletion=complete_any_set)],
    timeout: TimeoutOption = 60.0,
    json: JsonFlag = False,
    api_host: ApiHost = None,
) -> None:
    """Wait until a set is ready (exit 0), or failed / timed out (exit 1). For CI."""
    check_set_name(name)
    waiting = f"Waiting for {display_name(name)} to be ready..."
    with make_client(api_host) as client, spinner(waiting):
        status = client.wait_ready(name, timeout=timeout)
    if json:
        print_json({"name": name, "region": status.region, "status": status.status})
    else:
        success(f"Secret set '{name}' is ready ({status.region}).")


@app.command("image-pull-secret")
@handle_errors
def image_pull_secret(
    name: Annotated[
        str,
        typer.Argument(
            help="Name of the image pull secret.", autocompletion=complete_image_pull_secret
        ),
    ],
    host: Annotated[str, typer.Argument(help="Registry URL, e.g. https://index.docker.io/v1/.")],
    region: RegionOption = None,
    stdin: Annotated[
        bool, typer.Option("--stdin", help="Read username:token from standard input.")
    ] = False,
    no_encode: Annotated[
        bool, typer.Option("--no-encode", help="Send the credentials as given (already base64).")
    ] = False,
    no_wait: NoWaitFlag = False,
    timeout: TimeoutOption = 60.0,
    yes: NeverAsksFlag = False,
    organization: OrganizationOption = None,
    json: JsonFlag = False,
    api_host: ApiHost = None,
) -> None:
    """Create or update an image pull secret; credentials come from a prompt or stdin."""
    check_set_name(name)
    note_organization(organization)
    check_region(region, source="--region")
    if stdin or not stdin_is_tty():
        credentials = sys.stdin.readline().rstrip("\r\n")
    else:
        user = typer.prompt(f"Username for {host}")
        credentials = f"{user}:{read_hidden(f'Access token for {host}')}"
    if not credentials:
        raise fail("no credentials given", EXIT_USAGE)
    if not no_encode and ":" not in credentials:
        raise fail("credentials must be username:token", EXIT_USAGE)
    with make_client(api_host) as client:
        resp = client.put_image_pull_secret(
            name, host, credentials, region=region, encode=not no_encode
        )
        del credentials
        document = {"name": name, "region": resp.region, "accepted": True}
        add_error_context(**document)
        if not json:
            success(f"Image pull secret '{name}' accepted in {resp.region}.")
        status = "pending"
        if not no_wait:
            status = wait_with_spinner(client, name, timeout).status
            if not json:
                success(f"Image pull secret '{name}' is ready.")
    if json:
        print_json({**document, "status": status})
