"""The student release (``make student``): every chapter with exercises is released, and
no solution leaks.

Solution text is found by comparing each student notebook with its source notebook, not
by a list of strings: every line of a reference solution (and of a hidden test) must
appear in the student notebook no more often than it appears in the parts of the source
that students are meant to see.
"""

from __future__ import annotations

import html
import json
import re
import textwrap
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


from coursetools import learner
from coursetools import release as release_tool


def built_release(tmp_path_factory) -> Path:
    """The release, built once per test session (test_grading.py shares it through the
    same path)."""
    out = tmp_path_factory.getbasetemp() / "release"
    if not (out / "manifest.json").is_file():
        release_tool.build_release(out, log=lambda *args: None)
    return out


def chapter_notebooks_with_prose() -> list[Path]:
    found = []
    for path in sorted((ROOT / "chapters").rglob("*.ipynb")):
        if any(
            part.startswith((".", "_")) for part in path.relative_to(ROOT).parts[:-1]
        ):
            continue
        if any(
            c["cell_type"] == "markdown"
            for c in release_tool.read_notebook(path)["cells"]
        ):
            found.append(path)
    return found


ASSIGNMENTS = release_tool.find_assignment_notebooks()
CHAPTERS = chapter_notebooks_with_prose()


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


@pytest.fixture(scope="session")
def release_dir(tmp_path_factory) -> Path:
    return built_release(tmp_path_factory)


# --------------------------------------------------------------------------------------
# Finding solution text by comparison with the source


def significant(line: str) -> str | None:
    """A line worth comparing: stripped, with a letter or digit, and not otter's ``...``
    placeholder."""
    line = line.strip()
    return line if re.search(r"[A-Za-z0-9]", line) else None


def lines_of(text: str) -> list[str]:
    return [s for s in map(significant, text.splitlines()) if s]


def split_solution_code(source: str) -> tuple[list[str], list[str]]:
    """``(secret, stub)`` lines of a code cell inside a solution block.

    Lines between ``# BEGIN SOLUTION`` and ``# END SOLUTION`` and lines ending in ``#
    SOLUTION`` are the reference answer. A cell without any marker is secret as a whole:
    otter would copy it unchanged.
    """
    lines = source.splitlines()
    begin = re.compile(r"^\s*#\s*BEGIN SOLUTION\b", re.I)
    end = re.compile(r"^\s*#\s*END SOLUTION\b", re.I)
    inline = re.compile(r"#\s*SOLUTION\s*$", re.I)
    if not any(begin.match(l) or inline.search(l) for l in lines):
        return lines_of(source), []
    secret, stub, inside = [], [], False
    for line in lines:
        if begin.match(line):
            inside = True
        elif end.match(line):
            inside = False
        elif inside or inline.search(line):
            secret.append(line)
        else:
            stub.append(line)
    return lines_of("\n".join(secret)), lines_of("\n".join(stub))


def student_text_lines(student: dict) -> Counter:
    """Every line a student can read: cell sources, stored outputs and the public tests
    in the metadata."""
    seen = Counter()
    for cell in student["cells"]:
        seen.update(lines_of(cell["source"]))
        for output in cell.get("outputs", []):
            text = output.get("text", "") or output.get("data", {}).get(
                "text/plain", ""
            )
            seen.update(lines_of("".join(text) if isinstance(text, list) else text))
    for test in student.get("metadata", {}).get("otter", {}).get("tests", {}).values():
        for suite in test.get("suites", []):
            for case in suite.get("cases", []):
                code = re.sub(r"^(>>>|\.\.\.) ?", "", case.get("code", ""), flags=re.M)
                seen.update(lines_of(code))
    return seen


FENCES = (
    "{solution-start}",
    "{solution-end}",
    "# BEGIN SOLUTION",
    "# END SOLUTION",
    "# BEGIN TESTS",
    "# END TESTS",
    "# BEGIN QUESTION",
    "# END QUESTION",
    "# HIDDEN",
    "# ASSIGNMENT CONFIG",
)


