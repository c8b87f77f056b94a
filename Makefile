# The two commands a newcomer needs: `make demo` and `make test`. Both create .venv themselves.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
DEMO   ?= demo-output
PYTHON_SOURCES := norwoodkit tests benchmarks

.PHONY: demo test lint typecheck unit install browser bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
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
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	fi

test: lint typecheck browser unit

demo: install
	@rm -rf $(DEMO) && mkdir -p $(DEMO)
	$(BIN)/norwoodkit sample $(DEMO)/sample --subjects 480 --seed 0
	$(BIN)/norwoodkit validate $(DEMO)/sample --expect-subjects 480 --expect-views 2400 \
		--junit $(DEMO)/validate-junit.xml --cache $(DEMO)/cache
	$(BIN)/norwoodkit validate $(DEMO)/sample --json --cache $(DEMO)/cache > $(DEMO)/validate.json
	$(BIN)/norwoodkit sample $(DEMO)/defects --subjects 60 --seed 1 --defects
	@# The defects sample must fail validation (exit 1): anything else is a demo failure.
	$(BIN)/norwoodkit validate $(DEMO)/defects --json --cache $(DEMO)/cache \
		> $(DEMO)/defects-validate.json; test $$? -eq 1
	@echo
	@echo "demo outputs in $(DEMO)/:"
	@echo "  sample/                clean synthetic dataset (480 subjects, 2400 photos)"
	@echo "  validate-junit.xml     JUnit report of validate on it (exit 0)"
	@echo "  validate.json          the same as JSON"
	@echo "  defects/               a sample with every defect planted (defects/defects.json)"
	@echo "  defects-validate.json  what validate found there (exit 1, as expected)"
	@echo "  cache/                 the probe cache (a second validate decodes nothing)"

bench: install
	$(BIN)/python benchmarks/bench_probe.py

clean:
	rm -rf $(VENV) $(DEMO) .pytest_cache .mypy_cache .ruff_cache
