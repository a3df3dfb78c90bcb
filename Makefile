# Two commands for a newcomer: `make demo` and `make test`. Each creates .venv when missing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# One stamp per layer, so `make demo` then `make test` installs only what the second adds:
# the demo needs pcc-env with its [cli] extra (the emulator's FastAPI and uvicorn are in it);
# the tests add the dev tools and uvicorn[standard]; `make dist` adds build and twine.
CLI_STAMP := $(VENV)/.installed-cli
DEV_STAMP := $(VENV)/.installed-dev
DIST_STAMP := $(VENV)/.installed-dist
# --no-compile: pip would compile every package's bytecode (~15 s of a loaded first run); Python
# writes it for the modules the demo imports, as it imports them.
# (uv compiles nothing unless asked.)
CLI_REQ := -e '.[cli]'
CLI_PIP_OPTS := --no-compile
DEV_REQ := -e '.[all,dev]'
DIST_REQ := -e '.[cli,dist]'
# The real Pipecat CLI lives in its own venv: its pins must not leak into ours.
PIPECAT_VENV := .venv-pipecat
PIPECAT_STAMP := $(PIPECAT_VENV)/.installed
PIPECAT_PKGS := pipecatcloud==1.4.0 pipecat-ai-cli==1.3.0
# pcc-env installed next to the pipecat CLI (`pipecat env ...`): one resolve of both, so the test
# also proves that our version ranges and theirs fit in one environment.
PLUGIN_VENV := .venv-pipecat-plugin
PLUGIN_STAMP := $(PLUGIN_VENV)/.installed
# `make dist` installs the built wheel here, as a user would, and runs the demo from it.
DIST_VENV := .venv-dist
# Some machines set PYTHONDONTWRITEBYTECODE: every child process would then recompile pcc_env
# from source, which slows the tests and skews start-up benchmarks. Let Python cache bytecode.
unexport PYTHONDONTWRITEBYTECODE

.PHONY: test demo docs docs-commands lint typecheck unit bench install dist clean

install: $(DEV_STAMP)

# First runs say what they do and how long it takes, and pip shows each package as it comes.
PIP_PROGRESS := --disable-pip-version-check
# .venv gets no pip of its own when $(PYTHON)'s pip can install into it (pip >= 22.3, `pip
# --python`): ensurepip alone takes 5 s of a first run, 25 s on a loaded machine. Installs use
# uv when it is there (the same resolve, faster), else .venv's pip, else $(PYTHON)'s.
HOST_PIP_OK := $(PYTHON) -c "import pip, sys; sys.exit(tuple(map(int, pip.__version__.split('.')[:2])) < (22, 3))" 2>/dev/null
define venv_install
	@if command -v uv >/dev/null 2>&1; then \
		uv pip install --python $(PY) $(1); \
	elif test -x $(VENV)/bin/pip; then \
		$(PY) -m pip install $(PIP_PROGRESS) $(2) $(1); \
	else \
		$(PYTHON) -m pip --python $(PY) install $(PIP_PROGRESS) $(2) $(1); \
	fi
endef

$(VENV)/bin/python:
	@echo "==> Creating $(VENV) (first run only)"
	@if command -v uv >/dev/null 2>&1 || $(HOST_PIP_OK); then \
		$(PYTHON) -m venv --without-pip $(VENV); \
	else \
		$(PYTHON) -m venv $(VENV); \
	fi

$(CLI_STAMP): pyproject.toml | $(VENV)/bin/python
	@echo "==> Installing pcc-env[cli] into $(VENV) (about 20 s the first time)"
	$(call venv_install,$(CLI_REQ),$(CLI_PIP_OPTS))
	@touch $@
	@echo "==> $(VENV) is ready for the demo"

$(DEV_STAMP): $(CLI_STAMP) pyproject.toml
	@echo "==> Adding the dev tools to $(VENV) (about 25 s the first time)"
	$(call venv_install,$(DEV_REQ))
	@touch $@
	@echo "==> $(VENV) is ready for the tests"

$(DIST_STAMP): $(CLI_STAMP) pyproject.toml
	@echo "==> Adding build and twine to $(VENV)"
	$(call venv_install,$(DIST_REQ))
	@touch $@

