"""The code the book prints is the code a learner can read.

* No chapter prints a tuned kernel: every ``inspect.getsource`` / ``literalinclude``
  target lies outside ``cnnlib/tuned``, and no stored output holds a tuned function's
  source.
* Every printed listing fits the book's 88-column code column.
* Every stored listing is the library's source as it is now, so a change to a printed
  function fails here in seconds, not an hour later under nbval.
* The library is formatted (ruff, line length 88) and no line of it is wider than
  88 characters, docstrings and comments included, so any function a chapter prints
  fits the page.
"""

import importlib
import inspect
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
COLUMNS = 88
NOTEBOOKS = sorted(
    p
    for p in (ROOT / "chapters").rglob("*.ipynb")
    if ".ipynb_checkpoints" not in p.parts
)
GETSOURCE = re.compile(r"getsource\(([^)]*)\)")


def tuned_sources() -> dict[str, str]:
    """``{qualified name: first three lines of source}`` of every tuned function."""
    found = {}
    for module_name in ("activation", "conv", "im2col", "pooling"):
        module = importlib.import_module(f"cnnlib.tuned.{module_name}")
        for name, value in vars(module).items():
            if inspect.isfunction(value) and value.__module__ == module.__name__:
                head = "".join(inspect.getsourcelines(value)[0][:3])
                found[f"{module.__name__}.{name}"] = head
    return found


def cells(path: Path):
    return json.loads(path.read_text())["cells"]


def printed_listings(path: Path):
    """(cell index, printed text) of each code cell that prints library source."""
    for index, cell in enumerate(cells(path)):
        source = "".join(cell["source"])
        if cell["cell_type"] == "code" and GETSOURCE.search(source):
            text = "".join(
                "".join(output.get("text", ""))
                for output in cell.get("outputs", [])
                if output.get("output_type") == "stream"
            )
            yield index, source, text


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_chapter_prints_a_tuned_kernel(path):
    for index, cell in enumerate(cells(path)):
        source = "".join(cell["source"])
        for target in GETSOURCE.findall(source):
            assert "tuned" not in target, f"cell {index} prints {target}"
        assert not re.search(r"literalinclude[^\n]*cnnlib/tuned", source), index
    outputs = "".join(text for _, _, text in printed_listings(path))
    for name, head in tuned_sources().items():
        assert head not in outputs, f"{path.name} prints the tuned {name}"


def test_the_tuned_sources_are_recognised():
    """The check above must know the tuned functions, or it could not fail."""
    sources = tuned_sources()
    assert "cnnlib.tuned.im2col.copy_blocks" in sources
    assert "cnnlib.tuned.conv.conv2d_backward" in sources


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_printed_listings_fit_the_code_column(path):
    for index, _, text in printed_listings(path):
        wide = [line for line in text.splitlines() if len(line) > COLUMNS]
        assert not wide, f"cell {index} prints {len(wide)} lines wider than {COLUMNS}"


def test_some_chapter_prints_library_code():
    assert any(list(printed_listings(path)) for path in NOTEBOOKS)


def test_no_library_line_is_wider_than_the_code_column():
    wide = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in sorted((ROOT / "cnnlib").rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if len(line) > COLUMNS
    ]
    assert not wide, f"{len(wide)} lines over {COLUMNS} columns: {wide[:10]}"


def test_the_library_is_formatted():
    ruff = Path(sys.executable).with_name("ruff")
    result = subprocess.run(
        [str(ruff), "format", "--check", "--diff", "cnnlib"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def readable_functions():
    """Every function of the loops and the readable ops, which the book may print."""
    import pkgutil

    import cnnlib.loops
    import cnnlib.ops

    for package in (cnnlib.loops, cnnlib.ops):
        for info in pkgutil.iter_modules(package.__path__):
            module = importlib.import_module(f"{package.__name__}.{info.name}")
            for name, value in vars(module).items():
                if inspect.isfunction(value) and value.__module__ == module.__name__:
                    yield f"{module.__name__}.{name}", value


def test_readable_functions_are_short():
    """A function a learner reads stays under 40 lines, docstring included."""
    found = dict(readable_functions())
    assert "cnnlib.ops.conv.conv2d_backward" in found
    long = {
        name: len(inspect.getsourcelines(function)[0])
        for name, function in found.items()
        if len(inspect.getsourcelines(function)[0]) > 40
    }
    assert not long, long


def library_sources() -> set[str]:
    """The source of every function, class and method defined in ``cnnlib``."""
    import pkgutil

    import cnnlib

    found = set()
    for info in pkgutil.walk_packages(cnnlib.__path__, prefix="cnnlib."):
        module = importlib.import_module(info.name)
        for value in vars(module).values():
            if getattr(value, "__module__", None) != module.__name__:
                continue
            if inspect.isfunction(value) or inspect.isclass(value):
                found.add(inspect.getsource(value))
            if inspect.isclass(value):
                found.update(
                    inspect.getsource(member)
                    for member in vars(value).values()
                    if inspect.isfunction(member)
                )
    return found


def is_concatenation(text: str, pieces: set[str]) -> bool:
    """True if ``text`` is printed pieces one after another (``print`` adds a newline)."""
    if not text:
        return True
    return any(
        text.startswith(piece + "\n")
        and is_concatenation(text[len(piece) + 1 :], pieces)
        for piece in pieces
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_printed_listings_are_the_current_source(path):
    sources = library_sources()
    for index, _, text in printed_listings(path):
        # A cell may print an excerpt of one function (chapter 1 shows part of read_idx).
        excerpt = text.endswith("\n") and any(text[:-1] in s for s in sources)
        assert is_concatenation(text, sources) or excerpt, (
            f"cell {index}'s stored output is not the current library source: "
            "re-execute the chapter"
        )


def test_a_stale_listing_is_noticed():
    sources = library_sources()
    from cnnlib.loops import relu_forward

    current = inspect.getsource(relu_forward)
    assert is_concatenation(current + "\n" + current + "\n", sources)
    assert not is_concatenation(current.replace("x", "y", 1) + "\n", sources)
