"""Run a chapter notebook the way a learner does: in JupyterLab, in a real browser.

Used by tests/test_jupyterlab.py; also runs on its own, to look at the result:

    .venv/bin/python tests/jupyterlab_ui.py chapters/00_start/01_images_as_arrays.ipynb

`LabServer` starts JupyterLab from this environment on a free 127.0.0.1 port with a
random token, serving a temporary copy of `chapters/` whose notebooks have their stored
outputs removed, so that every output seen afterwards comes from this run. `run_in_lab`
opens a notebook there in headless Chromium (Debian's, driven by Playwright, with every
request to any other host aborted), clicks Run > Run All Cells, waits until the kernel
is idle with no cell queued, saves the notebook with Ctrl+S and reports what the page
shows, cell by cell. `expected_from` reads the same facts from the repository's notebook
(its stored outputs), and `problems` compares the two.
"""

from __future__ import annotations

import io
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from coursetools.check_book import CHROMIUM_ARGS  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
# CHROMIUM_ARGS: the same flags as `make check-book`: no sandbox (CI runs as root), and a
# dead proxy for every host but the loopback, on top of Playwright's request blocking.
VIEWPORT = {"width": 1280, "height": 900}
SERVER_START_S = 120
OPEN_S = 120
# JupyterLab user settings for the run: every cell kept in the page (the default renders
# only those near the view, so cells could not be read back), and no "news?" pop-up.
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {
        "windowingMode": "none"
    },
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
}

# Runs in the page: one entry per notebook cell, in order.
CELLS_JS = """
() => [...document.querySelectorAll(
    '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Notebook-cell')]
  .map((cell) => ({
    type: cell.classList.contains('jp-CodeCell') ? 'code'
        : cell.classList.contains('jp-MarkdownCell') ? 'markdown' : 'raw',
    prompt: (cell.querySelector(':scope .jp-InputPrompt') || {textContent: ''})
      .textContent.trim(),
    outputs: [...cell.querySelectorAll('.jp-OutputArea-child .jp-OutputArea-output')]
      .map((out) => ({
      mime: out.getAttribute('data-mime-type') || '',
      text: out.innerText.slice(0, 300),
      images: [...out.querySelectorAll('img')].map((img) => ({
        complete: img.complete, width: img.naturalWidth, height: img.naturalHeight,
        shownWidth: img.clientWidth, shownHeight: img.clientHeight,
      })),
    })),
  }))
"""

# Runs in the page: true once the kernel is idle and no cell is waiting or running. The
# status bar says "Python 3 (ipykernel) | Idle" only once a kernel is connected (the
# toolbar's indicator reads idle before that, and running then asks which kernel to
# start).
DONE_JS = """
() => {
  const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
  if (!panel) return false;
  const status = [
    ...document.querySelectorAll('#jp-main-statusbar .jp-StatusBar-TextItem')]
    .some((item) => /\\| Idle$/.test(item.textContent.trim()));
  const prompts = [...panel.querySelectorAll('.jp-CodeCell .jp-InputPrompt')];
  return status && prompts.every((p) => !p.textContent.includes('*'));
}
"""

STARTED_JS = """
() => [...document.querySelectorAll(
    '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell .jp-InputPrompt')]
  .some((p) => /\\[(\\*|\\d+)\\]/.test(p.textContent))
"""


def free_port() -> int:
    """A port nothing listens on now (JupyterLab is told not to try the next one)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _stripped(notebook: dict) -> dict:
    """The notebook as a learner's fresh copy: no outputs, no execution counts."""
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
    return notebook


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


