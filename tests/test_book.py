"""The HTML book builds warning-free and needs no network; checks that need no browser.

The book is built once, from the stored notebook outputs, into a temporary folder with the
command of `make book` (`jupyter-book build --all -W -n --keep-going`). What a browser must
confirm (formulas typeset, images drawn, solutions folded) is checked by `coursetools/check_book.py`.
"""

from __future__ import annotations

import html
import json
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from coursetools.learner import public_version

REPO = Path(__file__).resolve().parent.parent
MATHJAX_ENTRY = "_static/mathjax/tex-mml-chtml.js"
# Glossary terms the issue asks for, plus the ones every chapter leans on.
CORE_TERMS = ["convolution", "stride", "padding", "receptive field", "feature map", "kernel", "channel", "pooling"]
# Tag -> attributes through which a page loads a resource (links in <a href> are navigation, not loads).
LOADING_ATTRIBUTES = {
    "script": ("src",),
    "img": ("src", "srcset"),
    "iframe": ("src",),
    "source": ("src", "srcset"),
    "video": ("src", "poster"),
    "audio": ("src",),
    "embed": ("src",),
    "object": ("data",),
    "track": ("src",),
}
LOADING_LINK_RELS = {"stylesheet", "preload", "modulepreload", "icon", "shortcut", "manifest", "prefetch"}


def toc_docnames() -> list[tuple[str, bool]]:
    """(docname, is a numbered chapter) for every page of _toc.yml, in reading order."""
    toc = yaml.safe_load((REPO / "_toc.yml").read_text(encoding="utf-8"))
    pages = [(toc["root"], False)]

    def sections(entries):
        for entry in entries or []:
            if "file" in entry:
                pages.append((entry["file"], False))
            sections(entry.get("sections"))

    for part in toc.get("parts") or [{"chapters": toc.get("chapters", [])}]:
        for chapter in part.get("chapters") or []:
            if "file" in chapter:
                pages.append((chapter["file"], bool(part.get("numbered"))))
                sections(chapter.get("sections"))
    return [(re.sub(r"\.(md|ipynb)$", "", name), numbered) for name, numbered in pages]


def source_of(docname: str) -> Path:
    for suffix in (".ipynb", ".md"):
        if (REPO / (docname + suffix)).is_file():
            return REPO / (docname + suffix)
    raise AssertionError(f"_toc.yml lists {docname}, which has no .ipynb or .md source")


