"""A flag means the same thing in every command; the pipecat CLI's `secrets` flags work here.

Issue 11 item 8. The scheme: ``-s`` is ``--skip`` (= ``--yes``) and ``-o`` is ``--organization``,
both only in ``pcc-env secrets`` (as in the pipecat CLI); ``--set`` and ``export --output`` have
no short form; every other short flag names one long option everywhere.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

from pcc_env.emulator.server import EmulatorServer
from tests.cli_helpers import command_tree, run_against, write_requests

cli = run_against


writes = write_requests


def option_flags() -> list[tuple[str, str, list[str]]]:
    """(command path, primary long flag, short flags) for every option of every command."""
    rows = []
    for path, _, params in command_tree():
        for param in params:
            names = [*param.opts, *param.secondary_opts]
            longs = [n for n in names if n.startswith("--")]
            shorts = [n for n in names if n.startswith("-") and not n.startswith("--")]
            if longs:
                rows.append((path, longs[0], shorts))
    return rows


def test_each_short_flag_names_the_same_long_flag_in_every_command() -> None:
    meaning: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for path, long, shorts in option_flags():
        for short in shorts:
            meaning[short][long].append(path or "(root)")
    clashes = {short: dict(longs) for short, longs in meaning.items() if len(longs) > 1}
    assert not clashes, clashes
    # The flags this scheme is about, and that the walk did see them.
    assert set(meaning["-s"]) == {"--yes"} and set(meaning["-y"]) == {"--yes"}
    assert set(meaning["-o"]) == {"--organization"}
    assert set(meaning["-r"]) == {"--region"} and set(meaning["-t"]) == {"--target"}
    assert set(meaning["-h"]) == {"--help"} and set(meaning["-V"]) == {"--version"}


def test_a_long_flag_has_the_same_short_forms_everywhere() -> None:
    """``--yes`` is ``-y`` everywhere; only ``pcc-env secrets`` adds the pipecat CLI's ``-s``."""
    forms: dict[str, set[tuple[str, ...]]] = defaultdict(set)
    for path, long, shorts in option_flags():
        pipecat_parity = {"-s"} if path.startswith("secrets ") and long == "--yes" else set()
        forms[long].add(tuple(sorted(set(shorts) - pipecat_parity)))
    assert {long: f for long, f in forms.items() if len(f) > 1} == {}


def test_pipecat_only_short_flags_live_in_secrets_alone() -> None:
    for path, long, shorts in option_flags():
        if "-s" in shorts or "-o" in shorts:
            assert path.startswith("secrets "), (path, long)
        if long == "--set":
            assert shorts == [], path
    # The pipecat CLI's spelling is accepted wherever its secrets commands have it.
    by_command = defaultdict(set)
    for path, long, shorts in option_flags():
        by_command[path].update([long, *shorts])
    for name in ("set", "unset", "delete", "image-pull-secret"):
        assert {"-s", "-o", "--organization"} <= by_command[f"secrets {name}"], name
    assert {"-o", "-r", "--region"} <= by_command["secrets list"]


def test_pipecat_cli_flags_work_in_secrets(emulator: EmulatorServer, tmp_path: Path) -> None:
    # pipecat cloud secrets set my-set K=v -s -o ORG --region us-east
    r = cli(emulator, tmp_path, "secrets", "set", "pc-set", "A=1", "B=2", "-s", "-o", "acme-org")
    assert r.code == 0, r.output
    assert "--organization is ignored: the private API key already selects" in r.stderr
    assert "acme-org" not in r.output  # an argument's text is never repeated
    # Without a terminal, --skip / -s stand for --yes: no confirmation needed.
    r = cli(emulator, tmp_path, "secrets", "unset", "pc-set", "B", "-s")
    assert r.code == 0, r.output
    r = cli(emulator, tmp_path, "secrets", "delete", "pc-set", "--skip", "--organization", "x")
    assert r.code == 0, r.output
    assert "Deleted the secret set 'pc-set'" in r.stdout
    assert cli(emulator, tmp_path, "secrets", "list", "pc-set").code == 1


def test_secrets_list_region_filters(emulator: EmulatorServer, tmp_path: Path) -> None:
    for name, region in (("west-set", "us-west"), ("east-set", "us-east")):
        r = cli(emulator, tmp_path, "secrets", "set", name, "A=1", "-r", region, "--no-wait")
        assert r.code == 0, r.output
    r = cli(emulator, tmp_path, "secrets", "list", "-r", "us-east", "--json")
    assert r.code == 0, r.output
    assert [s["name"] for s in json.loads(r.stdout)["sets"]] == ["east-set"]
    r = cli(emulator, tmp_path, "secrets", "list", "--region", "eu-central")
    assert r.code == 0 and "No secret sets in 'eu-central'." in r.stderr
    r = cli(emulator, tmp_path, "secrets", "list", "west-set", "-r", "us-east")
    assert r.code == 1
    assert "secret set 'west-set' is in region 'us-west', not 'us-east'" in r.stderr
    assert cli(emulator, tmp_path, "secrets", "list", "west-set", "-r", "us-west").code == 0


def test_old_short_flags_are_usage_errors_naming_the_long_one(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    (tmp_path / ".env").write_text("A=1\n")
    before = writes(emulator)
    r = cli(emulator, tmp_path, "push", "-s", "my-set")
    assert r.code == 2, r.output
    assert "no such option '-s'" in r.stderr
    assert "the secret set is --set (no short form); -s is --skip in 'pcc-env secrets'" in r.stderr
    r = cli(emulator, tmp_path, "status", "-s", "my-set")
    assert r.code == 2 and "the secret set is --set" in r.stderr
    r = cli(emulator, tmp_path, "export", "--set", "my-set", "-o", "t.env")
    assert r.code == 2 and "write the file with --output" in r.stderr
    assert not (tmp_path / "t.env").exists()
    assert writes(emulator) == before
