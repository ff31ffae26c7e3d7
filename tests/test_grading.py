"""Grading: isolated from the submission, the same on every path, kept per chapter, and
fast.

Per chapter with exercises, one class folder is graded through ``coursetools.grade``:
the source notebook (the reference) scores full marks, the untouched student notebook
scores 0, and the student notebooks filled with the plausible wrong answers of
``tests/wrong_answers.json`` score 0 on every question; each submission must grade
within the time budget. ``wrong_answers.json`` maps notebook -> question -> a list of
wrong answers (each a list of code lines); submission ``wrong-k`` holds the k-th wrong
answer of every question that has one, so a chapter costs as many wrong submissions as
its most-answered question has wrong answers (two or three). Then cheating
submissions, each trying one way around the grader, score 0 on what they did not
answer, and ``otter run`` on the autograder zip gives the same scores as the isolated
grader.
"""

from __future__ import annotations

import csv
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from coursetools import executor, isolated
from coursetools import grade as grade_tool
from coursetools import release as release_tool

ROOT = Path(__file__).resolve().parent.parent
WRONG_ANSWERS_FILE = ROOT / "tests" / "wrong_answers.json"
# The budget for one submission of any chapter on 2 cores; the grading tests run
# two submissions side by side, each on one core, so they are held to the same figure.
SECONDS_PER_SUBMISSION = 60
TIMEOUT_S = 300
ASSIGNMENTS = release_tool.find_assignment_notebooks()
# The light chapter that the cheating and path tests use.
CHEAT_CHAPTER = ROOT / "chapters" / "part1" / "02_convolution_by_hand.ipynb"


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def built_release(tmp_path_factory) -> Path:
    """The release, built once per test session (test_release.py shares it through the
    same path)."""
    out = tmp_path_factory.getbasetemp() / "release"
    if not (out / "manifest.json").is_file():
        release_tool.build_release(out, log=lambda *args: None)
    return out


# How many plausible wrong answers each question needs (issue #18), in every chapter.
WRONG_PER_QUESTION = 2


def wrong_answers() -> dict[str, dict[str, list[str]]]:
    """``{notebook: {question: [code of wrong answer 1, of wrong answer 2, ...]}}``."""
    listed = json.loads(WRONG_ANSWERS_FILE.read_text())
    found = {}
    for nb, questions in listed.items():
        found[nb] = {}
        for q, answers in questions.items():
            assert isinstance(answers, list) and all(
                isinstance(a, list) for a in answers
            ), f"{nb}: {q} must map to a list of wrong answers, each a list of lines"
            found[nb][q] = ["\n".join(lines) for lines in answers]
    return found


def wrong_submissions(answers: dict[str, list[str]]) -> list[dict[str, str]]:
    """Submission k answers every question with its k-th wrong answer, if it has one."""
    most = max((len(codes) for codes in answers.values()), default=0)
    return [
        {q: codes[k] for q, codes in answers.items() if k < len(codes)}
        for k in range(most)
    ]


def answer_cells(student: dict) -> dict[str, int]:
    """``{question: index of its answer cell}`` in a student notebook (the cell before
    ``grader.check``)."""
    found, pending = {}, []
    for index, cell in enumerate(student["cells"]):
        if "otter_answer_cell" in cell["metadata"].get("tags", []):
            pending.append(index)
        match = (
            executor.OTTER_CHECK.fullmatch(cell["source"])
            if cell["cell_type"] == "code"
            else None
        )
        if match:
            assert (
                len(pending) == 1
            ), f"{match.group(1)}: {len(pending)} answer cells, expected one"
            found[match.group(1)] = pending.pop()
    return found


def with_answers(student: dict, answers: dict[str, str]) -> dict:
    filled = json.loads(json.dumps(student))
    cells = answer_cells(filled)
    for question, code in answers.items():
        filled["cells"][cells[question]]["source"] = code
    return filled


def reference_answers(source: Path) -> dict[str, str]:
    """``{question: the reference answer's code}``, with otter's markers taken out."""
    return {
        e.name: release_tool.reference_code(e)
        for e in release_tool.parse_exercises(release_tool.read_notebook(source))
    }


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="session")
def release_dir(tmp_path_factory) -> Path:
    return built_release(tmp_path_factory)


