# The two commands a newcomer needs: `make serve` and `make test`.
# Both create .venv when it is missing. torch is installed first, pinned to the
# CPU 2.13.0 build, so that nothing later pulls the CUDA wheels.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.climviz-installed
PORT    ?= 5006
ORIGIN  ?= localhost:$(PORT)
# --warm runs app.py once before the server says it is running (imports, models, embedded data);
# --reuse-sessions answers a page request from that session, so a new session is built only when
# the browser connects. bench/bench_app.py --browser serves with these flags too.
SERVE_FLAGS := --warm --reuse-sessions

.PHONY: serve test venv clean-venv format

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

serve: $(STAMP)
	$(BIN)/panel serve app.py $(SERVE_FLAGS) --port $(PORT) --allow-websocket-origin=$(ORIGIN) $(ARGS)

# Lint and format are part of the test command (configuration in pyproject.toml).
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest $(ARGS)

clean-venv:
	rm -rf $(VENV)

# Rewrites the code in the checked style: run before committing.
format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .
