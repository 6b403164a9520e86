# Two entry points: `make demo` (all scenarios end to end) and `make test` (the whole suite).
# Both install into .venv on first use from the compiled lock (requirements.lock).
PY ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# No MLOPS_DATA_ROOT here: the demo and the UI targets use their own root (.local/) and ignore
# inherited MLOPS_*/MLFLOW_*/AIRFLOW_* settings (scripts/airflow_env.py); tests set theirs in
# tests/conftest.py. Run scripts/demo.py --data-root PATH / --use-environment to choose.
export PYTHONHASHSEED := 0
# Bytecode is compiled at install and cached for our own sources: without it every Airflow task
# process, DAG parse and test recompiles Airflow from source (hosts often set this variable).
unexport PYTHONDONTWRITEBYTECODE

.PHONY: install browser demo test test-fast bench lint airflow airflow-ui mlflow-ui clean lock

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check uv==0.13.9
	$(BIN)/uv pip install -q --compile-bytecode --python $(BIN)/python -r requirements.lock
	$(BIN)/uv pip install -q --python $(BIN)/python --no-deps -e .
	touch $@

install: $(STAMP)

# The UI test drives Debian's Chromium (no browser download at test time).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the UI test"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

demo: $(STAMP)
	$(BIN)/python scripts/demo.py

test: $(STAMP) browser
	$(BIN)/ruff check include plugins dags tests bench scripts
	$(BIN)/python -m pytest -p no:cacheprovider -ra -n auto --dist loadfile tests

test-fast: $(STAMP)
	$(BIN)/python -m pytest -p no:cacheprovider -ra -m "not e2e and not integration" tests

bench: $(STAMP)
	$(BIN)/python bench/run.py

lint: $(STAMP)
	$(BIN)/ruff check include plugins dags tests bench scripts

# The embedded default as a live Airflow (scheduler, dag-processor, triggerer, api-server on
# 127.0.0.1:8080, LocalExecutor, SQLite) over the demo's root: UI-triggered and Asset-triggered
# runs execute. User admin; the password is only in .local/airflow/simple_auth_manager_passwords.json.generated.
airflow: $(STAMP)
	$(BIN)/python scripts/live_airflow.py --port 8080

airflow-ui: airflow

mlflow-ui: $(STAMP)
	$(BIN)/python scripts/airflow_env.py mlflow-ui --port 5000

# Recompile the lock after changing pyproject.toml dependencies.
lock: $(STAMP)
	$(BIN)/uv pip compile --python $(BIN)/python --no-header --no-annotate --extra dev pyproject.toml -o requirements.lock

clean:
	rm -rf .local