class Elements(HTMLParser):
    """Collects start tags with their attributes and the bodies of inline scripts and styles."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.inline_code: list[str] = []
        self._in_code = False

    def handle_starttag(self, tag, attrs):
        attributes = {name: value or "" for name, value in attrs}
        self.tags.append((tag, attributes))
        self._in_code = tag == "style" or (tag == "script" and "src" not in attributes)

    def handle_endtag(self, tag):
        self._in_code = False

    def handle_data(self, data):
        if self._in_code:
            self.inline_code.append(data)


def parse(path: Path) -> Elements:
    parser = Elements()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def text_of(fragment: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


@pytest.fixture(scope="module")
def book(tmp_path_factory) -> Path:
    """Build the book as `make book` does, into a temporary folder; return its html folder."""
    out = tmp_path_factory.mktemp("book")
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    result = subprocess.run(
        [str(jupyter_book), "build", "--all", "-W", "-n", "--keep-going", "--path-output", str(out), str(REPO)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    log = result.stdout + result.stderr
    warnings = [line for line in log.splitlines() if "WARNING" in line or "ERROR" in line]
    assert result.returncode == 0 and not warnings, "the book build failed or warned:\n" + (
        "\n".join(warnings) or log[-3000:]
    )
    return out / "_build" / "html"


@pytest.fixture(scope="module")
def pages(book) -> dict[str, Path]:
    return {docname: book / (docname + ".html") for docname, _ in toc_docnames()}


def test_every_page_of_the_toc_is_built(pages):
    missing = [str(path) for path in pages.values() if not path.is_file()]
    assert not missing, f"pages listed in _toc.yml but not built: {missing}"


def test_no_page_loads_anything_from_another_host(book):
    offenders = []
    for page in sorted(book.rglob("*.html")):
        elements = parse(page)
        for tag, attributes in elements.tags:
            names = LOADING_ATTRIBUTES.get(tag, ())
            if tag == "link" and LOADING_LINK_RELS & set(attributes.get("rel", "").lower().split()):
                names = ("href",)
            for name in names:
                for url in re.split(r",\s*", attributes.get(name, "")):
                    url = url.strip().split(" ")[0]
                    if url and (urlsplit(url).scheme in ("http", "https") or url.startswith("//")):
                        offenders.append(f"{page.relative_to(book)}: <{tag} {name}={url}>")
        for code in elements.inline_code:
            for url in re.findall(r"https?://[^\s\"'`)]+", code):
                offenders.append(f"{page.relative_to(book)}: inline script or style refers to {url}")
    for stylesheet in sorted((book / "_static").rglob("*.css")):
        for url in re.findall(r"url\(\s*['\"]?((?:https?:)?//[^)'\"]+)", stylesheet.read_text(encoding="utf-8")):
            offenders.append(f"{stylesheet.relative_to(book)}: url({url})")
    assert not offenders, "the HTML book would fetch from the network:\n" + "\n".join(offenders[:40])


def test_pages_with_math_load_the_bundled_mathjax(book, pages):
    assert (book / MATHJAX_ENTRY).is_file()
    # The CHTML fonts and the TeX extensions MathJax loads on demand are there too.
    assert (book / "_static/mathjax/output/chtml/fonts/woff-v2/MathJax_Main-Regular.woff").is_file()
    assert (book / "_static/mathjax/input/tex/extensions/cancel.js").is_file()
    with_math = 0
    for docname, page in pages.items():
        source = page.read_text(encoding="utf-8")
        if 'class="math' not in source:
            continue
        with_math += 1
        scripts = [attributes["src"] for tag, attributes in parse(page).tags if tag == "script" and "src" in attributes]
        mathjax = [src for src in scripts if "tex-mml-chtml.js" in src]
        assert len(mathjax) == 1, f"{docname}: expected one MathJax script, found {mathjax}"
        resolved = (page.parent / mathjax[0].split("?")[0]).resolve()
        assert resolved == (book / MATHJAX_ENTRY).resolve(), f"{docname}: MathJax is loaded from {mathjax[0]}"
    assert with_math > 0, "no page has math: the glossary alone has formulas"


def test_the_bundled_mathjax_is_the_pinned_release_unchanged(book):
    """The copy in _static/ is byte for byte MathJax 3.2.2 as the pinned package ships it."""
    from importlib.metadata import version

    import mathjax

    assert version("django-static-mathjax").startswith("3.2.2"), "requirements.txt pins MathJax 3.2.2"
    shipped = Path(mathjax.__file__).parent / "static" / "mathjax" / "es5"
    copied = [path for path in (book / "_static" / "mathjax").rglob("*") if path.is_file() and path.name != "LICENSE"]
    assert len(copied) > 50, f"only {len(copied)} MathJax files in the book"
    changed = [
        str(path.relative_to(book))
        for path in copied
        if path.read_bytes() != (shipped / path.relative_to(book / "_static" / "mathjax")).read_bytes()
    ]
    assert not changed, f"MathJax files differ from the installed package: {changed[:10]}"
    assert "Apache License" in (book / "_static" / "mathjax" / "LICENSE").read_text(encoding="utf-8")


def test_every_page_offers_its_source_for_download(book, pages):
    for docname, page in pages.items():
        source = source_of(docname)
        wanted = f"_sources/{docname}{source.suffix}"
        links = [a.get("href", "") for tag, a in parse(page).tags if tag == "a" and "btn-download-source-button" in a.get("class", "")]
        assert any(link.endswith(wanted) for link in links), f"{docname}: no download link to {wanted} (found {links})"
        offered = (book / wanted).read_bytes()
        if source.suffix == ".ipynb":
            # The book offers the full notebook minus hidden tests and grading probes.
            expected = public_version(json.loads(source.read_text(encoding="utf-8")))
            assert json.loads(offered) == expected, f"{wanted} is not the page's source"
            assert b"# HIDDEN" not in offered and b"probe:" not in offered, wanted
        else:
            assert offered == source.read_bytes(), f"{wanted} is not the page's source"


def test_chapters_start_with_learning_goals_and_end_with_a_summary(pages):
    for docname, numbered in toc_docnames():
        if not numbered:
            continue
        page = pages[docname].read_text(encoding="utf-8")
        article = page[page.index('<article class="bd-article"'):]
        headings = [text_of(h) for h in re.findall(r"<h2[^>]*>(.*?)</h2>", article, flags=re.S)]
        # "Learning goals" in the chapter's opening text, or as the title of its first section.
        first_h2_end = article.find("</h2>")
        goals = article.lower().find("learning goals")
        assert 0 <= goals and (first_h2_end < 0 or goals < first_h2_end), (
            f"{docname}: no 'Learning goals' at its start (before or as its first section)"
        )
        last = re.sub(r"^[\d.]+\s*", "", headings[-1] if headings else "").rstrip("#").strip()
        assert last == "Summary", f"{docname}: its last section is {last!r}, not 'Summary'"


class FigureAudit(HTMLParser):
    """Finds images in the article that lack alt text or are not in a captioned <figure>."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.in_article = False
        self.figures: list[dict] = []  # open <figure> elements: image count and caption text
        self.caption_depth = 0
        self.problems: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = {name: value or "" for name, value in attrs}
        if tag == "article" and "bd-article" in attributes.get("class", ""):
            self.in_article = True
        if not self.in_article:
            return
        if tag == "figure":
            self.figures.append({"images": [], "caption": ""})
        elif tag == "figcaption":
            self.caption_depth += 1
        elif tag == "img":
            src = attributes.get("src", "")
            alt = attributes.get("alt", "").strip()
            if not alt or re.search(r"\.(png|jpe?g|svg|gif)$", alt):
                self.problems.append(f"image without alt text: {src}")
            if self.figures:
                self.figures[-1]["images"].append(src)
            else:
                self.problems.append(f"image not in a captioned figure: {src}")

    def handle_endtag(self, tag):
        if tag == "article":
            self.in_article = False
        elif tag == "figcaption" and self.caption_depth:
            self.caption_depth -= 1
        elif tag == "figure" and self.figures:
            figure = self.figures.pop()
            if figure["images"] and not figure["caption"].strip():
                self.problems.append(f"figure without a caption: {figure['images']}")

    def handle_data(self, data):
        if self.caption_depth and self.figures:
            self.figures[-1]["caption"] += data


