#!/usr/bin/env python3
"""Grade a folder of submitted notebooks locally with ``otter run``; write one CSV and per-student feedback.

Usage (from the repository root; ``make grade SUBMISSIONS=folder`` runs exactly this)::

    .venv/bin/python .ci/grade.py SUBMISSIONS [--autograder ZIP] [--out grading] [--timeout 900] [--jobs 2]

Each ``*.ipynb`` in SUBMISSIONS is one student (the file name without ``.ipynb``). The autograder is
``release/autograder/<assignment>-autograder.zip``, the assignment read from the submissions' otter
metadata, unless ``--autograder`` names one (build the release first: ``make student``).

Every submission runs in its own ``otter run`` process under a time limit. A submission that raises
is graded as far as it runs (otter keeps executing after an error); one that exceeds the limit, is not
valid JSON, or makes otter fail, gets 0 on every question, and grading goes on with the next.

Output, replaced as a whole when grading finishes::

    grading/scores.csv            student, question, points, max_points (one row per student and question)
    grading/summary.csv           student, points, max_points, status, seconds
    grading/feedback/<student>.txt  scores, what failed, and the public tests' output
"""

from __future__ import annotations

import argparse
import ast
import csv
import json
import os
import shutil
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

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TIMEOUT_S = 900


@dataclass
class Graded:
    """The outcome of grading one submission."""

    student: str
    points: dict[str, float]  # question -> points earned (missing question = 0)
    status: str = "graded"  # or why the notebook could not be graded
    seconds: float = 0.0
    feedback: list[str] = field(default_factory=list)


def read_questions(autograder: Path) -> dict[str, float]:
    """``{question: max points}`` from the test files inside an otter autograder zip, in name order.

    The files are literal dicts (``test = {...}``), read with ``ast.literal_eval``, never executed.
    """
    questions = {}
    with zipfile.ZipFile(autograder) as archive:
        for member in sorted(archive.namelist()):
            if not (member.startswith("tests/") and member.endswith(".py")):
                continue
            tree = ast.parse(archive.read(member).decode("utf-8"))
            for node in tree.body:
                if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "test" for t in node.targets):
                    test = ast.literal_eval(node.value)
                    points = test.get("points")
                    if isinstance(points, list):
                        points = sum(points)
                    questions[test["name"]] = float(points if points is not None else 1)
    if not questions:
        raise ValueError(f"{autograder}: no tests/*.py inside; is this an otter autograder zip?")
    return questions


def _kill_tree(process: subprocess.Popen) -> None:
    """Kill otter and its kernel: the kernel runs in a session of its own, so a group kill misses it."""
    victims = []
    try:
        import psutil

        victims = psutil.Process(process.pid).children(recursive=True)
    except Exception:  # psutil missing or otter already gone: the kernel's parent poller ends it
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


