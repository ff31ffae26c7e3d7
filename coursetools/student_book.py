"""Build the student edition of the book: every chapter as its learner's version, no
solutions.

Usage (``make book-student`` runs exactly this)::

    .venv/bin/python -m coursetools.student_book [--out _build/student]

The book's sources (``_config.yml``, ``_toc.yml``, ``chapters/``) are copied to a
scratch folder with every chapter notebook replaced by
``coursetools.learner.learner_version`` (stubs instead of reference answers, no solution
dropdowns, no hidden tests, no grading probes), and built there with the same command as
``make book``. Publish this edition while a class is working on the exercises.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from cnnlib.files import write_text_atomically
from coursetools.learner import learner_version, public_version

ROOT = Path(__file__).resolve().parent.parent


def student_sources(destination: Path, root: Path = ROOT) -> None:
    """Copy the book's sources into ``destination`` with learner's-version notebooks."""
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy2(root / name, destination / name)
    shutil.copytree(
        root / "chapters",
        destination / "chapters",
        ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"),
    )
    for path in sorted((destination / "chapters").rglob("*.ipynb")):
        nb = json.loads(path.read_text(encoding="utf-8"))
        write_text_atomically(
            path,
            json.dumps(
                public_version(learner_version(nb)), indent=1, ensure_ascii=False
            )
            + "\n",
        )


def build(out: Path, root: Path = ROOT) -> int:
    with tempfile.TemporaryDirectory(prefix="student-book-") as scratch:
        source = Path(scratch)
        student_sources(source, root)
        out = Path(out).resolve()
        out.mkdir(parents=True, exist_ok=True)
        env = dict(
            os.environ,
            PYTHONPATH=os.pathsep.join(
                filter(None, [str(root), os.environ.get("PYTHONPATH")])
            ),
        )
        jupyter_book = Path(sys.executable).parent / "jupyter-book"
        return subprocess.run(
            [
                str(jupyter_book),
                "build",
                "--all",
                "-W",
                "-n",
                "--keep-going",
                "--path-output",
                str(out),
                str(source),
            ],
            cwd=source,
            env=env,
        ).returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out",
        type=Path,
        default=ROOT / "_build" / "student",
        help=(
            "output folder; the HTML goes to OUT/_build/html (default: _build/student)"
        ),
    )
    args = parser.parse_args(argv)
    code = build(args.out)
    if code == 0:
        print(f"Student edition: open {args.out / '_build' / 'html' / 'index.html'}")
    return code


if __name__ == "__main__":
    sys.exit(main())