@pytest.fixture(scope="session")
def manifest(release_dir) -> dict[str, dict]:
    entries = json.loads((release_dir / "manifest.json").read_text())["notebooks"]
    return {entry["source"]: entry for entry in entries}


@pytest.fixture(scope="session")
def class_grades(release_dir, manifest, tmp_path_factory) -> dict[str, dict]:
    """Every chapter's class folder (reference, untouched, wrong) graded once per
    session."""
    listed = wrong_answers()
    out = tmp_path_factory.mktemp("grading")
    graded = {}
    for source in ASSIGNMENTS:
        entry = manifest[rel(source)]
        student = release_tool.read_notebook(release_dir / entry["student"])
        folder = tmp_path_factory.mktemp(f"class-{source.stem}")
        shutil.copy(source, folder / "reference.ipynb")
        (folder / "untouched.ipynb").write_text(json.dumps(student))
        answers = listed.get(rel(source), {})
        if answers and set(answers) <= set(answer_cells(student)):
            for k, submission in enumerate(wrong_submissions(answers), start=1):
                (folder / f"wrong-{k}.ipynb").write_text(
                    json.dumps(with_answers(student, submission))
                )
        everyone = grade_tool.grade_folder(
            folder,
            out,
            entry["name"],
            TIMEOUT_S,
            jobs=2,
            release=release_dir,
            log=lambda *args: None,
        )
        graded[rel(source)] = {g.student: g for g in everyone}
    return graded


def test_wrong_answers_cover_every_question():
    """No chapter can skip the wrong-answer run: every question has a plausible wrong
    answer."""
    listed = wrong_answers()
    expected = {
        rel(p): [
            e.name for e in release_tool.parse_exercises(release_tool.read_notebook(p))
        ]
        for p in ASSIGNMENTS
    }
    problems = [
        f"{nb}: listed, but no such chapter notebook with exercises"
        for nb in listed
        if nb not in expected
    ]
    for nb, questions in expected.items():
        problems += [
            f"{nb}: no wrong answer for {q}"
            for q in questions
            if q not in listed.get(nb, {})
        ]
        problems += [
            f"{nb}: {q} is listed but is not a question"
            for q in listed.get(nb, {})
            if q not in questions
        ]
        references = reference_answers(ROOT / nb)
        for q, codes in listed.get(nb, {}).items():
            for k, code in enumerate(codes, start=1):
                if q in references and code.strip() == references[q].strip():
                    problems.append(
                        f"{nb}: wrong answer {k} for {q} is the reference solution"
                    )
            if len({code.strip() for code in codes}) < len(codes):
                problems.append(f"{nb}: {q} lists the same wrong answer twice")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("source", ASSIGNMENTS, ids=rel)
def test_every_question_has_two_plausible_wrong_answers(source):
    """Issue #18: at least two wrong answers per question, each graded on its own."""
    listed = wrong_answers().get(rel(source), {})
    questions = [
        e.name for e in release_tool.parse_exercises(release_tool.read_notebook(source))
    ]
    short = {
        q: len(listed.get(q, []))
        for q in questions
        if len(listed.get(q, [])) < WRONG_PER_QUESTION
    }
    assert not short, (
        f"{rel(source)}: questions with fewer than {WRONG_PER_QUESTION} wrong answers"
        f" in tests/wrong_answers.json: {short}"
    )


@pytest.mark.parametrize("source", ASSIGNMENTS, ids=rel)
def test_reference_full_blank_and_wrong_zero_within_budget(
    class_grades, manifest, source
):
    graded = class_grades[rel(source)]
    points = {q: float(p) for q, p in manifest[rel(source)]["questions"].items()}
    reference = graded["reference"]
    assert reference.status == "graded", reference.feedback
    assert reference.points == points, "\n".join(reference.feedback)
    assert graded["untouched"].points == {q: 0 for q in points}
    listed = wrong_answers().get(rel(source), {})
    wrong = sorted(name for name in graded if name.startswith("wrong-"))
    assert wrong, "no wrong answers (see test_wrong_answers_cover_every_question)"
    kept = {}
    for name in wrong:
        k = int(name.split("-")[1])
        for q, score in graded[name].points.items():
            if len(listed.get(q, [])) >= k and score != 0:
                kept[f"{q} (wrong answer {k})"] = score
    assert not kept, f"wrong answers that still earn points: {kept}"
    # CPU time, not wall time: the test machine is shared, and the budget is what one
    # submission costs to grade on 2 cores (each ran with one compute thread here).
    cpu = {name: g.cpu_seconds for name, g in graded.items()}
    assert all(c is not None for c in cpu.values()), cpu
    assert (
        max(cpu.values()) <= SECONDS_PER_SUBMISSION
    ), f"CPU seconds per submission: {cpu}"
    print(
        f"{source.stem}: wall {reference.seconds:.1f} s, CPU {cpu['reference']:.1f} s"
    )


