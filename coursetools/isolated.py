"""Grading that a submission cannot reach: run it in a sandbox, judge its plain data
elsewhere.

1. The submitted notebook runs in ``coursetools.sandbox`` (no repository, no expected
   values,
   no network), under its assignment's file name, with only ``cnnlib/`` and ``data/``
   beside it. Cells tagged ``otter_ignore`` (training) are skipped.
2. After its last cell, each question's *probe* (the ``probe:`` block of its ``# BEGIN
   QUESTION``
   cell) calls the student's code on fixed inputs in that kernel; every name the probe
   assigns is recorded as plain data (numbers, strings, lists, dicts, numeric arrays) to
   JSON and npz.
3. This process, which never ran submitted code, reads that data back (``json``, and
   ``np.load``
   with ``allow_pickle=False``) and compares each recorded value with the value the
   reference solution recorded for the same probe at release time (``release/grader/``).

Patching otter, the test runner, NumPy or the builtins inside the kernel can only change
the data it writes; matching the expected values still takes a correct answer.
"""

from __future__ import annotations

import ast
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cnnlib.files import write_text_atomically
from coursetools import sandbox

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# A submission writes its answers; a huge file is not an answer.
MAX_ANSWER_BYTES = 200 * 1024 * 1024
MAX_DEPTH = 20
OPTION_KEYS = ("probe", "rtol", "atol", "types", "dtype", "title", "explanation")


# --------------------------------------------------------------------------------------
# Question specs (from the source notebook)


def recorded_names(probe: str) -> list[str]:
    """Names a probe assigns in its own scope, in order, except those starting with _.

    Assignments inside ``with``, ``for``, ``if`` and ``try`` blocks count (they bind
    names of the probe's scope); those inside functions, classes and comprehensions do
    not.
    """
    names: list[str] = []

    def visit(statements) -> None:
        for node in statements:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                continue
            targets = []
            if isinstance(node, ast.Assign):
                targets = node.targets
            elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
                targets = [node.target]
            elif isinstance(node, (ast.For, ast.AsyncFor)):
                targets = [node.target]
            elif isinstance(node, (ast.With, ast.AsyncWith)):
                targets = [i.optional_vars for i in node.items if i.optional_vars]
            for target in targets:
                for sub in ast.walk(target):
                    if isinstance(sub, ast.Name) and not sub.id.startswith("_"):
                        if sub.id not in names:
                            names.append(sub.id)
            for field_name in ("body", "orelse", "finalbody"):
                visit(getattr(node, field_name, []) or [])
            for handler in getattr(node, "handlers", []) or []:
                visit(handler.body)

    visit(ast.parse(probe).body)
    return names


def question_specs(exercises) -> dict[str, dict]:
    """``{question: spec}``: probe, recorded names, public tests, points and comparison
    options."""
    specs = {}
    for exercise in exercises:
        probe = exercise.config.get("probe")
        if not isinstance(probe, str) or not probe.strip():
            raise ValueError(
                f"{exercise.name}: its '# BEGIN QUESTION' cell needs a 'probe:' block"
            )
        records = recorded_names(probe)
        if not records:
            raise ValueError(f"{exercise.name}: the probe assigns no name to record")
        specs[exercise.name] = {
            "probe": probe,
            "records": records,
            "public": [c["source"] for c in exercise.public_tests],
            "points": float(exercise.points),
            "options": {
                k: exercise.config[k]
                for k in ("rtol", "atol", "types", "dtype")
                if k in exercise.config
            },
        }
    return specs


# --------------------------------------------------------------------------------------
# Plain data: decoding what a sandbox wrote, strictly


class BadData(ValueError):
    """The recorded answers are not the plain data the harness writes."""


@dataclass(frozen=True)
class Tensor:
    array: np.ndarray
    requires_grad: bool


