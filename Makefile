# Two commands for a newcomer: `make demo` and `make test`. Each creates .venv when missing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# The real Pipecat CLI lives in its own venv: its pins must not leak into ours.
PIPECAT_VENV := .venv-pipecat
PIPECAT_STAMP := $(PIPECAT_VENV)/.installed
PIPECAT_PKGS := pipecatcloud==1.4.0 pipecat-ai-cli==1.3.0
# pcc-env installed next to the pipecat CLI (`pipecat env ...`): one resolve of both, so the test
# also proves that our version ranges and theirs fit in one environment.
PLUGIN_VENV := .venv-pipecat-plugin
PLUGIN_STAMP := $(PLUGIN_VENV)/.installed
# Some machines set PYTHONDONTWRITEBYTECODE: every child process would then recompile pcc_env
# from source, which slows the tests and skews start-up benchmarks. Let Python cache bytecode.
unexport PYTHONDONTWRITEBYTECODE

.PHONY: test demo lint typecheck unit bench install clean

install: $(STAMP)

# First runs say what they do and how long it takes, and pip shows each package as it comes.
PIP_PROGRESS := --disable-pip-version-check

$(STAMP): pyproject.toml
	@test -x $(PY) || { echo "==> Creating $(VENV) (first run only)"; $(PYTHON) -m venv $(VENV); }
	@echo "==> Installing pcc-env and its dev tools into $(VENV) (about 30 s the first time)"
	@if command -v uv >/dev/null 2>&1; then \
		uv pip install --python $(PY) -e '.[all,dev]'; \
	else \
		$(PY) -m pip install $(PIP_PROGRESS) -e '.[all,dev]'; \
	fi
	@touch $@
	@echo "==> $(VENV) is ready"

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

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy pcc_env

# The suite waits (for child processes, servers, deadlines) more than it computes, so it runs
# on more workers than there are cores (pytest-xdist; TEST_WORKERS=0 runs it in one process).
# Tests marked `serial` time themselves against the wall clock: they run after, alone.
TEST_WORKERS ?= 4
UNIT_ENV := PCC_ENV_PIPECAT_CLI=$(CURDIR)/$(PIPECAT_VENV)/bin/pipecat \
	PCC_ENV_PIPECAT_PLUGIN_CLI=$(CURDIR)/$(PLUGIN_VENV)/bin/pipecat

unit: $(STAMP) $(PIPECAT_STAMP) $(PLUGIN_STAMP)
	status=0; \
	$(UNIT_ENV) $(VENV)/bin/pytest -n $(TEST_WORKERS) -m "not serial" || status=$$?; \
	$(UNIT_ENV) $(VENV)/bin/pytest -m serial || status=$$?; \
	exit $$status

test: lint typecheck unit

demo: $(STAMP)
	$(VENV)/bin/pcc-env demo

bench: $(STAMP) $(PIPECAT_STAMP)
	PCC_ENV_PIPECAT_CLI=$(CURDIR)/$(PIPECAT_VENV)/bin/pipecat $(PY) benchmarks/run_all.py

clean:
	rm -rf $(VENV) $(PIPECAT_VENV) $(PLUGIN_VENV) .mypy_cache .ruff_cache .pytest_cache