class LabServer:
    """JupyterLab on a temporary copy of chapters/, on 127.0.0.1, stopped on exit."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.root = workdir / "root"
        self.token = secrets.token_hex(24)
        self.port = free_port()
        self.origin = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / "jupyterlab.log"
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> LabServer:
        # The whole chapters/ folder, so that relative {doc} links point at real files.
        shutil.copytree(REPO / "chapters", self.root / "chapters")
        for path in (self.root / "chapters").rglob("*.ipynb"):
            notebook = json.loads(path.read_text(encoding="utf-8"))
            _write_atomic(path, json.dumps(_stripped(notebook), indent=1))
        settings = self.workdir / "lab-settings"
        for name, values in LAB_SETTINGS.items():
            (settings / name).parent.mkdir(parents=True, exist_ok=True)
            (settings / name).write_text(json.dumps(values), encoding="utf-8")
        # Jupyter's per-user folders point into the temp folder: a learner's own
        # settings or kernels cannot change the run, and the run writes nothing into
        # their home.
        env = dict(
            os.environ,
            JUPYTER_CONFIG_DIR=str(self.workdir / "jupyter-config"),
            JUPYTER_DATA_DIR=str(self.workdir / "jupyter-data"),
            JUPYTER_RUNTIME_DIR=str(self.workdir / "jupyter-runtime"),
            JUPYTERLAB_SETTINGS_DIR=str(settings),
            JUPYTERLAB_WORKSPACES_DIR=str(self.workdir / "lab-workspaces"),
            IPYTHONDIR=str(self.workdir / "ipython"),
        )
        env.pop("JUPYTER_PATH", None)
        command = [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.root}",
        ]
        if os.geteuid() == 0:
            command.append(
                "--allow-root"
            )  # CI runs as root; Jupyter refuses it otherwise
        with open(self.log_path, "wb") as log:
            # Its own process group: stopping it also stops the kernels it started.
            self.proc = subprocess.Popen(
                command,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + SERVER_START_S
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"JupyterLab exited with {self.proc.returncode}:\n{self.log()}"
                )
            try:
                request = urllib.request.Request(
                    f"{self.origin}/api/status",
                    headers={"Authorization": f"token {self.token}"},
                )
                with urllib.request.urlopen(request, timeout=5) as response:
                    if response.status == 200:
                        return self
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.__exit__(None, None, None)
                raise RuntimeError(
                    f"JupyterLab did not answer in {SERVER_START_S} s:\n{self.log()}"
                )
            time.sleep(0.5)

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")[-4000:]

    def __exit__(self, *exc) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


@dataclass
class Expected:
    """What a fresh run must show, read from the repository's notebook."""

    cells: list[str]  # cell types, in order
    outputs: dict[int, list[str]]  # code cell index -> kinds of its outputs, in order
    images: int
    checks: list[int]  # indices of the exercise check cells


@dataclass
class LabRun:
    cells: list[dict]
    saved: dict
    seconds: float
    screenshot: Path
    page_errors: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)


def _kind_of_stored(output: dict) -> str:
    if output["output_type"] == "stream":
        return output["name"]  # stdout or stderr
    if output["output_type"] == "error":
        return "error"
    return "image" if "image/png" in output.get("data", {}) else "other"


def _kind_of_shown(output: dict) -> str:
    mime = output["mime"]
    if mime == "application/vnd.jupyter.stdout":
        return "stdout"
    if mime == "application/vnd.jupyter.stderr":
        # JupyterLab shows a traceback with the stderr type; the saved file tells them
        # apart.
        return "stderr"
    return "image" if mime == "image/png" else "other"


def output_kinds(outputs: list[dict]) -> list[str]:
    """Kinds of a cell's stored outputs, with consecutive pieces of one stream merged,
    as JupyterLab merges them (the stored file may hold them split)."""
    kinds: list[str] = []
    for output in outputs:
        kind = _kind_of_stored(output)
        if kind in ("stdout", "stderr") and kinds and kinds[-1] == kind:
            continue
        kinds.append(kind)
    return kinds


def check_cells(notebook: dict) -> list[int]:
    """Indices of the code cells between otter's `# BEGIN TESTS` and `# END TESTS` raw
    cells: the checks that tell a learner whether an exercise is right."""
    checks, inside = [], False
    for index, cell in enumerate(notebook["cells"]):
        first = "".join(cell["source"]).strip().splitlines()[:1]
        if cell["cell_type"] == "raw" and first == ["# BEGIN TESTS"]:
            inside = True
        elif cell["cell_type"] == "raw" and first == ["# END TESTS"]:
            inside = False
        elif inside and cell["cell_type"] == "code":
            checks.append(index)
    return checks


def expected_from(notebook: dict) -> Expected:
    outputs = {
        index: output_kinds(cell.get("outputs", []))
        for index, cell in enumerate(notebook["cells"])
        if cell["cell_type"] == "code"
    }
    return Expected(
        cells=[cell["cell_type"] for cell in notebook["cells"]],
        outputs=outputs,
        images=sum(kinds.count("image") for kinds in outputs.values()),
        checks=check_cells(notebook),
    )


