#!/usr/bin/env python3
"""Build the student release: one student notebook per chapter with exercises, plus
otter autograders.

Usage (from the repository root; ``make student`` runs exactly this)::

    .venv/bin/python -m coursetools.release [--out release] [NOTEBOOK ...]

A chapter notebook has exercises iff its first cell is a raw cell starting with ``#
ASSIGNMENT CONFIG`` (the one-source format of the README's "Writing exercises" section).
Every such notebook under
``chapters/`` is found automatically, so chapters added later are released without
touching this script. Naming notebooks releases only those and keeps the other chapters
of an existing release.

For each notebook, ``otter assign`` runs on a temporary copy whose assignment config is
extended with
``autograder_files: [cnnlib, data]``: the autograder zip then carries the course library
and MNIST, so it grades without the repository (``otter run`` here, Docker ``otter
grade`` or Gradescope elsewhere). Every question is made all-or-nothing (unless its
config says ``all_or_nothing: false``): it earns its points only when its public and
hidden tests all pass. The chapter notebook itself is never modified.

Output (written to a temporary folder next to ``--out`` and swapped in only when
complete)::

    release/
      manifest.json           which source gave which notebook, zip, key and questions
      student/<stem>.ipynb    one per chapter: questions and stubs, public tests only
      student/cnnlib/, data/  what the notebooks import and read (open Jupyter there)
      student/requirements.txt, README.md   how a student sets up
      autograder/<stem>-autograder.zip      for otter run, otter grade, Gradescope
      grader/<stem>/          the isolated grader's key: probes, and what the reference
                              solution records for them (``coursetools.isolated``)
      answer-key/<stem>.html  for teaching assistants: titles, points, solutions
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from cnnlib.files import write_text_atomically
from coursetools import isolated, sandbox

ROOT = Path(__file__).resolve().parent.parent
CONFIG_MARKER = "# ASSIGNMENT CONFIG"
# What the notebooks import and read; shipped to students and inside every autograder
# zip.
SUPPORT_DIRS = ("cnnlib", "data")
# Book-building, browser and test tools, which no student notebook runs.
NOT_FOR_STUDENTS = {
    "jupyter-book",
    "sphinx-exercise",
    "nbval",
    "pytest",
    "pytest-xdist",
    "playwright",
    "django-static-mathjax",
    "ruff",
}
# Reference solutions recorded side by side when the release is built.
KEY_JOBS = 2
COPY_IGNORE = shutil.ignore_patterns(
    "__pycache__", "*.pyc", ".ipynb_checkpoints", "*.egg-info", ".*"
)


def read_notebook(path: Path) -> dict:
    """The notebook as plain JSON (cell sources joined into strings)."""
    nb = json.loads(Path(path).read_text(encoding="utf-8"))
    for cell in nb.get("cells", []):
        if isinstance(cell.get("source"), list):
            cell["source"] = "".join(cell["source"])
    return nb


def assignment_config(nb: dict) -> dict | None:
    """The otter assignment config of a notebook, or None if the notebook has no
    exercises."""
    cells = nb.get("cells", [])
    if not cells or cells[0].get("cell_type") != "raw":
        return None
    source = cells[0]["source"].lstrip()
    if not source.startswith(CONFIG_MARKER):
        return None
    config = yaml.safe_load(source[len(CONFIG_MARKER) :]) or {}
    if not isinstance(config, dict):
        raise ValueError(f"the assignment config is not a YAML mapping: {source!r}")
    return config


# What a learner does in an exercise: the ``kind:`` line of its ``# BEGIN QUESTION``
# cell, shown in its title as "Build: ...", "Debug: ..." (issue #18).
KINDS = {
    "build": "Build",  # write a real piece of the library
    "debug": "Debug",  # a given function has one realistic bug: find and fix it
    "predict": "Predict",  # write down a value before running the code that computes it
    "experiment": "Experiment",  # a small measured choice, accepted within a range
}
# Keys of a question's config that are ours, not otter's (stripped before otter assign).
COURSE_KEYS = ("kind",)

MARKERS = (
    "BEGIN QUESTION",
    "END QUESTION",
    "BEGIN SOLUTION",
    "END SOLUTION",
    "BEGIN TESTS",
    "END TESTS",
)


@dataclass
class Exercise:
    """One otter question of a chapter notebook, as cells of the source (README:
    "Writing exercises")."""

    name: str
    points: float
    prompt_cells: list[dict] = field(
        default_factory=list
    )  # the question (e.g. the {exercise} markdown)
    solution_cells: list[dict] = field(
        default_factory=list
    )  # everything inside the raw solution block
    public_tests: list[dict] = field(default_factory=list)
    hidden_tests: list[dict] = field(default_factory=list)
    config: dict = field(
        default_factory=dict
    )  # the question's YAML, including its grading probe


def _marker(cell: dict) -> str | None:
    if cell.get("cell_type") != "raw":
        return None
    first = cell["source"].strip().split("\n", 1)[0].strip()
    return (
        first[2:].strip().upper()
        if first.startswith("#") and first[2:].strip().upper() in MARKERS
        else None
    )


def parse_exercises(nb: dict) -> list[Exercise]:
    """The questions of a notebook in order; ValueError if the otter markers are not
    properly nested."""
    exercises: list[Exercise] = []
    state = "outside"
    transitions = {
        ("outside", "BEGIN QUESTION"): "question",
        ("question", "BEGIN SOLUTION"): "solution",
        ("solution", "END SOLUTION"): "question",
        ("question", "BEGIN TESTS"): "tests",
        ("tests", "END TESTS"): "question",
        ("question", "END QUESTION"): "outside",
    }
    for index, cell in enumerate(nb["cells"]):
        marker = _marker(cell)
        if marker is None:
            if state == "question":
                exercises[-1].prompt_cells.append(cell)
            elif state == "solution":
                exercises[-1].solution_cells.append(cell)
            elif state == "tests" and cell.get("cell_type") == "code":
                hidden = (
                    cell["source"].lstrip().split("\n", 1)[0].strip().upper()
                    == "# HIDDEN"
                )
                (
                    exercises[-1].hidden_tests if hidden else exercises[-1].public_tests
                ).append(cell)
            continue
        if (state, marker) not in transitions:
            raise ValueError(
                f"cell {index}: '# {marker}' is not allowed here (inside: {state})"
            )
        state = transitions[(state, marker)]
        if marker == "BEGIN QUESTION":
            config = yaml.safe_load(
                cell["source"].strip().split("\n", 1)[1]
                if "\n" in cell["source"].strip()
                else ""
            )
            if not isinstance(config, dict) or "name" not in config:
                raise ValueError(
                    f"cell {index}: '# BEGIN QUESTION' needs a YAML 'name:'"
                )
            exercises.append(
                Exercise(str(config["name"]), config.get("points", 1), config=config)
            )
    if state != "outside":
        raise ValueError(f"the notebook ends inside a question ({state})")
    return exercises


def find_assignment_notebooks(root: Path = ROOT) -> list[Path]:
    """Every chapter notebook whose first cell is an otter assignment config, sorted by
    path."""
    found = []
    for path in sorted((root / "chapters").rglob("*.ipynb")):
        if any(
            part.startswith((".", "_")) for part in path.relative_to(root).parts[:-1]
        ):
            continue  # .ipynb_checkpoints, _build
        if assignment_config(read_notebook(path)) is not None:
            found.append(path)
    return found


def referenced_local_files(nb: dict, notebook_dir: Path) -> list[str]:
    """Files next to the notebook that its code names in a string literal (e.g.
    ``"weights.npz"``).

    They are shipped with the student notebook and inside the autograder, so the
    notebook finds them from the working directory in both places. Paths leaving the
    notebook's folder are not supported (the student release is flat); chapters should
    read shared data through ``cnnlib``.
    """
    names = set()
    for cell in nb["cells"]:
        if cell.get("cell_type") != "code":
            continue
        for literal in re.findall(r"""["']([^"'\n]{1,200})["']""", cell["source"]):
            candidate = notebook_dir / literal
            try:
                if (
                    literal.strip() in {"", ".", ".."}
                    or Path(literal).is_absolute()
                    or not candidate.exists()
                ):
                    continue
                resolved = candidate.resolve()
            except (OSError, ValueError):  # not a path at all
                continue
            if notebook_dir.resolve() not in resolved.parents:
                continue
            if resolved.suffix == ".ipynb":
                continue
            names.add(str(resolved.relative_to(notebook_dir.resolve())))
    return sorted(names)


def with_config(nb: dict, config: dict) -> dict:
    """A copy of ``nb`` to give otter (the chapter file itself is not touched).

    Its first cell holds ``config``, and every question is all-or-nothing unless its ``#
    BEGIN QUESTION`` cell says otherwise: otter's default splits the points over the
    test cases, so an answer that passes the public smoke test but fails the hidden
    tests would keep half the points of a wrong answer.
    """
    patched = json.loads(json.dumps(nb))
    patched["cells"][0]["source"] = (
        CONFIG_MARKER + "\n" + yaml.safe_dump(config, sort_keys=False)
    )
    for cell in patched["cells"]:
        if _marker(cell) == "BEGIN QUESTION":
            first, _, rest = cell["source"].strip().partition("\n")
            question = yaml.safe_load(rest) or {}
            question.setdefault("all_or_nothing", True)
            # Ours (the isolated grader's options and the exercise's kind); otter
            # knows none of them.
            for key in (*isolated.OPTION_KEYS, *COURSE_KEYS):
                question.pop(key, None)
            cell["source"] = first + "\n" + yaml.safe_dump(question, sort_keys=False)
    return patched


def copy_support(destination: Path, root: Path = ROOT) -> None:
    for name in SUPPORT_DIRS:
        if (root / name).is_dir():
            shutil.copytree(root / name, destination / name, ignore=COPY_IGNORE)


def assign_one(source: Path, work: Path, root: Path = ROOT) -> dict:
    """Run ``otter assign`` on a patched copy of ``source`` inside ``work``; return
    paths and questions."""
    nb = read_notebook(source)
    config = assignment_config(nb)
    name = config.get("name")
    if name != source.stem:
        raise ValueError(
            f"{source}: assignment name is {name!r}, expected the file stem"
            f" {source.stem!r}"
        )
    local_files = referenced_local_files(nb, source.parent)
    config = dict(config)
    config["autograder_files"] = (
        list(config.get("autograder_files") or [])
        + [d for d in SUPPORT_DIRS if (root / d).is_dir()]
        + local_files
    )
    # For containerised grading (otter grade, Gradescope): the image gets the course's
    # packages and Python.
    config.setdefault("requirements", runtime_requirements(root))
    config.setdefault(
        "python_version", f"{sys.version_info.major}.{sys.version_info.minor}"
    )
    config["run_tests"] = (
        False  # our pytest suite grades every notebook with otter run instead
    )
    config["solutions_pdf"] = False

    master_dir = work / "master"
    master_dir.mkdir(parents=True)
    copy_support(master_dir, root)
    for relative in local_files:
        target = master_dir / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        copier = (
            shutil.copytree if (source.parent / relative).is_dir() else shutil.copy2
        )
        copier(source.parent / relative, target)
    master = master_dir / source.name
    master.write_text(json.dumps(with_config(nb, config), indent=1), encoding="utf-8")

    result_dir = work / "dist"
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "otter",
            "assign",
            "--no-run-tests",
            "--no-pdfs",
            str(master),
            str(result_dir),
        ],
        cwd=master_dir,
        capture_output=True,
        text=True,
    )
    if completed.returncode != 0:
        raise RuntimeError(
            f"otter assign failed on {source}:\n{completed.stdout}\n{completed.stderr}"
        )
    zips = sorted((result_dir / "autograder").glob(f"{name}-autograder_*.zip"))
    if len(zips) != 1:
        raise RuntimeError(
            f"otter assign made {len(zips)} autograder zips for {source}, expected 1"
        )
    student = result_dir / "student" / source.name
    questions = {
        q: test["points"]
        for q, test in read_notebook(student)["metadata"]["otter"]["tests"].items()
    }
    return {
        "name": name,
        "student": student,
        "zip": zips[0],
        "local_files": local_files,
        "questions": questions,
    }


def runtime_requirements(root: Path = ROOT) -> list[str]:
    """The repository's pinned requirements minus the book and test tools and otter
    itself."""
    lines = []
    requirements = root / "requirements.txt"
    for line in (
        requirements.read_text().splitlines() if requirements.is_file() else []
    ):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        package = re.split(r"[<>=!~\[ ;]", line, maxsplit=1)[0].lower()
        if package in NOT_FOR_STUDENTS or package == "otter-grader":
            continue
        lines.append(line)
    return lines


def student_requirements(root: Path = ROOT) -> str:
    """What a student installs: the runtime packages, otter-grader for ``grader.check``,
    and JupyterLab."""
    lines = [
        (
            "# What the student notebooks need (from the course's requirements.txt,"
            " without the book tools)."
        ),
        *runtime_requirements(root),
        f"otter-grader=={_otter_version()}",
    ]
    if not any(line.startswith("jupyterlab==") for line in lines):
        lines.append("jupyterlab")
    return "\n".join(lines) + "\n"


STUDENT_README = """\
# Exercises: student notebooks