def find_leaks(source: dict, student: dict) -> list[str]:
    """Everything of the source's solutions and hidden tests that reached the student
    notebook."""
    exercises = release_tool.parse_exercises(source)
    secret_cells = {
        id(c)
        for e in exercises
        for c in e.solution_cells + e.hidden_tests + e.public_tests
    }
    public, secret = Counter(), Counter()
    for cell in source["cells"]:
        if cell["cell_type"] != "raw" and id(cell) not in secret_cells:
            public.update(lines_of(cell["source"]))
    for exercise in exercises:
        for cell in exercise.solution_cells:
            if cell["cell_type"] == "code":
                hidden_part, stub = split_solution_code(cell["source"])
                secret.update(hidden_part)
                public.update(stub)
            else:  # solution-start/-end fences and any explanation inside the dropdown
                secret.update(lines_of(cell["source"]))
        for cell in exercise.public_tests:
            public.update(lines_of(cell["source"]))
        for cell in exercise.hidden_tests:
            secret.update(lines_of(cell["source"]))
    seen = student_text_lines(student)
    problems = [
        f"solution or hidden-test line reached students: {line!r}"
        for line in secret
        if seen[line] > public[line]
    ]
    for cell in student["cells"]:
        for fence in FENCES:
            pattern = (
                re.escape(fence)
                if fence.startswith("{")
                else r"^\s*" + re.escape(fence) + r"\b"
            )
            if re.search(pattern, cell["source"], re.M):
                problems.append(f"{fence!r} in a student cell: {cell['source'][:80]!r}")
    for name, test in (
        student.get("metadata", {}).get("otter", {}).get("tests", {}).items()
    ):
        for suite in test.get("suites", []):
            if any(case.get("hidden") for case in suite.get("cases", [])):
                problems.append(
                    f"{name}: a hidden test case is stored in the student notebook"
                )
    return problems


# --------------------------------------------------------------------------------------
# The release


def test_there_are_notebooks_with_exercises():
    assert (
        ASSIGNMENTS
    ), "no chapter notebook starts with a raw '# ASSIGNMENT CONFIG' cell"


def test_release_holds_every_chapter_with_exercises(release_dir):
    manifest = json.loads((release_dir / "manifest.json").read_text())
    assert [n["source"] for n in manifest["notebooks"]] == [rel(p) for p in ASSIGNMENTS]
    for entry, source in zip(manifest["notebooks"], ASSIGNMENTS):
        student = release_dir / entry["student"]
        assert student.is_file() and student.parent == release_dir / "student"
        assert (release_dir / entry["autograder"]).is_file()
        exercises = release_tool.parse_exercises(release_tool.read_notebook(source))
        assert entry["questions"] == {e.name: e.points for e in exercises}
        answer_cells = [
            c
            for c in release_tool.read_notebook(student)["cells"]
            if "otter_answer_cell" in c["metadata"].get("tags", [])
        ]
        assert len(answer_cells) == len(exercises), "one answer cell per question"
    # What the notebooks import and read travels with them.
    assert (release_dir / "student" / "cnnlib" / "data.py").is_file()
    assert (release_dir / "student" / "data" / "mnist" / "SHA256SUMS").is_file()
    assert "otter-grader" in (release_dir / "student" / "requirements.txt").read_text()


def test_student_requirements_hold_only_what_students_run(release_dir):
    """Every package students install is imported by a chapter or by cnnlib, or runs
    Jupyter/otter."""
    lines = [
        l
        for l in (release_dir / "student" / "requirements.txt").read_text().splitlines()
        if l.strip() and not l.startswith("#")
    ]
    code = " ".join(
        c["source"]
        for p in CHAPTERS
        for c in release_tool.read_notebook(p)["cells"]
        if c["cell_type"] == "code"
    )
    code += " ".join(p.read_text() for p in (ROOT / "cnnlib").rglob("*.py"))
    # Run, not imported: otter, JupyterLab and its extensions (MyST rendering, and the
    # jupytext pin that keeps otter's jupytext loadable in JupyterLab 4.5), and the
    # jsonschema pin that keeps `import otter` (nbformat) 1.5 s faster (see
    # requirements.txt).
    tools = {"otter-grader", "jupyterlab", "jupyterlab-myst", "jupytext", "jsonschema"}
    for line in lines:
        package = re.split(r"[<>=!~\[ ;]", line, maxsplit=1)[0].lower()
        if package in tools:
            continue
        assert re.search(rf"^\s*(import|from) {re.escape(package)}\b", code, re.M), (
            f"{package} is in the student requirements but no chapter or cnnlib"
            " imports it"
        )


