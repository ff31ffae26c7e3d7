"""The autograder grades: ``otter run`` on the release's zips, scores read from otter's results JSON.

Per chapter with exercises exactly three otter runs (the CI budget is tight and some chapters train):
(a) the source notebook scores full marks on every question; (b) the untouched student notebook
scores 0 on every question (all our questions ask for code); (c) the student notebook with every
question's plausible wrong answer from ``tests/wrong_answers.json`` filled in scores 0 on every
question. The answers are independent, so one run shows that each wrong answer loses its points.
Then ``coursetools.grade`` grades a class folder with broken submissions into one complete CSV.
"""

from __future__ import annotations

import csv
import json
import os
import re
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
WRONG_ANSWERS_FILE = ROOT / "tests" / "wrong_answers.json"
# Only a safety net against a hang: the training chapters take minutes on a busy 2-core machine.
RUN_TIMEOUT_S = 1800
# One otter run at a time: the training chapters use both cores themselves, and two runs side by
# side (four compute threads on two cores) made the whole grading suite 3x slower, not faster.
PARALLEL_RUNS = int(os.environ.get("OTTER_TEST_JOBS", "1"))


from coursetools import release as release_tool
from coursetools import grade as grade_tool
ASSIGNMENTS = release_tool.find_assignment_notebooks()


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def built_release(tmp_path_factory) -> Path:
    """The release, built once per test session (test_release.py shares it through the same path)."""
    out = tmp_path_factory.getbasetemp() / "release"
    if not (out / "manifest.json").is_file():
        release_tool.build_release(out, log=lambda *args: None)
    return out


def wrong_answers() -> dict[str, dict[str, str]]:
    listed = json.loads(WRONG_ANSWERS_FILE.read_text())
    return {nb: {q: "\n".join(code) if isinstance(code, list) else code for q, code in questions.items()}
            for nb, questions in listed.items()}


def answer_cells(student: dict) -> dict[str, int]:
    """``{question: index of its answer cell}`` in a student notebook (the cell before ``grader.check``)."""
    found, pending = {}, []
    for index, cell in enumerate(student["cells"]):
        if "otter_answer_cell" in cell["metadata"].get("tags", []):
            pending.append(index)
        match = re.fullmatch(r'\s*grader\.check\("([^"]+)"\)\s*', cell["source"]) if cell["cell_type"] == "code" else None
        if match:
            assert len(pending) == 1, f"{match.group(1)}: {len(pending)} answer cells, expected one"
            found[match.group(1)] = pending.pop()
    return found


def with_answers(student: dict, answers: dict[str, str]) -> dict:
    filled = json.loads(json.dumps(student))
    cells = answer_cells(filled)
    for question, code in answers.items():
        filled["cells"][cells[question]]["source"] = code
    return filled


def question_scores(results: dict | None) -> dict[str, tuple[float, float]]:
    """``{question: (score, max_score)}`` from otter's results JSON."""
    return {t["name"]: (t["score"], t["max_score"]) for t in (results or {}).get("tests", []) if "max_score" in t}


@pytest.fixture(scope="session")
def release_dir(tmp_path_factory) -> Path:
    return built_release(tmp_path_factory)


@pytest.fixture(scope="session")
def manifest(release_dir) -> dict[str, dict]:
    entries = json.loads((release_dir / "manifest.json").read_text())["notebooks"]
    return {entry["source"]: entry for entry in entries}


@pytest.fixture(scope="session")
def graded(release_dir, manifest, tmp_path_factory) -> dict[tuple[str, str], dict]:
    """All otter runs of the session, PARALLEL_RUNS at a time: ``(notebook, kind) -> outcome``."""
    folder = tmp_path_factory.mktemp("graded-notebooks")
    listed = wrong_answers()
    jobs = []
    for source in ASSIGNMENTS:
        entry = manifest[rel(source)]
        autograder = release_dir / entry["autograder"]
        student_path = release_dir / entry["student"]
        student = release_tool.read_notebook(student_path)
        jobs.append((rel(source), "reference", source, autograder, entry["name"]))
        jobs.append((rel(source), "untouched", student_path, autograder, entry["name"]))
        answers = listed.get(rel(source), {})
        if set(answers) <= set(answer_cells(student)) and answers:
            wrong = folder / f"{source.stem}-wrong.ipynb"
            wrong.write_text(json.dumps(with_answers(student, answers)))
            jobs.append((rel(source), "wrong", wrong, autograder, entry["name"]))

    def run(job):
        notebook, kind, path, autograder, name = job
        start = time.perf_counter()
        results, problem = grade_tool.run_otter(path, autograder, RUN_TIMEOUT_S, assignment_name=name)
        return (notebook, kind), {"scores": question_scores(results), "problem": problem,
                                  "seconds": time.perf_counter() - start}

    with ThreadPoolExecutor(max_workers=PARALLEL_RUNS) as pool:
        return dict(pool.map(run, jobs))


def outcome(graded, source: Path, kind: str) -> dict[str, tuple[float, float]]:
    key = (rel(source), kind)
    assert key in graded, f"{key} was not graded (see test_wrong_answers_cover_every_question)"
    assert not graded[key]["problem"], graded[key]["problem"]
    return graded[key]["scores"]