def decode(tree, arrays, depth: int = 0):
    """The value a harness record stands for; BadData for anything else."""
    if (
        depth > MAX_DEPTH
        or not isinstance(tree, dict)
        or not isinstance(tree.get("k"), str)
    ):
        raise BadData("malformed record")
    kind = tree["k"]
    if kind == "none":
        return None
    if kind == "bool" and isinstance(tree.get("v"), bool):
        return tree["v"]
    if (
        kind == "int"
        and isinstance(tree.get("v"), str)
        and tree.get("t") in ("int", "numpy")
    ):
        if len(tree["v"]) > 4000:
            raise BadData("integer too long")
        value = int(tree["v"])
        return (
            value
            if tree["t"] == "int"
            else np.int64(value) if -(2**63) <= value < 2**63 else value
        )
    if (
        kind == "float"
        and type(tree.get("v")) in (float, int)
        and tree.get("t") in ("float", "numpy")
    ):
        return float(tree["v"]) if tree["t"] == "float" else np.float64(tree["v"])
    if kind == "str" and isinstance(tree.get("v"), str):
        return tree["v"]
    if kind in ("list", "tuple") and isinstance(tree.get("v"), list):
        items = [decode(item, arrays, depth + 1) for item in tree["v"]]
        return items if kind == "list" else tuple(items)
    if kind == "dict" and isinstance(tree.get("v"), dict):
        return {str(k): decode(v, arrays, depth + 1) for k, v in tree["v"].items()}
    if kind in ("array", "tensor") and isinstance(tree.get("ref"), str):
        array = arrays.get(tree["ref"])
        if type(array) is not np.ndarray or array.dtype.kind not in "biuf":
            raise BadData("array record without a numeric array")
        if kind == "array":
            return array
        if not isinstance(tree.get("requires_grad"), bool):
            raise BadData("tensor record without requires_grad")
        return Tensor(array, tree["requires_grad"])
    if kind == "unsupported" and isinstance(tree.get("type"), str):
        return Unsupported(tree["type"][:100])
    raise BadData(f"unknown record kind {kind[:40]!r}")


@dataclass(frozen=True)
class Unsupported:
    type_name: str


def load_answers(folder: Path, stem: str = "answers") -> dict:
    """``{question: {"values": {...}, "error": str|None, "public": [...]}}`` from a
    folder."""
    json_file, npz_file = folder / f"{stem}.json", folder / f"{stem}.npz"
    for path in (json_file, npz_file):
        if not path.is_file() or path.is_symlink():
            raise BadData(f"{path.name} was not written")
        if path.stat().st_size > MAX_ANSWER_BYTES:
            raise BadData(f"{path.name} is too large")
    raw = json.loads(json_file.read_text(encoding="utf-8"))
    with np.load(npz_file, allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    if not isinstance(raw, dict):
        raise BadData("answers are not a mapping")
    answers = {}
    for question, entry in raw.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("values"), dict):
            raise BadData(f"{question}: malformed entry")
        error = entry.get("error")
        public = entry.get("public") if isinstance(entry.get("public"), list) else []
        answers[str(question)] = {
            "values": {str(k): decode(v, arrays) for k, v in entry["values"].items()},
            "error": str(error)[:300] if error is not None else None,
            "public": [None if p is None else str(p)[:300] for p in public],
        }
    return answers


# --------------------------------------------------------------------------------------
# Comparing a recorded value with the reference's


def _is_number(value) -> bool:
    return type(value) in (int, float, np.int64, np.float64)


