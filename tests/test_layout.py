"""The repository's shape: every chapter is in the book and in the nbval run, and stored as executed."""

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
ALLOWED_TOP_LEVEL = {
    "_config.yml", "_toc.yml", "README.md", "chapters", "cnnlib", "tests", "requirements.txt",
    "pyproject.toml", "data", ".ci", "coursetools", "Makefile", "benchmarks", ".gitignore",
}


def chapter_notebooks() -> list[Path]:
    return sorted(p for p in (ROOT / "chapters").rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)


def toc_files() -> list[str]:
    """Every `file:` entry of _toc.yml, in order, including the root."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]

    def walk(node):
        if isinstance(node, dict):
            if "file" in node:
                files.append(node["file"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(toc.get("parts", toc.get("chapters", [])))
    return files


def tracked_files() -> list[str]:
    """Files git tracks, plus new ones it does not ignore: what a commit of the tree would hold."""
    result = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    )
    return result.stdout.split()


def makefile_test_command() -> list[str]:
    """The pytest command of `make test`, as make itself expands it (`make -n`)."""
    # Run as its own make, not as a child of the `make test` that may be running this.
    env = {k: v for k, v in os.environ.items() if k not in {"MAKEFLAGS", "MFLAGS", "MAKELEVEL"}}
    shown = subprocess.run(
        ["make", "-n", "--no-print-directory", "test"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=True,
    ).stdout.replace("\\\n", " ")
    (recipe,) = [line for line in shown.splitlines() if " -m pytest " in line]
    words = shlex.split(recipe)
    while words and re.fullmatch(r"[A-Z_]+=\S*", words[0]):  # environment settings
        words.pop(0)
    return words


def test_top_level_holds_only_the_agreed_layout():
    top = {path.split("/")[0] for path in tracked_files()}
    assert top <= ALLOWED_TOP_LEVEL, f"unexpected top-level entries: {sorted(top - ALLOWED_TOP_LEVEL)}"
    assert {"_config.yml", "_toc.yml", "README.md", "chapters", "cnnlib", "tests", "requirements.txt"} <= top


def test_every_chapter_notebook_is_in_the_toc_and_every_toc_entry_exists():
    listed = toc_files()
    assert len(listed) == len(set(listed)), "a page is listed twice in _toc.yml"
    notebooks = {str(p.relative_to(ROOT).with_suffix("")) for p in chapter_notebooks()}
    missing = notebooks - set(listed)
    assert not missing, f"notebooks not in _toc.yml (readers never see them): {sorted(missing)}"
    for entry in listed:
        candidates = [ROOT / (entry + suffix) for suffix in (".ipynb", ".md")]
        assert any(c.exists() for c in candidates), f"_toc.yml lists {entry}, which does not exist"


def test_file_names_are_numbered_in_the_books_order():
    """A notebook's number is its chapter number in the book, so the two cannot drift."""
    notebooks = [f for f in toc_files() if (ROOT / f"{f}.ipynb").exists()]
    numbers = [Path(f).name.split("_", 1)[0] for f in notebooks]
    assert all(n.isdigit() and len(n) == 2 for n in numbers), numbers
    assert [int(n) for n in numbers] == list(range(1, len(notebooks) + 1)), notebooks


def test_every_chapter_notebook_is_collected_by_the_nbval_run():
    command = makefile_test_command()
    assert command[1:3] == ["-m", "pytest"] and "$(" not in " ".join(command), command
    assert "--nbval" in command and "--nbval-lax" not in command and "--nbval-current-env" in command
    # -n 0: collected in this process, not by `make test`'s xdist workers.
    collect = [sys.executable, "-m", "pytest", *command[3:], "--collect-only", "-q", "-n", "0"]
    # Only the chapters matter here; collecting tests/ too would recurse into this very test.
    collect = [arg for arg in collect if arg != "tests"]
    result = subprocess.run(collect, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    collected = {line.split("::")[0] for line in result.stdout.splitlines() if ".ipynb::" in line}
    expected = {str(p.relative_to(ROOT)) for p in chapter_notebooks()}
    assert expected, "no chapter notebooks found"
    assert expected <= collected, f"notebooks left out of the nbval run: {sorted(expected - collected)}"


@pytest.mark.parametrize("notebook", chapter_notebooks(), ids=lambda p: p.stem)
def test_notebook_is_saved_from_one_clean_run(notebook):
    nb = json.loads(notebook.read_text())
    code_cells = [c for c in nb["cells"] if c["cell_type"] == "code" and "".join(c["source"]).strip()]
    counts = [c["execution_count"] for c in code_cells]
    assert counts == list(range(1, len(counts) + 1)), f"{notebook.name}: execution counts {counts}"
    errors = [o for c in code_cells for o in c["outputs"] if o["output_type"] == "error"]
    assert not errors, f"{notebook.name} was saved with an error output"
    assert nb["metadata"].get("kernelspec", {}).get("name") == "python3"


def test_requirements_pin_the_offline_torch_and_jupyter_book_1():
    lines = {line.split("#")[0].strip() for line in (ROOT / "requirements.txt").read_text().splitlines()}
    assert "torch==2.13.0" in lines
    assert "jupyter-book>=1.0.4.post1,<2" in lines
    assert not any(line.startswith(("tensorflow", "jax", "torchvision")) for line in lines)


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    readme = (ROOT / "README.md").read_text()
    assert re.search(r"^make test$", ci, re.M), "CI must run the README's test command"
    assert "make test" in readme and "make book" in readme
