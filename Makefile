# The course book's commands. On a fresh machine each target first sets everything up (scripts/setup_env.sh).
#   make book    build the book into _build/html, every notebook executed in the quick profile; the site works offline
#                (MathJax, the widget manager, plotly.js served from _static: book/_ext/course_book.py)
#   make test    run the whole test suite (unit tests, notebooks with nbval, real-data tests if COURSE_REAL_DATA)
#   make lab     open JupyterLab on the notebooks
#   make bench   time every notebook and the book build (benchmarks/run_notebooks.py)
#   make lint    ruff
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.course-installed
export COURSE_PROFILE ?= quick

.PHONY: setup book test lab bench lint clean

setup: $(STAMP)

$(STAMP): requirements.txt pyproject.toml scripts/setup_env.sh
	PYTHON=$(PYTHON) VENV=$(VENV) bash scripts/setup_env.sh
	touch $@

book: $(STAMP)
	$(VENV)/bin/jupyter-book build . -W --keep-going
	@echo "open _build/html/index.html"

test: $(STAMP)
	$(PY) -m pytest --nbval-lax --nbval-current-env --doctest-modules course_lib tests notebooks

lab: $(STAMP)
	$(VENV)/bin/jupyter lab notebooks

bench: $(STAMP)
	$(PY) benchmarks/run_notebooks.py

lint: $(STAMP)
	$(VENV)/bin/ruff check course_lib tests benchmarks data_scripts

clean:
	rm -rf _build .jupyter_cache runs
