"""Each chapter page offers two notebooks: the learner's version to try, and the full
one to read.

- ``_learner/<page>.ipynb``: exercises with a stub to fill in, checks that say whether
  the answer
  passes the public tests, no reference solution and no hidden test
  (``coursetools.learner.learner_version``);
- ``_sources/<page>.ipynb`` (the page's download button): the full notebook, labelled as
  such,
  with the reference solutions but without hidden tests or grading probes: Sphinx copies
  the source as it is, so it is rewritten here after the build (``public_version``).

A note at the top of every chapter page with exercises links both.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if (
    str(REPO) not in sys.path
):  # coursetools lives at the repository root, beside the book
    sys.path.insert(0, str(REPO))

from cnnlib.files import write_text_atomically  # noqa: E402
from coursetools.learner import learner_version, public_version  # noqa: E402

LEARNER_FOLDER = "_learner"
NOTE = """<div class="admonition note course-notebooks">
<p class="admonition-title">This chapter as a notebook</p>
<p><a class="reference download" href="{up}{learner}" download>Learner's version</a>:
try the exercises yourself. Each holds a stub to fill in and a check that says whether
your answer passes; no solutions inside.<br>
<a class="reference download" href="{up}{full}" download>Full notebook</a>: this page
as it is, with the reference solutions.</p>
</div>
"""


def _notebook(app, docname: str) -> dict | None:
    path = Path(app.srcdir) / f"{docname}.ipynb"
    if not path.is_file():
        return None
    nb = json.loads(path.read_text(encoding="utf-8"))
    has_exercises = any(
        c.get("cell_type") == "raw"
        and "".join(c.get("source", "")).lstrip().startswith("# BEGIN QUESTION")
        for c in nb.get("cells", [])
    )
    return nb if has_exercises else None


def add_note(app, pagename, templatename, context, doctree):
    if (
        app.builder.format != "html"
        or "body" not in context
        or _notebook(app, pagename) is None
    ):
        return
    up = "../" * pagename.count("/")
    context["body"] = (
        NOTE.format(
            up=up,
            learner=f"{LEARNER_FOLDER}/{pagename}.ipynb",
            full=f"_sources/{pagename}.ipynb",
        )
        + context["body"]
    )


def write_notebooks(app, exception):
    if exception is not None or app.builder.format != "html":
        return
    out = Path(app.outdir)
    for docname in sorted(app.env.found_docs):
        nb = _notebook(app, docname)
        source = out / "_sources" / f"{docname}.ipynb"
        if source.is_file():
            original = json.loads(source.read_text(encoding="utf-8"))
            write_text_atomically(
                source,
                json.dumps(public_version(original), indent=1, ensure_ascii=False)
                + "\n",
            )
        if nb is not None:
            target = out / LEARNER_FOLDER / f"{docname}.ipynb"
            target.parent.mkdir(parents=True, exist_ok=True)
            write_text_atomically(
                target,
                json.dumps(learner_version(nb), indent=1, ensure_ascii=False) + "\n",
            )


def setup(app):
    app.connect("html-page-context", add_note)
    app.connect("build-finished", write_notebooks)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
