# The two commands a newcomer needs: `make demo` and `make test`. Both create .venv themselves.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
DEMO   ?= demo-output
PYTHON_SOURCES := norwoodkit tests benchmarks tools

.PHONY: demo test lint typecheck unit install browser bench fuzz clean

# The loader's tests need PyTorch. TORCH_SPEC pins the CPU build that these machines carry on
# disk (no CUDA download); set TORCH_SPEC= (empty) to skip torch, and the loader tests skip.
TORCH_SPEC ?= torch==2.13.0

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	@if [ -n "$(TORCH_SPEC)" ]; then \
		echo "$(BIN)/python -m pip install --quiet $(TORCH_SPEC)"; \
		$(BIN)/python -m pip install --quiet "$(TORCH_SPEC)"; \
		$(BIN)/python -m pip install --quiet -e '.[test,torch]'; \
	else \
		$(BIN)/python -m pip install --quiet -e '.[test]'; \
	fi
	touch $@

install: $(VENV)/.installed

lint: install
	$(BIN)/ruff check $(PYTHON_SOURCES)
	$(BIN)/ruff format --check $(PYTHON_SOURCES)

typecheck: install
	$(BIN)/mypy --strict

unit: install
	$(BIN)/pytest -q

# The report's browser test needs Debian's chromium; CI (root, CI=true) installs it, elsewhere
# the test is skipped with its reason when chromium is absent.
browser:
	@if [ "$${CI:-}" = "true" ] && ! command -v chromium >/dev/null 2>&1 \
		&& [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing chromium for the report's browser test"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium \
			>/dev/null) || echo "could not install chromium: the browser test will be skipped"; \
	fi

test: lint typecheck browser unit

demo: install
	@rm -rf $(DEMO) && mkdir -p $(DEMO)
	$(BIN)/norwoodkit sample $(DEMO)/sample --subjects 480 --seed 0
	$(BIN)/norwoodkit validate $(DEMO)/sample --expect-subjects 480 --expect-images 2400 \
		--junit $(DEMO)/validate-junit.xml --cache $(DEMO)/cache
	$(BIN)/norwoodkit validate $(DEMO)/sample --json --cache $(DEMO)/cache > $(DEMO)/validate.json
	$(BIN)/norwoodkit dedupe $(DEMO)/sample --fail-on cross-subject --pairs $(DEMO)/pairs.csv \
		--cache $(DEMO)/cache
	$(BIN)/norwoodkit stats $(DEMO)/sample --markdown $(DEMO)/stats.md --csv $(DEMO)/stats \
		--cache $(DEMO)/cache > $(DEMO)/stats.txt
	$(BIN)/norwoodkit split $(DEMO)/sample --out $(DEMO)/splits.csv --images $(DEMO)/split-images.csv \
		--strict --cache $(DEMO)/cache --json > $(DEMO)/splits.json
	$(BIN)/norwoodkit split $(DEMO)/sample --folds 5 --out $(DEMO)/folds.csv --cache $(DEMO)/cache \
		--quiet > /dev/null
	$(BIN)/norwoodkit pack $(DEMO)/sample --out $(DEMO)/shards --splits $(DEMO)/splits.json \
		--cache $(DEMO)/cache
	$(BIN)/norwoodkit verify $(DEMO)/shards
	$(BIN)/norwoodkit report $(DEMO)/sample --out $(DEMO)/report.html --splits $(DEMO)/splits.csv \
		--plots $(DEMO)/plots --cache $(DEMO)/cache
	$(BIN)/norwoodkit sample $(DEMO)/defects --subjects 60 --seed 1 --defects
	@# The defects sample must fail validation (exit 1): anything else is a demo failure.
	$(BIN)/norwoodkit validate $(DEMO)/defects --json --cache $(DEMO)/cache \
		> $(DEMO)/defects-validate.json; test $$? -eq 1
	$(BIN)/norwoodkit report $(DEMO)/defects --out $(DEMO)/defects-report.html --cache $(DEMO)/cache
	@echo
	@echo "demo outputs in $(DEMO)/:"
	@echo "  sample/                clean synthetic dataset (480 subjects, 2400 photos)"
	@echo "  validate-junit.xml     validate on it as JUnit XML (exit 0); validate.json the same as JSON"
	@echo "  pairs.csv              dedupe's pairs (none on a clean sample)"
	@echo "  stats.md, stats/       stats as Markdown and one CSV per table; stats.txt the terminal view"
	@echo "  splits.csv, folds.csv  70/15/15 split and 5 folds, stratified on stage and age bin"
	@echo "  splits.json            the same split as split's --json document (how it was made)"
	@echo "  shards/                a Hugging Face dataset folder: data/*.parquet, README.md card,"
	@echo "                         croissant.json, manifest.json (verified); the card says how the split was made"
	@echo "  report.html, plots/    self-contained HTML report and its plots as PNG"
	@echo "  defects/               a sample with every defect planted (defects/defects.json)"
	@echo "  defects-validate.json  what validate found there (exit 1, as expected)"
	@echo "  defects-report.html    the report of the broken sample"
	@echo "  cache/                 the probe cache (later commands decoded nothing again)"

# The property-based fuzzers with a long budget (CI runs them with a short one).
fuzz: install
	HYPOTHESIS_PROFILE=long $(BIN)/pytest -q tests/test_fuzz_*.py

bench: install
	$(BIN)/python benchmarks/bench_probe.py
	$(BIN)/python benchmarks/bench_stats.py
	$(BIN)/python benchmarks/bench_pack.py

clean:
	rm -rf $(VENV) $(DEMO) .pytest_cache .mypy_cache .ruff_cache
