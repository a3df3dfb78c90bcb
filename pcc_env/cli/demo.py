"""``pcc-env demo``: the whole workflow on an in-process emulator. No account, no network.

It runs the real commands (push, secrets list, export, check) in this process against a
temporary emulator, then loads the example bot's settings as the bot would, and leaves nothing
behind but the temporary directory it names. The bot and its .env ship inside the package
(``demo_bot/``; ``examples/`` of the repository links to them), so the demo runs from any
install, not only from a source checkout.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

from pcc_env.cli.output import echo, fail, handle_errors

DEMO_SET = "demo-bot-secrets"
DEMO_AGENT = "demo-bot"
DEMO_FILES = {"bot.py": "bot.py", "env.sample": ".env"}  # packaged name -> name in the workdir


@contextlib.contextmanager
def _scoped(cwd: Path, env: dict[str, str]) -> Iterator[None]:
    """chdir and set env vars for the demo; restore both afterwards."""
    old_cwd = Path.cwd()
    old_env = {k: os.environ.get(k) for k in env}
    os.chdir(cwd)
    os.environ.update(env)
    try:
        yield
    finally:
        os.chdir(old_cwd)
        for k, v in old_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _run(step: int, title: str, *args: str) -> int:
    from pcc_env.cli.app import app

    echo(f"\n[{step}] {title}")
    echo(f"$ pcc-env {' '.join(args)}", flush=True)
    try:
        result = app(list(args), standalone_mode=False, prog_name="pcc-env")
    except SystemExit as exc:  # typer.Exit inside a command
        result = exc.code
    code = int(result or 0)
    if code:
        raise fail(f"step {step} exited {code}")
    return code


def _deploy_agent(api_host: str, token: str) -> None:
    import time

    from pcc_env.client import SecretsClient

    with SecretsClient(token, api_host) as client:
        client.create_agent(DEMO_AGENT, "example/demo-bot:1", secret_set=DEMO_SET, region="us-west")
        deadline = time.monotonic() + 30
        while not (agent := client.get_agent(DEMO_AGENT)).ready:
            if time.monotonic() > deadline:
                raise fail("the demo agent did not become ready")
            time.sleep(0.1)
    echo(f"    agent '{DEMO_AGENT}' runs deployment {agent.desired_deployment_id}")


@handle_errors
def demo() -> None:
    """Run the whole workflow against an in-process emulator (no account, no network)."""
    from pcc_env.runtime import load_settings
    from pcc_env.testing import run_emulator

    packaged = resources.files("pcc_env.cli") / "demo_bot"
    workdir = Path(tempfile.mkdtemp(prefix="pcc-env-demo-"))
    echo(f"pcc-env demo: working in {workdir}")
    for source, name in DEMO_FILES.items():
        (workdir / name).write_text((packaged / source).read_text(encoding="utf-8"))
    (workdir / ".env").chmod(0o600)  # it holds (fake) values
    (workdir / "pcc-deploy.toml").write_text(
        f'agent_name = "demo-bot"\nsecret_set = "{DEMO_SET}"\nregion = "us-west"\n'
    )
    echo("    bot.py, .env (fake values) and pcc-deploy.toml are in place")

    with run_emulator(
        db=str(workdir / "emulator.sqlite3"), provision_delay=0.3, deploy_delay=0.5
    ) as emu:
        echo(f"\n[1] Start a local emulator of Pipecat Cloud (secrets, agents): {emu.api_host}")
        env = {
            "PIPECAT_API_HOST": emu.api_host,
            "PIPECAT_API_KEY": emu.token,
            "PCC_ENV_DATA_DIR": str(workdir / "state"),
        }
        with _scoped(workdir, env):
            _run(2, "Plan the push (dry run)", "push", "--dry-run")
            _run(3, "Push .env to the set (one PUT) and wait until it is ready", "push")
            _run(
                4,
                "List the set: keys only, the API never returns values",
                "secrets",
                "list",
                DEMO_SET,
            )
            _run(
                5,
                "Export an onboarding template from the set and the bot's model",
                "export",
                "--settings",
                "bot.py:BotSettings",
                "--output",
                ".env.example",
            )
            echo((workdir / ".env.example").read_text().rstrip())
            _run(
                6,
                "Preflight check, as CI would run it before deploying",
                "check",
                "--settings",
                "bot.py:BotSettings",
                "--env-file",
                ".env",
            )

            echo("\n[7] An agent is deployed with the set (as 'pipecat cloud deploy' does)")
            _deploy_agent(emu.api_host, emu.token)
            env_file = workdir / ".env"
            env_file.write_text(
                env_file.read_text().replace("OPENAI_API_KEY=", "OPENAI_API_KEY=rotated-", 1)
            )
            echo("    then a value changes in .env (a rotated key)")
            _run(8, "Push it: the running agent now has an old value", "push")
            _run(9, "Which agents are stale?", "status")
            _run(10, "Redeploy the agents that bind the set, and wait until ready", "redeploy")
            _run(11, "Every agent is current", "status")

            echo("\n[12] Load the settings as the bot does at start-up")
            from pcc_env.model_import import load_settings_class

            model = load_settings_class("bot.py:BotSettings")
            settings = load_settings(model)
            echo(f"    {model.__name__} loaded; repr shows no secret: {settings!r}")
        counts = emu.stats()["requests"]
    echo("\n[13] Requests the emulator served")
    for route, n in counts.items():
        echo(f"    {n:3d}  {route}")
    echo(f"\nDone. The emulator is stopped; only {workdir} is left behind.")
