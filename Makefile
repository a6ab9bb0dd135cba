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
# where `make train` puts models and records the current one
MODELS   ?= models
# the model `make train` produced last ($(MODELS)/CURRENT), else the default one trained from taxonomy/examples
MODEL    ?= $(shell cat $(MODELS)/CURRENT 2>/dev/null)
ENGINE   ?= local
JOBS     ?= 2
SCALE    ?= 1
TRAIN    ?=
GOLD     ?=
CV       ?=
IN       ?=
MODEL_ARG := $(if $(MODEL),--model $(MODEL),)
# which model the labels are made with, as the classify target sees it: a change (`make train`,
# `make default-model`, MODEL=...) must re-run classify even though no prerequisite file is newer
MODEL_USED = $(if $(MODEL),$(if $(filter lexicon,$(MODEL)),lexicon,$(abspath $(MODEL))),default)
MODEL_STAMP := $(OUT)/.classify-model
COMMON   := --out $(OUT) --taxonomy $(TAXONOMY) --jobs $(JOBS) --engine $(ENGINE)

.PHONY: run test setup ingest segment tokenize classify aggregate report train default-model evaluate compare bench clean browser

# One streaming run (ingest feeds the workers chunk by chunk), which keys every reuse on the model it actually
# uses; the per-stage targets below are for running the stages one at a time.
run: $(STAMP) $(MODEL_STAMP)
	$(PY) -m pipeline run --corpus "$(CORPUS)" $(COMMON) $(MODEL_ARG)
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

$(OUT)/passages.parquet: $(OUT)/documents.parquet pipeline/segment.py
	$(PY) -m pipeline segment $(COMMON)
segment: $(OUT)/passages.parquet

$(OUT)/tokens.parquet: $(OUT)/passages.parquet $(wildcard $(TAXONOMY)/*.yaml) pipeline/tokenize.py
	$(PY) -m pipeline tokenize $(COMMON)
tokenize: $(OUT)/tokens.parquet

# rewritten only when the model named changes, so its mtime tells make when classify must run again
$(MODEL_STAMP): FORCE
	@mkdir -p "$(OUT)"
	@if [ "$$(cat "$@" 2>/dev/null)" != "$(MODEL_USED)" ]; then echo "$(MODEL_USED)" > "$@"; fi

$(OUT)/labels.parquet: $(OUT)/tokens.parquet $(MODEL_STAMP) $(wildcard $(TAXONOMY)/*.yaml $(TAXONOMY)/examples/*.jsonl) $(wildcard $(MODEL)/model.json) pipeline/classify.py pipeline/lexicon.py pipeline/model.py
	$(PY) -m pipeline classify $(COMMON) $(MODEL_ARG)

# `make classify IN=passages.jsonl OUT=predictions.jsonl` classifies a JSON-lines file instead
ifneq ($(IN),)
classify: $(STAMP)
	$(PY) -m pipeline classify --in "$(IN)" --out "$(OUT)" --taxonomy $(TAXONOMY) $(MODEL_ARG)
else
classify: $(OUT)/labels.parquet
endif

$(OUT)/coverage_region.csv: $(OUT)/labels.parquet pipeline/aggregate.py
	$(PY) -m pipeline aggregate $(COMMON)
aggregate: $(OUT)/coverage_region.csv

$(OUT)/report.html: $(OUT)/coverage_region.csv pipeline/report.py
	$(PY) -m pipeline report $(COMMON)
report: $(OUT)/report.html

train: $(STAMP)
	$(PY) -m pipeline train $(if $(TRAIN),--train "$(TRAIN)",) --taxonomy $(TAXONOMY) --model $(or $(MODEL),$(MODELS)/trained)
	@mkdir -p $(MODELS) && echo "$(or $(MODEL),$(MODELS)/trained)" > $(MODELS)/CURRENT
	@echo "later make run / classify / evaluate use $(or $(MODEL),$(MODELS)/trained); 'make default-model' goes back"

default-model:
	rm -f $(MODELS)/CURRENT

evaluate: $(STAMP)
	$(PY) -m pipeline evaluate --gold "$(GOLD)" --taxonomy $(TAXONOMY) $(MODEL_ARG) $(if $(CV),--cv $(CV),) --out $(OUT)

compare: $(STAMP)
	$(PY) -m pipeline compare --a "$(A)" --b "$(B)" --out $(OUT) --taxonomy $(TAXONOMY)

bench: $(STAMP)
	$(PY) bench/bench.py --corpus "$(if $(filter corpus,$(CORPUS)),../shared/corpus,$(CORPUS))" --scale $(SCALE) --jobs $(JOBS)

# The browser test needs Chromium and a Chinese font (without one, Chinese renders as boxes). The Debian packages
# are installed when missing, as root or through passwordless sudo; otherwise the browser test is skipped.
browser:
	@missing=""; \
	command -v chromium >/dev/null || command -v chromium-browser >/dev/null || missing=" chromium"; \
	{ command -v fc-list >/dev/null && fc-list :lang=zh family | grep -q .; } || missing="$$missing fonts-noto-cjk"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then sudo=""; \
	  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo="sudo -n"; \
	  else sudo=no; fi; \
	  if command -v apt-get >/dev/null && [ "$$sudo" != no ]; then \
	    echo "browser: installing$$missing (Debian packages) for the browser test"; \
	    { $$sudo apt-get update -qq && \
	      $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq$$missing >/dev/null; } || \
	      echo "warning: could not install$$missing; the browser tests will skip (no chromium) or fail (no Chinese font)" >&2; \
	  else \
	    echo "warning: missing$$missing and no apt-get or root to install it; the browser tests will skip or fail" >&2; \
	  fi; \
	fi

test: $(STAMP) browser
	$(PY) -m pytest

clean:
	rm -rf $(OUT)/*.parquet $(OUT)/*.csv $(OUT)/*.xlsx $(OUT)/*.html $(OUT)/*.md $(OUT)/*.json $(OUT)/cache $(MODEL_STAMP)
