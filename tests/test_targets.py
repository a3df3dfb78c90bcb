"""Targets: reading [tool.pcc-env.targets], resolving them into sets, and multi-set pushes."""

from __future__ import annotations

from pathlib import Path

import pytest

from pcc_env.client import SecretsClient
from pcc_env.deploy_config import read_project_settings
from pcc_env.emulator.server import EmulatorServer
from pcc_env.errors import ConfigError, DotenvError, InputError
from pcc_env.rules import reserved_keys
from pcc_env.sync import PushState
from pcc_env.targets import (
    SetTarget,
    all_targets,
    apply_many,
    check_reserved,
    key_gaps,
    plan_many,
    read_env_files,
    resolve_target,
)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PCC_ENV_TARGET", raising=False)
    monkeypatch.delenv("PIPECAT_DEPLOY_CONFIG_PATH", raising=False)
    return tmp_path


def write_pyproject(root: Path, body: str) -> None:
    (root / "pyproject.toml").write_text('[project]\nname = "bot"\n\n' + body)


def test_no_targets_works_as_before(project: Path) -> None:
    (project / "pcc-deploy.toml").write_text('secret_set = "bot-secrets"\nregion = "us-east"\n')
    target = resolve_target(read_project_settings())
    assert target.name is None
    assert target.sets == (SetTarget("bot-secrets", "us-east"),)
    assert target.env_files == (Path(".env"),)
    flags = resolve_target(read_project_settings(), set_name="other", region="eu-central")
    assert flags.sets == (SetTarget("other", "eu-central"),)


def test_targets_with_fan_out_files_and_settings(project: Path) -> None:
    (project / "pcc-deploy.toml").write_text('secret_set = "bot"\nregion = "us-west"\n')
    (project / "pcc-deploy.staging.toml").write_text('secret_set = "bot-stg"\nregion = "us-east"\n')
    write_pyproject(
        project,
        """[tool.pcc-env]
settings = "bot:Settings"

[tool.pcc-env.targets.prod]
regions = ["us-west", "us-east", "eu-central"]
env_files = [".env", ".env.prod"]

[tool.pcc-env.targets.staging]
deploy_file = "pcc-deploy.staging.toml"
settings = "bot:StagingSettings"

[tool.pcc-env.targets.eu]
set = "bot-{region}-v2"
region = "eu-central"
""",
    )
    project_settings = read_project_settings()
    prod = resolve_target(project_settings, "prod")
    assert [s.set_name for s in prod.sets] == ["bot-us-west", "bot-us-east", "bot-eu-central"]
    assert [s.region for s in prod.sets] == ["us-west", "us-east", "eu-central"]
    assert prod.env_files == (Path(".env"), Path(".env.prod"))
    assert prod.settings == "bot:Settings"
    assert resolve_target(project_settings, "prod", region="us-east").sets == (
        SetTarget("bot-us-east", "us-east"),
    )
    with pytest.raises(ConfigError, match="no region 'ap-south'"):
        resolve_target(project_settings, "prod", region="ap-south")
    staging = resolve_target(project_settings, "staging")
    assert staging.sets == (SetTarget("bot-stg", "us-east"),)
    assert staging.settings == "bot:StagingSettings"
    assert staging.deploy_file == Path("pcc-deploy.staging.toml")
    eu = resolve_target(project_settings, "eu")
    assert eu.sets == (SetTarget("bot-eu-central-v2", "eu-central"),)
    assert [t.name for t in all_targets(project_settings)] == ["eu", "prod", "staging"]
    with pytest.raises(ConfigError, match=r"no target 'qa'.*eu, prod, staging"):
        resolve_target(project_settings, "qa")


def test_pcc_env_target_and_deploy_config_path(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (project / "deploy-a.toml").write_text('secret_set = "from-env-path"\nregion = "ap-south"\n')
    monkeypatch.setenv("PIPECAT_DEPLOY_CONFIG_PATH", "deploy-a.toml")
    plain = resolve_target(read_project_settings())
    assert plain.sets == (SetTarget("from-env-path", "ap-south"),)
    write_pyproject(project, '[tool.pcc-env.targets.x]\nset = "x-set"\nregion = "us-east"\n')
    monkeypatch.setenv("PCC_ENV_TARGET", "x")
    assert resolve_target(read_project_settings()).sets == (SetTarget("x-set", "us-east"),)
    monkeypatch.setenv("PIPECAT_DEPLOY_CONFIG_PATH", "missing.toml")
    monkeypatch.delenv("PCC_ENV_TARGET")
    with pytest.raises(ConfigError, match=r"missing\.toml: file not found"):
        resolve_target(read_project_settings())


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('[tool.pcc-env.targets.a]\nsett = "x"\n', r"unknown key\(s\) 'sett'"),
        ('[tool.pcc-env]\nsetings = "x"\n', r"\[tool.pcc-env\] has unknown key\(s\) 'setings'"),
        ('[tool.pcc-env.targets.a]\nregions = "us-west"\n', "regions must be a non-empty list"),
        ("[tool.pcc-env.targets.a]\nregion = 3\n", "region must be a non-empty string"),
        (
            '[tool.pcc-env.targets.a]\nregion = "us-west"\nregions = ["us-east"]\n',
            "both 'region' and 'regions'",
        ),
        (
            '[tool.pcc-env.targets.a]\nset = "same"\nregions = ["us-west", "us-east"]\n',
            r"must contain \{region\}",
        ),
        ('[tool.pcc-env.targets.a]\nset = "x-{env}"\n', r"only the placeholder \{region\}"),
        ('[tool.pcc-env.targets.a]\nenv_files = [".env", ".env"]\n', "same entry twice"),
        ("[tool.pcc-env]\ntargets = 3\n", "must be a table of tables"),
        ('[tool.pcc-env.targets."a b"]\nset = "x"\n', "target name 'a b'"),
    ],
)
def test_bad_target_tables_name_the_key_and_file(project: Path, table: str, message: str) -> None:
    write_pyproject(project, table)
    with pytest.raises(ConfigError, match=message) as info:
        read_project_settings()
    assert "pyproject.toml" in str(info.value)


