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
# The current pipecat CLI: it ships inside pipecat-ai (the `cli` extra), with pipecatcloud as its
# `cloud` plugin. One venv holds it and pcc-env (one resolve, like PLUGIN_VENV): the compatibility
# tests and the `pipecat env` plugin test both run against it. ~900 MB and ~95 s, built once.
CURRENT_VENV := .venv-pipecat-current
CURRENT_STAMP := $(CURRENT_VENV)/.installed
CURRENT_PKGS := pipecat-ai[cli]==1.14.0 pipecatcloud==1.4.0
# Every supported Python (requires-python >=3.10): a venv per interpreter with pcc-env[cli] (what
# users install) and pytest, cached under .venv-matrix/, and a subset of the suite that touches
# every module. An interpreter the machine lacks is skipped, saying so.
MATRIX_VERSIONS := 3.10 3.11 3.12 3.13
MATRIX_DIR := .venv-matrix
MATRIX_PKGS := 'pytest>=8' 'pytest-timeout>=2.3' 'pyyaml>=6'
MATRIX_TESTS := tests/test_python_matrix.py tests/test_runtime.py tests/test_rules.py \
	tests/test_sync.py tests/test_scan.py tests/test_targets.py tests/test_redeploy.py \
	tests/test_build_context.py
# What `make test` runs on every interpreter (the subset above costs ~30-60 s per Python: `make
# matrix` runs it): tomli declared and needed, the CLI reading pcc-deploy.toml, the runtime.
MATRIX_SMOKE := tests/test_python_matrix.py tests/test_runtime.py
# Some machines set PYTHONDONTWRITEBYTECODE: every child process would then recompile pcc_env
# from source, which slows the tests and skews start-up benchmarks. Let Python cache bytecode.
unexport PYTHONDONTWRITEBYTECODE

.PHONY: venvs test demo docs docs-commands lint typecheck unit bench install dist clean matrix compat compat-current keyring-programs

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

$(CURRENT_STAMP): pyproject.toml
	@test -x $(CURRENT_VENV)/bin/python || { echo "==> Creating $(CURRENT_VENV) for the current pipecat CLI (first run only)"; $(PYTHON) -m venv $(CURRENT_VENV); }
	@echo "==> Installing $(CURRENT_PKGS) and pcc-env together into $(CURRENT_VENV) (about 900 MB and 95 s the first time)"
	@if command -v uv >/dev/null 2>&1; then \
		uv pip install --python $(CURRENT_VENV)/bin/python '$(word 1,$(CURRENT_PKGS))' $(wordlist 2,9,$(CURRENT_PKGS)) -e '.[all]'; \
	else \
		$(CURRENT_VENV)/bin/python -m pip install $(PIP_PROGRESS) '$(word 1,$(CURRENT_PKGS))' $(wordlist 2,9,$(CURRENT_PKGS)) -e '.[all]'; \
	fi
	@touch $@
	@echo "==> $(CURRENT_VENV) is ready"

# The interpreter for a version: pyenv's newest, else pythonX.Y on PATH (a pyenv shim that has no
# such version selected fails `-c pass` and counts as missing).
define find_python
py=$$(ls -d $$HOME/.pyenv/versions/$(1).*/bin/python$(1) 2>/dev/null | sort -V | tail -n 1); \
[ -n "$$py" ] || py=$$(command -v python$(1) 2>/dev/null || true); \
{ [ -n "$$py" ] && "$$py" -c pass >/dev/null 2>&1; } || py=
endef

# One venv per Python version, each a target of its own so that they are made side by side.
MATRIX_VENVS := $(addprefix matrix-venv-,$(MATRIX_VERSIONS))
.PHONY: $(MATRIX_VENVS)
$(MATRIX_VENVS): matrix-venv-%:
	@$(call find_python,$*); \
	venv=$(MATRIX_DIR)/py$*; \
	if [ -n "$$py" ] && { [ "$$(cat $$venv/.installed 2>/dev/null)" != "$(MATRIX_PKGS)" ] || [ pyproject.toml -nt $$venv/.installed ]; }; then \
		echo "==> Creating $$venv with $$py: pcc-env[cli] and pytest (first run only)"; \
		rm -rf $$venv && "$$py" -m venv $$venv && \
		$$venv/bin/python -m pip install -q $(PIP_PROGRESS) -e '.[cli]' $(MATRIX_PKGS) && \
		echo "$(MATRIX_PKGS)" > $$venv/.installed; \
	fi

matrix: $(MATRIX_VENVS)
	@for v in $(MATRIX_VERSIONS); do \
		$(call find_python,$$v); \
		if [ -z "$$py" ]; then \
			echo "==> Python $$v: skipped, not on this machine (pyenv install $$v, or put python$$v on PATH)"; \
			continue; \
		fi; \
		venv=$(MATRIX_DIR)/py$$v; \
		echo "==> Python $$v ($$($$venv/bin/python -c 'import platform; print(platform.python_version())')): $(words $(MATRIX_TESTS)) test files"; \
		PCC_ENV_PIPECAT_CLI=$(CURDIR)/$(PIPECAT_VENV)/bin/pipecat \
			$$venv/bin/python -m pytest -q -p no:cacheprovider $(MATRIX_TESTS) || exit 1; \
	done