# --------------------------------------------------------------------------------------
# Cheating submissions: each answers q_same_padding honestly and cheats on q_convolve2d

NOT_AN_ANSWER = "def convolve2d(image, kernel):\n    return None\n"
CHEATS = {
    # otter's own test runner, patched so that every test case passes.
    "patched_oktestfile": """
import otter.test_files.ok_test as _ok
import otter.test_files.abstract_test as _abstract
def _all_pass(self, global_environment):
    self.test_case_results = [
        _abstract.TestCaseResult(test_case=c, message="passed", passed=True)
        for c in self.test_cases]
_ok.OKTestFile.run = _all_pass
"""
    + NOT_AN_ANSWER,
    # otter's doctest runner replaced by one that reports no failures.
    "replaced_doctest_runner": """
import doctest, otter.test_files.ok_test as _ok
class _Quiet(doctest.DocTestRunner):
    def run(self, test, *args, **kwargs):
        return doctest.TestResults(0, len(test.examples))
doctest.DocTestRunner = _Quiet
_ok.doctest.DocTestRunner = _Quiet
"""
    + NOT_AN_ANSWER,
    # np rebound to a stand-in whose every function says "yes", and an array that equals
    # anything.
    "lenient_numpy": (
        """
import numpy as _real_np
class _Yes(_real_np.ndarray):
    def __eq__(self, other):
        return True
class _Lenient:
    def __getattr__(self, name):
        return lambda *args, **kwargs: True
    testing = property(lambda self: self)
np = _Lenient()
def convolve2d(image, kernel):
    return _real_np.zeros((4, 6)).view(_Yes)
"""
    ),
    # An int whose == is always true, returned where a number is expected.
    "always_equal_int": (
        """
class _Always(int):
    def __eq__(self, other):
        return True
    __hash__ = int.__hash__
def convolve2d(image, kernel):
    return _Always(0)
"""
    ),
    # The builtins: exec and compile replaced, so that the grader's own code never runs.
    "patched_builtins": """
import builtins as _b
_b.exec = lambda *args, **kwargs: None
_b.compile = lambda *args, **kwargs: None
"""
    + NOT_AN_ANSWER,
    # The hidden tests and the reference solution, read from disk by absolute path.
    "reads_hidden_tests": (
        """
import glob as _glob, re as _re
_stolen = ""
for _path in (_glob.glob(__ROOT__ + "/chapters/**/*.ipynb", recursive=True)
              + _glob.glob(__ROOT__ + "/**/grader/**/*.json", recursive=True)
              + _glob.glob("/tmp/pytest-*/**/*.ipynb", recursive=True)):
    try:
        _stolen += open(_path).read()
    except OSError:
        pass
_found = _re.search(r"naive\\.correlate2d\\(image, kernel\\[::-1, ::-1\\]\\)", _stolen)
def convolve2d(image, kernel):
    if _found:
        return naive.correlate2d(image, kernel[::-1, ::-1])
    return None
"""
    ),
    # The answer files forged after the harness: a pickle where plain data belongs.
    "forged_answers": """
import atexit as _atexit, pickle as _pickle
def _forge():
    with open("answers.npz", "wb") as handle:
        _pickle.dump({"q_convolve2d": "full marks"}, handle)
get_ipython().events.register("post_run_cell", lambda result: _forge())
"""
    + NOT_AN_ANSWER,
    # Writing into the shared Python installation, to change NumPy for the grader and
    # others.
    "writes_into_numpy": """
import os as _os, numpy as _np2
try:
    _marker = _os.path.join(_os.path.dirname(_np2.__file__), "course_cheat_marker.py")
    with open(_marker, "w") as _h:
        _h.write("allclose = lambda *a, **k: True\\n")
except OSError:
    pass
"""
    + NOT_AN_ANSWER,
}


