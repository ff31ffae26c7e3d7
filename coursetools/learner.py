"""The learner's version of a chapter notebook, and the student edition of the book's
sources.

``learner_version(nb)`` turns a chapter notebook in the one-source exercise format into
the notebook a self-learner downloads from the book: each exercise keeps its question
and a stub (``...``) where the reference answer was; the solution dropdowns, every ``#
HIDDEN`` test and the otter/grader marker cells are gone; each public test becomes a
check cell that prints whether the answer passes and never raises, so "Run all" goes on
to the end of the chapter.

``public_version(nb)`` is the full notebook for readers (solutions kept), minus what
only the grader may see: hidden tests and the grading probes.

Both work on notebooks as plain JSON dicts and import nothing but the standard library,
so the book's Sphinx extension (``chapters/_ext/learner_notebooks.py``) can use them.
"""

from __future__ import annotations

import copy
import re

MARKER = re.compile(r"^#\s*(BEGIN|END)\s+(QUESTION|SOLUTION|TESTS)\b", re.I)
BEGIN = re.compile(r"^(\s*)#\s*BEGIN SOLUTION\s*$", re.I)
END = re.compile(r"^\s*#\s*END SOLUTION\s*$", re.I)
INLINE = re.compile(r"^(\s*)(.*?)\s*#\s*SOLUTION\s*$", re.I)
CHECK_HEADER = (
    "# Check your answer to {name} (public tests; a grader also runs hidden ones)."
)


def _source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def _marker(cell: dict) -> tuple[str, str] | None:
    if cell.get("cell_type") != "raw":
        return None
    match = MARKER.match(_source(cell).strip())
    return (match.group(1).upper(), match.group(2).upper()) if match else None


def is_hidden_test(cell: dict) -> bool:
    lines = _source(cell).lstrip().splitlines()
    return (
        cell.get("cell_type") == "code"
        and bool(lines)
        and lines[0].strip().upper() == "# HIDDEN"
    )


def stub(source: str) -> str:
    """The answer cell with the reference answer replaced by ``...``."""
    out, inside = [], False
    for line in source.splitlines():
        begin = BEGIN.match(line)
        if begin:
            inside = True
            out.append(begin.group(1) + "...")
        elif END.match(line):
            inside = False
        elif not inside:
            inline = INLINE.match(line)
            if inline:
                target = inline.group(2).split("=", 1)[0].rstrip()
                out.append(
                    f"{inline.group(1)}{target} = ..."
                    if "=" in inline.group(2)
                    else inline.group(1) + "..."
                )
            else:
                out.append(line)
    # A stub that repeats '...' right after an existing '... = ...' line adds nothing.
    cleaned = []
    for line in out:
        if cleaned and line.strip() == "..." and cleaned[-1].rstrip().endswith("= ..."):
            continue
        cleaned.append(line)
    return "\n".join(cleaned).rstrip() + "\n"


def check_cell(name: str, test: str) -> str:
    body = "\n".join(
        "    " + line if line.strip() else "" for line in test.strip().splitlines()
    )
    return (
        CHECK_HEADER.format(name=name)
        + "\ntry:\n"
        + body
        + "\n"
        "except Exception as error:\n"
        f"    print('{name}: NOT PASSED YET -', type(error).__name__, error)\n"
        "else:\n"
        f"    print('{name}: public tests passed')\n"
    )


def _question_name(cell: dict) -> str:
    match = re.search(r"^name:\s*(\S+)", _source(cell), re.M)
    return match.group(1) if match else "this question"


def _code(source: str) -> dict:
    return {
        "cell_type": "code",
        "execution_count": None,
        "metadata": {},
        "outputs": [],
        "source": source,
    }


def learner_version(nb: dict) -> dict:
    """The notebook to try: stubs, no solutions, no hidden tests, checks that never
    raise."""
    result = copy.deepcopy(nb)
    cells, state, name = [], "outside", ""
    for cell in result["cells"]:
        marker = _marker(cell)
        if marker is not None:
            edge, block = marker
            if block == "QUESTION":
                name = _question_name(cell) if edge == "BEGIN" else ""
            state = (
                block.lower() if edge == "BEGIN" and block != "QUESTION" else "outside"
            )
            continue
        if cell.get("cell_type") == "raw" and _source(cell).lstrip().startswith(
            "# ASSIGNMENT CONFIG"
        ):
            continue
        if state == "solution":
            if cell.get("cell_type") == "code":
                cells.append(_code(stub(_source(cell))))
            continue  # the solution dropdown's fences and any explanation inside it
        if state == "tests":
            if cell.get("cell_type") == "code" and not is_hidden_test(cell):
                cells.append(_code(check_cell(name, _source(cell))))
            continue
        cells.append(cell)
    for cell in cells:  # a notebook to run oneself: no stored outputs to read ahead in
        if cell.get("cell_type") == "code":
            cell["outputs"], cell["execution_count"] = [], None
    result["cells"] = cells
    result.get("metadata", {}).pop("otter", None)
    return result


def without_probes(source: str) -> str:
    """A ``# BEGIN QUESTION`` cell's text without the grader's ``probe:`` block."""
    out, skipping = [], False
    for line in source.splitlines():
        if re.match(r"^probe:", line):
            skipping = True
            continue
        if skipping and (line.startswith((" ", "\t")) or not line.strip()):
            continue
        skipping = False
        out.append(line)
    return "\n".join(out)


def public_version(nb: dict) -> dict:
    """The full notebook for readers, with solutions, minus hidden tests and grading
    probes."""
    result = copy.deepcopy(nb)
    cells = []
    for cell in result["cells"]:
        if is_hidden_test(cell):
            continue
        if _marker(cell) == ("BEGIN", "QUESTION"):
            cell["source"] = without_probes(_source(cell))
        cells.append(cell)
    result["cells"] = cells
    return result