def run_in_lab(
    server: LabServer, context, notebook: str, screenshot: Path, timeout_s: float = 600
) -> LabRun:
    """Open `notebook` (a path under the server's root), run all cells from the Run
    menu, wait for the kernel, save with Ctrl+S, take a screenshot of the whole
    notebook."""
    page = context.new_page()
    page.set_viewport_size(VIEWPORT)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"JavaScript error: {exc}"))
    page.on(
        "console",
        lambda msg: msg.type == "error"
        and errors.append(f"console error: {msg.text[:300]}"),
    )
    # A workspace of its own, reset: JupyterLab would otherwise reopen the notebooks of
    # an earlier run, and the status bar could show their kernel's state.
    workspace = re.sub(r"[^A-Za-z0-9]+", "-", notebook)
    page.goto(
        f"{server.origin}/lab/workspaces/{workspace}/tree/{notebook}"
        f"?reset&token={server.token}"
    )
    page.wait_for_selector(
        ".jp-NotebookPanel .jp-Notebook .jp-Notebook-cell", timeout=OPEN_S * 1000
    )
    # A learner waits for the kernel before running: "Kernel status: Idle".
    page.wait_for_function(DONE_JS, timeout=OPEN_S * 1000)
    started = time.monotonic()
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
    page.wait_for_function(STARTED_JS, timeout=60_000)
    # Idle twice, a second apart: between two cells the kernel can be idle for a moment.
    deadline = started + timeout_s
    while True:
        try:
            page.wait_for_function(
                DONE_JS, timeout=max(1.0, deadline - time.monotonic()) * 1000
            )
        except Exception as exc:  # Playwright's TimeoutError: say what the page shows
            page.screenshot(
                path=str(screenshot.with_name(f"{screenshot.stem}-timeout.png"))
            )
            status = page.locator("#jp-main-statusbar").inner_text()
            running = [
                i
                for i, c in enumerate(page.evaluate(CELLS_JS))
                if c["prompt"] == "[*]:"
            ]
            raise AssertionError(
                f"{notebook}: not finished after {timeout_s:.0f} s; "
                f"status bar: {status!r}; "
                f"cells running or queued: {running[:5]}..."
            ) from exc
        page.wait_for_timeout(1000)
        if page.evaluate(DONE_JS):
            break
    seconds = time.monotonic() - started
    cells = page.evaluate(CELLS_JS)

    page.keyboard.press("Control+s")
    saved_path = server.root / notebook
    saved: dict = {}
    for _ in range(100):
        saved = json.loads(saved_path.read_text(encoding="utf-8"))
        if any(
            c.get("execution_count") for c in saved["cells"] if c["cell_type"] == "code"
        ):
            break
        page.wait_for_timeout(200)

    page.keyboard.press("Control+b")  # fold the file browser away, as a reader would
    page.wait_for_timeout(300)
    screenshot_of_notebook(page, screenshot)
    page.close()
    return LabRun(
        cells=cells,
        saved=saved,
        seconds=seconds,
        screenshot=screenshot,
        page_errors=errors,
    )


def screenshot_of_notebook(page, path: Path) -> None:
    """The whole notebook in one PNG: JupyterLab scrolls inside its own panel, so a
    full-page screenshot shows one screenful only. The panel is scrolled a screenful at
    a time and the pictures are stacked."""
    from PIL import Image

    scroller = page.locator(
        ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-WindowedPanel-outer"
    )
    total, view = scroller.evaluate("(el) => [el.scrollHeight, el.clientHeight]")
    box = scroller.bounding_box()
    pieces = []
    for top in range(0, max(total, 1), view):
        shown_top = scroller.evaluate(
            "(el, top) => { el.scrollTop = top; return el.scrollTop; }", top
        )
        page.wait_for_timeout(150)
        pieces.append((shown_top, page.screenshot(clip=box)))
    scale = None
    image = None
    for shown_top, png in pieces:
        piece = Image.open(io.BytesIO(png))
        if image is None:
            scale = piece.height / view
            image = Image.new("RGB", (piece.width, round(total * scale)), "white")
        image.paste(piece, (0, round(shown_top * scale)))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp.png")
    image.save(tmp)
    os.replace(tmp, path)


