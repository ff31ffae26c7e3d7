"""Resolve requirements.txt for other Pythons with pip, in the background.

`start()` launches one `pip install --dry-run` per Python version and returns at once;
`result(version)` waits for it. tests/conftest.py calls `start()` when the process that
will run tests/test_python_versions.py begins the student-release tests queued before it,
so the two minutes the resolutions spend waiting on the network overlap them. See
tests/test_python_versions.py.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
VERSIONS = ("3.12", "3.13")
TIMEOUT_S = 900
_running: dict[str, tuple[subprocess.Popen, Path]] = {}


def command(version: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--dry-run",
        "--ignore-installed",
        "--only-binary=:all:",
        "--python-version",
        version,
        # Wheel metadata by HTTP range requests, not whole-wheel downloads (see the
        # test).
        "--use-feature=fast-deps",
        "--verbose",
        "--disable-pip-version-check",
        "--no-input",
        "-r",
        str(REPO / "requirements.txt"),
    ]


def start() -> None:
    for version in VERSIONS:
        if version in _running:
            continue
        log = Path(tempfile.mkstemp(prefix=f"pip-resolve-{version}-", suffix=".log")[1])
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                command(version),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=REPO,
            )
        _running[version] = (proc, log)


def result(version: str) -> tuple[int, str]:
    """pip's exit status and output for `version` (started now if it was not yet)."""
    start()
    proc, log = _running[version]
    try:
        returncode = proc.wait(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        returncode = -1
    text = log.read_text(encoding="utf-8", errors="replace")
    if returncode == -1:
        text += f"\n(pip stopped after {TIMEOUT_S} s)"
    return returncode, text


def stop() -> None:
    """End resolutions still running (a session that stopped early) and remove the logs.
    """
    for proc, log in _running.values():
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.unlink(missing_ok=True)
    _running.clear()
