# Two commands do everything: `make book` and `make test`. Both create the virtual
# environment on first use and are safe to run again.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
# Output that legitimately varies between runs (see the file's comments).
SANITIZE := tests/nbval_sanitize.cfg

.PHONY: book test check-book student grade env clean

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
		--nbval-sanitize-with $(SANITIZE) --ignore=_build --ignore=release --ignore=grading

# Build the book, then open every page in headless Chromium with the network blocked
# (coursetools/check_book.py); one full-page screenshot per page goes to _build/screenshots/.
check-book: book
	@command -v chromium >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = 0 ]; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
		else \
			echo "make check-book needs Chromium: sudo apt-get install -y chromium" >&2; exit 1; \
		fi; }
	$(PY) -m coursetools.check_book --html _build/html --screenshots _build/screenshots

# Student notebooks (no solutions) and otter autograders for every chapter with exercises -> release/
student: $(INSTALLED)
	$(PY) -m coursetools.release --out release

# Grade a folder of submitted notebooks, one <student>.ipynb each -> grading/scores.csv, grading/feedback/
TIMEOUT ?= 900
JOBS ?= 2
grade: $(INSTALLED)
	@test -n "$(SUBMISSIONS)" || { echo "usage: make grade SUBMISSIONS=folder [TIMEOUT=900] [JOBS=2]" >&2; exit 2; }
	test -f release/manifest.json || $(MAKE) student
	$(PY) -m coursetools.grade "$(SUBMISSIONS)" --out grading --timeout $(TIMEOUT) --jobs $(JOBS)

clean:
	rm -rf _build release grading
