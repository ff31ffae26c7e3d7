# Two commands do everything: `make book` and `make test`. Both create the virtual
# environment on first use and are safe to run again.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
# Output that legitimately varies between runs (see the file's comments).
SANITIZE := tests/nbval_sanitize.cfg

.PHONY: book book-student test check-book student grade env clean

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

# The student edition: every chapter as its learner's version, no solutions -> _build/student/.
book-student: $(INSTALLED)
	$(PY) -m coursetools.student_book --out _build/student

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

# Student notebooks (no solutions), otter autograders, the grader's key and the TAs' answer
# keys -> release/. CHAPTERS="chapters/part1/01_convolution_by_hand.ipynb ..." releases only
# those chapters and keeps the others already in release/.
student: $(INSTALLED)
	$(PY) -m coursetools.release --out release $(CHAPTERS)

# Grade a folder of submitted notebooks of one chapter, one <student>.ipynb each, into
# grading/<chapter>/ (merged with earlier runs) and grading/gradebook.csv (Canvas format).
TIMEOUT ?= 300
JOBS ?= 2
GRADE_OPTIONS = --timeout $(TIMEOUT) --jobs $(JOBS) $(if $(ROSTER),--roster "$(ROSTER)") \
	$(if $(STUDENTS),--students "$(STUDENTS)") $(if $(LATE),--late) $(if $(CHAPTER),--chapter "$(CHAPTER)")
grade: $(INSTALLED)
	@test -n "$(SUBMISSIONS)" || { echo "usage: make grade SUBMISSIONS=folder [STUDENTS=a,b] [ROSTER=roster.csv] [LATE=1] [CHAPTER=name] [TIMEOUT=300] [JOBS=2]" >&2; exit 2; }
	test -f release/manifest.json || $(MAKE) student
	$(PY) -m coursetools.grade "$(SUBMISSIONS)" --out grading $(GRADE_OPTIONS)

clean:
	rm -rf _build release grading
