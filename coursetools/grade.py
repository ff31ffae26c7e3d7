"""Grade a folder of submitted notebooks of one chapter; keep every chapter's grades.

Usage (from the repository root; ``make grade SUBMISSIONS=folder`` runs exactly this)::

    .venv/bin/python -m coursetools.grade SUBMISSIONS [--chapter NAME] [--out grading]
        [--roster roster.csv] [--late] [--timeout 300] [--jobs 2]

Each ``*.ipynb`` in SUBMISSIONS is one student (the file name without ``.ipynb``,
whatever else it is called). The chapter is read from the notebooks' otter metadata
unless ``--chapter`` names it. Grading needs the release (``make student``):
``release/grader/<chapter>/``.

How a grade is made (``coursetools.isolated``): the notebook runs in a sandbox that
holds only it, ``cnnlib/`` and ``data/`` (no hidden tests, no expected values, no
network); each question's probe records plain data from the student's code; this process
compares that data with the reference solution's. Submitted code never runs in this
process.

Output, per chapter, merged with earlier runs (a student graded again replaces only
their rows; nobody else's are touched, and replaced feedback is kept under
``feedback/previous/``)::

    grading/<chapter>/scores.csv          student, question, points, max_points
    grading/<chapter>/summary.csv         student, points, max_points, status, late,
                                          seconds, graded_at
    grading/<chapter>/feedback/<student>.txt
    grading/gradebook.csv                 every chapter, Canvas's gradebook import
"""

from __future__ import annotations

import argparse
import ast
import csv
import datetime
import io
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from cnnlib.files import write_text_atomically
from coursetools import isolated, sandbox

ROOT = Path(__file__).resolve().parent.parent
# Grading skips training (otter_ignore cells), so every chapter grades in well under a
# minute; the limit only stops endless loops.
DEFAULT_TIMEOUT_S = 300
DEFAULT_JOBS = 2
SCORE_HEADER = ["student", "question", "points", "max_points"]
SUMMARY_HEADER = [
    "student",
    "points",
    "max_points",
    "status",
    "late",
    "seconds",
    "graded_at",
]
# Canvas's gradebook import: these five columns, then one column per assignment (a new
# assignment is created from a column it does not know), and an optional "Points
# Possible" row.
CANVAS_COLUMNS = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
ROSTER_COLUMNS = {
    "submission": "submission",
    "Student": "name",
    "ID": "id",
    "SIS User ID": "sis_user_id",
    "SIS Login ID": "sis_login_id",
    "Section": "section",
}


@dataclass
class Graded:
    """The outcome of grading one submission."""

    student: str
    points: dict[str, float]  # question -> points earned (missing question = 0)
    status: str = "graded"  # or why the notebook could not be graded
    seconds: float = 0.0
    feedback: list[str] = field(default_factory=list)
    cpu_seconds: float | None = None  # the notebook run's CPU time, for timing reports


def read_questions(autograder: Path) -> dict[str, float]:
    """``{question: max points}`` from the test files inside an otter autograder zip, in
    name order.

    The files are literal dicts (``test = {...}``), read with ``ast.literal_eval``,
    never executed.
    """
    questions = {}
    with zipfile.ZipFile(autograder) as archive:
        for member in sorted(archive.namelist()):
            if not (member.startswith("tests/") and member.endswith(".py")):
                continue
            tree = ast.parse(archive.read(member).decode("utf-8"))
            for node in tree.body:
                if isinstance(node, ast.Assign) and any(
                    getattr(t, "id", None) == "test" for t in node.targets
                ):
                    test = ast.literal_eval(node.value)
                    points = test.get("points")
                    if isinstance(points, list):
                        points = sum(points)
                    questions[test["name"]] = float(points if points is not None else 1)
    if not questions:
        raise ValueError(
            f"{autograder}: no tests/*.py inside; is this an otter autograder zip?"
        )
    return questions


def _kill_tree(process: subprocess.Popen) -> None:
    """Kill otter and its kernel: the kernel runs in a session of its own, so a group
    kill misses it."""
    victims = []
    try:
        import psutil

        victims = psutil.Process(process.pid).children(recursive=True)
    except (
        Exception
    ):  # psutil missing or otter already gone: the kernel's parent poller ends it
        pass
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    for victim in victims:
        try:
            victim.kill()
        except Exception:
            pass
    process.wait()


