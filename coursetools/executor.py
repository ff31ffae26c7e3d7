"""Execute one notebook and record its answers as plain data (runs inside the grading
sandbox).

Usage, inside the work folder that ``coursetools.grade`` prepares::

    python executor.py NOTEBOOK.ipynb questions.json TIMEOUT

Cells tagged ``otter_ignore`` (training, plots) are skipped, as ``otter run`` skips
them; so are otter's own cells as ``otter assign`` wrote them (see ``OTTER_INIT``).
After the last cell, one more cell (the harness below) runs each question's probe and
public tests in the notebook's kernel and writes ``answers.json`` and
``answers.npz``; ``run.json`` says which cells raised. Everything this produces is
untrusted: the submission ran in the same kernel and may have rewritten any of it. The
grader reads it back as plain data and judges it elsewhere. This file imports nothing
from the course, since the repository is not in the sandbox.
"""

import json
import re
import resource
import sys

import nbformat
from jupyter_client import KernelManager
from nbclient import NotebookClient

IGNORE_TAG = "otter_ignore"
# otter's cells in a student notebook, exactly as ``otter assign`` writes them: the one
# that makes ``grader`` and the ``grader.check("q_x")`` after each answer. Grading needs
# neither, since the harness below runs each question's probe and public tests itself;
# leaving them out saves importing otter (over a second per submission) and running
# every public test twice. A cell the student has changed no longer matches, and runs.
OTTER_INIT = re.compile(
    r'# Initialize Otter\nimport otter\ngrader = otter\.Notebook\("[\w.-]+"\)\s*'
)
# Runs in place of OTTER_INIT's cell, for any other cell that calls the grader.
GRADER_STAND_IN = """
class __CourseGrader:
    def __getattr__(self, name):
        return lambda *args, **kwargs: None


grader = __CourseGrader()
"""

# Runs in the submission's kernel. Only plain data leaves it: JSON scalars, lists, dicts
# with string keys, and numeric arrays in an npz file. Everything else is recorded as
# unsupported.
HARNESS = r"""
def __course_harness(questions, write):
    import json as _json
    import sys as _sys
    import numpy as _np
    state = globals().setdefault("__course_state", {"results": {}, "arrays": {}})
    arrays, results = state["arrays"], state["results"]

    def encode(value):
        # Looked up at each call: a notebook (or a probe) that never imported torch
        # holds no tensor, and importing it here would cost every such submission over
        # a second.
        _torch = _sys.modules.get("torch")
        kind = type(value)
        if value is None:
            return {"k": "none"}
        if kind is bool or kind is _np.bool_:
            return {"k": "bool", "v": bool(value)}
        if kind is int:
            return {"k": "int", "t": "int", "v": str(value)}
        if kind is float:
            return {"k": "float", "t": "float", "v": value}
        if isinstance(value, _np.generic) and type(value).__module__ == "numpy":
            if isinstance(value, _np.integer):
                return {"k": "int", "t": "numpy", "v": str(int(value))}
            if isinstance(value, _np.floating):
                return {"k": "float", "t": "numpy", "v": float(value)}
        if kind is str:
            return {"k": "str", "v": value}
        if kind in (list, tuple):
            return {"k": kind.__name__, "v": [encode(item) for item in value]}
        if kind is dict and all(type(key) is str for key in value):
            items = value.items()
            return {"k": "dict", "v": {key: encode(item) for key, item in items}}
        if kind is _np.ndarray and value.dtype.kind in "biuf":
            name = "a%d" % len(arrays)
            arrays[name] = _np.array(value, copy=True)
            return {"k": "array", "ref": name}
        if _torch is not None and kind in (_torch.Tensor, _torch.nn.Parameter):
            name = "a%d" % len(arrays)
            arrays[name] = value.detach().cpu().numpy().copy()
            grad = bool(value.requires_grad)
            return {"k": "tensor", "ref": name, "requires_grad": grad}
        return {"k": "unsupported", "type": kind.__name__}

    def problem(error):
        first = (str(error).splitlines() or [""])[0][:200]
        return "%s: %s" % (type(error).__name__, first)

    for name, spec in questions.items():
        entry = {"values": {}, "error": None, "public": []}
        scope = dict(globals())
        try:
            exec(compile(spec["probe"], "<probe %s>" % name, "exec"), scope)
            for key in spec["records"]:
                entry["values"][key] = encode(scope[key])
        except BaseException as error:
            entry["error"] = problem(error)
        for index, test in enumerate(spec["public"]):
            try:
                where = "<public test %d of %s>" % (index + 1, name)
                exec(compile(test, where, "exec"), dict(globals()))
                entry["public"].append(None)
            except BaseException as error:
                entry["public"].append(problem(error))
        results[name] = entry
    if write:
        with open("answers.json", "w") as handle:
            _json.dump(results, handle)
        _np.savez("answers.npz", **arrays)


__course_harness(__COURSE_QUESTIONS__, __COURSE_WRITE__)
"""
# A question is probed right after the cell that checks it (``grader.check("q_x")``), as
# ``otter run`` records each check where it runs; questions without one, at the end.
CHECK = re.compile(r"""grader\.check\(\s*["'](\w+)["']""")
# A cell that is nothing but one such check (see OTTER_INIT).
OTTER_CHECK = re.compile(r"\s*" + CHECK.pattern + r"\s*\)\s*")


