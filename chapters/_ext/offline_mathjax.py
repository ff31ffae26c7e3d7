"""Typeset the book's formulas with a local copy of MathJax, so that pages render with no network.

Sphinx's own ``sphinx.ext.mathjax`` writes the ``<script>`` tag that loads MathJax; by default it
points at a CDN, so an offline reader sees raw TeX. MathJax 3 itself comes from the pinned PyPI
package ``django-static-mathjax`` (import name ``mathjax``), which ships MathJax's released files
unchanged. This extension copies the part a page uses into the book's ``_static/mathjax/`` and
points ``mathjax_path`` there.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import mathjax

MATHJAX_ES5 = Path(mathjax.__file__).parent / "static" / "mathjax" / "es5"
MATHJAX_LICENSE = MATHJAX_ES5.parent / "LICENSE"
# The combined TeX/MathML-to-CHTML component that Sphinx loads, and the folders it loads on demand
# (TeX extensions, fonts, the accessibility menu); the other combined components are not needed.
NEEDED = ("tex-mml-chtml.js", "input", "output", "ui", "a11y", "adaptors", "sre")
STATIC_FOLDER = "mathjax"


def point_at_local_copy(app, config):
    config.mathjax_path = f"{STATIC_FOLDER}/tex-mml-chtml.js"


def copy_mathjax(app, exception):
    if exception is not None or app.builder.format != "html":
        return
    target = Path(app.outdir) / "_static" / STATIC_FOLDER
    target.mkdir(parents=True, exist_ok=True)
    for name in NEEDED:
        source = MATHJAX_ES5 / name
        if source.is_dir():
            shutil.copytree(source, target / name, dirs_exist_ok=True)
        else:
            shutil.copy2(source, target / name)
    shutil.copy2(MATHJAX_LICENSE, target / "LICENSE")


def setup(app):
    app.connect("config-inited", point_at_local_copy)
    app.connect("build-finished", copy_mathjax)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
