"""A learner's path: JupyterLab from this environment runs a chapter in a real browser.

JupyterLab is started headless on a free 127.0.0.1 port with a token, on a temporary
copy of `chapters/` with the stored outputs removed (the repository's files are never
opened for writing). Headless Chromium (Debian's, as in `make check-book`; requests to
any other host are aborted) opens a chapter, clicks Run > Run All Cells and waits for
the kernel. The run fails unless every code cell ran once, in order; no cell raised;
each cell shows as many outputs, of the same kinds, as the chapter's stored outputs;
every stored figure is drawn; every exercise check cell ran without failing; and the
page logged no error. One light NumPy chapter and one light PyTorch chapter; everything
expected is read from the files at test time. A screenshot of each executed notebook
goes to _build/screenshots/jupyterlab/.

About 2 minutes on 2 cores, most of it JupyterLab's and the kernels' start-up and the
PyTorch chapter's short training.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from jupyterlab_ui import (
    REPO,
    Expected,
    LabServer,
    expected_from,
    open_browser,
    problems,
    run_in_lab,
)

CHAPTERS = [
    "chapters/00_start/01_images_as_arrays.ipynb",  # NumPy, matplotlib: ~10 s, 3 figures
    # PyTorch next to cnnlib, ~15 s, 1 figure (the two libraries' logits). Chapters that
    # train a full network inside JupyterLab took over 10 min on a loaded 2-core machine.
    "chapters/part3/11_same_network_two_libraries.ipynb",
]
SCREENSHOTS = REPO / "_build" / "screenshots" / "jupyterlab"


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.fail(
            "Chromium is missing: `make test` installs it as root; otherwise "
            "sudo apt-get update && sudo apt-get install -y chromium"
        )
    from playwright.sync_api import sync_playwright

    workdir = tmp_path_factory.mktemp("jupyterlab")
    with LabServer(workdir) as server, sync_playwright() as playwright:
        context = open_browser(playwright, server, workdir, chromium)
        yield server, context
        context.close()


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda c: Path(c).stem)
def test_chapter_runs_in_jupyterlab(lab, chapter):
    server, context = lab
    source = REPO / chapter
    before = source.read_bytes()
    expected = expected_from(json.loads(before))
    # What the run is compared with must exist, or the comparison proves nothing.
    assert expected.checks, f"{chapter} has no exercise check cell: choose one that has"
    assert any(expected.outputs.values()), f"{chapter} stores no output"

    blocked_before = len(context.blocked)
    run = run_in_lab(
        server, context, chapter, SCREENSHOTS / f"{Path(chapter).stem}.png"
    )
    run.blocked = context.blocked[blocked_before:]
    found = problems(expected, run)
    print(f"{chapter}: ran in {run.seconds:.0f} s; screenshot {run.screenshot}")
    assert not found, f"{chapter} in JupyterLab:\n" + "\n".join(
        f"  - {p}" for p in found
    )
    assert run.screenshot.stat().st_size > 0
    assert source.read_bytes() == before, "the repository's notebook was modified"


def test_a_chapter_run_draws_figures():
    """At least one chapter run above stores figures, so that drawing them is tested."""
    stored = [
        expected_from(json.loads((REPO / chapter).read_text(encoding="utf-8"))).images
        for chapter in CHAPTERS
    ]
    assert max(stored) >= 1, f"no chapter of {CHAPTERS} stores a figure"


def _notebook(answer: str) -> dict:
    """A small notebook laid out like a chapter: output, figure, exercise, check, more.
    """

    def cell(kind: str, source: str) -> dict:
        made = {"cell_type": kind, "metadata": {}, "source": source}
        if kind == "code":
            made.update(outputs=[], execution_count=None)
        return made

    return {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {
            "kernelspec": {
                "name": "python3",
                "display_name": "Python 3",
                "language": "python",
            }
        },
        "cells": [
            cell("code", 'print("before the exercise")'),
            cell(
                "code", "import matplotlib.pyplot as plt\nplt.plot([0, 1])\nplt.show()"
            ),
            cell("code", f"def double(x):\n    return {answer}"),
            cell("raw", "# BEGIN TESTS"),
            cell("code", "assert double(3) == 6"),
            cell("raw", "# END TESTS"),
            cell("code", 'print("after the exercise")'),
        ],
    }


# What the small notebook shows when its exercise is answered right.
SMALL_EXPECTED = Expected(
    cells=["code", "code", "code", "raw", "code", "raw", "code"],
    outputs={0: ["stdout"], 1: ["image"], 2: [], 4: [], 6: ["stdout"]},
    images=1,
    checks=[4],
)


@pytest.mark.parametrize("answer", ["x * 2", "x + 1"], ids=["right", "wrong"])
def test_the_checks_tell_right_from_wrong(lab, answer):
    """The checks pass a right answer and report a wrong one: its check cell raises, Run
    All stops there, as it does for a learner, and the cells after it do not run."""
    server, context = lab
    name = f"small_{'right' if answer == 'x * 2' else 'wrong'}.ipynb"
    (server.root / name).write_text(json.dumps(_notebook(answer)), encoding="utf-8")
    blocked_before = len(context.blocked)
    run = run_in_lab(
        server, context, name, server.workdir / f"{name}.png", timeout_s=300
    )
    run.blocked = context.blocked[blocked_before:]
    found = problems(SMALL_EXPECTED, run)
    if answer == "x * 2":
        assert not found, found
    else:
        assert any("cell 4 raised AssertionError" in line for line in found), found
        assert any(
            "exercise check (cell 4) did not pass" in line for line in found
        ), found
        assert any("cell 6 did not run" in line for line in found), found