@pytest.fixture(scope="session")
def cheat_grades(
    release_dir, manifest, tmp_path_factory
) -> dict[str, grade_tool.Graded]:
    entry = manifest[rel(CHEAT_CHAPTER)]
    student = release_tool.read_notebook(release_dir / entry["student"])
    honest = reference_answers(CHEAT_CHAPTER)["q_same_padding"]
    folder = tmp_path_factory.mktemp("cheats")
    for name, code in CHEATS.items():
        code = code.replace("__ROOT__", repr(str(ROOT)))
        nb = with_answers(student, {"q_convolve2d": code, "q_same_padding": honest})
        (folder / f"{name}.ipynb").write_text(json.dumps(nb))
    out = tmp_path_factory.mktemp("cheat-grading")
    everyone = grade_tool.grade_folder(
        folder,
        out,
        entry["name"],
        TIMEOUT_S,
        jobs=2,
        release=release_dir,
        log=lambda *args: None,
    )
    return {g.student: g for g in everyone}


@pytest.mark.parametrize("cheat", sorted(CHEATS))
def test_cheating_earns_nothing(cheat_grades, cheat):
    graded = cheat_grades[cheat]
    assert graded.points["q_convolve2d"] == 0, "\n".join(graded.feedback)
    if cheat not in (
        "patched_builtins",
        "forged_answers",
    ):  # these break the whole record, on purpose
        assert graded.points["q_same_padding"] == 1, "\n".join(graded.feedback)


def test_the_sandbox_kept_numpy_unwritten(cheat_grades):
    marker = Path(np.__file__).parent / "course_cheat_marker.py"
    written = marker.exists()
    if written:
        marker.unlink()
    assert not written, "a submission wrote into the shared NumPy installation"


def test_the_sandbox_leaves_out_exactly_the_otter_cells_otter_assign_wrote(
    release_dir, manifest
):
    """The executor does not run otter's own cells (its harness runs each public test
    itself): every such cell of every student notebook is recognised, and a cell that
    the student changed is not, so it runs as written."""
    for source in ASSIGNMENTS:
        entry = manifest[rel(source)]
        student = release_tool.read_notebook(release_dir / entry["student"])
        cells = student["cells"]
        code = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
        inits = [s for s in code if "otter.Notebook(" in s]
        checks = [s for s in code if "grader.check(" in s]
        assert len(inits) == 1 and executor.OTTER_INIT.fullmatch(inits[0]), inits
        assert len(checks) == len(entry["questions"]), (rel(source), checks)
        assert all(executor.OTTER_CHECK.fullmatch(s) for s in checks), checks
    assert not executor.OTTER_INIT.fullmatch(inits[0] + "\nimport numpy as np")
    assert not executor.OTTER_CHECK.fullmatch(checks[0] + "\nanswer = 42")
    assert not executor.OTTER_CHECK.fullmatch("answer = 42\n" + checks[0])


def test_the_probe_values_are_compared_in_this_process():
    """The comparison refuses what a cheat would send: objects, subclasses, wrong kinds.
    """
    options = {}
    assert isolated.mismatch(np.arange(3.0), np.arange(3.0), options) is None
    assert (
        isolated.mismatch(np.arange(3.0), np.arange(3.0) + 1e-3, options)
        == "wrong values"
    )
    assert isolated.mismatch(np.arange(3.0), np.arange(4.0), options).startswith(
        "wrong shape"
    )
    assert isolated.mismatch(3, isolated.Unsupported("_Always"), options).startswith(
        "a _Always"
    )
    assert isolated.mismatch(3, 3.0, {"types": "kind"}).startswith("wrong type")
    assert isolated.mismatch(np.float64(1.0), 1.0, options) is None
    exact = {"types": "exact"}
    assert isolated.mismatch(2, np.int64(2), exact).startswith("wrong type")
    with pytest.raises(isolated.BadData):
        isolated.decode(
            {"k": "array", "ref": "a0"}, {"a0": np.array(["x"], dtype=object)}
        )


# --------------------------------------------------------------------------------------
# One behaviour on every path


