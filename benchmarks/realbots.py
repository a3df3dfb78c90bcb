"""`pcc-env init --dry-run --json` on real Pipecat projects, scored against hand-made truth files.

    .venv/bin/python benchmarks/realbots.py [--corpus DIR]... [--truth FILE]... [--json]

Each project (a folder directly under a corpus folder; default: ../shared/realbots from the repo
root) is copied to a temporary directory first and init runs there, from this checkout's code, so
the corpus is never modified. Measured per project and in total (issue 21, "Figures"):

- precision and recall of the plan's fields against the truth (``realbots_truth*.toml``, whose
  header states the labelling rules); a refused dry run finds nothing;
- required fields the code tolerates missing (the truth says optional, the plan says required);
- templates honoured: a project's ``env.example`` / ``.env.example`` is updated in place (or left
  unchanged), and no second template is created beside it;
- dry runs refused (exit status != 0);
- Dockerfiles that would drop the settings module: the plan's ``image`` names the module, says it
  does not ship and names the Dockerfile line (from the truth, else from a COPY-line heuristic).

A project with no truth entry is still run: precision and recall are then not measured for it.
Exit status 0 once the figures are out (2 for bad arguments): a benchmark reports, it does not gate.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TEMPLATES = ("env.example", ".env.example")
DEFAULT_TRUTH = [HERE / "realbots_truth.toml", HERE / "realbots_truth_extra.toml"]
TARGETS = {
    "precision": 0.99,
    "recall": 0.98,
}


def default_corpus() -> Path:
    """``../shared/realbots`` beside the repo root; from a git worktree, beside the main
    checkout (the worktree's common git dir) when the first does not exist."""
    near = ROOT.parent / "shared" / "realbots"
    if near.is_dir():
        return near
    try:
        common = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--path-format=absolute", "--git-common-dir"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return near
    main = Path(common).parent.parent / "shared" / "realbots"
    return main if main.is_dir() else near


# --- truth -------------------------------------------------------------------------------------


@dataclass
class Truth:
    required: set[str] = field(default_factory=set)
    optional: set[str] = field(default_factory=set)
    uncertain: set[str] = field(default_factory=set)
    library: set[str] = field(default_factory=set)
    neutral: set[str] = field(default_factory=set)
    other: dict[str, set[str]] = field(default_factory=dict)  # entry point -> names
    dockerfile_drops_module: bool | None = None
    source: str = ""

    @property
    def agent(self) -> set[str]:
        return self.required | self.optional | self.uncertain


def load_truth(paths: list[Path]) -> dict[str, Truth]:
    """Project folder name -> its truth, over every truth file (a later file wins)."""
    out: dict[str, Truth] = {}
    for path in paths:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        for name, entry in data.get("projects", {}).items():
            out[name] = Truth(
                required=set(entry.get("required", [])),
                optional=set(entry.get("optional", [])),
                uncertain=set(entry.get("uncertain", [])),
                library=set(entry.get("library", [])),
                neutral=set(entry.get("neutral", [])),
                other={k: set(v) for k, v in entry.get("other", {}).items()},
                dockerfile_drops_module=entry.get("dockerfile_drops_module"),
                source=str(entry.get("source", "")),
            )
    return out


# --- running init ------------------------------------------------------------------------------


def run_init(project: Path, scratch: Path) -> tuple[int, dict[str, Any] | None, str]:
    """Copy ``project`` under ``scratch`` and run this checkout's ``pcc-env init --dry-run
    --json`` there: (exit status, the JSON document or None, the error text)."""
    work = scratch / project.name
    shutil.copytree(project, work, symlinks=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIPECAT_", "PCC_ENV_"))}
    env.update(
        PYTHONPATH=str(ROOT),
        PCC_ENV_DATA_DIR=str(scratch / (project.name + ".state")),
        NO_COLOR="1",
        COLUMNS="200",
    )
    code = "import sys; sys.argv[0] = 'pcc-env'; from pcc_env.cli import main; main()"
    try:
        proc = subprocess.run(
            [sys.executable, "-c", code, "init", "--dry-run", "--json"],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=300,
        )
    except subprocess.TimeoutExpired:
        return -1, None, "timed out after 300 s"
    doc: dict[str, Any] | None
    try:
        doc = json.loads(proc.stdout) if proc.stdout.strip() else None
    except json.JSONDecodeError:
        doc = None
    error = ""
    if proc.returncode != 0:
        err = (doc or {}).get("error")
        error = str(err.get("message", "")) if isinstance(err, dict) else str(err or "")
        error = error or (proc.stderr.strip() or proc.stdout.strip())
        error = " ".join(error.split())[:300]
    return proc.returncode, doc, error


# --- the Dockerfile heuristic (for projects without a truth entry) ------------------------------


def dockerfile_drops(text: str, module: str = "settings.py") -> bool:
    """Whether the COPY/ADD lines of a Dockerfile leave a new top-level ``module`` out: none
    copies the build context's root (``.``, ``./``, ``*``), a ``*.py`` glob or the module."""
    joined = re.sub(r"\\\n", " ", text)
    for line in joined.splitlines():
        words = line.strip().split(None, 1)
        if len(words) < 2 or words[0].upper() not in ("COPY", "ADD"):
            continue
        try:
            args = shlex.split(words[1])
        except ValueError:
            args = words[1].split()
        if any(a.startswith("--from") for a in args):
            continue
        sources = [a for a in args if not a.startswith("--")][:-1]
        for src in sources:
            s = src.removeprefix("./")
            if s in ("", ".", "*", "*.py", module) or s.endswith("/" + module):
                return False
    return True


# --- scoring -----------------------------------------------------------------------------------


@dataclass
class Miss:
    variable: str
    why: str


@dataclass
class ProjectResult:
    corpus: str
    project: str
    labelled: bool
    exit_code: int
    error: str
    fields: list[str]
    true_positive: int | None = None  # fields that are agent or library names
    scored_fields: int | None = None  # fields, neutral names left out
    agent_found: int | None = None
    agent_total: int | None = None
    precision: float | None = None
    recall: float | None = None
    required_but_tolerated: list[str] = field(default_factory=list)
    optional_but_required: list[str] = field(default_factory=list)
    missed: list[Miss] = field(default_factory=list)
    false_positives: list[Miss] = field(default_factory=list)
    found_elsewhere: list[Miss] = field(default_factory=list)  # agent names seen only elsewhere
    template: str | None = None  # the template the project ships, if any
    template_honoured: bool | None = None
    template_why: str = ""
    dockerfile_drops: bool | None = None  # None: no Dockerfile
    dockerfile_source: str = ""  # "truth" or "heuristic"
    dockerfile_named: bool | None = None
    dockerfile_why: str = ""

    @property
    def refused(self) -> bool:
        return self.exit_code != 0


def module_path(doc: dict[str, Any] | None) -> str:
    """The settings module the plan names (``settings:Settings`` -> ``settings.py``)."""
    ref = str((doc or {}).get("settings") or "settings:Settings")
    return ref.split(":", 1)[0].replace(".", "/") + ".py"


def score_template(
    project: Path, doc: dict[str, Any] | None, refused: bool
) -> tuple[str | None, bool | None, str]:
    shipped = [t for t in TEMPLATES if (project / t).is_file()]
    if not shipped:
        return None, None, ""
    if refused or doc is None:
        return shipped[0], False, "dry run refused"
    changes = {str(c.get("path")): str(c.get("action")) for c in doc.get("changes", [])}
    kept = [t for t in shipped if changes.get(t) in ("update", "unchanged")]
    created = [p for p, a in changes.items() if a == "create" and p.endswith(".example")]
    if created:
        return shipped[0], False, f"creates {', '.join(created)} beside {', '.join(shipped)}"
    if not kept:
        seen = {t: changes.get(t, "absent") for t in shipped}
        return (
            shipped[0],
            False,
            "template not updated in place: " + ", ".join(f"{t} {a}" for t, a in seen.items()),
        )
    return shipped[0], True, f"{kept[0]} {changes[kept[0]]}"


def score_dockerfile(
    project: Path, truth: Truth | None, doc: dict[str, Any] | None, refused: bool
) -> tuple[bool | None, str, bool | None, str]:
    dockerfile = project / "Dockerfile"
    if not dockerfile.is_file():
        return None, "", None, ""
    module = module_path(doc)
    if truth is not None and truth.dockerfile_drops_module is not None:
        drops, source = truth.dockerfile_drops_module, "truth"
    else:
        drops = dockerfile_drops(dockerfile.read_text(encoding="utf-8", errors="replace"), module)
        source = "heuristic"
    if not drops:
        image = (doc or {}).get("image")
        if isinstance(image, dict) and image.get("ships") is False:  # a false alarm: say so
            return False, source, None, f"the plan says Dockerfile:{image.get('line')} drops it"
        return False, source, None, ""
    if refused or doc is None:
        return True, source, False, "dry run refused"
    image = doc.get("image")
    if not isinstance(image, dict):
        return True, source, False, "the plan has no image entry"
    if image.get("ships") is not False:
        return True, source, False, f"the plan says {image.get('module')} ships"
    if image.get("module") != module or image.get("line") is None:
        return True, source, False, f"names {image.get('module')!r} at line {image.get('line')}"
    fix = "with an edit" if image.get("edit") else "no edit"
    return True, source, True, f"Dockerfile:{image['line']} named, {fix}"


def score(corpus: Path, project: Path, truth: Truth | None, scratch: Path) -> ProjectResult:
    code, doc, error = run_init(project, scratch)
    refused = code != 0
    fields_doc = [] if refused or doc is None else list(doc.get("fields", []))
    found = {str(f["variable"]): f for f in fields_doc}
    left_out = {str(o["variable"]): o for o in (doc or {}).get("leftOut", [])} if doc else {}
    r = ProjectResult(str(corpus), project.name, truth is not None, code, error, sorted(found))
    r.template, r.template_honoured, r.template_why = score_template(project, doc, refused)
    r.dockerfile_drops, r.dockerfile_source, r.dockerfile_named, r.dockerfile_why = (
        score_dockerfile(project, truth, doc, refused)
    )
    if truth is None:
        return r
    agent = truth.agent
    scored = [n for n in found if n not in truth.neutral or n in agent]
    good = [n for n in scored if n in agent or n in truth.library]
    r.scored_fields, r.true_positive = len(scored), len(good)
    r.agent_total, r.agent_found = len(agent), len(agent & set(found))
    r.precision = len(good) / len(scored) if scored else None
    r.recall = r.agent_found / r.agent_total if r.agent_total else None
    for name in sorted(agent - set(found)):
        if refused:
            why = "dry run refused"
        elif name in left_out:
            why = f"left out: {left_out[name].get('reason')}"
        else:
            why = "not found by the scan"
        r.missed.append(Miss(name, why))
    for name in sorted(agent & set(found)):  # credited, but seen only outside the agent
        files = {str(place).rsplit(":", 1)[0] for place in found[name].get("readIn", [])}
        if files and files <= set(truth.other):
            r.found_elsewhere.append(Miss(name, ", ".join(sorted(files))))
    for name in sorted(set(scored) - set(good)):
        where = [ep for ep, names in truth.other.items() if name in names]
        place = ", ".join(found[name].get("readIn", [])) or "(no read)"
        why = f"read by {', '.join(where)} only" if where else "not read by the agent"
        r.false_positives.append(Miss(name, f"{why}; plan: read in {place}"))
    for name, f in sorted(found.items()):
        if f.get("required") and name in truth.optional:
            r.required_but_tolerated.append(name)
        if not f.get("required") and name in truth.required:
            r.optional_but_required.append(name)
    return r


# --- totals and report -------------------------------------------------------------------------


def totals(results: list[ProjectResult]) -> dict[str, Any]:
    lab = [r for r in results if r.labelled]
    tp = sum(r.true_positive or 0 for r in lab)
    scored = sum(r.scored_fields or 0 for r in lab)
    found = sum(r.agent_found or 0 for r in lab)
    agent = sum(r.agent_total or 0 for r in lab)
    templates = [r for r in results if r.template is not None]
    drops = [r for r in results if r.dockerfile_drops]
    return {
        "projects": len(results),
        "labelled": len(lab),
        "precision": tp / scored if scored else None,
        "truePositives": tp,
        "fields": scored,
        "recall": found / agent if agent else None,
        "agentFound": found,
        "agentVariables": agent,
        "requiredButTolerated": sum(len(r.required_but_tolerated) for r in lab),
        "foundOnlyElsewhere": sum(len(r.found_elsewhere) for r in lab),
        "optionalButRequired": sum(len(r.optional_but_required) for r in lab),
        "templates": len(templates),
        "templatesHonoured": sum(1 for r in templates if r.template_honoured),
        "refused": sum(1 for r in results if r.refused),
        "dockerfiles": sum(1 for r in results if r.dockerfile_drops is not None),
        "dockerfilesDropping": len(drops),
        "dockerfilesNamed": sum(1 for r in drops if r.dockerfile_named),
        "dockerfileFalseAlarms": sum(
            1 for r in results if r.dockerfile_drops is False and r.dockerfile_why
        ),
    }


def targets(t: dict[str, Any]) -> list[dict[str, Any]]:
    def ratio(a: int, b: int) -> str:
        return f"{a}/{b}"

    p, rc = t["precision"], t["recall"]
    return [
        {
            "target": "precision >= 0.99",
            "value": "n/a" if p is None else f"{p:.3f}",
            "met": p is not None and p >= TARGETS["precision"],
        },
        {
            "target": "recall >= 0.98",
            "value": "n/a" if rc is None else f"{rc:.3f}",
            "met": rc is not None and rc >= TARGETS["recall"],
        },
        {
            "target": "0 required fields the code tolerates missing",
            "value": str(t["requiredButTolerated"]),
            "met": t["requiredButTolerated"] == 0,
        },
        {
            "target": "every env.example / .env.example honoured",
            "value": ratio(t["templatesHonoured"], t["templates"]),
            "met": t["templatesHonoured"] == t["templates"],
        },
        {
            "target": "no dry run refused",
            "value": ratio(t["refused"], t["projects"]) + " refused",
            "met": t["refused"] == 0,
        },
        {
            "target": "every Dockerfile that would drop the module named in the plan",
            "value": ratio(t["dockerfilesNamed"], t["dockerfilesDropping"]),
            "met": t["dockerfilesNamed"] == t["dockerfilesDropping"],
        },
    ]


def _f(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


def _yn(x: bool | None) -> str:
    return "-" if x is None else ("yes" if x else "NO")


def render(results: list[ProjectResult], groups: dict[str, dict[str, Any]]) -> str:
    head = ["project", "fields", "P", "R", "req-tol", "template", "refused", "Dockerfile"]
    rows = []
    for r in results:
        docker = "-"
        if r.dockerfile_drops is not None:
            docker = (
                "ships"
                if not r.dockerfile_drops
                else "named"
                if r.dockerfile_named
                else "NOT named"
            )
        rows.append(
            [
                r.project[:48],
                str(len(r.fields)),
                _f(r.precision) if r.labelled else "(unlab.)",
                _f(r.recall) if r.labelled else "",
                str(len(r.required_but_tolerated)) if r.labelled else "",
                "-" if r.template is None else f"{r.template}: {_yn(r.template_honoured)}",
                f"yes ({r.exit_code})" if r.refused else "no",
                docker,
            ]
        )
    widths = [
        max(len(h), *(len(row[i]) for row in rows)) if rows else len(h) for i, h in enumerate(head)
    ]
    lines = ["  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    ]
    lines.append("")
    lines.append("Misses (per project):")
    any_miss = False
    for r in results:
        notes: list[str] = []
        if r.refused:
            notes.append(f"refused (exit {r.exit_code}): {r.error}")
        notes += [f"missed {m.variable}: {m.why}" for m in r.missed]
        notes += [f"false positive {m.variable}: {m.why}" for m in r.false_positives]
        notes += [f"required but tolerated missing: {n}" for n in r.required_but_tolerated]
        notes += [
            f"(info) {m.variable} counted as found, but the plan sees it only in {m.why}, "
            "outside the agent"
            for m in r.found_elsewhere
        ]
        notes += [f"(info) optional but the code needs it: {n}" for n in r.optional_but_required]
        if r.template_honoured is False:
            notes.append(f"template not honoured: {r.template_why}")
        if r.dockerfile_named is False:
            notes.append(f"Dockerfile drops the module, not named: {r.dockerfile_why}")
        if r.dockerfile_drops is False and r.dockerfile_why:
            notes.append(f"(info) the Dockerfile ships the module, but {r.dockerfile_why}")
        if notes:
            any_miss = True
            lines.append(f"  {r.project}:")
            lines += [f"    - {n}" for n in notes]
    if not any_miss:
        lines.append("  (none)")
    for name, g in groups.items():
        t = g["totals"]
        lines.append("")
        lines.append(
            f"{name}: {t['projects']} project(s), {t['labelled']} labelled; "
            f"precision {_f(t['precision'])} ({t['truePositives']}/{t['fields']}), "
            f"recall {_f(t['recall'])} ({t['agentFound']}/{t['agentVariables']}; "
            f"{t['foundOnlyElsewhere']} seen only outside the agent), "
            f"required-but-tolerated {t['requiredButTolerated']} "
            f"(optional-but-required {t['optionalButRequired']}), "
            f"templates honoured {t['templatesHonoured']}/{t['templates']}, "
            f"refused {t['refused']}/{t['projects']}, Dockerfiles dropping the module named "
            f"{t['dockerfilesNamed']}/{t['dockerfilesDropping']} (of {t['dockerfiles']} Dockerfiles)"
        )
        for tg in g["targets"]:
            lines.append(f"  {tg['target']}: {tg['value']} -> {'met' if tg['met'] else 'NOT met'}")
    overall = groups.get("total") or next(iter(groups.values()), None)
    if overall is not None:
        ok = all(tg["met"] for tg in overall["targets"])
        lines.append(f"RESULT: {'every target met' if ok else 'target NOT met'}")
    return "\n".join(lines)


def projects_of(corpus: Path) -> list[Path]:
    """Every folder directly under ``corpus`` that holds Python code."""
    return sorted(
        p
        for p in corpus.iterdir()
        if p.is_dir() and not p.name.startswith(".") and any(p.rglob("*.py"))
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--corpus", action="append", type=Path, help="a folder of projects (repeatable)"
    )
    ap.add_argument("--truth", action="append", type=Path, help="a truth file (repeatable)")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = ap.parse_args(argv)
    corpora: list[Path] = args.corpus or [default_corpus()]
    truth_files: list[Path] = args.truth or [p for p in DEFAULT_TRUTH if p.is_file()]
    for c in corpora:
        if not c.is_dir():
            print(f"error: corpus {str(c)!r} is not a directory", file=sys.stderr)
            return 2
    for t in truth_files:
        if not t.is_file():
            print(f"error: truth file {str(t)!r} does not exist", file=sys.stderr)
            return 2
    try:
        truth = load_truth(truth_files)
    except (tomllib.TOMLDecodeError, OSError) as exc:
        print(f"error: truth file: {exc}", file=sys.stderr)
        return 2
    results: list[ProjectResult] = []
    with tempfile.TemporaryDirectory(prefix="pcc-realbots-") as tmp:
        for corpus in corpora:
            scratch = Path(tmp) / str(len(results))
            scratch.mkdir()
            for project in projects_of(corpus):
                results.append(score(corpus, project, truth.get(project.name), scratch))
    groups: dict[str, dict[str, Any]] = {}
    for corpus in corpora:
        mine = [r for r in results if r.corpus == str(corpus)]
        t = totals(mine)
        groups[str(corpus)] = {"totals": t, "targets": targets(t)}
    if len(corpora) > 1:
        t = totals(results)
        groups["total"] = {"totals": t, "targets": targets(t)}
    if args.json:
        doc = {
            "truthFiles": [str(t) for t in truth_files],
            "projects": [{**asdict(r), "refused": r.refused} for r in results],
            "corpora": groups,
        }
        print(json.dumps(doc, indent=2))
    else:
        print(render(results, groups))
    return 0


if __name__ == "__main__":
    sys.exit(main())
