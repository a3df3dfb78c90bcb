"""``pcc-env export``: the onboarding template (env.example), every key and never a value.

Apart from push and check so that each command imports only its own code at start-up.
"""

from __future__ import annotations

import stat
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from pcc_env.cli.common import ApiHost, DeployFileOption, SetOption, TargetOption, make_client
from pcc_env.cli.output import echo, fail, handle_errors, info, print_json, styled, success
from pcc_env.cli.project import SettingsOption, resolve_model, resolve_targets
from pcc_env.errors import ConfigError
from pcc_env.rules import display_name

if TYPE_CHECKING:
    from pcc_env.client import SecretsClient
    from pcc_env.dotenv_file import TemplateEntry


@handle_errors
def export(
    set_name: SetOption = None,
    settings: SettingsOption = None,
    output: Annotated[
        Path | None,
        # No -o: that is --organization in `pcc-env secrets`, as in the pipecat CLI.
        typer.Option("--output", help="Write to this file (updated in place)."),
    ] = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Regenerate the --output file instead of updating it in place."
        ),
    ] = False,
    offline: Annotated[
        bool,
        typer.Option(
            "--offline",
            help="Write the template from the settings model alone; do not ask the API for "
            "the set's keys (also what happens when there is no API key).",
        ),
    ] = False,
    target: TargetOption = None,
    deploy_file: DeployFileOption = None,
    json: Annotated[
        bool,
        typer.Option(
            "--json",
            help="Print JSON: the keys, and the output file or the template (never a value).",
        ),
    ] = False,
    api_host: ApiHost = None,
    check: Annotated[
        bool,
        typer.Option(
            "--check",
            help="Write nothing: exit 1 when the --output file (default: the project's "
            "env.example or .env.example) lacks keys of the model or the set, or lists keys no "
            "longer in them (pre-commit, CI).",
        ),
    ] = False,
) -> None:
    """Write an onboarding template (env.example / .env.example): every key, never a value."""
    from pcc_env.dotenv_file import (
        TEMPLATE_ADVICE,
        atomic_write_text,
        find_template,
        read_template,
        render_template,
        update_template,
    )
    from pcc_env.sync import fetch_remote, template_entries

    (chosen,) = resolve_targets(
        target,
        set_name=set_name,
        deploy_file=deploy_file,
        settings=settings,
        need_set=False,
        on_shared="warn",
    )
    model, ref = resolve_model(chosen.settings)
    # A target with several regions: the template holds the keys of all its sets.
    set_names = [s.set_name for s in chosen.sets]
    set_label = ", ".join(set_names)
    if not set_names and model is None:
        raise ConfigError(
            "nothing to export: name a secret set (--set or pcc-deploy.toml) and/or a settings "
            "model (--settings or [tool.pcc-env] settings)"
        )
    # An existing --output file is checked before anything is fetched: a file with values, a FIFO or
    # a directory is refused with no request sent.
    if offline and model is None:
        raise ConfigError(
            "--offline writes the template from the settings model alone: name one "
            "(--settings or [tool.pcc-env] settings)"
        )
    if check and output is None:
        output = find_template(Path.cwd()).relative_to(Path.cwd())
    current = read_template(output) if output is not None and output.exists() else None
    client = None
    if set_names and not offline:
        client = _client_or_none(api_host) if model is not None else make_client(api_host)
    remote_keys: list[str] | None = None
    if client is not None:
        remote_keys = []
        with client:
            for name in set_names:
                remote = fetch_remote(client, name)
                if remote is None:
                    # --offline needs a model: suggested only when there is one to follow it.
                    offline_hint = (
                        "; --offline writes the settings model's template alone"
                        if model is not None
                        else ""
                    )
                    raise fail(
                        f"secret set {display_name(name)} does not exist. 'pcc-env secrets list' "
                        "shows the "
                        f"sets{offline_hint}.",
                        kind="NotFoundError",
                    )
                remote_keys += [k for k in remote.keys if k not in remote_keys]
    elif set_names:
        why = "--offline" if offline else "no API key"
        info(
            f"{why}: the keys of secret set '{set_label}' were not included; the template "
            f"comes from settings {ref} alone."
            + ("" if offline else " Run 'pcc-env login' (or set PIPECAT_API_KEY) to include them.")
        )
    entries = template_entries(model, remote_keys, set_label or None)
    sources = []
    if remote_keys is not None:
        sources.append(f"secret set '{set_label}'")
    if model is not None:
        sources.append(f"settings {ref}")
    header = [
        "Onboarding template written by 'pcc-env export'",
        "from " + " and ".join(sources) + ".",
        TEMPLATE_ADVICE,
    ]
    document: dict[str, Any] = {
        "sets": set_names,
        "setKeysIncluded": remote_keys is not None,
        "settings": ref,
        "keys": [e.key for e in entries],
        "output": str(output) if output is not None else None,
    }
    if check and output is not None:
        mark_gone = remote_keys is not None or not set_names
        _check_template(
            output, current, entries, mark_gone, " and ".join(sources), document if json else None
        )
        return
    if output is None:
        if json:
            print_json({**document, "template": render_template(entries, header)})
        else:
            print(render_template(entries, header), end="")
        return
    if current is not None:
        text = (
            render_template(entries, header)
            if force
            # Without the set's keys, a key missing from the entries may still be in the set.
            else update_template(
                current, entries, mark_gone=remote_keys is not None or not set_names
            )
        )
        if text == current:
            if json:
                print_json({**document, "written": False})
            else:
                info(f"{output} is up to date.")
            return
        mode = stat.S_IMODE(output.stat().st_mode)  # keep the mode the user chose
    else:
        text = render_template(entries, header)
        mode = 0o644  # a template holds no value and is meant to be committed
    atomic_write_text(output, text, mode=mode)
    if json:
        print_json({**document, "written": True})
    else:
        success(f"Wrote {output} ({len(entries)} keys).")


def _check_template(
    output: Path,
    current: str | None,
    entries: list[TemplateEntry],
    mark_gone: bool,
    sources: str,
    document: dict[str, Any] | None = None,
) -> None:
    """``export --check``: the diff by key name, exit 1 when the template is stale. With a
    ``document`` (--json), that document with the diff instead of lines."""
    from pcc_env.dotenv_file import template_drift

    if current is None:
        add, gone = [e.key for e in entries], list[str]()
    else:
        add, gone = template_drift(current, entries, mark_gone=mark_gone)
    if document is not None:
        stale = {"exists": current is not None, "upToDate": not add and not gone}
        print_json({**document, **stale, "toAdd": add, "gone": gone})
        if add or gone:
            raise typer.Exit(1)
        return
    if current is None:
        echo(f"{output} does not exist; it would list {len(add)} key(s) from {sources}:")
    else:
        if not add and not gone:
            info(f"{output} is up to date with {sources}.")
            return
        echo(f"{output} is stale against {sources}:")
    for key in add:
        styled(f"  + {key} (to add)", "green")
    for key in gone:
        styled(f"  - {key} (no longer in the set or the model)", "red")
    info(f"Update it: pcc-env export --output {output}")
    raise typer.Exit(1)


def _client_or_none(api_host: str | None) -> SecretsClient | None:
    """A client, or None when there is no API key to make one with (``export`` then writes
    the model's template alone). A key that is present but unusable is still an error."""
    from pcc_env.errors import KeyringError, NoApiKeyError

    try:
        return make_client(api_host)
    except (NoApiKeyError, KeyringError):
        return None