def run_otter(submission: Path, autograder: Path, timeout: float = DEFAULT_TIMEOUT_S,
              assignment_name: str | None = None, threads: int | None = None) -> tuple[dict | None, str]:
    """Grade one notebook with ``otter run``; return ``(results.json as a dict or None, problem)``.

    ``problem`` is "" when otter produced results. If the notebook has no otter assignment name (a
    student rebuilt it in a new file, or it is a chapter source notebook), ``assignment_name`` is
    written into a copy first; a *different* name is left alone, so otter rejects the wrong assignment.
    ``threads`` caps the compute threads of the grading process (unless the environment already does).
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
        # A fixed, plain file name: otter copies the notebook into its own folder by name.
        copy = scratch / "submission" / "submission.ipynb"
        copy.parent.mkdir()
        copy.write_text(json.dumps(nb), encoding="utf-8")
        results_dir = scratch / "results"
        results_dir.mkdir()
        tmp = scratch / "tmp"  # otter's own temp folder, removed with ours even if otter is killed
        tmp.mkdir()
        env = dict(os.environ, TMPDIR=str(tmp), PYTHONDONTWRITEBYTECODE="1")
        if threads is not None:
            # Several notebooks graded side by side must share the cores, or their thread pools fight.
            for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
                env.setdefault(variable, str(threads))
        command = [sys.executable, "-m", "otter", "run", "--no-logo", "-a", str(Path(autograder).resolve()),
                   "-o", str(results_dir), str(copy)]
        process = subprocess.Popen(command, cwd=scratch, env=env, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        try:
            output, _ = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_tree(process)
            return None, f"stopped after the time limit of {timeout:g} s (an endless loop, or far too slow)"
        results_file = results_dir / "results.json"
        if not results_file.is_file():
            tail = output.decode("utf-8", "replace").strip().splitlines()[-5:]
            return None, "otter could not grade the notebook: " + " | ".join(tail)
        results = json.loads(results_file.read_text(encoding="utf-8"))
        scored = [t for t in results.get("tests", []) if "max_score" in t]
        if not scored:
            messages = " | ".join(t.get("output", "") for t in results.get("tests", []))
            return results, "otter could not grade the notebook: " + messages.strip().replace("\n", " ")[:500]
        return results, ""


def grade_one(submission: Path, autograder: Path, questions: dict[str, float], timeout: float,
              assignment_name: str | None, threads: int | None = None) -> Graded:
    student = submission.stem
    start = time.perf_counter()
    results, problem = run_otter(submission, autograder, timeout, assignment_name, threads)
    graded = Graded(student, {q: 0.0 for q in questions}, seconds=time.perf_counter() - start)
    public_output = ""
    if problem:
        graded.status = problem
    else:
        for test in results["tests"]:
            if test.get("name") in questions and "score" in test:
                graded.points[test["name"]] = float(test["score"])
            elif test.get("name") == "Public Tests":
                public_output = test.get("output", "")
    total = sum(graded.points.values())
    graded.feedback = [f"Student: {student}", f"Score: {total:g} / {sum(questions.values()):g}"]
    if problem:
        graded.feedback.append(f"Not graded: {problem}. Every question gets 0 points.")
    graded.feedback.append("")
    for question, maximum in questions.items():
        got = graded.points[question]
        mark = "ok" if got == maximum else "incomplete" if got > 0 else "failed"
        graded.feedback.append(f"{question}: {got:g} / {maximum:g}  {mark}")
    if public_output:
        graded.feedback += ["", "Public tests (hidden tests are not shown):", public_output]
    return graded


def assignment_of(submissions: list[Path]) -> str | None:
    """The otter assignment name most submissions carry (unreadable ones are skipped)."""
    names = Counter()
    for path in submissions:
        try:
            name = json.loads(path.read_text(encoding="utf-8"))["metadata"]["otter"]["assignment_name"]
        except Exception:
            continue
        if isinstance(name, str):
            names[name] += 1
    return names.most_common(1)[0][0] if names else None


def _write_atomically(path: Path, text: str) -> None:
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")
    with os.fdopen(handle, "w", encoding="utf-8", newline="") as file:
        file.write(text)
    os.replace(temp, path)


def _csv_text(header: list[str], rows: list[list]) -> str:
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def grade_folder(submissions_dir: Path, out: Path, autograder: Path | None = None, timeout: float = DEFAULT_TIMEOUT_S,
                 jobs: int = 1, release: Path = ROOT / "release", log=print) -> list[Graded]:
    """Grade every ``*.ipynb`` in ``submissions_dir``; write ``scores.csv``, ``summary.csv``, ``feedback/``."""
    submissions = sorted(p for p in Path(submissions_dir).iterdir()
                         if p.suffix == ".ipynb" and p.is_file() and not p.name.startswith("."))
    if not submissions:
        raise SystemExit(f"no .ipynb files in {submissions_dir}")
    name = assignment_of(submissions)
    if autograder is None:
        if name is None:
            raise SystemExit("no submission names its assignment; pass --autograder release/autograder/<name>-autograder.zip")
        autograder = Path(release) / "autograder" / f"{name}-autograder.zip"
        if not autograder.is_file():
            raise SystemExit(f"{autograder} not found: build the release first (make student)")
    questions = read_questions(autograder)
    with zipfile.ZipFile(autograder) as archive:
        config = json.loads(archive.read("otter_config.json")) if "otter_config.json" in archive.namelist() else {}
    expected_name = config.get("assignment_name")
    log(f"grading {len(submissions)} submissions with {autograder} ({len(questions)} questions, "
        f"time limit {timeout:g} s, {jobs} at a time)")

    threads = max(1, (os.cpu_count() or 1) // jobs) if jobs > 1 else None

    def work(path: Path) -> Graded:
        graded = grade_one(path, autograder, questions, timeout, expected_name, threads)
        log(f"  {graded.student}: {sum(graded.points.values()):g} / {sum(questions.values()):g} "
            f"({graded.seconds:.1f} s){'' if graded.status == 'graded' else '  ' + graded.status[:120]}")
        return graded

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        everyone = list(pool.map(work, submissions))

    out = Path(out).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        (staging / "feedback").mkdir()
        score_rows = [[g.student, q, f"{g.points[q]:g}", f"{m:g}"] for g in everyone for q, m in questions.items()]
        _write_atomically(staging / "scores.csv", _csv_text(["student", "question", "points", "max_points"], score_rows))
        summary_rows = [[g.student, f"{sum(g.points.values()):g}", f"{sum(questions.values()):g}", g.status,
                         f"{g.seconds:.1f}"] for g in everyone]
        _write_atomically(staging / "summary.csv",
                          _csv_text(["student", "points", "max_points", "status", "seconds"], summary_rows))
        for g in everyone:
            _write_atomically(staging / "feedback" / f"{g.student}.txt", "\n".join(g.feedback) + "\n")
        if out.exists():
            shutil.rmtree(out)
        os.replace(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return everyone


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("submissions", type=Path, help="folder of submitted notebooks, one <student>.ipynb each")
    parser.add_argument("--autograder", type=Path, help="otter autograder zip (default: from the release, by assignment)")
    parser.add_argument("--release", type=Path, default=ROOT / "release", help="release folder (default: release/)")
    parser.add_argument("--out", type=Path, default=ROOT / "grading", help="output folder (default: grading/)")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S,
                        help=f"seconds allowed per notebook (default: {DEFAULT_TIMEOUT_S})")
    parser.add_argument("--jobs", type=int, default=2, help="notebooks graded at the same time (default: 2)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    everyone = grade_folder(args.submissions, args.out, args.autograder, args.timeout, args.jobs, args.release)
    failed = sum(g.status != "graded" for g in everyone)
    print(f"graded {len(everyone)} submissions ({failed} could not be graded) in {time.perf_counter() - start:.1f} s; "
          f"wrote {args.out / 'scores.csv'} and {args.out / 'feedback'}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
