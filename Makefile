# Two commands do everything: `make book` and `make test`. Both create the virtual
# environment on first use and are safe to run again.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
# Output that legitimately varies between runs (see the file's comments).
SANITIZE := tests/nbval_sanitize.cfg

.PHONY: book test env clean

env: $(INSTALLED)

$(INSTALLED): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

book: $(INSTALLED)
	$(VENV)/bin/jupyter-book build --all -W -n --keep-going .
	@echo "Open _build/html/index.html in a browser."

test: $(INSTALLED)
	$(PY) -m pytest tests chapters --nbval --nbval-current-env \
		--nbval-sanitize-with $(SANITIZE) --ignore=_build --ignore=release

clean:
	rm -rf _build release grading