lint: $(DEV_STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(DEV_STAMP)
	$(VENV)/bin/mypy pcc_env

# The suite waits (for child processes, servers, deadlines) more than it computes, so it runs
# on more workers than there are cores (pytest-xdist; TEST_WORKERS=0 runs it in one process).
# Tests marked `serial` time themselves against the wall clock: they run after, alone.
TEST_WORKERS ?= 4
UNIT_ENV := PCC_ENV_PIPECAT_CLI=$(CURDIR)/$(PIPECAT_VENV)/bin/pipecat \
	PCC_ENV_PIPECAT_PLUGIN_CLI=$(CURDIR)/$(PLUGIN_VENV)/bin/pipecat

# The tests that run the real pipecat CLI, run again against the current one.
COMPAT_TESTS := tests/test_emulator_pipecat_cli.py tests/test_pipecat_plugin.py

# The real-keyring tests (tests/test_real_keyring.py) need gnome-keyring and dbus-run-session. On CI
# (CI set), as root with apt-get, they are installed when missing (~40 s); anywhere else nothing is
# installed and those tests skip, saying how to get them (or run `make keyring-programs`).
KEYRING_PROGRAMS := gnome-keyring dbus
keyring-programs:
	@if command -v gnome-keyring-daemon >/dev/null 2>&1 && command -v dbus-run-session >/dev/null 2>&1; then \
		echo "==> gnome-keyring and dbus-run-session are installed"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "==> Installing $(KEYRING_PROGRAMS) for the real-keyring tests (about 40 s)"; \
		export DEBIAN_FRONTEND=noninteractive; \
		timeout 300 apt-get install -y -q --no-install-recommends $(KEYRING_PROGRAMS) >/dev/null 2>&1 || \
		{ timeout 300 apt-get update -q >/dev/null 2>&1 && timeout 300 apt-get install -y -q --no-install-recommends $(KEYRING_PROGRAMS) >/dev/null 2>&1; } || \
		echo "==> Could not install $(KEYRING_PROGRAMS): the real-keyring tests will skip"; \
	else \
		echo "==> Install $(KEYRING_PROGRAMS) (apt-get, dnf) for the real-keyring tests; they skip without them"; \
	fi

unit: $(DEV_STAMP) $(PIPECAT_STAMP) $(PLUGIN_STAMP) $(CURRENT_STAMP)
	@if [ -n "$$CI" ]; then $(MAKE) --no-print-directory keyring-programs; fi
	status=0; \
	$(UNIT_ENV) $(VENV)/bin/pytest -n $(TEST_WORKERS) -m "not serial" || status=$$?; \
	$(UNIT_ENV) $(VENV)/bin/pytest -m serial || status=$$?; \
	$(MAKE) --no-print-directory compat-current || status=$$?; \
	$(MAKE) --no-print-directory matrix MATRIX_TESTS="$(MATRIX_SMOKE)" || status=$$?; \
	exit $$status

# The compatibility tests alone, against the frozen CLI (1.3.0) and the current one (1.14.0).
compat: $(DEV_STAMP) $(PIPECAT_STAMP) $(PLUGIN_STAMP) $(CURRENT_STAMP)
	@echo "==> The pipecat CLI 1.3.0 (pipecat-ai-cli, frozen)"
	PCC_ENV_PIPECAT_CLI=$(CURDIR)/$(PIPECAT_VENV)/bin/pipecat \
	PCC_ENV_PIPECAT_PLUGIN_CLI=$(CURDIR)/$(PLUGIN_VENV)/bin/pipecat $(VENV)/bin/pytest -q -n $(TEST_WORKERS) $(COMPAT_TESTS)
	@$(MAKE) --no-print-directory compat-current

compat-current: $(DEV_STAMP) $(CURRENT_STAMP)
	@echo "==> The current pipecat CLI ($(CURRENT_PKGS))"
	PCC_ENV_PIPECAT_CLI=$(CURDIR)/$(CURRENT_VENV)/bin/pipecat \
	PCC_ENV_PIPECAT_PLUGIN_CLI=$(CURDIR)/$(CURRENT_VENV)/bin/pipecat $(VENV)/bin/pytest -q -n $(TEST_WORKERS) $(COMPAT_TESTS)

# A first run makes four venvs that do not depend on one another; pip spends most of their time
# waiting on the network and the disk, so they are made side by side (GNU make 4+: each venv's
# output shown whole when it is done; an older make makes them one after another).
TEST_STAMPS := $(DEV_STAMP) $(PIPECAT_STAMP) $(PLUGIN_STAMP) $(CURRENT_STAMP)
ifneq ($(filter output-sync,$(.FEATURES)),)
PARALLEL_VENVS := -j4 --output-sync=target
endif
venvs:
	@if ! $(MAKE) -q $(TEST_STAMPS) 2>/dev/null; then \
		echo "==> Making the test venvs side by side (first run only, about 2 min)"; \
		$(MAKE) --no-print-directory $(PARALLEL_VENVS) $(TEST_STAMPS) $(MATRIX_VENVS); \
	fi

test: venvs
	@$(MAKE) --no-print-directory lint typecheck unit

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
	rm -rf $(VENV) $(PIPECAT_VENV) $(PLUGIN_VENV) $(CURRENT_VENV) $(MATRIX_DIR) $(DIST_VENV) dist .mypy_cache .ruff_cache .pytest_cache site