def run_harness(client, nb, questions: dict, write: bool) -> list:
    """Probe ``questions`` in the kernel (and write the answer files if ``write``)."""
    source = HARNESS.replace("__COURSE_QUESTIONS__", repr(questions))
    harness = nbformat.v4.new_code_cell(source.replace("__COURSE_WRITE__", repr(write)))
    nb.cells.append(harness)
    client.execute_cell(harness, len(nb.cells) - 1)
    return [o for o in harness.get("outputs", []) if o.get("output_type") == "error"]


def main() -> int:
    notebook, questions_file, timeout = sys.argv[1], sys.argv[2], float(sys.argv[3])
    nb = nbformat.read(notebook, as_version=4)
    with open(questions_file) as handle:
        questions = json.load(handle)
    # Unix sockets: the sandbox has no network, not even a loopback interface that is
    # up.
    manager = KernelManager(kernel_name="python3", transport="ipc", ip="kernel-ipc")
    client = NotebookClient(
        nb,
        km=manager,
        timeout=timeout,
        allow_errors=True,
        kernel_name="python3",
        resources={"metadata": {"path": "."}},
    )
    cells, probed = [], set()
    with client.setup_kernel():
        # A snapshot: harness cells appended while this loop runs must not run again.
        for index, cell in list(enumerate(nb.cells)):
            if cell.cell_type != "code":
                continue
            record = {"index": index, "source": cell.source[:300]}
            if IGNORE_TAG in cell.metadata.get("tags", []):
                record["status"] = "skipped"
            elif OTTER_CHECK.fullmatch(cell.source):
                record["status"] = "ok"
            else:
                if OTTER_INIT.fullmatch(cell.source):
                    cell = nbformat.v4.new_code_cell(GRADER_STAND_IN)
                client.execute_cell(cell, index)
                errors = [
                    o
                    for o in cell.get("outputs", [])
                    if o.get("output_type") == "error"
                ]
                record["status"] = "error" if errors else "ok"
                if errors:
                    record["ename"] = str(errors[0].get("ename", ""))[:100]
                    record["evalue"] = str(errors[0].get("evalue", ""))[:300]
            cells.append(record)
            if record["status"] == "ok":
                for name in CHECK.findall(cell.source):
                    if name in questions and name not in probed:
                        probed.add(name)
                        run_harness(client, nb, {name: questions[name]}, write=False)
        rest = {name: spec for name, spec in questions.items() if name not in probed}
        errors = run_harness(client, nb, rest, write=True)
    # nbclient leaves running a kernel manager it was given: stop and reap the kernel.
    manager.shutdown_kernel(now=True)
    # CPU time of this process and of the kernel (reaped just above): what a notebook
    # costs to grade, whatever else the machine is doing at the same time.
    usage = [
        resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
    ]
    with open("run.json", "w") as handle:
        json.dump(
            {
                "cells": cells,
                "harness_error": errors[0].get("evalue", "") if errors else None,
                "cpu_seconds": sum(u.ru_utime + u.ru_stime for u in usage),
            },
            handle,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