Each notebook is one chapter of the course with its exercises. Replace every `...` with
your answer and run `grader.check("q_...")` below it to run the public tests. Your
instructor's autograder also runs hidden checks, so passing the public tests is
necessary, not sufficient.

Setup (once), in this folder:

    python3.11 -m venv .venv && .venv/bin/pip install -r requirements.txt

Then start Jupyter **in this folder** (`.venv/bin/jupyter lab`), so that the notebooks
can `import cnnlib` and find the MNIST files in `data/mnist/`. Hand in the `.ipynb` file
itself;
do not rename its questions or delete the cells that call `grader.check`.

Notebooks: {notebooks}
"""


def build_release(
    out: Path,
    root: Path = ROOT,
    notebooks: list[Path] | None = None,
    log=print,
    expected: bool = True,
) -> dict:
    """Build the release into ``out`` (replaced atomically); return the manifest.

    With ``notebooks`` given and a release already in ``out``, only those chapters are
    rebuilt; the other chapters of the existing release are kept as they are.
    ``expected=False`` skips running the reference solutions (no ``grader/`` folder:
    otter's path only; for tests).
    """
    only = notebooks is not None
    notebooks = (
        find_assignment_notebooks(root)
        if notebooks is None
        else [Path(n).resolve() for n in notebooks]
    )
    if not notebooks:
        raise SystemExit(
            "no chapter notebook starts with a raw '# ASSIGNMENT CONFIG' cell; nothing"
            " to release"
        )
    stems = [n.stem for n in notebooks]
    duplicates = sorted({s for s in stems if stems.count(s) > 1})
    if duplicates:
        raise ValueError(
            "notebook names must be unique in the flat student folder; repeated:"
            f" {duplicates}"
        )
    if expected:
        problem = sandbox.available()
        if problem:
            raise SystemExit(
                f"cannot run the reference solutions in a sandbox: {problem}"
            )

    out = Path(out).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        kept = []
        if only and (out / "manifest.json").is_file():
            shutil.copytree(out, staging, dirs_exist_ok=True, symlinks=True)
            names = {n.stem for n in notebooks}
            kept = [
                e
                for e in json.loads((out / "manifest.json").read_text())["notebooks"]
                if e["name"] not in names
            ]
        student_dir, autograder_dir = staging / "student", staging / "autograder"
        grader_dir, key_dir = staging / "grader", staging / "answer-key"
        for folder in (student_dir, autograder_dir, grader_dir, key_dir):
            folder.mkdir(exist_ok=True)
        for name in SUPPORT_DIRS:
            shutil.rmtree(student_dir / name, ignore_errors=True)
        copy_support(student_dir, root)
        write_text_atomically(
            student_dir / "requirements.txt", student_requirements(root)
        )
        manifest = {"otter_version": _otter_version(), "notebooks": kept}
        keys = []  # (notebook, name, exercises, folder) of each grader key to make
        with tempfile.TemporaryDirectory(prefix="otter-assign-") as scratch:
            for index, source in enumerate(notebooks):
                start = time.perf_counter()
                made = assign_one(source, Path(scratch) / str(index), root)
                shutil.copy2(made["student"], student_dir / source.name)
                for relative in made["local_files"]:
                    target = student_dir / relative
                    if target.exists():
                        raise ValueError(
                            f"{source}: {relative} would overwrite a file of another"
                            " chapter"
                        )
                    target.parent.mkdir(parents=True, exist_ok=True)
                    copier = (
                        shutil.copytree
                        if (source.parent / relative).is_dir()
                        else shutil.copy2
                    )
                    copier(source.parent / relative, target)
                zip_name = f"{made['name']}-autograder.zip"
                shutil.copy2(made["zip"], autograder_dir / zip_name)
                nb = read_notebook(source)
                exercises = parse_exercises(nb)
                write_text_atomically(
                    key_dir / f"{made['name']}.html",
                    answer_key_html(made["name"], exercises),
                )
                if expected:
                    keys.append(
                        (nb, made["name"], exercises, grader_dir / made["name"])
                    )
                manifest["notebooks"].append(
                    {
                        "source": source.relative_to(root).as_posix(),
                        "name": made["name"],
                        "student": f"student/{source.name}",
                        "autograder": f"autograder/{zip_name}",
                        "grader": f"grader/{made['name']}" if expected else None,
                        "answer_key": f"answer-key/{made['name']}.html",
                        "questions": made["questions"],
                        "titles": {e.name: exercise_title(e) for e in exercises},
                        "kinds": {e.name: e.config.get("kind") for e in exercises},
                    }
                )
                log(
                    f"released {source.relative_to(root)}: {len(made['questions'])}"
                    f" questions ({time.perf_counter() - start:.1f} s)"
                )
        # The reference solutions run two at a time, one core each (each is a notebook).
        threads = isolated.threads_per_job(KEY_JOBS)
        with ThreadPoolExecutor(max_workers=KEY_JOBS) as pool:
            list(
                pool.map(lambda key: make_grader_key(*key, root, threads=threads), keys)
            )
        order = {
            p.relative_to(root).as_posix(): i
            for i, p in enumerate(find_assignment_notebooks(root))
        }
        manifest["notebooks"].sort(
            key=lambda e: (order.get(e["source"], len(order)), e["source"])
        )
        listing = ", ".join(
            f"`{Path(e['student']).name}`" for e in manifest["notebooks"]
        )
        write_text_atomically(
            student_dir / "README.md", STUDENT_README.format(notebooks=listing)
        )
        write_text_atomically(
            staging / "manifest.json", json.dumps(manifest, indent=2) + "\n"
        )
        if out.exists():
            shutil.rmtree(out)
        os.replace(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return manifest


def make_grader_key(
    nb: dict,
    name: str,
    exercises: list[Exercise],
    folder: Path,
    root: Path = ROOT,
    timeout: float = 600,
    threads: int | None = None,
) -> None:
    """The grader's private key: the questions' probes and what the reference solution
    records.

    The reference (the chapter notebook itself) runs through the same sandbox and
    harness as a submission, so its recorded values are the expected ones. The key never
    goes to students and is not inside the sandbox when a submission runs.
    """
    specs = isolated.question_specs(exercises)
    folder.mkdir(parents=True, exist_ok=True)
    run = isolated.run_notebook(
        nb, name, specs, timeout, root, threads, keep_answers=folder, keep_as="expected"
    )
    if run.problem:
        raise RuntimeError(
            f"{name}: the reference solution could not be recorded: {run.problem}"
        )
    judged = isolated.judge(specs, run.answers, run.answers)
    failing = {q: r.failed for q, r in judged.items() if r.failed}
    if failing:
        raise RuntimeError(
            f"{name}: the reference solution fails its own checks: {failing}"
        )
    write_text_atomically(folder / "questions.json", json.dumps(specs, indent=1) + "\n")


def exercise_title(exercise: Exercise) -> str:
    """The exercise's title: the question config's ``title``, else the ``{exercise}``
    fence's."""
    if exercise.config.get("title"):
        return str(exercise.config["title"])
    for cell in exercise.prompt_cells:
        match = re.search(r"^[`:]{3,}\{exercise\}[ \t]*(.*)$", cell["source"], re.M)
        if match and match.group(1).strip():
            return match.group(1).strip()
    return exercise.name


def _prompt_text(exercise: Exercise) -> str:
    text = []
    for cell in exercise.prompt_cells:
        if cell["cell_type"] != "markdown":
            continue
        for line in cell["source"].splitlines():
            if re.match(r"^\s*([`:]{3,}|:label:|:class:|:nonumber:)", line):
                continue
            text.append(line)
    return "\n".join(text).strip()


def reference_code(exercise: Exercise) -> str:
    """The reference answer: the solution code cells, with otter's markers taken out."""
    cells = [c["source"] for c in exercise.solution_cells if c["cell_type"] == "code"]
    lines = [
        line
        for cell in cells
        for line in cell.splitlines()
        if not re.match(r"^\s*#\s*(BEGIN|END) SOLUTION\s*$", line)
    ]
    return "\n".join(
        line
        for line in lines
        if line.strip() != "..." and not re.match(r"^\w+ = \.\.\.$", line)
    )


def explanation(exercise: Exercise) -> str:
    """A short explanation: the config's ``explanation``, else prose inside the solution
    dropdown,
    else the comment lines of the reference answer."""
    if exercise.config.get("explanation"):
        return str(exercise.config["explanation"]).strip()
    prose = []
    for cell in exercise.solution_cells:
        if cell["cell_type"] == "markdown":
            prose += [
                l
                for l in cell["source"].splitlines()
                if l.strip() and not re.match(r"^\s*([`:]{3,}|:label:|:class:)", l)
            ]
    if prose:
        return "\n".join(prose)
    comments = [
        l.strip().lstrip("#").strip()
        for l in reference_code(exercise).splitlines()
        if l.strip().startswith("#") or '"""' in l
    ]
    return "\n".join(c.strip('"') for c in comments if c.strip('"'))


def answer_key_html(name: str, exercises: list[Exercise]) -> str:
    """The teaching assistants' answer key of one chapter: title, points, solution,
    explanation."""
    import html

    parts = [
        (
            "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Answer key:"
            f" {html.escape(name)}"
            "</title><style>body{font-family:sans-serif;max-width:60em;margin:2em auto}"
            "pre{background:#f4f4f4;padding:.8em;overflow-x:auto}</style></head><body>"
        ),
        f"<h1>Answer key: {html.escape(name)}</h1>",
        (
            "<p>For teaching assistants. Not for students: it holds the reference"
            " solutions.</p>"
        ),
    ]
    total = sum(float(e.points) for e in exercises)
    parts.append(f"<p>{len(exercises)} questions, {total:g} points.</p>")
    for exercise in exercises:
        parts += [
            (
                f"<h2>{html.escape(exercise.name)}:"
                f" {html.escape(exercise_title(exercise))} ({float(exercise.points):g}"
                f" point{'s' if float(exercise.points) != 1 else ''})</h2>"
            ),
            f"<h3>Question</h3><pre>{html.escape(_prompt_text(exercise))}</pre>",
            (
                "<h3>Reference"
                f" solution</h3><pre>{html.escape(reference_code(exercise))}</pre>"
            ),
            (
                "<h3>Explanation</h3>"
                f"<p>{html.escape(explanation(exercise) or '(none)')}</p>"
            ),
            "<h3>What the grader checks</h3><p>All public tests pass, and each value"
            " below, computed from the answer in the student's notebook, equals the"
            " reference's: "
            + html.escape(
                ", ".join(
                    isolated.recorded_names(exercise.config.get("probe", "") or "pass")
                )
            )
            + "</p>",
        ]
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _otter_version() -> str:
    from importlib.metadata import version

    return version("otter-grader")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out",
        type=Path,
        default=ROOT / "release",
        help="release folder (default: release/)",
    )
    parser.add_argument(
        "--root", type=Path, default=ROOT, help="course repository (default: this one)"
    )
    parser.add_argument(
        "notebooks",
        nargs="*",
        type=Path,
        help=(
            "only these chapter notebooks; the release's other chapters are kept"
            " (default: all)"
        ),
    )
    args = parser.parse_args(argv)
    start = time.perf_counter()
    manifest = build_release(
        args.out, root=args.root.resolve(), notebooks=args.notebooks or None
    )
    questions = sum(len(n["questions"]) for n in manifest["notebooks"])
    print(
        f"{len(manifest['notebooks'])} student notebooks, {questions} questions ->"
        f" {args.out} in {time.perf_counter() - start:.1f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