$(PIPECAT_STAMP):
	@test -x $(PIPECAT_VENV)/bin/python || { echo "==> Creating $(PIPECAT_VENV) for the real pipecat CLI (first run only)"; $(PYTHON) -m venv $(PIPECAT_VENV); }
	@echo "==> Installing $(PIPECAT_PKGS) into $(PIPECAT_VENV) (about 20 s the first time)"
	@if command -v uv >/dev/null 2>&1; then \
		uv pip install --python $(PIPECAT_VENV)/bin/python $(PIPECAT_PKGS); \
	else \
		$(PIPECAT_VENV)/bin/python -m pip install $(PIP_PROGRESS) $(PIPECAT_PKGS); \
	fi
	@touch $@
	@echo "==> $(PIPECAT_VENV) is ready"

$(PLUGIN_STAMP): pyproject.toml
	@test -x $(PLUGIN_VENV)/bin/python || { echo "==> Creating $(PLUGIN_VENV): pcc-env inside the pipecat CLI (first run only)"; $(PYTHON) -m venv $(PLUGIN_VENV); }
	@echo "==> Installing $(PIPECAT_PKGS) and pcc-env together into $(PLUGIN_VENV) (about 25 s the first time)"
	@if command -v uv >/dev/null 2>&1; then \
		uv pip install --python $(PLUGIN_VENV)/bin/python $(PIPECAT_PKGS) -e '.[all]'; \
	else \
		$(PLUGIN_VENV)/bin/python -m pip install $(PIP_PROGRESS) $(PIPECAT_PKGS) -e '.[all]'; \
	fi
	@touch $@
	@echo "==> $(PLUGIN_VENV) is ready"

lint: $(DEV_STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(DEV_STAMP)
	$(VENV)/bin/mypy pcc_env

unit: $(DEV_STAMP) $(PIPECAT_STAMP) $(PLUGIN_STAMP)
	PCC_ENV_PIPECAT_CLI=$(CURDIR)/$(PIPECAT_VENV)/bin/pipecat \
	PCC_ENV_PIPECAT_PLUGIN_CLI=$(CURDIR)/$(PLUGIN_VENV)/bin/pipecat $(VENV)/bin/pytest

test: lint typecheck unit

demo: $(CLI_STAMP)
	$(VENV)/bin/pcc-env demo

# The site in docs/ (mkdocs-material), strict: a broken link or anchor, or a stale commands
# reference, fails the build. `make test` builds it too (tests/test_docs.py).
docs: $(DEV_STAMP)
	$(PY) scripts/gen_commands.py --check
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

# Rewrite docs/commands.md from the CLI after a command's help changed.
docs-commands: $(DEV_STAMP)
	$(PY) scripts/gen_commands.py

bench: $(DEV_STAMP) $(PIPECAT_STAMP)
	PCC_ENV_PIPECAT_CLI=$(CURDIR)/$(PIPECAT_VENV)/bin/pipecat $(PY) benchmarks/run_all.py

# The wheel and sdist in dist/, checked: twine's metadata check, the sdist's file list
# (scripts/check_dist.py), and the wheel installed with [cli] in a fresh venv, outside the
# clone, running the demo against its own emulator.
dist: $(DIST_STAMP)
	rm -rf dist $(DIST_VENV)
	$(PY) -m build --outdir dist .
	$(PY) -m twine check --strict dist/*
	$(PY) scripts/check_dist.py dist
	@echo "==> Installing the wheel with [cli] into a fresh $(DIST_VENV)"
	$(PYTHON) -m venv $(DIST_VENV)
	$(DIST_VENV)/bin/python -m pip install $(PIP_PROGRESS) "$$(ls dist/*.whl)[cli]"
	cd "$$(mktemp -d)" && PYTHONPATH= $(CURDIR)/$(DIST_VENV)/bin/pcc-env demo
	@echo "==> dist/ is ready: $$(cd dist && ls)"

clean:
	rm -rf $(VENV) $(PIPECAT_VENV) $(PLUGIN_VENV) $(DIST_VENV) dist .mypy_cache .ruff_cache .pytest_cache site
