"""A learner's path: JupyterLab from this environment runs a chapter in a real browser.

JupyterLab is started headless on a free 127.0.0.1 port with a token, on a temporary copy of
`chapters/` with the stored outputs removed (the repository's files are never opened for
writing). Headless Chromium (Debian's, as in `make check-book`; requests to any other host
are aborted) opens a chapter, clicks Run > Run All Cells and waits for the kernel. The run
fails unless every code cell ran once, in order; no cell raised; each cell shows as many
outputs, of the same kinds, as the chapter's stored outputs; every stored figure is drawn;
every exercise check cell ran without failing; and the page logged no error. One light
NumPy chapter and one light PyTorch chapter; everything expected is read from the files at
test time. A screenshot of each executed notebook goes to _build/screenshots/jupyterlab/.

About 2 minutes on 2 cores, most of it JupyterLab's and the kernels' start-up and the PyTorch
chapter's short training.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from jupyterlab_ui import (
    REPO,
    LabServer,
    expected_from,
    open_browser,
    problems,
    run_in_lab,
)

CHAPTERS = [
    "chapters/00_start/images_as_arrays.ipynb",  # NumPy and matplotlib, ~10 s, 3 figures
    # PyTorch next to cnnlib, ~15 s. It draws no figure; the chapters that do (10, 11) train
    # a network, which inside JupyterLab on a loaded 2-core machine did not finish in 10 min.
    "chapters/part3/08_same_network_two_libraries.ipynb",
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
    run = run_in_lab(server, context, chapter, SCREENSHOTS / f"{Path(chapter).stem}.png")
    run.blocked = context.blocked[blocked_before:]
    found = problems(expected, run)
    print(f"{chapter}: ran in {run.seconds:.0f} s; screenshot {run.screenshot}")
    assert not found, f"{chapter} in JupyterLab:\n" + "\n".join(f"  - {p}" for p in found)
    assert run.screenshot.stat().st_size > 0
    assert source.read_bytes() == before, "the repository's notebook was modified"


def test_a_chapter_run_draws_figures():
    """At least one chapter run above stores figures, so that drawing them is tested."""
    stored = [
        expected_from(json.loads((REPO / chapter).read_text(encoding="utf-8"))).images
        for chapter in CHAPTERS
    ]
    assert max(stored) >= 1, f"no chapter of {CHAPTERS} stores a figure"


def test_a_failing_check_is_reported(lab):
    """The same checks on a notebook whose exercise answer is wrong: the failure must show.

    The notebook is made from the first chapter: its first exercise's solution cell is
    replaced by a wrong answer, so its check cell raises AssertionError. Run All then stops
    there, as it does for a learner."""
    server, context = lab
    notebook = json.loads((REPO / CHAPTERS[0]).read_text(encoding="utf-8"))
    expected = expected_from(notebook)
    first_check = expected.checks[0]
    answer = max(
        i for i, c in enumerate(notebook["cells"][:first_check]) if c["cell_type"] == "code"
    )
    name = "".join(notebook["cells"][answer]["source"]).split("def ", 1)[1].split("(", 1)[0]
    broken = json.loads(json.dumps(notebook))
    for cell in broken["cells"]:
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
    broken["cells"][answer]["source"] = f"def {name}(*args, **kwargs):\n    return None\n"
    target = server.root / "chapters" / "wrong_answer.ipynb"
    target.write_text(json.dumps(broken), encoding="utf-8")

    blocked_before = len(context.blocked)
    run = run_in_lab(server, context, "chapters/wrong_answer.ipynb", server.workdir / "wrong.png")
    run.blocked = context.blocked[blocked_before:]
    found = problems(expected, run)
    assert any(f"cell {first_check} raised" in line for line in found), found
    assert any(f"exercise check (cell {first_check}) did not pass" in line for line in found)
    # The cells after the failure were not run, and that is reported too.
    assert any("did not run" in line for line in found), found