def test_otter_run_and_the_isolated_grader_agree_whatever_the_file_name(
    release_dir, manifest, tmp_path
):
    """``otter run`` on the zip and ``make grade`` give the same scores, under any file
    name."""
    entry = manifest[rel(CHEAT_CHAPTER)]
    student = release_tool.read_notebook(release_dir / entry["student"])
    wrong = wrong_answers()[rel(CHEAT_CHAPTER)]
    # The wrong answer first, then corrected after its check cell.
    corrected = with_answers(student, {"q_convolve2d": wrong["q_convolve2d"][0]})
    corrected["cells"].append(
        {
            "cell_type": "code",
            "metadata": {},
            "execution_count": None,
            "outputs": [],
            "source": reference_answers(CHEAT_CHAPTER)["q_convolve2d"],
        }
    )
    submissions = {
        "Jane Doe (1)": release_tool.read_notebook(CHEAT_CHAPTER),
        "blank copy": student,
        "late-fix": corrected,
    }
    folder = tmp_path / "submissions"
    folder.mkdir()
    for name, nb in submissions.items():
        (folder / f"{name}.ipynb").write_text(json.dumps(nb))
    isolated_scores = {
        g.student: g.points
        for g in grade_tool.grade_folder(
            folder,
            tmp_path / "grading",
            entry["name"],
            TIMEOUT_S,
            jobs=2,
            release=release_dir,
            log=lambda *args: None,
        )
    }
    for name in submissions:
        results, problem = grade_tool.run_otter(
            folder / f"{name}.ipynb",
            release_dir / entry["autograder"],
            TIMEOUT_S,
            assignment_name=entry["name"],
        )
        assert not problem, problem
        otter_scores = {
            t["name"]: float(t["score"]) for t in results["tests"] if "max_score" in t
        }
        assert otter_scores == isolated_scores[name], name
    assert isolated_scores["Jane Doe (1)"] == {"q_convolve2d": 1, "q_same_padding": 1}
    # Graded where it is checked, as otter records it: a fix after the check counts on
    # neither path.
    assert isolated_scores["late-fix"]["q_convolve2d"] == 0


def test_make_and_the_tool_share_their_defaults():
    text = (ROOT / "Makefile").read_text()
    assert re.search(rf"^JOBS \?= {grade_tool.DEFAULT_JOBS}$", text, re.M)
    assert re.search(rf"^TIMEOUT \?= {grade_tool.DEFAULT_TIMEOUT_S:g}$", text, re.M)


# --------------------------------------------------------------------------------------
# Grades kept: merged per chapter, regrades replace only their rows, one Canvas
# gradebook


def _graded(student, points, status="graded"):
    return grade_tool.Graded(
        student, points, status, 1.0, [f"feedback for {student} {points}"]
    )


def test_grades_are_merged_per_chapter_and_into_one_gradebook(tmp_path):
    out = tmp_path / "grading"
    specs_a = {"q1": {"points": 1.0}, "q2": {"points": 2.0}}
    specs_b = {"q9": {"points": 1.0}}
    grade_tool.merge_chapter(
        out / "ch_a",
        [_graded("ada", {"q1": 1, "q2": 2}), _graded("ben", {"q1": 0, "q2": 0})],
        specs_a,
        late=False,
    )
    before = {r["student"]: r for r in read_csv(out / "ch_a" / "summary.csv")}
    grade_tool.merge_chapter(
        out / "ch_b", [_graded("ada", {"q9": 1})], specs_b, late=False
    )
    # Ben hands in late; regrading him touches his rows only.
    grade_tool.merge_chapter(
        out / "ch_a", [_graded("ben", {"q1": 1, "q2": 0})], specs_a, late=True
    )
    summary = {r["student"]: r for r in read_csv(out / "ch_a" / "summary.csv")}
    assert summary["ada"] == before["ada"]
    assert (summary["ben"]["points"], summary["ben"]["late"]) == ("1", "yes")
    scores = [
        (r["student"], r["question"], r["points"])
        for r in read_csv(out / "ch_a" / "scores.csv")
    ]
    assert scores == [
        ("ada", "q1", "1"),
        ("ada", "q2", "2"),
        ("ben", "q1", "1"),
        ("ben", "q2", "0"),
    ]
    assert (
        out / "ch_b" / "summary.csv"
    ).is_file(), "grading chapter a again deleted chapter b"
    previous = list((out / "ch_a" / "feedback" / "previous").glob("ben.*.txt"))
    assert len(previous) == 1 and "{'q1': 0" in previous[0].read_text()

    roster = tmp_path / "roster.csv"
    roster.write_text(
        "submission,name,id,sis_user_id,sis_login_id,section\n"
        "ada,Ada Lovelace,101,S101,ada@uni,A\nben,Ben Ng,102,S102,ben@uni,A\n"
    )
    path = grade_tool.write_gradebook(out, grade_tool.read_roster(roster))
    rows = list(csv.reader(path.open(newline="")))
    assert rows[0] == [
        "Student",
        "ID",
        "SIS User ID",
        "SIS Login ID",
        "Section",
        "ch_a",
        "ch_b",
    ]
    assert rows[1] == ["Points Possible", "", "", "", "", "3", "1"]
    assert rows[2] == ["Ada Lovelace", "101", "S101", "ada@uni", "A", "3", "1"]
    assert rows[3] == ["Ben Ng", "102", "S102", "ben@uni", "A", "1", ""]


