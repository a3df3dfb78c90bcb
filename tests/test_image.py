"""The settings module reaches the agent's image (issue 21, item 3): the Dockerfile and
.dockerignore read as the build reads them (``pcc_env.image``), one fixture per pattern found in
real Pipecat projects; ``init`` planning and applying the Dockerfile edit and the pcc-env
dependency; ``check`` failing, naming the Dockerfile line, with and without the API."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pcc_env import __version__
from pcc_env.deploy_config import parse_toml
from pcc_env.emulator.server import EmulatorServer
from pcc_env.image import (
    add_to_requirements,
    check_image,
    dependency_edit,
    import_closure,
    landings,
    parse_dockerfile,
    parse_dockerignore,
    parse_instructions,
    ship_edit,
    shipping,
)
from tests.cli_helpers import Result, run_cli

FILES = ["bot.py", "settings.py"]
REQ = f"pcc-env>={__version__}"

# The shape `pipecat init` scaffolds (and pipecat-examples use): bot.py alone, no final newline.
PIPECAT_INIT = """\
FROM dailyco/pipecat-base:latest

# Enable bytecode compilation
ENV UV_COMPILE_BYTECODE=1

# Install the project's dependencies using the lockfile and settings
RUN --mount=type=cache,target=/root/.cache/uv \\
    --mount=type=bind,source=uv.lock,target=uv.lock \\
    --mount=type=bind,source=pyproject.toml,target=pyproject.toml \\
    uv sync --locked --no-install-project --no-dev