def mismatch(expected, got, options: dict) -> str | None:
    """None if ``got`` matches ``expected``; else what is wrong, without showing
    expected values.

    Options (from the question's config): ``rtol``/``atol`` (default 1e-5/1e-8, as
    np.allclose);
    ``types: exact`` (Python int vs NumPy int differ), ``types: kind`` (int vs float
    differ);
    ``dtype: exact`` (array dtypes must be equal; by default only int/float/bool must
    agree).
    """
    rtol, atol = float(options.get("rtol", 1e-5)), float(options.get("atol", 1e-8))
    types = options.get("types", "value")
    if isinstance(got, Unsupported):
        return f"a {got.type_name} object, which is not a plain value"
    if isinstance(expected, Tensor):
        if not isinstance(got, Tensor):
            return "not a tensor"
        if got.requires_grad != expected.requires_grad:
            return "requires_grad differs"
        return mismatch(expected.array, got.array, options)
    if expected is None or isinstance(expected, (bool, str)):
        if type(got) is not type(expected) or got != expected:
            return "wrong value"
        return None
    if _is_number(expected):
        if not _is_number(got):
            return f"wrong type ({type(got).__name__})"
        if types == "exact" and type(got) is not type(expected):
            return f"wrong type ({type(got).__name__})"
        if types == "kind" and isinstance(got, (int, np.integer)) != isinstance(
            expected, (int, np.integer)
        ):
            return f"wrong type ({type(got).__name__})"
        if isinstance(expected, (int, np.integer)) and isinstance(
            got, (int, np.integer)
        ):
            return None if int(got) == int(expected) else "wrong value"
        if not math.isclose(float(got), float(expected), rel_tol=rtol, abs_tol=atol):
            return "wrong value"
        return None
    if isinstance(expected, dict):
        if not isinstance(got, dict) or set(got) != set(expected):
            return "wrong keys"
        for key in expected:
            problem = mismatch(expected[key], got[key], options)
            if problem:
                return f"[{key!r}]: {problem}"
        return None
    if isinstance(expected, (list, tuple)) and (
        types == "exact" or not all(_is_number(x) for x in expected)
    ):
        if type(got) is not type(expected) and types == "exact":
            return f"wrong type ({type(got).__name__})"
        if not isinstance(got, (list, tuple)) or len(got) != len(expected):
            return "wrong length"
        for index, (want, have) in enumerate(zip(expected, got)):
            problem = mismatch(want, have, options)
            if problem:
                return f"[{index}]: {problem}"
        return None
    # Arrays, and lists of numbers (compared as arrays, as np.array_equal would).
    want = np.asarray(expected)
    if isinstance(got, np.ndarray):
        have = got
    elif isinstance(got, (list, tuple)) and all(_is_number(x) for x in got):
        have = np.asarray(got)
    else:
        return f"not an array ({type(got).__name__})"
    if have.shape != want.shape:
        return f"wrong shape {have.shape}"
    if options.get("dtype") == "exact" and have.dtype != want.dtype:
        return f"wrong dtype {have.dtype}"
    if (want.dtype.kind in "iu") != (have.dtype.kind in "iu") or (
        want.dtype.kind == "b"
    ) != (have.dtype.kind == "b"):
        return f"wrong dtype {have.dtype}"
    if want.dtype.kind in "biu":
        return None if np.array_equal(have, want) else "wrong values"
    with np.errstate(all="ignore"):
        if not np.allclose(
            have.astype(np.float64), want.astype(np.float64), rtol=rtol, atol=atol
        ):
            return "wrong values"
    return None


@dataclass
class QuestionResult:
    points: float
    max_points: float
    failed: list[str] = field(default_factory=list)  # one line per failed check
    public: list[str | None] = field(default_factory=list)


def judge(specs: dict, expected: dict, answers: dict) -> dict[str, QuestionResult]:
    """Score every question: all its recorded values must match the reference
    (all-or-nothing)."""
    results = {}
    for name, spec in specs.items():
        result = QuestionResult(0.0, spec["points"])
        got = answers.get(name)
        want = expected[name]["values"]
        if got is None:
            result.failed.append(
                "the probe did not run (the notebook stopped before it)"
            )
        elif got["error"]:
            result.failed.append(f"calling your code raised {got['error']}")
        else:
            for key in spec["records"]:
                if key not in got["values"]:
                    result.failed.append(f"check {key!r}: no value recorded")
                    continue
                problem = mismatch(want[key], got["values"][key], spec["options"])
                if problem:
                    result.failed.append(f"hidden check {key!r}: {problem}")
        if got is not None:
            result.public = got["public"]
            for index, message in enumerate(got["public"]):
                if message is not None:
                    result.failed.append(f"public test {index + 1}: {message}")
        if not result.failed:
            result.points = spec["points"]
        results[name] = result
    return results


# --------------------------------------------------------------------------------------
# Running a notebook in the sandbox