def test_feedback_names_failed_checks_without_hidden_inputs(class_grades):
    wrong = "\n".join(class_grades[rel(CHEAT_CHAPTER)]["wrong-1"].feedback)
    assert "q_convolve2d: 0 / 1  failed" in wrong
    assert re.search(r"hidden check '\w+': wrong values", wrong)
    assert "public test 1:" in wrong
    # The probe's inputs (its code) stay with the grader.
    assert "default_rng" not in wrong and "standard_normal" not in wrong


# --------------------------------------------------------------------------------------
# Broken submissions: graded as far as they run, or 0 with the reason; grading goes on

# Long enough for the light chapter's other submissions (about 6 s each here), short
# enough that the endless one does not hold the suite for a minute.
BROKEN_TIMEOUT_S = 30


def test_broken_submissions_are_graded_or_explained(release_dir, manifest, tmp_path):
    entry = manifest[rel(CHEAT_CHAPTER)]
    student = release_tool.read_notebook(release_dir / entry["student"])
    answers = reference_answers(CHEAT_CHAPTER)
    folder = tmp_path / "submissions"
    folder.mkdir()
    # The first answer is right; the second raises before defining anything.
    raising = with_answers(
        student,
        {
            "q_convolve2d": answers["q_convolve2d"],
            "q_same_padding": "raise RuntimeError('oops')",
        },
    )
    (folder / "cy.ipynb").write_text(json.dumps(raising))
    endless = with_answers(student, {"q_convolve2d": "while True:\n    pass"})
    (folder / "dee.ipynb").write_text(json.dumps(endless))
    gutted = json.loads(json.dumps(student))
    gutted["cells"] = [c for c in gutted["cells"] if c["cell_type"] == "markdown"]
    (folder / "eve.ipynb").write_text(json.dumps(gutted))
    (folder / "fay.ipynb").write_text(
        '{"cells": [{"cell_type": "code", "source": "x = 1"'
    )
    everyone = {
        g.student: g
        for g in grade_tool.grade_folder(
            folder,
            tmp_path / "grading",
            entry["name"],
            BROKEN_TIMEOUT_S,
            jobs=2,
            release=release_dir,
            log=lambda *args: None,
        )
    }
    assert everyone["cy"].points == {"q_convolve2d": 1, "q_same_padding": 0}
    cy = "\n".join(everyone["cy"].feedback)
    assert "First error in the notebook: cell" in cy and "RuntimeError: oops" in cy
    assert everyone["eve"].points == {"q_convolve2d": 0, "q_same_padding": 0}
    assert everyone["dee"].points == {"q_convolve2d": 0, "q_same_padding": 0}
    assert "time limit" in everyone["dee"].status
    assert "not JSON" in everyone["fay"].status
    summary = {
        r["student"]: r
        for r in read_csv(tmp_path / "grading" / entry["name"] / "summary.csv")
    }
    assert sorted(summary) == ["cy", "dee", "eve", "fay"]
    assert summary["cy"]["status"] == summary["eve"]["status"] == "graded"
    for name in summary:
        assert (
            tmp_path / "grading" / entry["name"] / "feedback" / f"{name}.txt"
        ).is_file()


def test_probes_record_what_they_assign_in_their_own_scope():
    probe = (
        "a = 1\nwith ctx():\n    b = f(a)\nfor _i in range(2):\n    c = _i\n"
        "if a:\n    d, (e, _f) = 1, (2, 3)\ndef g():\n    h = 4\n_j = 5\n"
        "k = [m for m in range(3)]\n"
    )
    assert isolated.recorded_names(probe) == ["a", "b", "c", "d", "e", "k"]
