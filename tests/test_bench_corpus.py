"""benchmarks/realbots.py, the measuring instrument of issue 21's figures: run on two tiny projects
written here, with a truth that disagrees with the code on purpose, it reports the right counts,
never modifies the corpus and never shows a value. Not a timed test."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "realbots.py"
CANARY = "sk-CANARY-bench-corpus-7f3a"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_realbots", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve the module by name
    spec.loader.exec_module(module)
    return module


def _corpus(tmp: Path) -> tuple[Path, Path]:
    corpus = tmp / "corpus"
    alpha = corpus / "alpha"
    alpha.mkdir(parents=True)
    (alpha / "bot.py").write_text(
        "import os\n\n"
        'ALPHA = os.environ["ALPHA_KEY"]\n'
        'BETA = os.getenv("BETA_MODE", "fast")\n'
        'EPSILON = os.getenv("EPSILON_LEVEL", "3")\n'
    )
    (alpha / ".env.example").write_text("# a key from the dashboard\nALPHA_KEY=\n")
    (alpha / ".env").write_text(f"ALPHA_KEY={CANARY}\n")
    (alpha / "Dockerfile").write_text("FROM python:3.12-slim\nCOPY ./bot.py bot.py\n")
    beta = corpus / "beta"
    beta.mkdir()
    (beta / "bot.py").write_text('import os\n\nZETA = os.environ["ZETA_KEY"]\n')
    (beta / "pyproject.toml").write_text('[project\nname = "beta"\n')  # init must refuse it
    truth = tmp / "truth.toml"
    truth.write_text(
        "[projects.alpha]\n"
        "# ALPHA_KEY labelled optional and DELTA_KEY (never read) listed on purpose;\n"
        "# EPSILON_LEVEL left out on purpose: a false positive.\n"
        'optional = ["ALPHA_KEY", "BETA_MODE", "DELTA_KEY"]\n'
        "dockerfile_drops_module = true\n\n"
        "[projects.beta]\n"
        'required = ["ZETA_KEY"]\n'
    )
    return corpus, truth


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=300
    )


def test_realbots_reports_the_figures_of_two_fixture_projects(tmp_path: Path) -> None:
    corpus, truth = _corpus(tmp_path)
    before = _snapshot(corpus)
    proc = _run("--corpus", str(corpus), "--truth", str(truth), "--json")
    assert proc.returncode == 0, proc.stderr
    assert CANARY not in proc.stdout + proc.stderr
    assert _snapshot(corpus) == before  # run on copies: nothing written, nothing changed
    doc = json.loads(proc.stdout)
    by_name: dict[str, Any] = {p["project"]: p for p in doc["projects"]}
    alpha, beta = by_name["alpha"], by_name["beta"]

    assert alpha["fields"] == ["ALPHA_KEY", "BETA_MODE", "EPSILON_LEVEL"]
    assert (alpha["true_positive"], alpha["scored_fields"]) == (2, 3)
    assert (alpha["agent_found"], alpha["agent_total"]) == (2, 3)
    assert alpha["required_but_tolerated"] == ["ALPHA_KEY"]
    assert [m["variable"] for m in alpha["missed"]] == ["DELTA_KEY"]
    assert "not found by the scan" in alpha["missed"][0]["why"]
    assert [m["variable"] for m in alpha["false_positives"]] == ["EPSILON_LEVEL"]
    assert (alpha["template"], alpha["template_honoured"]) == (".env.example", True)
    assert (alpha["dockerfile_drops"], alpha["dockerfile_named"]) == (True, True)
    assert not alpha["refused"]

    assert beta["refused"] and beta["exit_code"] == 2
    assert "pyproject.toml" in beta["error"]
    assert [(m["variable"], m["why"]) for m in beta["missed"]] == [("ZETA_KEY", "dry run refused")]
    assert beta["template"] is None and beta["dockerfile_drops"] is None

    t = doc["corpora"][str(corpus)]["totals"]
    assert (t["truePositives"], t["fields"], t["agentFound"], t["agentVariables"]) == (2, 3, 2, 4)
    assert t["precision"] == 2 / 3 and t["recall"] == 0.5
    assert (t["requiredButTolerated"], t["refused"], t["projects"]) == (1, 1, 2)
    assert (t["templatesHonoured"], t["templates"]) == (1, 1)
    assert (t["dockerfilesNamed"], t["dockerfilesDropping"]) == (1, 1)
    met = {g["target"]: g["met"] for g in doc["corpora"][str(corpus)]["targets"]}
    assert met == {
        "precision >= 0.99": False,
        "recall >= 0.98": False,
        "0 required fields the code tolerates missing": False,
        "every env.example / .env.example honoured": True,
        "no dry run refused": False,
        "every Dockerfile that would drop the module named in the plan": True,
    }


def test_realbots_table_names_each_miss(tmp_path: Path) -> None:
    corpus, truth = _corpus(tmp_path)
    proc = _run("--corpus", str(corpus), "--truth", str(truth))
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert CANARY not in out + proc.stderr
    assert "missed DELTA_KEY: not found by the scan" in out
    assert "false positive EPSILON_LEVEL" in out
    assert "required but tolerated missing: ALPHA_KEY" in out
    assert "refused (exit 2)" in out
    assert "precision >= 0.99: 0.667 -> NOT met" in out
    assert "RESULT: target NOT met" in out


def test_realbots_bad_arguments_exit_2(tmp_path: Path) -> None:
    proc = _run("--corpus", str(tmp_path / "nowhere"))
    assert proc.returncode == 2 and "is not a directory" in proc.stderr


def test_template_and_dockerfile_scoring(tmp_path: Path) -> None:
    bench = _load()
    (tmp_path / "env.example").write_text("OPENAI_API_KEY=\n")
    second = {"changes": [{"path": ".env.example", "action": "create"}]}
    in_place = {"changes": [{"path": "env.example", "action": "update"}]}
    assert bench.score_template(tmp_path, second, False)[1:] == (
        False,
        "creates .env.example beside env.example",
    )
    assert bench.score_template(tmp_path, in_place, False)[1] is True
    assert bench.score_template(tmp_path, in_place, True)[1:] == (False, "dry run refused")
    assert bench.dockerfile_drops("FROM x\nCOPY ./bot.py bot.py\n") is True
    assert bench.dockerfile_drops("FROM x\nCOPY . .\n") is False
    assert bench.dockerfile_drops("FROM x\nCOPY *.py /app/\n") is False
    assert bench.dockerfile_drops("FROM x\nCOPY --from=b /app /app\nCOPY bot.py .\n") is True
    assert bench.dockerfile_drops("FROM x\nCOPY ./bot.py \\\n  ./settings.py /app/\n") is False