# Copy the application code
COPY ./bot.py bot.py"""


def ship(dockerfile: str, ignore: str | None = None, module: str = "settings.py", files=FILES):  # type: ignore[no-untyped-def]
    return shipping(parse_dockerfile(dockerfile), parse_dockerignore(ignore), module, files)


# Patterns -------------------------------------------------------------------------------------


def test_pipecat_init_copies_bot_py_alone_and_the_edit_adds_one_line_after_it() -> None:
    s = ship(PIPECAT_INIT)
    assert (s.verdict, s.line, s.where) == ("missing", 13, "Dockerfile:13")
    assert "copies bot.py alone" in s.reason
    edit = ship_edit(PIPECAT_INIT, None, "settings.py", FILES)
    assert edit is not None and edit.dockerignore is None
    assert edit.new_line == "COPY ./settings.py settings.py" and edit.after_line == 13
    assert edit.dockerfile == PIPECAT_INIT + "\nCOPY ./settings.py settings.py\n"
    assert ship(edit.dockerfile).verdict == "shipped"
    assert ship_edit(edit.dockerfile, None, "settings.py", FILES) is None  # nothing more to do


def test_a_renamed_entry_point_is_the_agent() -> None:
    # simple-chatbot: the file copied as bot.py is bot-openai.py; the other stays commented out.
    text = (
        "FROM base\nCOPY ./assets assets\n# COPY ./bot-gemini.py bot.py\n"
        "COPY ./bot-openai.py bot.py\n"
    )
    files = ["bot-openai.py", "bot-gemini.py", "settings.py"]
    s = ship(text, files=files)
    assert (s.verdict, s.line) == ("missing", 4) and "bot-openai.py" in s.reason
    edit = ship_edit(text, None, "settings.py", files)
    assert edit is not None and edit.dockerfile == text + "COPY ./settings.py settings.py\n"


def test_copy_dot_with_a_dockerignore() -> None:
    text = "FROM python:3.12-slim\nWORKDIR /app\nCOPY . .\nCMD python bot.py\n"
    ignore = "# local files\n.env\n.venv/\n**/__pycache__\n*.pyc\n"
    assert ship(text, ignore).verdict == "shipped"
    assert ship(text).verdict == "shipped"
    assert landings(parse_dockerfile(text), parse_dockerignore(ignore), "lib/x.py")[0].path == (
        "/app/lib/x.py"
    )
    # excluded by a pattern: the fix is an exception in .dockerignore, not a COPY line
    s = ship(text, "settings.py\n")
    assert (s.verdict, s.excluded_by) == ("missing", 1)
    allow = "*\n!bot.py\n!pyproject.toml\n"  # an allowlist: everything else stays out
    s = ship(text, allow)
    assert s.verdict == "missing" and ".dockerignore:1 keeps settings.py out" in s.reason
    edit = ship_edit(text, allow, "settings.py", FILES)
    assert edit is not None and edit.dockerfile is None
    assert edit.dockerignore is not None and edit.dockerignore.startswith(allow)
    assert edit.dockerignore.endswith("\n!settings.py\n")
    assert ship(text, edit.dockerignore).verdict == "shipped"


def test_dockerignore_rules() -> None:
    ignore = parse_dockerignore("# c\n\n  /build  \n**/*.log\n*.py\n!bot.py\n!\n")
    assert ignore.excluded_by("build/x.py") is not None  # a folder holds it
    assert ignore.excluded_by("a/b/c.log") is not None
    assert ignore.excluded_by("settings.py") is not None
    assert ignore.excluded_by("bot.py") is None  # the exception wins: it comes last
    assert ignore.excluded_by("lib/mod.py") is None  # *.py is one level only
    assert parse_dockerignore(None).excluded_by("x") is None


def test_copy_a_glob() -> None:
    assert ship("FROM x\nWORKDIR /app\nCOPY *.py ./\n").verdict == "shipped"
    text = "FROM x\nWORKDIR /app\nCOPY requirements*.txt ./\nCOPY bot*.py ./\n"
    s = ship(text)
    assert (s.verdict, s.line) == ("missing", 4)
    edit = ship_edit(text, None, "settings.py", FILES)
    assert edit is not None and edit.new_line == "COPY settings.py ./"


def test_multi_stage_builds() -> None:
    # the builder gets the whole context, the final stage takes its folder
    whole = (
        "FROM python:3.12 AS builder\nWORKDIR /app\nCOPY . .\nRUN pip install .\n"
        "FROM dailyco/pipecat-base\nCOPY --from=builder /app /app\n"
    )
    assert ship(whole).verdict == "shipped"
    # the builder copies bot.py alone: the edit goes into the builder, the folder carries it
    alone = whole.replace("COPY . .", "COPY bot.py ./")
    s = ship(alone)
    assert (s.verdict, s.line) == ("missing", 3)
    edit = ship_edit(alone, None, "settings.py", FILES)
    assert edit is not None and edit.after_line == 3 and edit.new_line == "COPY settings.py ./"
    # the final stage takes bot.py alone from the builder: two lines to change, named, no edit
    picked = alone.replace("COPY --from=builder /app /app", "COPY --from=builder /app/bot.py /app/")
    s = ship(picked)
    assert s.verdict == "missing" and "Dockerfile:6 carries it into the final stage" in s.reason
    assert ship_edit(picked, None, "settings.py", FILES) is None
    # --from another image, or a stage only ARGs name: not the context
    other = "FROM x\nCOPY --from=ghcr.io/acme/tools:1 /app /app\nCOPY bot.py /app/\n"
    assert ship(other).verdict == "missing"
    # a stage FROM an earlier stage inherits its files
    based = "FROM python:3.12 AS base\nWORKDIR /app\nCOPY . .\nFROM base\nRUN true\n"
    assert ship(based).verdict == "shipped"


def test_add_and_urls() -> None:
    text = "FROM x\nADD https://example.com/settings.py /app/\nADD bot.py /app/bot.py\n"
    s = ship(text)
    assert (s.verdict, s.line) == ("missing", 3)  # a URL is not the project's file
    edit = ship_edit(text, None, "settings.py", FILES)
    assert edit is not None and edit.new_line == "COPY settings.py /app/settings.py"


def test_json_form_and_flags_and_continuations() -> None:
    text = 'FROM x\nWORKDIR /app\nCOPY --chown=app:app ["bot.py", "/app/"]\n'
    edit = ship_edit(text, None, "settings.py", FILES)
    assert edit is not None and edit.new_line == 'COPY --chown=app:app ["settings.py", "/app/"]'
    split = (
        "FROM x\nCOPY --chown=1000:1000 --chmod=644 --link \\\n"
        "  # a comment inside the instruction\n\n  bot.py \\\n  utils.py \\\n  /app/\nCMD x\n"
    )
    (ins,) = [i for i in parse_instructions(split) if i.keyword == "COPY"]
    assert (ins.line, ins.end_line) == (2, 7)
    edit = ship_edit(split, None, "settings.py", ["bot.py", "utils.py", "settings.py"])
    assert edit is not None and edit.after_line == 7
    assert edit.new_line == "COPY --chown=1000:1000 --chmod=644 --link settings.py /app/"
    assert edit.dockerfile is not None
    assert edit.dockerfile.splitlines()[7:9] == [edit.new_line, "CMD x"]


def test_escape_directive_heredocs_and_variables() -> None:
    backtick = "# escape=`\nFROM x\nCOPY bot.py `\n  /app/\n"
    assert ship(backtick).line == 3
    heredoc = "FROM x\nCOPY <<EOF /app/notes.txt\nCOPY settings.py /app/\nEOF\nCOPY bot.py /app/\n"
    assert ship(heredoc).verdict == "missing"  # the body is no instruction
    args = "ARG APP=/srv\nFROM x\nARG APP\nENV DIR=${APP}/bot\nCOPY bot.py settings.py $DIR/\n"
    assert ship(args).verdict == "shipped"
    unknown = "FROM x\nCOPY bot.py ${SOMEWHERE}/\n"
    s = ship(unknown)
    assert s.verdict == "unknown" and "cannot tell" in s.reason
    assert ship_edit(unknown, None, "settings.py", FILES) is None
    edit = ship_edit("FROM x\nARG APP=/app\nCOPY bot.py ${APP}/\n", None, "settings.py", FILES)
    assert edit is not None and edit.new_line == "COPY settings.py ${APP}/"  # as written


def test_exclude_flag_nested_bots_and_a_module_above_the_entry_point() -> None:
    assert ship("FROM x\nCOPY --exclude=settings.py *.py ./\n").verdict == "missing"
    # COPY . . with a second bot.py deeper down: the one at the WORKDIR is the agent
    nested = ["examples/bot.py", "bot.py", "settings.py"]
    s = ship("FROM x\nWORKDIR /app\nCOPY . .\n", files=nested)
    assert s.verdict == "shipped" and s.expected == "/app/settings.py"
    # bot.py in src/, the module at the root: no COPY line can put it beside bot.py
    text = "FROM x\nWORKDIR /app\nCOPY src/ .\n"
    s = ship(text, files=["src/bot.py", "settings.py"])
    assert s.verdict == "missing" and s.line == 3
    assert ship_edit(text, None, "settings.py", ["src/bot.py", "settings.py"]) is None


def test_no_entry_point_means_cannot_tell() -> None:
    s = ship("FROM node\nCOPY package.json ./\n")
    assert s.verdict == "unknown" and s.line is None


def test_what_the_settings_module_imports() -> None:
    files = ["settings.py", "config/__init__.py", "config/defaults.py", "bot.py", "extra.py"]
    sources = {
        "settings.py": (
            "from pcc_env import SecretSettings\nfrom config import defaults\n"
            "try:\n    import extra\nexcept ImportError:\n    extra = None\n"
        ),
        "config/__init__.py": "",
        "config/defaults.py": "from . import __name__ as _n\nimport os\n",
    }
    assert import_closure("settings.py", files, sources.get) == [
        "settings.py",
        "config/__init__.py",
        "config/defaults.py",
    ]
    text = "FROM x\nCOPY bot.py settings.py ./\n"
    (failed, *rest) = check_image(text, None, "settings.py", files, sources.get)
    assert not failed.ok and not rest[0].ok
    assert "config/__init__.py would not reach the image" in failed.message
    assert "Dockerfile:2" in failed.message and "imported by the settings module" in failed.message
    ok = check_image("FROM x\nCOPY . .\n", None, "settings.py", files, sources.get)
    assert [c.ok for c in ok] == [True] and "2 project module(s)" in ok[0].message


# Dependencies ---------------------------------------------------------------------------------


def parse(text: str) -> dict[str, object]:
    return parse_toml(text, Path("pyproject.toml"))


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (
            '[project]\ndependencies = [\n    "pipecat-ai[daily]",\n    "pipecat-ai-cli"\n]\n',
            f'[project]\ndependencies = [\n    "pipecat-ai[daily]",\n    "pipecat-ai-cli",\n'
            f'    "{REQ}",\n]\n',
        ),
        (
            '[project]\ndependencies = ["a", "b"]  # c\n',
            f'[project]\ndependencies = ["a", "b", "{REQ}"]  # c\n',
        ),
        ("[project]\ndependencies = []\n", f'[project]\ndependencies = ["{REQ}"]\n'),
        (
            '[project]\ndependencies = [\n  "a", # not ] the end\n  "b",  # last\n]\n[tool.x]\n',
            f'[project]\ndependencies = [\n  "a", # not ] the end\n  "b",  # last\n'
            f'  "{REQ}",\n]\n[tool.x]\n',
        ),
        (
            '[project]\nname = "x"\n\n[tool.uv]\n',
            f'[project]\ndependencies = ["{REQ}"]\nname = "x"\n\n[tool.uv]\n',
        ),
    ],
)
def test_pcc_env_is_added_to_pyproject_as_text(before: str, after: str) -> None:
    edit = dependency_edit(before, None, None, REQ, parse)
    assert (edit.status, edit.file, edit.text) == ("add", "pyproject.toml", after)


def test_pcc_env_is_never_duplicated_and_requirements_are_used_when_the_image_installs_them() -> (
    None
):
    for spec in ("pcc-env", "PCC_Env[dev]>=0.1", "pcc.env ; python_version>'3'"):
        present = dependency_edit(
            f"[project]\ndependencies = [{json.dumps(spec)}]\n", None, None, REQ, parse
        )
        assert present.status == "present" and present.text is None
    assert add_to_requirements("pipecat-ai\npcc_env==0.1  # pinned\n", REQ).status == "present"
    assert add_to_requirements("a==1", REQ).text == f"a==1\n{REQ}\n"
    assert add_to_requirements("a==1 --hash=sha256:00\n", REQ).status == "manual"
    dockerfile = "FROM x\nCOPY requirements.txt .\nRUN pip install -r requirements.txt\n"
    both = dependency_edit("[project]\ndependencies = []\n", "a\n", dockerfile, REQ, parse)
    assert (both.file, both.text) == ("requirements.txt", f"a\n{REQ}\n")
    assert dependency_edit("[project]\ndependencies = []\n", "a\n", None, REQ, parse).file == (
        "pyproject.toml"
    )
    dynamic = dependency_edit('[project]\ndynamic = ["dependencies"]\n', None, None, REQ, parse)
    assert dynamic.status == "manual"
    assert dependency_edit(None, None, None, REQ, parse).status == "manual"


# init and check end to end --------------------------------------------------------------------

CANARY = "sk-CANARY-image-7f3a9c"
BOT = 'import os\n\nkey = os.environ["OPENAI_API_KEY"]\nlevel = os.getenv("LOG_LEVEL", "INFO")\n'
PYPROJECT = (
    '[project]\nname = "bot"\nversion = "0.1.0"\ndependencies = [\n    "pipecat-ai[daily]",\n]\n'
)


def pipecat_project(root: Path) -> Path:
    root.mkdir()
    (root / "bot.py").write_text(BOT)
    (root / "pyproject.toml").write_text(PYPROJECT)
    (root / "uv.lock").write_text("version = 1\n")
    (root / "Dockerfile").write_text(PIPECAT_INIT)
    (root / ".env").write_text(f"OPENAI_API_KEY={CANARY}\n")
    return root


def run(root: Path, *args: str, emu: EmulatorServer | None = None) -> Result:
    env = {"PCC_ENV_DATA_DIR": str(root / ".state")}
    if emu is not None:
        env |= {"PIPECAT_API_HOST": emu.api_host, "PIPECAT_API_KEY": emu.token}
    r = run_cli(*args, cwd=root, env=env)
    assert CANARY not in r.output
    return r


def test_init_plans_and_writes_the_dockerfile_line_and_the_dependency(tmp_path: Path) -> None:
    root = pipecat_project(tmp_path / "bot")
    r = run(root, "init", "--dry-run")
    assert r.code == 0, r.output
    plan = r.stdout.split("Plan:\n", 1)[1]
    assert "update     Dockerfile       add 'COPY ./settings.py settings.py' after line 13" in plan
    assert f"[project] dependencies += {REQ}" in plan
    assert "Dockerfile:13 (COPY ./bot.py bot.py) copies bot.py alone" in r.stderr
    assert "run 'uv lock'" in r.stderr
    assert (root / "Dockerfile").read_text() == PIPECAT_INIT  # a dry run writes nothing

    data = json.loads(run(root, "init", "--dry-run", "--json").stdout)
    assert data["image"]["line"] == 13 and data["image"]["ships"] is False
    assert data["image"]["edit"] == {
        "afterLine": 13,
        "add": "COPY ./settings.py settings.py",
        "dockerignore": False,
    }
    assert data["dependency"] == {
        "file": "pyproject.toml",
        "status": "add",
        "summary": f"[project] dependencies += {REQ}",
    }
    assert {"path": "Dockerfile", "action": "update"}.items() <= data["changes"][-1].items()

    r = run(root, "init", "--yes")
    assert r.code == 0, r.output
    assert "Dockerfile" in r.stdout and "Run 'uv lock' now" in r.stderr
    assert (root / "Dockerfile").read_text() == PIPECAT_INIT + "\nCOPY ./settings.py settings.py\n"
    pyproject = (root / "pyproject.toml").read_text()
    assert pyproject.startswith(PYPROJECT.replace(']",\n]', f']",\n    "{REQ}",\n]'))
    assert pyproject.count("pcc-env>=") == 1
    for name in ("Dockerfile", "pyproject.toml", "settings.py"):
        assert CANARY not in (root / name).read_text()

    r = run(root, "check", "--offline")
    assert r.code == 0, r.output
    assert "ok   Dockerfile ships the settings module settings.py beside bot.py" in r.stdout


def test_init_leaves_an_existing_requirement_and_edits_requirements_txt(tmp_path: Path) -> None:
    root = tmp_path / "bot"
    root.mkdir()
    (root / "bot.py").write_text(BOT)
    (root / "requirements.txt").write_text("pipecat-ai[daily]\nPCC_ENV>=0.1\n")
    (root / "Dockerfile").write_text(
        "FROM dailyco/pipecat-base\nCOPY requirements.txt .\nRUN pip install -r requirements.txt\n"
        "COPY *.py ./\n"
    )
    data = json.loads(run(root, "init", "--dry-run", "--json").stdout)
    assert data["image"]["ships"] is True and data["image"]["edit"] is None
    assert data["dependency"]["status"] == "present"
    assert [c["path"] for c in data["changes"]] == [
        "settings.py",
        ".env.example",
        ".gitignore",
        "pyproject.toml",
    ]
    (root / "requirements.txt").write_text("pipecat-ai[daily]")
    data = json.loads(run(root, "init", "--dry-run", "--json").stdout)
    assert data["changes"][-1] == {
        "path": "requirements.txt",
        "action": "append",
        "summary": REQ,
    }
    assert run(root, "init", "--yes").code == 0
    assert (root / "requirements.txt").read_text() == f"pipecat-ai[daily]\n{REQ}\n"


def test_init_never_writes_a_dockerfile_edited_since_the_plan(tmp_path: Path) -> None:
    from pcc_env.errors import ConfigError
    from pcc_env.project_init import apply_init, plan_init
    from pcc_env.scan import scan_project

    root = pipecat_project(tmp_path / "bot")
    plan = plan_init(root, scan_project(root), ["OPENAI_API_KEY"])
    (root / "Dockerfile").write_text(PIPECAT_INIT + "\n# edited meanwhile\n")
    with pytest.raises(ConfigError, match="Dockerfile changed since the plan"):
        apply_init(plan)
    assert not (root / "settings.py").exists()


def test_check_fails_naming_the_dockerfile_line_offline_and_online(
    tmp_path: Path, emulator: EmulatorServer
) -> None:
    root = pipecat_project(tmp_path / "bot")
    assert run(root, "init", "--yes").code == 0
    (root / "Dockerfile").write_text(PIPECAT_INIT)  # the edit reverted
    r = run(root, "check", "--offline")
    assert r.code == 1, r.output
    (line,) = [ln for ln in r.stdout.splitlines() if ln.startswith("FAIL")]
    assert "Dockerfile:13 (COPY ./bot.py bot.py) copies bot.py alone" in line
    assert "fix: add 'COPY ./settings.py settings.py' after line 13" in line
    assert "All checks passed" not in r.output and "not checked" in r.stdout

    (root / "pcc-deploy.toml").write_text('agent_name = "bot"\nsecret_set = "img-secrets"\n')
    assert run(root, "push", "--yes", emu=emulator).code == 0
    r = run(root, "check", "--json", emu=emulator)
    assert r.code == 1, r.output
    image = [f for f in json.loads(r.stdout)["findings"] if f["check"] == "image"]
    assert [f["ok"] for f in image] == [False] and "Dockerfile:13" in image[0]["message"]

    # a project module the settings module imports, left out of the image
    (root / "Dockerfile").write_text(PIPECAT_INIT + "\nCOPY ./settings.py settings.py\n")
    (root / "defaults.py").write_text("MODEL = 'gpt-4o'\n")
    settings = (root / "settings.py").read_text()
    (root / "settings.py").write_text("import defaults  # noqa: F401\n" + settings)
    r = run(root, "check", "--offline")
    assert r.code == 1 and "defaults.py would not reach the image" in r.stdout
    assert run(root, "check", emu=emulator).code == 1
    (root / "Dockerfile").write_text(PIPECAT_INIT.replace("COPY ./bot.py bot.py", "COPY *.py ./"))
    assert run(root, "check", "--offline").code == 0
    assert run(root, "check", emu=emulator).code == 0


def test_an_unreadable_dockerfile_is_a_note_and_a_hostile_one_is_escaped(tmp_path: Path) -> None:
    root = pipecat_project(tmp_path / "bot")
    (root / "Dockerfile").unlink()
    (root / "Dockerfile").mkdir()  # not a file: init still plans, and says so
    r = run(root, "init", "--dry-run")
    assert r.code == 0, r.output
    assert "not read (not a regular UTF-8 file): Dockerfile" in r.stderr
    (root / "Dockerfile").rmdir()
    (root / "Dockerfile").write_text("FROM x\nCOPY ./bot.py bot.py \x1b[2J\x1b]0;pwned\x07\n")
    r = run(root, "init", "--dry-run")
    assert r.code == 0, r.output
    assert "\x1b" not in r.output and "\x07" not in r.output
    assert "Dockerfile:2 (COPY ./bot.py bot.py \\x1b[2J" in r.stderr
