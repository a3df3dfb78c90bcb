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

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@if command -v uv >/dev/null 2>&1; then \
		uv pip install --quiet --python $(PY) -e '.[all,dev]'; \
	else \
		$(PY) -m pip install --quiet --disable-pip-version-check -e '.[all,dev]'; \
	fi
	@touch $@

$(PIPECAT_STAMP):
	@test -x $(PIPECAT_VENV)/bin/python || $(PYTHON) -m venv $(PIPECAT_VENV)
	@if command -v uv >/dev/null 2>&1; then \
		uv pip install --quiet --python $(PIPECAT_VENV)/bin/python $(PIPECAT_PKGS); \
	else \
		$(PIPECAT_VENV)/bin/python -m pip install --quiet --disable-pip-version-check $(PIPECAT_PKGS); \
	fi
	@touch $@

$(PLUGIN_STAMP): pyproject.toml
	@test -x $(PLUGIN_VENV)/bin/python || $(PYTHON) -m venv $(PLUGIN_VENV)
	@if command -v uv >/dev/null 2>&1; then \
		uv pip install --quiet --python $(PLUGIN_VENV)/bin/python $(PIPECAT_PKGS) -e '.[all]'; \
	else \
		$(PLUGIN_VENV)/bin/python -m pip install --quiet --disable-pip-version-check \
			$(PIPECAT_PKGS) -e '.[all]'; \
	fi
	@touch $@

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy pcc_env

unit: $(STAMP) $(PIPECAT_STAMP) $(PLUGIN_STAMP)
	PCC_ENV_PIPECAT_CLI=$(CURDIR)/$(PIPECAT_VENV)/bin/pipecat \
	PCC_ENV_PIPECAT_PLUGIN_CLI=$(CURDIR)/$(PLUGIN_VENV)/bin/pipecat $(VENV)/bin/pytest

test: lint typecheck unit

demo: $(STAMP)
	$(VENV)/bin/pcc-env demo

bench: $(STAMP) $(PIPECAT_STAMP)
	PCC_ENV_PIPECAT_CLI=$(CURDIR)/$(PIPECAT_VENV)/bin/pipecat $(PY) benchmarks/run_all.py

clean:
	rm -rf $(VENV) $(PIPECAT_VENV) $(PLUGIN_VENV) .mypy_cache .ruff_cache .pytest_cache