def problems(expected: Expected, run: LabRun) -> list[str]:
    """Everything in the run that a learner would see go wrong, one line each."""
    found = list(run.page_errors)
    found += [f"request to another host (blocked): {url}" for url in run.blocked]
    if [c["type"] for c in run.cells] != expected.cells:
        found.append(
            f"the page shows {len(run.cells)} cells, "
            f"the notebook has {len(expected.cells)}"
        )
        return found
    numbers = []
    for index, cell in enumerate(run.cells):
        if cell["type"] != "code":
            continue
        match = re.fullmatch(r"\[(\d+)\]:", cell["prompt"])
        if not match:
            found.append(f"cell {index} did not run (prompt {cell['prompt']!r})")
        else:
            numbers.append(int(match.group(1)))
        shown = [_kind_of_shown(o) for o in cell["outputs"]]
        want = expected.outputs[index]
        if shown != want:
            text = " | ".join(o["text"][:120] for o in cell["outputs"])
            found.append(f"cell {index} shows outputs {shown}, expected {want}: {text}")
    if numbers != list(range(1, len(numbers) + 1)):
        found.append(
            f"cells did not run once each, in order: execution counts {numbers}"
        )
    for index, cell in enumerate(run.saved.get("cells", [])):
        for output in cell.get("outputs", []):
            if output["output_type"] == "error":
                found.append(
                    f"cell {index} raised {output['ename']}: {output['evalue'][:200]}"
                )
    if len(run.saved.get("cells", [])) != len(expected.cells):
        found.append(
            "the notebook saved from JupyterLab does not have the notebook's cells"
        )
    images = [
        image
        for cell in run.cells
        for output in cell["outputs"]
        for image in output["images"]
        if output["mime"] == "image/png"
    ]
    drawn = [
        i for i in images if i["complete"] and i["width"] > 0 and i["shownHeight"] > 0
    ]
    if len(drawn) != expected.images:
        found.append(
            f"{len(drawn)} figures drawn, the notebook stores {expected.images}"
        )
    for index in expected.checks:
        cell = run.cells[index]
        ran = re.fullmatch(r"\[\d+\]:", cell["prompt"])
        failed = any(
            o["mime"] == "application/vnd.jupyter.stderr" for o in cell["outputs"]
        )
        saved = (
            run.saved["cells"][index] if index < len(run.saved.get("cells", [])) else {}
        )
        raised = any(o["output_type"] == "error" for o in saved.get("outputs", []))
        if not ran or failed or raised:
            found.append(f"exercise check (cell {index}) did not pass")
    return found


def main(argv: list[str], timeout_s: float = 600) -> int:
    """Run notebooks in JupyterLab and print what went wrong (screenshots in _build/).
    """
    from playwright.sync_api import sync_playwright

    shots = REPO / "_build" / "screenshots" / "jupyterlab"
    failed = 0
    with (
        tempfile.TemporaryDirectory(prefix="lab-run-") as tmp,
        LabServer(Path(tmp)) as server,
        sync_playwright() as playwright,
    ):
        context = open_browser(playwright, server, Path(tmp))
        for notebook in argv:
            expected = expected_from(json.loads((REPO / notebook).read_text("utf-8")))
            run = run_in_lab(
                server,
                context,
                notebook,
                shots / f"{Path(notebook).stem}.png",
                timeout_s,
            )
            run.blocked = list(context.blocked)
            found = problems(expected, run)
            failed += bool(found)
            print(
                f"{notebook}: {run.seconds:.0f} s, {len(found)} problems, "
                f"{run.screenshot}"
            )
            for line in found:
                print(f"    - {line}")
        context.close()
    return 1 if failed else 0


def open_browser(
    playwright, server: LabServer, workdir: Path, chromium: str = "/usr/bin/chromium"
):
    """Headless Chromium whose only reachable host is the JupyterLab server; requests to
    any other host are aborted and listed in `context.blocked`."""
    env = dict(
        os.environ,
        HOME=str(workdir),
        XDG_CONFIG_HOME=str(workdir / "config"),
        XDG_CACHE_HOME=str(workdir / "cache"),
    )
    context = playwright.chromium.launch_persistent_context(
        user_data_dir=str(workdir / "chromium-profile"),
        executable_path=chromium,
        headless=True,
        args=CHROMIUM_ARGS,
        env=env,
        viewport=VIEWPORT,
        service_workers="block",
    )
    context.blocked = []

    def route(route_, request):
        if request.url.startswith(server.origin + "/"):
            route_.continue_()
        else:
            context.blocked.append(request.url)
            route_.abort("blockedbyclient")

    context.route("**/*", route)
    return context


if __name__ == "__main__":
    timeout = float(os.environ.get("LAB_RUN_TIMEOUT", 600))
    sys.exit(
        main(sys.argv[1:] or ["chapters/00_start/01_images_as_arrays.ipynb"], timeout)
    )