def _kill(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


@dataclass
class Run:
    answers: dict | None  # None when nothing usable came back
    cells: list[dict]
    problem: str  # "" when the answers were read back
    seconds: float
    # CPU seconds of the notebook's run, as the sandbox reported them (for timing only)
    cpu_seconds: float | None = None


# The environment variables that cap the compute threads of NumPy's BLAS and of torch.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def threads_per_job(jobs: int) -> int:
    """The cores each of ``jobs`` notebooks run side by side may use: at least one."""
    return max(1, (os.cpu_count() or 1) // jobs)


def run_notebook(
    nb: dict,
    name: str,
    specs: dict,
    timeout: float,
    root: Path = ROOT,
    threads: int | None = None,
    keep_answers: Path | None = None,
    keep_as: str = "answers",
) -> Run:
    """Execute ``nb`` as ``<name>.ipynb`` in a sandbox; read back its answers as plain
    data.

    ``keep_answers``: a folder to copy the validated answer files into (as
    ``<keep_as>.json`` and ``.npz``), which is how the reference's expected values are
    stored.
    """
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="grade-") as scratch:
        scratch = Path(scratch)
        work = scratch / "work"
        work.mkdir()
        for folder in ("cnnlib", "data"):
            if (root / folder).is_dir():
                shutil.copytree(
                    root / folder,
                    work / folder,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
                )
        write_text_atomically(work / f"{name}.ipynb", json.dumps(nb))
        questions = {
            q: {"probe": s["probe"], "records": s["records"], "public": s["public"]}
            for q, s in specs.items()
        }
        write_text_atomically(work / "questions.json", json.dumps(questions))
        shutil.copy2(HERE / "executor.py", work / "executor.py")
        for sub in ("home", "runtime"):
            (work / sub).mkdir()
        env = {
            "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
            "HOME": str(work / "home"),
            "JUPYTER_RUNTIME_DIR": str(work / "runtime"),
            "TMPDIR": "/tmp",
            "MPLBACKEND": "Agg",
            "PYTHONDONTWRITEBYTECODE": "1",
            "LANG": "C.UTF-8",
            # cnnlib's tuned kernels on NumPy alone: graded runs train nothing, and
            # numba would compile its kernels afresh in every sandbox (~1.5 s each run)
            "CNNLIB_NUMBA": "0",
        }
        if threads is not None:
            for variable in THREAD_VARIABLES:
                env[variable] = str(threads)
        command = sandbox.command_in_sandbox(
            work,
            [
                sys.executable,
                "executor.py",
                f"{name}.ipynb",
                "questions.json",
                str(timeout),
            ],
            scratch,
        )
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
            _kill(process)
            return Run(
                None,
                [],
                f"stopped after the time limit of {timeout:g} s (an endless loop, "
                "or far too slow)",
                time.perf_counter() - start,
            )
        cells, cpu = [], None
        try:
            info = json.loads((work / "run.json").read_text(encoding="utf-8"))
            if type(info.get("cpu_seconds")) in (int, float):
                cpu = float(info["cpu_seconds"])
            cells = [c for c in info.get("cells", []) if isinstance(c, dict)][:10000]
        except (OSError, ValueError, AttributeError, RecursionError):
            pass
        try:
            answers = load_answers(work)
            if keep_answers is not None:
                for suffix in (".json", ".npz"):
                    shutil.copyfile(
                        work / f"answers{suffix}",
                        Path(keep_answers) / f"{keep_as}{suffix}",
                    )
        # RecursionError: a JSON file nested deeper than the parser goes is not an
        # answer.
        except (BadData, OSError, ValueError, RecursionError) as error:
            tail = " | ".join(
                output.decode("utf-8", "replace").strip().splitlines()[-3:]
            )
            return Run(
                None,
                cells,
                f"no answers could be read back ({error}) {tail}".strip(),
                time.perf_counter() - start,
                cpu,
            )
    return Run(answers, cells, "", time.perf_counter() - start, cpu)


def first_error(cells: list[dict]) -> str:
    """Which cell raised first, for the feedback (empty if none did)."""
    for cell in cells:
        if cell.get("status") == "error":
            first_line = str(cell.get("source", "")).strip().splitlines()[:1]
            index = cell.get("index")
            return (
                f"cell {index + 1 if isinstance(index, int) else '?'} of the notebook"
                f" ({first_line[0][:60] if first_line else ''!r}) raised"
                f" {str(cell.get('ename', ''))[:60]}:"
                f" {str(cell.get('evalue', ''))[:200]}"
            )
    return ""
