"""What a chapter's page shows: the lesson, not the scaffolding that only the tests need.

* nbval's markers are cell tags (``nbval-ignore-output``...), never comments a reader sees.
* A cell that only checks claims (nothing but ``assert`` statements) is removed from the
  page or folded. The one check a chapter shows as its example also prints what it
  checked, so the reader sees that it ran.
* The code that draws a figure is folded or removed: the page shows the figure.
* Every line of code fits the book's 88-column code column.
"""

import ast
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = sorted(
    p for p in (ROOT / "chapters").rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts
)
OUT_OF_PAGE = {"remove-input", "remove-cell", "hide-input", "hide-cell"}
COLUMNS = 88


def rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def code_cells(path: Path):
    cells = json.loads(path.read_text())["cells"]
    for index, cell in enumerate(cells):
        if cell["cell_type"] == "code":
            source = "".join(cell["source"])
            yield index, source, set(cell["metadata"].get("tags", []))


def only_asserts(source: str) -> bool:
    try:
        body = ast.parse(source).body
    except SyntaxError:  # IPython magics: not a checking cell
        return False
    return bool(body) and all(isinstance(node, ast.Assert) for node in body)


@pytest.mark.parametrize("path", CHAPTERS, ids=rel)
def test_nbval_markers_are_tags_not_comments(path):
    marked = [i for i, source, _ in code_cells(path) if "NBVAL_" in source]
    assert not marked, f"cells {marked} carry an NBVAL_ comment: use the cell tag"


@pytest.mark.parametrize("path", CHAPTERS, ids=rel)
def test_checking_cells_stay_out_of_the_page(path):
    shown = [
        i
        for i, source, tags in code_cells(path)
        if only_asserts(source) and not tags & OUT_OF_PAGE
    ]
    assert not shown, f"cells {shown} hold only asserts and are shown"


@pytest.mark.parametrize("path", CHAPTERS, ids=rel)
def test_plotting_code_is_folded(path):
    cells = json.loads(path.read_text())["cells"]
    shown = [
        i
        for i, cell in enumerate(cells)
        if cell["cell_type"] == "code"
        and any("image/png" in o.get("data", {}) for o in cell.get("outputs", []))
        and not set(cell["metadata"].get("tags", [])) & OUT_OF_PAGE
    ]
    assert not shown, f"cells {shown} draw a figure with their code on the page"


@pytest.mark.parametrize("path", CHAPTERS, ids=rel)
def test_code_fits_the_code_column(path):
    wide = [
        f"cell {i}: {line[:60]}..."
        for i, source, _ in code_cells(path)
        for line in source.splitlines()
        if len(line) > COLUMNS
    ]
    assert not wide, "\n".join(wide)
