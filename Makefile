# Thin wrappers over `python -m pipeline`. Every stage reads the previous stage's table from $(OUT)
# and writes its own; tables are rewritten only when their bytes change, so make re-runs only what changed.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
PY     := $(BIN)/python
STAMP  := $(VENV)/.installed-$(shell cksum < pyproject.toml | cut -d' ' -f1)
BYTECODE := $(VENV)/.bytecode

CORPUS   ?= corpus
OUT      ?= outputs
TAXONOMY ?= taxonomy
# where `make train` puts models and records the current one
MODELS   ?= models
# the model `make train` produced last ($(MODELS)/CURRENT), else the default one trained from taxonomy/examples
MODEL    ?= $(shell cat $(MODELS)/CURRENT 2>/dev/null)
ENGINE   ?= local
JOBS     ?= 2
# a document with more passages than this is processed in windows of this many passages (memory follows it)
WINDOW   ?= 20000
SCALE    ?= 1
HUGE     ?=
TRAIN    ?=
CODED    ?= coded
GOLD     ?=
CV       ?=
IN       ?=
GAPS     ?=
A        ?=
B        ?=
# a value inside '...' in a recipe, even one holding a quote
shell_quoted = $(subst ','\'',$(1))
# a value as one word of a recipe's shell command: between double quotes, a folder named with ", $ or ` broke the
# command or ran what the backquotes held
quoted = '$(call shell_quoted,$(1))'
MODEL_ARG := $(if $(MODEL),--model $(call quoted,$(MODEL)),)
# several frameworks in one run: TAXONOMY=taxonomy,taxonomy/policy_tools
comma := ,
TAXONOMY_DIRS = $(subst $(comma), ,$(TAXONOMY))
# a framework is a folder (taxonomy.yaml, strength.yaml, examples/) or a YAML file, whose folder holds the others
TAXONOMY_HOMES = $(foreach d,$(TAXONOMY_DIRS),$(if $(wildcard $(d)/.),$(d),$(patsubst %/,%,$(dir $(d)))))
TAXONOMY_FILES = $(foreach d,$(TAXONOMY_HOMES),$(wildcard $(d)/*.yaml)) $(foreach d,$(TAXONOMY_DIRS),$(if $(wildcard $(d)/.),,$(wildcard $(d))))
# which model the labels are made with, as the classify target sees it: a change (`make train`,
# `make default-model`, MODEL=...) must re-run classify even though no prerequisite file is newer
MODEL_USED = $(if $(MODEL),$(if $(filter lexicon,$(MODEL)),lexicon,$(abspath $(MODEL))),default)
MODEL_STAMP := $(OUT)/.classify-model
NOTE_MODEL = if [ "$$(cat $(call quoted,$(MODEL_STAMP)) 2>/dev/null)" != "$(MODEL_USED)" ]; then echo "$(MODEL_USED)" > $(call quoted,$(MODEL_STAMP)); fi
# make names OUT's files as prerequisites and targets, which cannot hold a space (nor be empty: `make clean`
# would then clean the current folder)
ifneq ($(words $(OUT)),1)
$(error OUT='$(OUT)': must be one folder path without spaces (make cannot name files in it); for such a folder run python -m pipeline run --out "...")
endif
COMMON   := --out $(call quoted,$(OUT)) --taxonomy $(call quoted,$(TAXONOMY)) --jobs $(JOBS) --engine $(ENGINE) --window-passages $(WINDOW)

# --corpus only when CORPUS= was given: left to its default (the demo corpus), ingest refuses an OUT holding another
# corpus's run instead of replacing it (`make report OUT=my_results` re-ran ingest on the demo corpus there)
CORPUS_ARG = $(if $(filter command line environment override,$(origin CORPUS)),--corpus $(call quoted,$(CORPUS)),)
# make evaluate: the regions of codings the store keeps without one (imported before it kept them) are those the
# manifest of the corpus they were drawn from gives, when CORPUS= names it
MANIFEST_ARG = $(if $(filter command line environment override,$(origin CORPUS)),--manifest $(call quoted,$(CORPUS)/manifest.csv),)
# `make help` lists the targets (from the "## " notes on their rules) and these variables with their values
HELP_VARS := CORPUS OUT TAXONOMY MODEL MODELS JOBS WINDOW ENGINE TRAIN CODED GOLD CV CURVE IN N GAPS FILE CODER A B SCALE HUGE PYTHON VENV
# a variable given on the command line that no target takes (CORPSU=, corpus=) left the default in its place: the
# demo corpus ran into the researcher's OUT without a word
GIVEN_VARS := $(sort $(foreach v,$(.VARIABLES),$(if $(filter command line,$(origin $(v))),$(v))))
UNKNOWN_VARS := $(filter-out $(HELP_VARS) SHELL,$(GIVEN_VARS))
ifneq ($(UNKNOWN_VARS),)
$(error $(UNKNOWN_VARS): $(if $(word 2,$(UNKNOWN_VARS)),not variables,not a variable) of this Makefile (a misspelling would leave the default in place); make help lists them)
endif
HELP_CORPUS   := corpus folder (optional manifest.csv at its root)
HELP_OUT      := output folder: stage tables, reports; for classify IN=, the predictions file
HELP_TAXONOMY := taxonomy folder or YAML file; several, comma-separated, are crossed (taxonomy,taxonomy/policy_tools)
HELP_MODEL    := model folder from make train, or lexicon (default: the one make train made last, else the default model)
HELP_MODELS   := where make train puts models and records the current one (MODELS/CURRENT)
HELP_JOBS     := worker processes for tokenize and classify, and folds trained at once by make evaluate CV=
HELP_WINDOW   := passages per window: a longer document is processed in windows of this many (bounds memory)
HELP_ENGINE   := local, or dask (DASK_SCHEDULER_ADDRESS= for a cluster)
HELP_TRAIN    := coded JSON-lines file(s) for make train, comma-separated
HELP_GOLD     := coded JSON-lines file(s) (or the coded store folder) for make evaluate
HELP_CODED    := the coded store: passages coded through make review / review-import (always in make train; the report counts them)
HELP_N        := make review: how many passages to pick
HELP_GAPS     := make review: GAPS=k picks first, for every gap the model leaves in a region, the k passages most likely to fill it
HELP_FILE     := make review-import: the coded review sheet (.xlsx, .csv, .jsonl)
HELP_CODER    := make review-import: coder name for rows without one
HELP_CV       := make evaluate: cross-validate: region (hold out each region), doc, or a number of folds grouped by document
HELP_CURVE    := make evaluate with CV=: CURVE=1 adds the learning curve (F1 when trained on 25, 50 and 100% of the training folds)
HELP_IN       := make classify: a JSON-lines file of passages to classify instead of the corpus
HELP_A        := make compare: a region of OUT, or another output folder
HELP_B        := make compare: the region or output folder to compare A with
HELP_SCALE    := make bench: replicate the corpus this many times
HELP_HUGE     := make bench: HUGE=1 measures one 60 MB document (peak RSS) instead
HELP_PYTHON   := the Python 3.11 that builds the virtual environment
HELP_VENV     := folder of the virtual environment

.PHONY: help run test setup validate ingest segment tokenize classify aggregate report train default-model evaluate review review-import compare bench clean browser

# One streaming run (ingest feeds the workers chunk by chunk), which keys every reuse on the model it actually
# uses; the per-stage targets below are for running the stages one at a time.
run: $(BYTECODE) $(MODEL_STAMP) ## the whole pipeline on CORPUS into OUT, in one streaming run
	@# a run that fails (or is refused: another run holds OUT) forgets the model it was asked for, so that the next
	@# make classify/report does not take the labels there for that model's
	$(PY) -m pipeline run $(CORPUS_ARG) $(COMMON) $(MODEL_ARG) --coded $(call quoted,$(CODED)) || { s=$$?; rm -f $(call quoted,$(MODEL_STAMP)); exit $$s; }
	@$(NOTE_MODEL)
	@echo "results in $(OUT)/ (summary: $(OUT)/summary.md, report: $(OUT)/report.html)"

help: ## this list of targets and variables
	@echo "usage: make <target> [VARIABLE=value ...]"
	@echo
	@echo "targets:"
	@sed -n 's/^\([a-z-][a-z-]*\):[^#]*## \(.*\)$$/\1\t\2/p' $(firstword $(MAKEFILE_LIST)) | \
	  awk -F'\t' '!seen[$$1]++ { printf "  %-14s %s\n", $$1, $$2 }'
	@echo
	@echo "variables (current value in brackets):"
	@$(foreach v,$(HELP_VARS),printf '  %-9s %s [%s]\n' '$(v)' '$(HELP_$(v))' '$(call shell_quoted,$($(v)))';)

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python 3.11 or set PYTHON=" >&2; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "setup: installing the pinned dependencies into $(VENV) (about a minute, once; again only when pyproject.toml changes)"
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev,dask,bench]"
	@rm -f $(VENV)/.installed-* && touch $@

# the package's bytecode, written even where PYTHONDONTWRITEBYTECODE is set (as in many container images): without
# it every process compiles the pipeline's modules again (a tenth of a second each run, and each test that runs one)
$(BYTECODE): $(STAMP) $(wildcard pipeline/*.py)
	@$(PY) -m compileall -q pipeline && touch $@

setup: $(STAMP) ## build the virtual environment (VENV) from pyproject.toml

validate: $(BYTECODE) ## check a framework (TAXONOMY=): YAML, facets, lexicons, strength cues, examples
	$(PY) -m pipeline validate --taxonomy $(call quoted,$(TAXONOMY))

# ingest always scans the corpus (file names may contain spaces, which make cannot list as prerequisites);
# documents.parquet keeps its mtime when nothing changed, so the later stages are skipped.
$(OUT)/documents.parquet: FORCE $(BYTECODE)
	$(PY) -m pipeline ingest $(CORPUS_ARG) $(COMMON)
ingest: $(OUT)/documents.parquet ## stage 1: read CORPUS into documents.parquet and ingest_report.csv
FORCE:

$(OUT)/passages.parquet: $(OUT)/documents.parquet pipeline/segment.py
	$(PY) -m pipeline segment $(COMMON)
segment: $(OUT)/passages.parquet ## stage 2: split documents into passages

$(OUT)/tokens.parquet: $(OUT)/passages.parquet $(TAXONOMY_FILES) pipeline/tokenize.py
	$(PY) -m pipeline tokenize $(COMMON)
tokenize: $(OUT)/tokens.parquet ## stage 3: tokenize passages

# rewritten only when the model named changes, so its mtime tells make when classify must run again. Not into an
# OUT that is not there yet: the command makes it (and removes it again when it refuses to run), while a folder
# made here stayed behind, empty, after a refused `make run CORPUS= OUT=new/folder`; run and classify note the
# model once they have made it
$(MODEL_STAMP): FORCE
	@if [ -e $(call quoted,$(OUT)) ] && [ ! -d $(call quoted,$(OUT)) ]; then echo $(call quoted,error: $(OUT): is a file; OUT must be a folder (the outputs are written into it)) >&2; exit 2; fi
	@if [ -d $(call quoted,$(OUT)) ]; then $(NOTE_MODEL); fi

$(OUT)/labels.parquet: $(OUT)/tokens.parquet $(MODEL_STAMP) $(TAXONOMY_FILES) $(foreach d,$(TAXONOMY_HOMES),$(wildcard $(d)/examples/*.jsonl)) $(wildcard $(MODEL)/model.json) pipeline/classify.py pipeline/lexicon.py pipeline/model.py
	$(PY) -m pipeline classify $(COMMON) $(MODEL_ARG) || { s=$$?; rm -f $(call quoted,$(MODEL_STAMP)); exit $$s; }
	@$(NOTE_MODEL)

# `make classify IN=passages.jsonl OUT=predictions.jsonl` classifies a JSON-lines file instead
ifneq ($(IN),)
classify: $(BYTECODE) ## stage 4: label passages (IN=passages.jsonl OUT=predictions.jsonl: a JSON-lines file instead)
	$(PY) -m pipeline classify --in $(call quoted,$(IN)) --out $(call quoted,$(OUT)) --taxonomy $(call quoted,$(TAXONOMY)) $(MODEL_ARG)
else
classify: $(OUT)/labels.parquet ## stage 4: label passages (IN=passages.jsonl OUT=predictions.jsonl: a JSON-lines file instead)
endif

# aggregate reads the documents (titles, dates, regions) and ingest's report too, which the manifest can change
# while the passages and labels stay as they were
$(OUT)/coverage_region.csv: $(OUT)/labels.parquet $(OUT)/documents.parquet $(OUT)/ingest_report.csv pipeline/aggregate.py pipeline/strength.py $(wildcard taxonomy/strength.yaml) $(TAXONOMY_FILES) $(wildcard $(CODED)/*.jsonl)
	$(PY) -m pipeline aggregate $(COMMON) --coded $(call quoted,$(CODED))
aggregate: $(OUT)/coverage_region.csv ## stage 5: coverage tables, gap audit, coded_passages.csv

# the report reads every table aggregate writes and ingest's report; any of them can change while
# coverage_region.csv stays as it was (imported codings change human_coding and gaps, a skipped file
# ingest_report), so each is a prerequisite, made by the rule that writes it; and the model named, which the
# report names (the same model files in a folder of another name make the same labels)
REPORT_TABLES := $(foreach t,coverage_region_long coverage_document coverage_document_long gaps region_ranking first_year coverage_by_year coded_passages human_coding evidence,$(OUT)/$(t).parquet)
$(REPORT_TABLES): $(OUT)/coverage_region.csv ;
$(OUT)/ingest_report.csv: $(OUT)/documents.parquet ;

$(OUT)/report.html: $(OUT)/coverage_region.csv $(REPORT_TABLES) $(OUT)/ingest_report.csv $(MODEL_STAMP) pipeline/report.py pipeline/workbook.py $(wildcard pipeline/templates/*.j2) $(TAXONOMY_FILES)
	$(PY) -m pipeline report $(COMMON) --coded $(call quoted,$(CODED))
report: $(OUT)/report.html ## stage 6: coverage.xlsx, report.html, summary.md (runs the stages before it as needed)

train: $(BYTECODE) ## train on the taxonomy's examples + TRAIN= files + the coded store; later runs use it
	$(PY) -m pipeline train $(if $(TRAIN),--train $(call quoted,$(TRAIN)),) --coded $(call quoted,$(CODED)) --taxonomy $(call quoted,$(TAXONOMY)) --model $(call quoted,$(or $(MODEL),$(MODELS)/trained))
	@mkdir -p $(call quoted,$(MODELS)) && echo $(call quoted,$(or $(MODEL),$(MODELS)/trained)) > $(call quoted,$(MODELS)/CURRENT)
	@echo "later make run / classify / evaluate use $(or $(MODEL),$(MODELS)/trained); 'make default-model' goes back"

default-model: ## go back to the default model for later runs
	rm -f $(call quoted,$(MODELS)/CURRENT)
	@# the rm alone reads as the trained model deleted: say what later runs use, and that it stays
	@echo "later make run / classify / evaluate use the default model$(if $(wildcard $(MODELS)/CURRENT),; $(file <$(MODELS)/CURRENT) stays (MODEL= names it for one run; make train makes a new one),)"

evaluate: $(BYTECODE) ## score the model against GOLD= (CV= folds to cross-validate instead, CURVE=1 with a learning curve)
	@test -n $(call quoted,$(GOLD)) || { echo "error: make evaluate needs GOLD=coded.jsonl, the coded passages to score the model against" >&2; exit 2; }
	$(PY) -m pipeline evaluate --gold $(call quoted,$(GOLD)) --taxonomy $(call quoted,$(TAXONOMY)) --jobs $(JOBS) $(MODEL_ARG) $(if $(CV),--cv $(CV),) $(if $(filter-out 0 no,$(CURVE)),--curve,) $(MANIFEST_ARG) --out $(call quoted,$(OUT))

# `make review N=100` picks passages of the run in OUT for coding (OUT/review/review-NNN.xlsx);
# `make review IN=pool.jsonl OUT=picked.jsonl` picks from a JSON-lines pool instead
N ?= 100
review: $(BYTECODE) ## pick the N passages most worth coding (OUT/review/review-NNN.xlsx; IN=pool.jsonl for a pool)
	$(PY) -m pipeline review --n $(N) $(if $(IN),--in $(call quoted,$(IN)),) $(if $(GAPS),--gaps $(GAPS),) --out $(call quoted,$(OUT)) --coded $(call quoted,$(CODED)) --taxonomy $(call quoted,$(TAXONOMY)) $(MODEL_ARG)

review-import: $(BYTECODE) ## import a coded review sheet FILE= (CODER=) into the coded store, with agreement
	$(PY) -m pipeline review-import --file $(call quoted,$(FILE)) $(if $(CODER),--coder $(call quoted,$(CODER)),) --coded $(call quoted,$(CODED)) --taxonomy $(call quoted,$(TAXONOMY)) $(MODEL_ARG)

compare: $(BYTECODE) ## what region (or output folder) A addresses that B does not, and the reverse
	@test -n $(call quoted,$(A)) -a -n $(call quoted,$(B)) || { echo "error: make compare needs A= and B= (two regions of $(OUT), or two output folders)$(if $(A),; B is missing,$(if $(B),; A is missing,))" >&2; exit 2; }
	$(PY) -m pipeline compare --a $(call quoted,$(A)) --b $(call quoted,$(B)) --out $(call quoted,$(OUT)) --taxonomy $(call quoted,$(TAXONOMY))

bench: $(BYTECODE) ## measure the pipeline on ../shared/corpus (SCALE= to replicate it; HUGE=1: one 60 MB document instead)
	$(PY) bench/bench.py --corpus "$(if $(filter corpus,$(CORPUS)),../shared/corpus,$(CORPUS))" --scale $(SCALE) --jobs $(JOBS) --window $(WINDOW) $(if $(HUGE),--huge,)

# The browser test needs Chromium and a Chinese font (without one, Chinese renders as boxes). The Debian packages
# are installed when missing, as root or through passwordless sudo; otherwise the browser test is skipped.
browser: ## install Chromium and a Chinese font for the browser test, if missing and possible
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

test: $(BYTECODE) browser ## the test suite
	$(PY) -m pytest

clean: $(BYTECODE) ## remove what runs wrote in OUT (the review sheets and your own files there stay)
	$(PY) -m pipeline clean --out $(call quoted,$(OUT))
	rm -f $(call quoted,$(MODEL_STAMP))
