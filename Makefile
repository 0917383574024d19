# Serving Machine Learning. The two README commands: `make book` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.requirements.sha256
REQ_HASH := $(shell cat requirements.txt pyproject.toml | sha256sum | cut -c1-64)
# `make test` checks the Debian packages it needs before anything else (tools/system-deps.sh): as
# root it installs the missing ones; otherwise it stops at once with one line saying what to install.
ifneq ($(filter test,$(MAKECMDGOALS)),)
MISSING_SYSTEM_PACKAGES := $(shell bash tools/system-deps.sh check)
ifneq ($(MISSING_SYSTEM_PACKAGES),)
$(error $(MISSING_SYSTEM_PACKAGES))
endif
endif
NBVAL_ARGS := -p no:cacheprovider --nbval --nbval-sanitize-with nbval_sanitize.cfg --nbval-cell-timeout=300
PYTEST_NB := $(BIN)/pytest $(NBVAL_ARGS) -n 2 --dist loadfile

.PHONY: help venv book test lint format pytest nbval browser model serve preview lab clean system-deps \
	system-check

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

# The venv is (re)built whenever requirements.txt or pyproject.toml change. pip installs only uv, at
# the version requirements.txt pins; uv installs the rest (the same pins, several times faster),
# compiled to bytecode as pip does, so that the first import in each process is not slowed.
UV_PIN := $(shell grep '^uv==' requirements.txt)
venv: ## create .venv and install the pinned requirements (only when they changed)
	@if [ ! -x $(BIN)/python ]; then $(PYTHON) -m venv $(VENV); fi
	@if [ "$$(cat $(STAMP) 2>/dev/null)" != "$(REQ_HASH)" ]; then \
		echo "installing requirements into $(VENV) ..."; \
		$(BIN)/python -m pip install -qq $(UV_PIN) && \
		$(BIN)/python -m uv pip install -q --compile-bytecode --python $(BIN)/python -r requirements.txt && \
		echo "$(REQ_HASH)" > $(STAMP); \
	fi

book: venv ## build the site into _build/html from the committed notebook outputs (fails on warnings)
	$(BIN)/jupyter-book build . --warningiserror --nitpick --keep-going --quiet
	@echo "The site is in $(CURDIR)/_build/html/index.html (make preview serves it)"

lint: venv ## ruff lint and format check over code and notebooks
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: venv ## apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

pytest: venv ## the test suite for examples/, the book's structure and the service
	$(BIN)/pytest -n 2 -m "not browser" --cov --cov-report=term-missing:skip-covered --cov-fail-under=95 tests

nbval: venv ## run every notebook and compare it with its committed outputs
	$(PYTEST_NB) -p tools.nbval_report notebooks

browser: venv ## open every page of the built site in chromium (needs make book first)
	$(BIN)/pytest -m browser tests

test: venv lint pytest nbval book browser ## everything CI checks

model: venv ## train the wine classifier and write its artifact to models/
	$(BIN)/python -m examples.model

serve: venv ## run the reference service on 127.0.0.1:8000
	@$(BIN)/python -m examples.serving auth dev-env --env .env --key-file var/dev-api-key
	$(BIN)/dotenv -f .env run --no-override $(BIN)/gunicorn -c examples/serving/gunicorn.conf.py examples.serving.wsgi:app

preview: ## serve the built site on http://127.0.0.1:8001
	$(BIN)/python -m http.server 8001 --bind 127.0.0.1 --directory _build/html

# Jupyter refuses to run as root unless told --allow-root (book/setup.md explains it).
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)
LAB_PORT ?= 8888
lab: venv ## Jupyter Lab in the venv, on 127.0.0.1:8888 (LAB_PORT=...; LAB_ARGS=--no-browser)
	$(BIN)/jupyter lab --ip 127.0.0.1 --port $(LAB_PORT) --ServerApp.port_retries=0 \
		--notebook-dir notebooks $(ALLOW_ROOT) $(LAB_ARGS)

system-deps: ## install the Debian packages in tools/system-packages.txt (as root)
	@bash tools/system-deps.sh install

system-check: ## check the Debian packages make test needs (installs them when run as root)
	@bash tools/system-deps.sh check

clean: ## remove the build, caches and trained models (keeps .venv)
	rm -rf _build models .pytest_cache .ruff_cache .coverage htmlcov
	find . -name __pycache__ -not -path './.venv/*' -prune -exec rm -rf {} +

.PHONY: bench bench-quick
bench: venv ## measure every contender with wrk, count instructions with callgrind (under 10 min); writes benchmarks/results/
	$(BIN)/python -m benchmarks.run

bench-quick: venv ## the short benchmark run CI uses (no callgrind; about 2 min on a quiet machine, 8 at load 30)
	$(BIN)/python -m benchmarks.run --quick --output-dir $${BENCH_OUTPUT:-/tmp/bench-quick}

.PHONY: reliability
reliability: venv ## the reliability and security suite at its long scale (fuzzing, load, faults)
	RELIABILITY_SCALE=long $(BIN)/pytest -p no:cacheprovider -q -rxX tests/reliability

.PHONY: pdf live
pdf: venv ## the whole book as one PDF (chromium prints a single-page build, offline); make book links it
	$(BIN)/python -m tools.book_pdf
	$(MAKE) book

LIVE_PORT ?= 8002
LIVE_JUPYTER_PORT ?= 8889
live: venv ## the built site on 127.0.0.1:8002 with live code on a local Jupyter kernel (make book first)
	$(BIN)/python -m tools.live --site-port $(LIVE_PORT) --jupyter-port $(LIVE_JUPYTER_PORT)

# The chapter -> code -> tests map in examples/README.md (tools/chapter_map.py).
.PHONY: chapter chapter-map affected git-textconv
chapter-map: venv ## regenerate the chapter -> code -> tests table in examples/README.md
	$(BIN)/python -m tools.chapter_map write

affected: venv ## the notebooks to re-execute after editing FILE (make affected FILE=examples/...)
	@test -n "$(FILE)" || { echo "usage: make affected FILE=examples/..."; exit 2; }
	@$(BIN)/python -m tools.chapter_map affected $(FILE)

# One chapter's loop: lint, execute in place, strict nbval twice (a notebook must pass twice).
CHAPTER_NB = $(firstword $(wildcard notebooks/$(NB)_*.ipynb notebooks/$(NB).ipynb))
chapter: venv ## lint, execute and strictly validate one notebook (make chapter NB=12)
	@test -n "$(CHAPTER_NB)" || { echo "usage: make chapter NB=12 (no notebook notebooks/$(NB)_*.ipynb)"; exit 2; }
	$(BIN)/ruff format $(CHAPTER_NB) && $(BIN)/ruff check --fix $(CHAPTER_NB)
	$(BIN)/jupyter nbconvert --to notebook --execute --inplace $(CHAPTER_NB)
	$(BIN)/pytest $(NBVAL_ARGS) $(CHAPTER_NB)
	$(BIN)/pytest $(NBVAL_ARGS) $(CHAPTER_NB)
	$(BIN)/python -m tools.chapter_map write
	$(BIN)/pytest -q tests/test_book_structure.py tests/book tests/test_chapter_map.py

git-textconv: venv ## show notebook diffs as MyST text in this clone (git diff --no-textconv for JSON)
	git config diff.jupytext.textconv "$(CURDIR)/$(BIN)/jupytext --quiet --to md:myst -o -"
	git config diff.jupytext.cachetextconv true