def test_wrong_answers_cover_every_question():
    """A chapter cannot skip (c): every question needs a plausible wrong answer, and only real ones are listed."""
    listed = wrong_answers()
    expected = {rel(p): [e.name for e in release_tool.parse_exercises(release_tool.read_notebook(p))]
                for p in ASSIGNMENTS}
    problems = [f"{nb}: listed, but no such chapter notebook with exercises" for nb in listed if nb not in expected]
    for nb, questions in expected.items():
        problems += [f"{nb}: no wrong answer for {q}" for q in questions if q not in listed.get(nb, {})]
        problems += [f"{nb}: {q} is listed but is not a question" for q in listed.get(nb, {}) if q not in questions]
        source = release_tool.read_notebook(ROOT / nb)
        references = {e.name: [c["source"] for c in e.solution_cells if c["cell_type"] == "code"]
                      for e in release_tool.parse_exercises(source)}
        for q, code in listed.get(nb, {}).items():
            if q in references and code.strip() in (s.strip() for s in references[q]):
                problems.append(f"{nb}: the wrong answer for {q} is the reference solution")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("source", ASSIGNMENTS, ids=rel)
def test_reference_scores_full_marks(graded, manifest, source):
    scores = outcome(graded, source, "reference")
    points = manifest[rel(source)]["questions"]
    assert set(scores) == set(points)
    assert {q: s for q, (s, _) in scores.items()} == {q: float(p) for q, p in points.items()}
    assert {q: m for q, (_, m) in scores.items()} == {q: float(p) for q, p in points.items()}


@pytest.mark.parametrize("source", ASSIGNMENTS, ids=rel)
def test_untouched_student_notebook_scores_zero(graded, manifest, source):
    scores = outcome(graded, source, "untouched")
    assert set(scores) == set(manifest[rel(source)]["questions"])
    assert {q: s for q, (s, _) in scores.items()} == {q: 0 for q in scores}


@pytest.mark.parametrize("source", ASSIGNMENTS, ids=rel)
def test_each_wrong_answer_loses_its_points(graded, manifest, source):
    scores = outcome(graded, source, "wrong")
    assert set(scores) == set(manifest[rel(source)]["questions"])
    kept = {q: s for q, (s, _) in scores.items() if s != 0}
    assert not kept, f"wrong answers that still earn points: {kept}"


def test_grading_a_class_folder(graded, manifest, release_dir, tmp_path):
    """Reference, blank, raising, endless, gutted and non-JSON submissions give one complete CSV."""
    timed = [(graded[(rel(s), "reference")]["seconds"], s) for s in ASSIGNMENTS if (rel(s), "reference") in graded]
    cheapest = min(timed)[1] if timed else ASSIGNMENTS[0]
    entry = manifest[rel(cheapest)]
    slowest_run = max((v["seconds"] for (nb, _), v in graded.items() if nb == rel(cheapest)), default=20.0)
    timeout = min(max(30.0, 3 * slowest_run), 300.0)
    questions = list(entry["questions"])
    student = release_tool.read_notebook(release_dir / entry["student"])
    exercises = release_tool.parse_exercises(release_tool.read_notebook(cheapest))
    first_reference = next(c["source"] for c in exercises[0].solution_cells if c["cell_type"] == "code")

    folder = tmp_path / "submissions"
    folder.mkdir()
    (folder / "ada.ipynb").write_text(cheapest.read_text())  # the reference solution
    (folder / "ben.ipynb").write_text(json.dumps(student))  # handed in blank
    raising = with_answers(student, {questions[0]: first_reference, questions[1]: "raise RuntimeError('oops')"})
    (folder / "cy.ipynb").write_text(json.dumps(raising))
    (folder / "dee.ipynb").write_text(json.dumps(with_answers(student, {questions[0]: "while True:\n    pass"})))
    gutted = json.loads(json.dumps(student))
    gutted["cells"] = [c for c in gutted["cells"] if c["cell_type"] == "markdown"]  # every code cell deleted
    (folder / "eve.ipynb").write_text(json.dumps(gutted))
    (folder / "fay.ipynb").write_text('{"cells": [{"cell_type": "code", "source": "x = 1"')  # truncated JSON

    out = tmp_path / "grading"
    grade_tool.grade_folder(folder, out, autograder=release_dir / entry["autograder"], timeout=timeout,
                            jobs=PARALLEL_RUNS, log=lambda *args: None)

    with open(out / "scores.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    assert list(rows[0]) == ["student", "question", "points", "max_points"]
    students = ["ada", "ben", "cy", "dee", "eve", "fay"]
    assert [(r["student"], r["question"]) for r in rows] == [(s, q) for s in students for q in questions]
    points = {(r["student"], r["question"]): float(r["points"]) for r in rows}
    for r in rows:
        assert float(r["max_points"]) == float(entry["questions"][r["question"]])
    for q in questions:
        assert points[("ada", q)] == float(entry["questions"][q])
        assert points[("ben", q)] == points[("dee", q)] == points[("eve", q)] == points[("fay", q)] == 0
    # The raising submission is graded as far as it runs: its first answer counts, the one that raised does not.
    assert points[("cy", questions[0])] == float(entry["questions"][questions[0]])
    assert all(points[("cy", q)] == 0 for q in questions[1:])

    with open(out / "summary.csv", newline="") as file:
        status = {r["student"]: r["status"] for r in csv.DictReader(file)}
    assert status["ada"] == status["ben"] == status["cy"] == status["eve"] == "graded"
    assert "time limit" in status["dee"] and "not JSON" in status["fay"]
    for s in students:
        assert (out / "feedback" / f"{s}.txt").is_file()
    assert "time limit" in (out / "feedback" / "dee.txt").read_text()
