# Thin wrappers over `python -m pipeline`. Every stage reads the previous stage's table from $(OUT)
# and writes its own; tables are rewritten only when their bytes change, so make re-runs only what changed.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
PY     := $(BIN)/python
STAMP  := $(VENV)/.installed-$(shell cksum < pyproject.toml | cut -d' ' -f1)

CORPUS   ?= corpus
OUT      ?= outputs
TAXONOMY ?= taxonomy
MODEL    ?=
ENGINE   ?= local
JOBS     ?= 2
SCALE    ?= 1
TRAIN    ?=
GOLD     ?=
CV       ?=
IN       ?=
MODEL_ARG := $(if $(MODEL),--model $(MODEL),)
COMMON   := --out $(OUT) --taxonomy $(TAXONOMY) --jobs $(JOBS) --engine $(ENGINE)

.PHONY: run test setup ingest segment tokenize classify aggregate report train evaluate compare bench clean browser

run: report
	@echo "results in $(OUT)/ (summary: $(OUT)/summary.md, report: $(OUT)/report.html)"

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python 3.11 or set PYTHON=" >&2; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev]"
	@rm -f $(VENV)/.installed-* && touch $@

setup: $(STAMP)

# ingest always scans the corpus (file names may contain spaces, which make cannot list as prerequisites);
# documents.parquet keeps its mtime when nothing changed, so the later stages are skipped.
$(OUT)/documents.parquet: FORCE $(STAMP)
	$(PY) -m pipeline ingest --corpus "$(CORPUS)" $(COMMON)
ingest: $(OUT)/documents.parquet
FORCE:

$(OUT)/passages.parquet: $(OUT)/documents.parquet
	$(PY) -m pipeline segment $(COMMON)
segment: $(OUT)/passages.parquet

$(OUT)/tokens.parquet: $(OUT)/passages.parquet $(wildcard $(TAXONOMY)/*.yaml)
	$(PY) -m pipeline tokenize $(COMMON)
tokenize: $(OUT)/tokens.parquet

$(OUT)/labels.parquet: $(OUT)/tokens.parquet $(wildcard $(TAXONOMY)/*.yaml $(TAXONOMY)/examples/*.jsonl) $(MODEL)
	$(PY) -m pipeline classify $(COMMON) $(MODEL_ARG)

# `make classify IN=passages.jsonl OUT=predictions.jsonl` classifies a JSON-lines file instead
ifneq ($(IN),)
classify: $(STAMP)
	$(PY) -m pipeline classify --in "$(IN)" --out "$(OUT)" --taxonomy $(TAXONOMY) $(MODEL_ARG)
else
classify: $(OUT)/labels.parquet
endif

$(OUT)/coverage_region.csv: $(OUT)/labels.parquet
	$(PY) -m pipeline aggregate $(COMMON)
aggregate: $(OUT)/coverage_region.csv

$(OUT)/report.html: $(OUT)/coverage_region.csv
	$(PY) -m pipeline report $(COMMON)
report: $(OUT)/report.html

train: $(STAMP)
	$(PY) -m pipeline train $(if $(TRAIN),--train "$(TRAIN)",) --taxonomy $(TAXONOMY) $(if $(MODEL),--model $(MODEL),)

evaluate: $(STAMP)
	$(PY) -m pipeline evaluate --gold "$(GOLD)" --taxonomy $(TAXONOMY) $(MODEL_ARG) $(if $(CV),--cv $(CV),) --out $(OUT)

compare: $(STAMP)
	$(PY) -m pipeline compare --a "$(A)" --b "$(B)" --out $(OUT) --taxonomy $(TAXONOMY)

bench: $(STAMP)
	$(PY) bench/bench.py --corpus "$(if $(filter corpus,$(CORPUS)),../shared/corpus,$(CORPUS))" --scale $(SCALE) --jobs $(JOBS)

# the browser test needs Chromium; Debian's package is installed when missing (root on CI machines)
browser:
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || \
	  { command -v apt-get >/dev/null && (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null) \
	    || echo "warning: chromium not installed; the browser test will be skipped" >&2; }

test: $(STAMP) browser
	$(PY) -m pytest

clean:
	rm -rf $(OUT)/*.parquet $(OUT)/*.csv $(OUT)/*.xlsx $(OUT)/*.html $(OUT)/*.md $(OUT)/*.json