@pytest.mark.parametrize("source", ASSIGNMENTS, ids=rel)
def test_answer_key_lists_every_question_with_its_solution(release_dir, source):
    key = (release_dir / "answer-key" / f"{source.stem}.html").read_text()
    for exercise in release_tool.parse_exercises(release_tool.read_notebook(source)):
        assert f"<h2>{exercise.name}: " in key
        assert f"({float(exercise.points):g} point" in key
        for line in release_tool.reference_code(exercise).splitlines()[:3]:
            assert html.escape(line.strip()) in key


@pytest.mark.parametrize("source", ASSIGNMENTS, ids=rel)
def test_no_solution_reaches_students(release_dir, source):
    student = release_tool.read_notebook(release_dir / "student" / source.name)
    problems = find_leaks(release_tool.read_notebook(source), student)
    assert not problems, f"{rel(source)}:\n" + "\n".join(problems[:20])


def _synthetic_notebook() -> dict:
    """Two questions in the one-source format; the second hides an unmarked code cell in
    its solution."""

    def raw(text):
        return {
            "cell_type": "raw",
            "metadata": {"tags": ["remove-cell"]},
            "source": text,
        }

    def code(text, tags=()):
        return {
            "cell_type": "code",
            "metadata": {"tags": list(tags)},
            "source": text,
            "execution_count": None,
            "outputs": [],
        }

    def md(text):
        return {"cell_type": "markdown", "metadata": {}, "source": text}

    def question(name, answer_cells):
        return [
            raw(f"# BEGIN QUESTION\nname: {name}\npoints: 1"),
            md(f"```{{exercise}}\n:label: ex-synthetic-{name}\nAnswer {name}.\n```"),
            raw("# BEGIN SOLUTION"),
            md(f"```{{solution-start}} ex-synthetic-{name}\n:class: dropdown\n```"),
            *answer_cells,
            md("```{solution-end}\n```"),
            raw("# END SOLUTION"),
            raw("# BEGIN TESTS"),
            code(f"assert {name}_value > 0", ["remove-cell"]),
            code(f"# HIDDEN\nassert {name}_value == 41 + 1", ["remove-cell"]),
            raw("# END TESTS"),
            raw("# END QUESTION"),
        ]

    cells = [
        raw(
            "# ASSIGNMENT CONFIG\nname: synthetic\nexport_cell: false\ngenerate:"
            " true\nrun_tests: false\nsolutions_pdf: false"
        ),
        md("# Synthetic\n\nProse."),
    ]
    cells += question(
        "q_clean",
        [
            code(
                "q_clean_value = ...\n# BEGIN SOLUTION\nq_clean_value = 6 * 7\n# END"
                " SOLUTION"
            )
        ],
    )
    cells += question(
        "q_trap",
        [
            code("q_trap_helper = 'forty-two'"),
            code(
                "q_trap_value = ...\n# BEGIN SOLUTION\nq_trap_value ="
                " len(q_trap_helper) * 4.2\n# END SOLUTION"
            ),
        ],
    )
    return {
        "cells": cells,
        "metadata": {
            "kernelspec": {
                "name": "python3",
                "display_name": "Python 3",
                "language": "python",
            }
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def test_leak_check_catches_an_unmarked_code_cell_in_a_solution(tmp_path):
    """otter copies a code cell without solution markers silently; the comparison must
    notice it."""
    chapter = tmp_path / "course" / "chapters" / "synthetic.ipynb"
    chapter.parent.mkdir(parents=True)
    source = _synthetic_notebook()
    chapter.write_text(json.dumps(source))
    release_tool.build_release(
        tmp_path / "release",
        root=tmp_path / "course",
        log=lambda *args: None,
        expected=False,
    )
    student = release_tool.read_notebook(
        tmp_path / "release" / "student" / "synthetic.ipynb"
    )
    problems = find_leaks(release_tool.read_notebook(chapter), student)
    assert problems == [
        "solution or hidden-test line reached students: \"q_trap_helper = 'forty-two'\""
    ]
    # The clean question's answer and both hidden tests stayed out; a copied answer
    # would be found.
    student["cells"].append({
        "cell_type": "code",
        "metadata": {},
        "source": "q_clean_value = 6 * 7",
        "outputs": [],
    })
    assert (
        "solution or hidden-test line reached students: 'q_clean_value = 6 * 7'"
        in find_leaks(release_tool.read_notebook(chapter), student)
    )


# --------------------------------------------------------------------------------------
# Exercise coverage


@pytest.mark.parametrize("path", CHAPTERS, ids=rel)
def test_chapter_has_at_least_two_complete_exercises(path):
    nb = release_tool.read_notebook(path)
    config = release_tool.assignment_config(nb)
    assert (
        config is not None
    ), "the first cell must be the raw '# ASSIGNMENT CONFIG' cell"
    assert config.get("name") == path.stem, "the assignment name must be the file stem"
    exercises = release_tool.parse_exercises(nb)
    assert (
        len(exercises) >= 2
    ), f"{len(exercises)} exercise(s); every chapter needs at least two"
    names = [e.name for e in exercises]
    assert len(set(names)) == len(names), f"question names repeat: {names}"
    for e in exercises:
        where = f"{rel(path)} {e.name}"
        assert (
            isinstance(e.points, (int, float)) and e.points > 0
        ), f"{where}: points must be positive"
        assert any(
            c["cell_type"] == "markdown" and "{exercise}" in c["source"]
            for c in e.prompt_cells
        ), f"{where}: no {{exercise}} question"
        solution_md = " ".join(
            c["source"] for c in e.solution_cells if c["cell_type"] == "markdown"
        )
        assert (
            "{solution-start}" in solution_md and "{solution-end}" in solution_md
        ), f"{where}: no solution fences"
        code = [c for c in e.solution_cells if c["cell_type"] == "code"]
        assert code, f"{where}: no reference solution code cell"
        for cell in code:
            assert re.search(
                r"^\s*# BEGIN SOLUTION\s*$", cell["source"], re.M
            ) and re.search(r"^\s*# END SOLUTION\s*$", cell["source"], re.M), (
                f"{where}: a solution code cell without '# BEGIN SOLUTION'/'# END"
                " SOLUTION' (otter would copy it)"
            )
            secret, _ = split_solution_code(cell["source"])
            assert secret, f"{where}: the solution markers enclose no code"
        assert e.public_tests, f"{where}: no public test"
        assert e.hidden_tests, f"{where}: no hidden test ('# HIDDEN' first line)"


# Kinds of exercise (issue #18): what the learner does, recorded as ``kind:`` in the
# ``# BEGIN QUESTION`` cell and shown as the title's first word ("Debug: ...").
MINIMUM_KINDS_PER_CHAPTER = 2
MINIMUM_KIND_TOTALS = {"build": 8, "debug": 3, "predict": 4, "experiment": 2}


def course_exercises() -> dict[str, list]:
    """``{notebook: its exercises}`` for every chapter with exercises."""
    return {
        rel(p): release_tool.parse_exercises(release_tool.read_notebook(p))
        for p in ASSIGNMENTS
    }


def kind_problems(notebook: str, exercises: list) -> list[str]:
    problems = []
    for e in exercises:
        kind = e.config.get("kind")
        if kind not in release_tool.KINDS:
            problems.append(
                f"{notebook} {e.name}: 'kind: {kind}' in its '# BEGIN QUESTION' cell;"
                f" expected one of {sorted(release_tool.KINDS)}"
            )
            continue
        label = f"{release_tool.KINDS[kind]}: "
        if not release_tool.exercise_title(e).startswith(label):
            problems.append(
                f"{notebook} {e.name}: its title {release_tool.exercise_title(e)!r}"
                f" does not start with {label!r}"
            )
    kinds = {e.config.get("kind") for e in exercises} & set(release_tool.KINDS)
    if len(kinds) < MINIMUM_KINDS_PER_CHAPTER:
        problems.append(
            f"{notebook}: exercises of {len(kinds)} kind(s) {sorted(kinds)}; a chapter"
            f" needs at least {MINIMUM_KINDS_PER_CHAPTER}"
        )
    return problems


@pytest.mark.parametrize("source", ASSIGNMENTS, ids=rel)
def test_every_exercise_has_a_kind_shown_in_its_title(source):
    """Each exercise says what the learner does, and a chapter mixes at least two kinds.
    """
    exercises = release_tool.parse_exercises(release_tool.read_notebook(source))
    problems = kind_problems(rel(source), exercises)
    assert not problems, "\n".join(problems)


def test_the_course_has_enough_exercises_of_each_kind_and_no_repeated_name():
    """Course totals of each kind, and every question name used once in the course."""
    totals, unkinded, where = dict.fromkeys(release_tool.KINDS, 0), [], {}
    for notebook, exercises in course_exercises().items():
        for e in exercises:
            kind = e.config.get("kind")
            if kind in totals:
                totals[kind] += 1
            else:
                unkinded.append(f"{notebook} {e.name}")
            where.setdefault(e.name, []).append(notebook)
    problems = [
        f"{count} {kind} exercise(s); the course needs at least"
        f" {MINIMUM_KIND_TOTALS[kind]}"
        for kind, count in totals.items()
        if count < MINIMUM_KIND_TOTALS.get(kind, 0)
    ]
    problems += [
        f"question name {name} is used in {len(places)} chapters: {places}"
        for name, places in where.items()
        if len(places) > 1
    ]
    if unkinded:
        problems.append(f"{len(unkinded)} exercise(s) without a kind: {unkinded}")
    summary = ", ".join(f"{kind} {count}" for kind, count in totals.items())
    assert not problems, f"kinds: {summary}\n" + "\n".join(problems)


# --------------------------------------------------------------------------------------
# The learner's version that the book offers beside each chapter


@pytest.mark.parametrize("source", ASSIGNMENTS, ids=rel)
def test_learner_version_holds_no_solution_and_no_hidden_test(source):
    chapter = release_tool.read_notebook(source)
    version = learner.learner_version(chapter)
    for cell in version["cells"]:
        if isinstance(cell["source"], list):
            cell["source"] = "".join(cell["source"])
    # Compare the checks' bodies (public tests) without their try/except wrapping.
    unwrapped = json.loads(json.dumps(version))
    for cell in unwrapped["cells"]:
        if cell["source"].startswith("# Check your answer to"):
            body = cell["source"].split("\ntry:\n", 1)[1]
            cell["source"] = textwrap.dedent(body.split("\nexcept Exception", 1)[0])
    problems = find_leaks(chapter, unwrapped)
    assert not problems, f"{rel(source)}:\n" + "\n".join(problems[:20])
    text = json.dumps(version)
    assert "# HIDDEN" not in text and "probe:" not in text
    checks = [
        c for c in version["cells"] if c["source"].startswith("# Check your answer to")
    ]
    assert len(checks) == sum(
        len(e.public_tests) for e in release_tool.parse_exercises(chapter)
    )


# The blank run of every learner's version: tests/test_learner_version.py.


def test_releasing_one_chapter_keeps_the_others(tmp_path):
    """``make student CHAPTERS=...`` rebuilds the named chapters and keeps the rest."""
    course = tmp_path / "course" / "chapters"
    course.mkdir(parents=True)
    for name in ("synth_a", "synth_b"):
        nb = _synthetic_notebook()
        nb["cells"][0]["source"] = nb["cells"][0]["source"].replace(
            "name: synthetic", f"name: {name}"
        )
        (course / f"{name}.ipynb").write_text(json.dumps(nb))
    out = tmp_path / "release"
    quiet = {"log": lambda *args: None, "expected": False}
    release_tool.build_release(out, root=tmp_path / "course", **quiet)
    kept = (out / "autograder" / "synth_b-autograder.zip").read_bytes()
    release_tool.build_release(
        out, root=tmp_path / "course", notebooks=[course / "synth_a.ipynb"], **quiet
    )
    manifest = json.loads((out / "manifest.json").read_text())
    assert [e["name"] for e in manifest["notebooks"]] == ["synth_a", "synth_b"]
    assert (out / "autograder" / "synth_b-autograder.zip").read_bytes() == kept
    assert (out / "student" / "synth_b.ipynb").is_file()
    assert "synth_a.ipynb" in (out / "student" / "README.md").read_text()


@pytest.mark.parametrize("source", ASSIGNMENTS, ids=rel)
def test_every_question_has_a_title_and_an_explanation_for_the_answer_key(source):
    exercises = release_tool.parse_exercises(release_tool.read_notebook(source))
    for exercise in exercises:
        assert release_tool.exercise_title(exercise) != exercise.name, exercise.name
        assert release_tool.explanation(exercise), f"{exercise.name}: no explanation"
    assert "(none)" not in release_tool.answer_key_html(source.stem, exercises)
