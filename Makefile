# Two commands do everything: `make book` and `make test`. Both create the virtual
# environment on first use and are safe to run again. Learners: `make lab`.
# The course runs on Python 3.11, 3.12 and 3.13. Without PYTHON=..., the first of them
# that runs is used, 3.11 first: CI runs 3.11, the only version for which this project's
# machines hold the CPU torch wheel offline. Choose with `make book PYTHON=python3.12`.
# (Each is started, not just looked up: a pyenv shim exists even where it cannot run.)
ifeq ($(origin PYTHON),undefined)
PYTHON := $(shell for v in 3.11 3.12 3.13; do \
	python$$v -c '' 2>/dev/null && { echo python$$v; break; }; done)
endif
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
# Output that legitimately varies between runs (see the file's comments).
SANITIZE := tests/nbval_sanitize.cfg

.PHONY: book book-student test test-quick lab chromium python-check check-book \
	student grade env clean

env: $(INSTALLED)

$(INSTALLED): requirements.txt pyproject.toml | python-check
	@test -x $(PY) || { echo "Creating $(VENV) with $(PYTHON)"; \
		$(PYTHON) -m venv $(VENV); }
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

# Says which Python the environment runs; stops when that is not the one asked for with
# PYTHON=..., or not 3.11-3.13 (a .venv made by hand with another version).
VERSION_OF = -c 'import sys; print("%d.%d" % sys.version_info[:2])'
python-check:
	@test -n "$(PYTHON)" || { echo "No python3.11, python3.12 or python3.13 on PATH:" \
		"install one, or pass PYTHON=/path/to/python3.x" >&2; exit 1; }
	@if [ -x $(PY) ]; then have=$$($(PY) $(VERSION_OF)); \
		else have=$$($(PYTHON) $(VERSION_OF)) || exit 1; fi; \
	case "$$have" in 3.11|3.12|3.13) ;; *) echo "Python $$have: the course needs 3.11," \
		"3.12 or 3.13 (rm -rf $(VENV); make ... PYTHON=python3.11)" >&2; exit 1;; esac; \
	if [ -x $(PY) ] && [ "$(origin PYTHON)" = "command line" ] && \
		[ "$$($(PYTHON) $(VERSION_OF))" != "$$have" ]; then \
		echo "$(VENV) runs Python $$have, not $(PYTHON): rm -rf $(VENV) and run again" >&2; \
		exit 1; fi; \
	echo "Python $$have ($$(test -x $(PY) && echo $(PY) || echo $(PYTHON)))"

book: $(INSTALLED)
	$(VENV)/bin/jupyter-book build --all -W -n --keep-going .
	@echo "Open _build/html/index.html in a browser."

# The student edition: every chapter as its learner's version, no solutions -> _build/student/.
book-student: $(INSTALLED)
	$(PY) -m coursetools.student_book --out _build/student

# tests/test_jupyterlab.py drives JupyterLab in Chromium, so `make test` needs it too.
# Two pytest-xdist workers, one per core (tests/conftest.py says what runs where): much
# of the suite (NumPy, the grader, notebook kernels starting) keeps one core busy, so two
# at a time fill the machine (five of its files, back to back on 2 cores: 331 s instead of
# 488 s in one process). Idle OpenMP threads sleep instead of spinning
# (OMP_WAIT_POLICY=PASSIVE): with two trainings side by side, 200 Keras steps took 17 s
# instead of 35 s, 200 torch steps 9 s instead of 51 s. And each worker gets its share of
# the cores as threads (OMP_NUM_THREADS, one each on 2 cores; the chapters leave torch's
# thread count to it, as `make grade` does per job): a second thread buys these small
# networks little time for much CPU. Chapter 16's ResNet, 100 steps, alone: 6.2 s with
# 12.3 s of CPU on 2 threads, 8.4-9.9 s on 1; two side by side: 10.8-11.9 s each with 2
# threads, 7.8-11.3 s with 1 (four pairs each). In the suite, the torch chapters' training
# cells took 9-27 % less time than with 2 threads (chapter 15's race 683 -> 613 and 620 s).
TEST_WORKERS ?= 2
THREADS_PER_WORKER = $(shell n=$$(( $$(nproc) / $(TEST_WORKERS) )); echo $$(( n > 0 ? n : 1 )))
TEST_ENV = OMP_NUM_THREADS=$(THREADS_PER_WORKER) OMP_WAIT_POLICY=PASSIVE
PARALLEL := -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder
test: $(INSTALLED) chromium
	$(TEST_ENV) $(PY) -m pytest $(PARALLEL) tests chapters --nbval \
		--nbval-current-env --nbval-sanitize-with $(SANITIZE) \
		--ignore=_build --ignore=release --ignore=grading

# The unit tests and the chapters that train no network, in a few minutes on 2 cores. It
# leaves out what needs a browser, the network or minutes of CPU: the book build, the
# student release and its autograder, the learners' versions run blank, JupyterLab in
# Chromium, the pin check for other Pythons, and the chapters that train (8-10, 12-16).
QUICK_CHAPTERS := chapters/00_start chapters/part1 \
	chapters/part2/06_backpropagation.ipynb chapters/part2/07_vectorizing.ipynb \
	chapters/part3/11_same_network_two_libraries.ipynb
QUICK_SKIP := test_book.py test_release.py test_grading.py test_jupyterlab.py \
	test_python_versions.py test_learner_version.py
test-quick: $(INSTALLED)
	$(TEST_ENV) $(PY) -m pytest $(PARALLEL) tests $(QUICK_CHAPTERS) --nbval \
		--nbval-current-env \
		--nbval-sanitize-with $(SANITIZE) $(addprefix --ignore=tests/,$(QUICK_SKIP))

# JupyterLab on the chapters, for learners. It listens on 127.0.0.1 only (nothing else on
# the network can reach it) and prints the address, with its token, to open in a browser.
# --allow-root: Jupyter refuses to start as root otherwise (containers, CI machines).
LAB_PORT ?= 8888
lab: $(INSTALLED)
	$(VENV)/bin/jupyter lab --ServerApp.ip=127.0.0.1 --ServerApp.port=$(LAB_PORT) \
		--ServerApp.root_dir=chapters $(if $(filter 0,$(shell id -u)),--allow-root)

# Debian's Chromium, for the browser checks (make check-book, tests/test_jupyterlab.py).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = 0 ]; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
		else \
			echo "make $(MAKECMDGOALS) needs Chromium:" \
				"sudo apt-get install -y chromium" >&2; exit 1; \
		fi; }

# Build the book, then open every page in headless Chromium with the network blocked
# (coursetools/check_book.py); one full-page screenshot per page goes to _build/screenshots/.
check-book: book chromium
	$(PY) -m coursetools.check_book --html _build/html --screenshots _build/screenshots

# Student notebooks (no solutions), otter autograders, the grader's key and the TAs' answer
# keys -> release/. CHAPTERS="chapters/part1/02_convolution_by_hand.ipynb ..." releases only
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