def run_otter(
    submission: Path,
    autograder: Path,
    timeout: float = DEFAULT_TIMEOUT_S,
    assignment_name: str | None = None,
    threads: int | None = None,
) -> tuple[dict | None, str]:
    """Grade one notebook with ``otter run``; return ``(results.json as a dict or None,
    problem)``.

    ``problem`` is "" when otter produced results. If the notebook has no otter
    assignment name (a student rebuilt it in a new file, or it is a chapter source
    notebook), ``assignment_name`` is written into a copy first; a *different* name is
    left alone, so otter rejects the wrong assignment.
    ``threads`` caps the compute threads of the grading process (unless the environment
    already does).
    """
    with tempfile.TemporaryDirectory(prefix="otter-run-") as scratch:
        scratch = Path(scratch)
        try:
            nb = json.loads(Path(submission).read_text(encoding="utf-8"))
            if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
                return None, "the file is JSON but not a notebook (no list of cells)"
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            return None, f"the file is not a valid notebook (not JSON: {error})"
        otter_meta = nb.setdefault("metadata", {}).setdefault("otter", {})
        if assignment_name and not otter_meta.get("assignment_name"):
            otter_meta["assignment_name"] = assignment_name
        # Named as the assignment, whatever the student called the file: the notebook's
        # ``otter.Notebook("<chapter>.ipynb")`` cell then finds itself, as in the
        # student's run.
        copy = (
            scratch
            / "submission"
            / f"{otter_meta.get('assignment_name') or 'submission'}.ipynb"
        )
        copy.parent.mkdir()
        copy.write_text(json.dumps(nb), encoding="utf-8")
        results_dir = scratch / "results"
        results_dir.mkdir()
        tmp = (
            scratch / "tmp"
        )  # otter's own temp folder, removed with ours even if otter is killed
        tmp.mkdir()
        env = dict(os.environ, TMPDIR=str(tmp), PYTHONDONTWRITEBYTECODE="1")
        if threads is not None:
            # Several notebooks graded side by side must share the cores, or their
            # thread pools fight.
            for variable in isolated.THREAD_VARIABLES:
                env.setdefault(variable, str(threads))
        command = [
            sys.executable,
            "-m",
            "otter",
            "run",
            "--no-logo",
            "-a",
            str(Path(autograder).resolve()),
            "-o",
            str(results_dir),
            str(copy),
        ]
        process = subprocess.Popen(
            command,
            cwd=scratch,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            output, _ = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_tree(process)
            return (
                None,
                (
                    f"stopped after the time limit of {timeout:g} s (an endless loop,"
                    " or far too slow)"
                ),
            )
        results_file = results_dir / "results.json"
        if not results_file.is_file():
            tail = output.decode("utf-8", "replace").strip().splitlines()[-5:]
            return None, "otter could not grade the notebook: " + " | ".join(tail)
        results = json.loads(results_file.read_text(encoding="utf-8"))
        scored = [t for t in results.get("tests", []) if "max_score" in t]
        if not scored:
            messages = " | ".join(t.get("output", "") for t in results.get("tests", []))
            return (
                results,
                "otter could not grade the notebook: "
                + messages.strip().replace("\n", " ")[:500],
            )
        return results, ""


def read_notebook_file(path: Path) -> tuple[dict | None, str]:
    """The submission as a notebook dict, or ``(None, why not)``."""
    try:
        nb = json.loads(Path(path).read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        return None, f"the file is not a valid notebook (not JSON: {error})"
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        return None, "the file is JSON but not a notebook (no list of cells)"
    for cell in nb["cells"]:
        if not isinstance(cell, dict) or not isinstance(
            cell.get("source", ""), (str, list)
        ):
            return None, "the file is JSON but its cells are not notebook cells"
    return nb, ""


def load_key(release: Path, chapter: str) -> tuple[dict, dict]:
    """``(question specs, expected answers)`` from ``release/grader/<chapter>/``."""
    folder = Path(release) / "grader" / chapter
    if not (folder / "questions.json").is_file():
        raise SystemExit(f"{folder} not found: build the release first (make student)")
    specs = json.loads((folder / "questions.json").read_text(encoding="utf-8"))
    return specs, isolated.load_answers(folder, "expected")


def grade_one(
    path: Path,
    chapter: str,
    specs: dict,
    expected: dict,
    timeout: float,
    threads: int | None = None,
    root: Path = ROOT,
) -> Graded:
    """Grade one submission in the sandbox and write its feedback lines."""
    student = path.stem
    graded = Graded(student, {q: 0.0 for q in specs})
    start = time.perf_counter()
    nb, problem = read_notebook_file(path)
    results, cells = {}, []
    if nb is not None:
        run = isolated.run_notebook(nb, chapter, specs, timeout, root, threads)
        problem, cells = run.problem, run.cells
        graded.cpu_seconds = run.cpu_seconds
        if not problem:
            results = isolated.judge(specs, expected, run.answers)
            graded.points = {q: r.points for q, r in results.items()}
    graded.seconds = time.perf_counter() - start
    if problem:
        graded.status = problem
    total = sum(graded.points.values())
    maximum = sum(s["points"] for s in specs.values())
    lines = [
        f"Student: {student}",
        f"Chapter: {chapter}",
        f"Score: {total:g} / {maximum:g}",
    ]
    if problem:
        lines.append(f"Not graded: {problem}. Every question gets 0 points.")
    raised = isolated.first_error(cells)
    if raised:
        lines.append(f"First error in the notebook: {raised}")
    lines += [
        "",
        "A question earns its points only when every check passes. Hidden checks run",
        (
            "your code on inputs that are not shown; public tests are the ones in your"
            " notebook."
        ),
        "",
    ]
    for question, spec in specs.items():
        got = graded.points[question]
        mark = "ok" if got == spec["points"] else "failed"
        lines.append(f"{question}: {got:g} / {spec['points']:g}  {mark}")
        result = results.get(question)
        if result is not None:
            lines += [f"    - {line}" for line in result.failed]
    graded.feedback = lines
    return graded


def assignment_of(submissions: list[Path]) -> str | None:
    """The otter assignment name most submissions carry (unreadable ones are skipped).
    """
    names = Counter()
    for path in submissions:
        try:
            name = json.loads(path.read_text(encoding="utf-8"))["metadata"]["otter"][
                "assignment_name"
            ]
        except Exception:
            continue
        if isinstance(name, str):
            names[name] += 1
    return names.most_common(1)[0][0] if names else None


def _csv_text(header: list[str], rows: list[list]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def _read_rows(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def merge_chapter(
    folder: Path, everyone: list[Graded], specs: dict, late: bool
) -> None:
    """Write this run's students into the chapter's CSVs, keeping everyone else's rows.
    """
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "feedback").mkdir(exist_ok=True)
    regraded = {g.student for g in everyone}
    now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    scores = [
        r for r in _read_rows(folder / "scores.csv") if r["student"] not in regraded
    ]
    scores += [
        {
            "student": g.student,
            "question": q,
            "points": f"{g.points[q]:g}",
            "max_points": f"{s['points']:g}",
        }
        for g in everyone
        for q, s in specs.items()
    ]
    scores.sort(
        key=lambda r: (
            r["student"],
            list(specs).index(r["question"]) if r["question"] in specs else len(specs),
        )
    )
    write_text_atomically(
        folder / "scores.csv",
        _csv_text(SCORE_HEADER, [[r[c] for c in SCORE_HEADER] for r in scores]),
    )
    summary = [
        r for r in _read_rows(folder / "summary.csv") if r["student"] not in regraded
    ]
    maximum = sum(s["points"] for s in specs.values())
    summary += [
        {
            "student": g.student,
            "points": f"{sum(g.points.values()):g}",
            "max_points": f"{maximum:g}",
            "status": g.status,
            "late": "yes" if late else "no",
            "seconds": f"{g.seconds:.1f}",
            "graded_at": now,
        }
        for g in everyone
    ]
    summary.sort(key=lambda r: r["student"])
    write_text_atomically(
        folder / "summary.csv",
        _csv_text(
            SUMMARY_HEADER, [[r.get(c, "") for c in SUMMARY_HEADER] for r in summary]
        ),
    )
    stamp = now.replace(":", "").replace("+0000", "Z")
    for g in everyone:
        target = folder / "feedback" / f"{g.student}.txt"
        if target.is_file():  # kept, not overwritten: an instructor can compare
            previous = folder / "feedback" / "previous"
            previous.mkdir(exist_ok=True)
            os.replace(target, previous / f"{g.student}.{stamp}.txt")
        write_text_atomically(target, "\n".join(g.feedback) + "\n")


def read_roster(path: Path | None) -> dict[str, dict]:
    """``{submission name: {name, id, sis_user_id, sis_login_id, section}}`` from a
    roster CSV.

    Columns: ``submission`` (the file name without ``.ipynb``) and any of ``name``,
    ``id``,
    ``sis_user_id``, ``sis_login_id``, ``section``.
    """
    if path is None:
        return {}
    rows = _read_rows(Path(path))
    if rows and "submission" not in rows[0]:
        raise SystemExit(f"{path}: the roster needs a 'submission' column")
    return {
        r["submission"].strip(): {
            k: (r.get(k) or "").strip() for k in ROSTER_COLUMNS.values()
        }
        for r in rows
        if r.get("submission", "").strip()
    }


def write_gradebook(out: Path, roster: dict[str, dict] | None = None) -> Path:
    """``grading/gradebook.csv``: one row per student, one column per chapter graded so
    far.

    Canvas's gradebook import format: Student, ID, SIS User ID, SIS Login ID, Section,
    then the chapters (their total points), and a "Points Possible" row under the
    header. Students come from the roster (by submission name) or, without one, are
    named by their submission file.
    """
    roster = roster or {}
    chapters = sorted(p.parent.name for p in Path(out).glob("*/summary.csv"))
    totals, possible = {}, {}
    for chapter in chapters:
        for row in _read_rows(Path(out) / chapter / "summary.csv"):
            totals.setdefault(row["student"], {})[chapter] = row["points"]
            possible[chapter] = row["max_points"]
    students = sorted(set(totals) | set(roster))
    rows = [["Points Possible", "", "", "", "", *[possible[c] for c in chapters]]]
    for student in students:
        who = roster.get(student, {})
        rows.append(
            [
                who.get("name") or student,
                who.get("id", ""),
                who.get("sis_user_id", ""),
                who.get("sis_login_id", ""),
                who.get("section", ""),
                *[totals.get(student, {}).get(c, "") for c in chapters],
            ]
        )
    path = Path(out) / "gradebook.csv"
    write_text_atomically(path, _csv_text(CANVAS_COLUMNS + chapters, rows))
    return path


def grade_folder(
    submissions_dir: Path,
    out: Path,
    chapter: str | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
    jobs: int = DEFAULT_JOBS,
    release: Path = ROOT / "release",
    roster: Path | None = None,
    late: bool = False,
    students: list[str] | None = None,
    log=print,
) -> list[Graded]:
    """Grade the ``*.ipynb`` in ``submissions_dir`` (or only ``students``) into
    ``out/<chapter>/``."""
    submissions = sorted(
        p
        for p in Path(submissions_dir).iterdir()
        if p.suffix == ".ipynb" and p.is_file() and not p.name.startswith(".")
    )
    if students:
        missing = set(students) - {p.stem for p in submissions}
        if missing:
            raise SystemExit(f"no submission for: {', '.join(sorted(missing))}")
        submissions = [p for p in submissions if p.stem in set(students)]
    if not submissions:
        raise SystemExit(f"no .ipynb files in {submissions_dir}")
    chapter = chapter or assignment_of(submissions)
    if chapter is None:
        raise SystemExit("no submission names its chapter; pass --chapter NAME")
    problem = sandbox.available()
    if problem:
        raise SystemExit(f"cannot grade without a sandbox: {problem}")
    specs, expected = load_key(release, chapter)
    log(
        f"grading {len(submissions)} submissions of {chapter} ({len(specs)} questions, "
        f"time limit {timeout:g} s, {jobs} at a time)"
    )
    threads = isolated.threads_per_job(jobs) if jobs > 1 else None

    def work(path: Path) -> Graded:
        graded = grade_one(path, chapter, specs, expected, timeout, threads)
        log(
            f"  {graded.student}: {sum(graded.points.values()):g} / "
            f"{sum(s['points'] for s in specs.values()):g} ({graded.seconds:.1f} s)"
            f"{'' if graded.status == 'graded' else '  ' + graded.status[:120]}"
        )
        return graded

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        everyone = list(pool.map(work, submissions))
    merge_chapter(Path(out) / chapter, everyone, specs, late)
    write_gradebook(Path(out), read_roster(roster))
    return everyone


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "submissions",
        type=Path,
        help="folder of submitted notebooks, one <student>.ipynb each",
    )
    parser.add_argument(
        "--chapter", help="the chapter (assignment) name (default: from the notebooks)"
    )
    parser.add_argument(
        "--students", help="comma-separated: grade only these submissions again"
    )
    parser.add_argument(
        "--release",
        type=Path,
        default=ROOT / "release",
        help="release folder (default: release/)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=ROOT / "grading",
        help="output folder (default: grading/)",
    )
    parser.add_argument(
        "--roster",
        type=Path,
        help="CSV: submission,name,id,sis_user_id,sis_login_id,section",
    )
    parser.add_argument(
        "--late", action="store_true", help="mark these submissions late in summary.csv"
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT_S,
        help=f"seconds allowed per notebook (default: {DEFAULT_TIMEOUT_S:g})",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=DEFAULT_JOBS,
        help=f"notebooks graded at the same time (default: {DEFAULT_JOBS})",
    )
    args = parser.parse_args(argv)
    start = time.perf_counter()
    students = (
        [s.strip() for s in args.students.split(",") if s.strip()]
        if args.students
        else None
    )
    everyone = grade_folder(
        args.submissions,
        args.out,
        args.chapter,
        args.timeout,
        args.jobs,
        args.release,
        args.roster,
        args.late,
        students,
    )
    failed = sum(g.status != "graded" for g in everyone)
    print(
        f"graded {len(everyone)} submissions ({failed} could not be graded) in"
        f" {time.perf_counter() - start:.1f} s; wrote {args.out}/<chapter>/ and"
        f" {args.out / 'gradebook.csv'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