def test_figures_have_captions_and_alt_text(pages):
    problems = []
    for docname, page in pages.items():
        audit = FigureAudit()
        audit.feed(page.read_text(encoding="utf-8"))
        problems += [f"{docname}: {problem}" for problem in audit.problems]
    assert not problems, "\n".join(problems)


def test_glossary_defines_the_core_terms(book):
    glossary = (book / "chapters" / "glossary.html").read_text(encoding="utf-8")
    defined = {text_of(term).rstrip("#").strip().lower() for term in re.findall(r"<dt[^>]*>(.*?)</dt>", glossary, flags=re.S)}
    missing = [term for term in CORE_TERMS if term not in defined]
    assert not missing, f"glossary lacks {missing}; it defines {sorted(defined)}"


def test_landing_page_says_who_what_and_how_long(pages):
    root = toc_docnames()[0][0]
    headings = {text_of(h).rstrip("#").strip() for h in re.findall(r"<h2[^>]*>(.*?)</h2>", pages[root].read_text(encoding="utf-8"), flags=re.S)}
    for wanted in ("Who this book is for", "What you will build", "How long it takes"):
        assert wanted in headings, f"the landing page has no section {wanted!r} (it has {sorted(headings)})"


def test_book_holds_no_hidden_test_and_offers_the_learners_version(book, pages):
    """Downloads too: the full notebook keeps solutions, not hidden tests or probes."""
    leaked = []
    for path in book.rglob("*"):
        if path.is_file() and path.suffix in (".ipynb", ".html", ".txt", ".js"):
            text = path.read_text(errors="replace")
            if "# HIDDEN" in text or "probe: |" in text:
                leaked.append(str(path.relative_to(book)))
    assert not leaked, f"hidden tests or grading probes in the book: {leaked[:10]}"
    offered = 0
    for docname, page in pages.items():
        source = source_of(docname)
        if source.suffix != ".ipynb" or "# BEGIN QUESTION" not in source.read_text():
            continue
        text = page.read_text(encoding="utf-8")
        link = f"_learner/{docname}.ipynb"
        assert link in text and "Learner's version" in text and "Full notebook" in text
        learner = (book / link).read_text()
        assert "# BEGIN SOLUTION" not in learner and "solution-start" not in learner
        offered += 1
    assert offered >= 2
