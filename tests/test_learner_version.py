"""The learner's version of every chapter, run top to bottom by a learner who answers
nothing: each unanswered exercise's check says so, and every other cell still runs.

The chapter's training cells (tagged ``otter_ignore``, minutes of CPU each) are left out
of this run, as the grader leaves them out. That is sound only because every one of them
comes before the chapter's first exercise, so none can depend on an answer: the test
checks that, and nbval runs those same cells, unchanged, in the full notebook.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from coursetools import learner
from coursetools import release as release_tool

ROOT = Path(__file__).resolve().parent.parent
ASSIGNMENTS = release_tool.find_assignment_notebooks()
CHECK = re.compile(r"^# Check your answer to (\S+) ")


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def assert_training_cells_come_first(chapter: dict) -> None:
    """Fails if an ``otter_ignore`` cell follows the chapter's first exercise."""
    first_question = next(
        i
        for i, cell in enumerate(chapter["cells"])
        if cell["cell_type"] == "raw"
        and "".join(cell["source"]).lstrip().startswith("# BEGIN QUESTION")
    )
    ignored = [
        i
        for i, cell in enumerate(chapter["cells"])
        if "otter_ignore" in cell["metadata"].get("tags", [])
    ]
    late = [i for i in ignored if i > first_question]
    assert not late, f"training cells {late} follow the first exercise ({first_question})"


@pytest.mark.parametrize("source", ASSIGNMENTS, ids=rel)
def test_blank_learner_version_runs_to_the_end_with_only_the_checks_failing(source):
    chapter = release_tool.read_notebook(source)
    assert_training_cells_come_first(chapter)
    version = learner.learner_version(chapter)
    version["cells"] = [
        cell
        for cell in version["cells"]
        if "otter_ignore" not in cell["metadata"].get("tags", [])
    ]
    nb = nbformat.from_dict(version)
    # allow_errors=False: any cell that raises (a check cell never does) fails the test.
    NotebookClient(
        nb,
        timeout=600,
        kernel_name="python3",
        allow_errors=False,
        resources={"metadata": {"path": str(source.parent)}},
    ).execute()
    reports: dict[str, list[str]] = {}
    for cell in nb.cells:
        match = CHECK.match(cell.source) if cell.cell_type == "code" else None
        if match:
            printed = "".join(
                o.get("text", "") for o in cell.outputs if o.output_type == "stream"
            )
            reports.setdefault(match.group(1), []).append(printed)
    questions = [e.name for e in release_tool.parse_exercises(chapter)]
    assert sorted(reports) == sorted(set(questions))
    for question, printed in reports.items():
        assert any(f"{question}: NOT PASSED YET" in p for p in printed), printed
        assert not any("public tests passed" in p for p in printed), printed