def test_bad_set_names_and_missing_sources(project: Path) -> None:
    write_pyproject(
        project,
        '[tool.pcc-env.targets.bad]\nset = "Bad_Name"\n\n'
        '[tool.pcc-env.targets.nodeploy]\nregions = ["us-west", "us-east"]\n\n'
        '[tool.pcc-env.targets.noregion]\nset = "x-{region}"\n',
    )
    settings = read_project_settings()
    with pytest.raises(ConfigError, match=r"target 'bad'.*lowercase"):
        resolve_target(settings, "bad")
    with pytest.raises(ConfigError, match="no deploy file names secret_set"):
        resolve_target(settings, "nodeploy")
    with pytest.raises(ConfigError, match=r"uses {region} but no region"):
        resolve_target(settings, "noregion")


def test_env_files_merge_in_order_and_keep_push_guards(project: Path) -> None:
    (project / ".env").write_text("A=base\nB=base\nEMPTY_LATER=x\n")
    (project / ".env.staging").write_text("B=staging\nC=new\n")
    values, empty = read_env_files([Path(".env"), Path(".env.staging")])
    assert values == {"A": "base", "B": "staging", "EMPTY_LATER": "x", "C": "new"}
    assert empty == []
    (project / ".env.blank").write_text("EMPTY_LATER=\nD=d\n")
    with pytest.raises(DotenvError, match=r"empty values.*EMPTY_LATER"):
        read_env_files([Path(".env"), Path(".env.blank")])
    values, empty = read_env_files([Path(".env"), Path(".env.blank")], skip_empty=True)
    assert "EMPTY_LATER" not in values and empty == ["EMPTY_LATER"]
    (project / ".env.bad").write_text("OK=1\nbad line here\n")
    with pytest.raises(DotenvError, match=r"\.env\.bad: line 2"):
        read_env_files([Path(".env"), Path(".env.bad")])


def test_reserved_keys() -> None:
    keys = ["PORT", "port", "ESP32_HOST", "esp32_enabled", "IMAGE_VERSION", "OPENAI_API_KEY"]
    assert reserved_keys(keys) == ["PORT", "port", "ESP32_HOST", "esp32_enabled", "IMAGE_VERSION"]
    with pytest.raises(InputError, match=r"PORT.*--allow-reserved"):
        check_reserved({"PORT": "1", "OK": "2"}, allow=False)
    check_reserved({"PORT": "1"}, allow=True)


def test_key_gaps() -> None:
    assert key_gaps({"a": ["X", "Y"], "b": ["X", "Y"]}) == {}
    assert key_gaps({"a": ["X", "Y"], "b": ["X"], "c": ["Z"]}) == {
        "a": ["Z"],
        "b": ["Y", "Z"],
        "c": ["X", "Y"],
    }


def test_plan_many_refuses_everything_before_writing(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    state = PushState(tmp_path / "state.json")
    with SecretsClient(api_key=emulator.token, api_host=emulator.api_host) as client:
        client.put_secrets("other-region", {"K": "v"}, region="us-east")
        client.wait_ready("other-region")
        emulator.reset_stats()
        wanted = [
            ("a", SetTarget("fine-set", "us-west"), {"K": "v1"}),
            ("b", SetTarget("other-region", "us-west"), {"K": "v2"}),
        ]
        with pytest.raises(InputError, match=r"target 'b', set 'other-region'.*region"):
            plan_many(client, wanted, state)
        stats = emulator.stats()
        assert not any(k.startswith(("PUT", "DELETE")) for k in stats["requests"])
        wanted[1] = ("b", SetTarget("other-region", "us-east"), {"K": "v2"})
        pushes = plan_many(client, wanted, state)
        outcomes = apply_many(client, pushes, state, timeout=10)
    assert [o.ok for o in outcomes] == [True, True]
    assert [o.plan.set_name for o in outcomes] == ["fine-set", "other-region"]
    assert emulator.check_value("fine-set", "K", "v1")
    assert emulator.check_value("other-region", "K", "v2")
    # Both sets were recorded in the state file, though written concurrently.
    key = client.api_key.cache_key
    assert state.previous(emulator.api_host, "fine-set", key=key)[1]
    assert state.previous(emulator.api_host, "other-region", key=key)[1]
