#!/usr/bin/env python3
"""Open every page of the built HTML book in headless Chromium, offline, and check what
a reader sees.

Usage (from the repository root, after `jupyter-book build`):

    .venv/bin/python -m coursetools.check_book [--html _build/html] [--screenshots
    _build/screenshots]

The pages are served from 127.0.0.1 by a server inside this script; every request to any
other host is aborted (and counts as a failure), and Chromium itself is pointed at a
dead proxy, so nothing can come from the network. Each page of `_toc.yml` fails unless:

- no JavaScript error is raised and no local file fails to load;
- MathJax starts, every formula (`.math`) is typeset, none has a TeX error, and no raw
  TeX
  (`$$`, `\\(`, `\\[`, `\\begin{`) is left in the text outside code;
- every image has loaded with a non-zero size;
- every exercise solution is folded until its toggle is clicked, and visible after;
- the left navigation lists the root page and every part and chapter of `_toc.yml`, in
  order,
  with chapter numbers that run on across parts.

A full-page screenshot of each page, taken with formulas typeset and solutions still
folded, is written to the screenshots folder as `NN-<page>.png` (NN = reading order).

Needs Debian's `chromium` (`apt-get install -y chromium`, as root) and the PyPI
`playwright` package; Playwright's own browser download is not used.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import os
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urldefrag, urlsplit

import yaml

REPO = Path(__file__).resolve().parent.parent
CHROMIUM_CANDIDATES = ("chromium", "chromium-browser")
INSTALL_HINT = (
    "Chromium was not found. Install Debian's package with\n"
    "    sudo apt-get update && sudo apt-get install -y chromium\n"
    "(or run `make check-book` as root, which installs it), or pass --chromium PATH."
)
# Nothing listens on the discard port: any request Chromium would send past the loopback
# fails.
DEAD_PROXY = "http://127.0.0.1:9"
CHROMIUM_ARGS = [
    "--no-sandbox",  # CI runs as root
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    f"--proxy-server={DEAD_PROXY}",
    "--proxy-bypass-list=127.0.0.1",
]
VIEWPORT = {"width": 1280, "height": 900}
PAGE_TIMEOUT_MS = 30_000

# Runs in the page: wait for MathJax (if the page loads it) and report on every formula.
MATH_JS = """
async (timeoutMs) => {
  const formulas = document.querySelectorAll('.math');
  const result = {formulas: formulas.length, started: false, untypeset: [], errors: []};
  const mj = window.MathJax;
  if (mj && mj.startup && mj.startup.promise) {
    const timeout = new Promise((_, reject) => setTimeout(() => reject(new Error('timeout')), timeoutMs));
    try { await Promise.race([mj.startup.promise, timeout]); result.started = true; }
    catch (e) { result.startError = String(e); }
  }
  for (const el of formulas) {
    if (!el.querySelector('mjx-container')) result.untypeset.push(el.textContent.trim().slice(0, 80));
  }
  for (const el of document.querySelectorAll('mjx-merror')) {
    result.errors.push((el.getAttribute('data-mjx-error') || el.textContent).slice(0, 120));
  }
  return result;
}
"""

# Runs in the page: text outside code, formulas and scripts that still looks like TeX.
RAW_TEX_JS = """
() => {
  const skip = 'pre, code, script, style, textarea, mjx-container, .highlight, .output';
  const markers = ['$$', '\\\\(', '\\\\)', '\\\\[', '\\\\]', '\\\\begin{'];
  const found = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const parent = node.parentElement;
    if (!parent || parent.closest(skip)) continue;
    const text = node.textContent;
    for (const m of markers) {
      const at = text.indexOf(m);
      if (at >= 0) { found.push(text.slice(Math.max(0, at - 30), at + 50).replace(/\\s+/g, ' ')); break; }
    }
  }
  return found;
}
"""

# Runs in the page: load every image (lazy ones too) and report those that did not load.
IMAGES_JS = """
async (timeoutMs) => {
  const images = [...document.images];
  for (const img of images) img.loading = 'eager';
  const settle = (img) => img.complete ? Promise.resolve() : new Promise((resolve) => {
    img.addEventListener('load', resolve, {once: true});
    img.addEventListener('error', resolve, {once: true});
  });
  const timeout = new Promise((resolve) => setTimeout(resolve, timeoutMs));
  await Promise.race([Promise.all(images.map(settle)), timeout]);
  return {
    count: images.length,
    broken: images.filter((img) => !img.complete || img.naturalWidth === 0 || img.naturalHeight === 0)
                  .map((img) => img.getAttribute('src')),
    // Shown (not inside a folded solution or a hidden theme element) but drawn with no area.
    squashed: images.filter((img) => img.checkVisibility() && (img.clientWidth === 0 || img.clientHeight === 0))
                    .map((img) => img.getAttribute('src')),
  };
}
"""

# Runs in the page: the left navigation, as a list of ("caption", text) and ("page",
# url, text).
NAV_JS = """
() => {
  const nav = document.querySelector('nav.bd-docs-nav');
  if (!nav) return null;
  const items = [];
  for (const el of nav.querySelectorAll('p.caption, li.toctree-l1 > a')) {
    if (el.matches('p.caption')) items.push(['caption', el.textContent.trim()]);
    else items.push(['page', el.href, el.textContent.trim().replace(/\\s+/g, ' ')]);
  }
  return items;
}
"""


@dataclass
class Page:
    docname: str  # e.g. "chapters/part1/02_convolution_by_hand"
    order: int
    problems: list[str] = field(default_factory=list)
    summary: str = ""

    @property
    def html_path(self) -> str:
        return self.docname + ".html"

    @property
    def screenshot_name(self) -> str:
        return f"{self.order:02d}-{Path(self.docname).name}.png"


@dataclass
class NavEntry:
    kind: str  # "caption" or "page"
    text: str = ""
    docname: str = ""
    number: int | None = (
        None  # the chapter number the navigation must show, if numbered
    )


def read_toc(toc_path: Path) -> tuple[list[str], list[NavEntry]]:
    """Return every docname of the book in reading order, and the expected left
    navigation."""
    toc = yaml.safe_load(toc_path.read_text(encoding="utf-8"))
    if toc.get("format") != "jb-book":
        raise SystemExit(
            f"{toc_path}: expected `format: jb-book`, found {toc.get('format')!r}"
        )
    docnames: list[str] = []
    nav: list[NavEntry] = []

    def strip(file: str) -> str:
        return (
            file.rsplit(".", 1)[0] if file.endswith((".md", ".ipynb", ".rst")) else file
        )

    def walk_sections(entries):
        for entry in entries or []:
            if "file" in entry:
                docnames.append(strip(entry["file"]))
            walk_sections(entry.get("sections"))

    root = strip(toc["root"])
    docnames.append(root)
    nav.append(NavEntry("page", docname=root))
    parts = toc.get("parts") or [{"chapters": toc.get("chapters", [])}]
    number = 0
    for part in parts:
        if part.get("caption"):
            nav.append(NavEntry("caption", text=part["caption"]))
        for chapter in part.get("chapters") or []:
            if "file" not in chapter:
                continue  # a url or glob entry: not a page of ours
            docname = strip(chapter["file"])
            docnames.append(docname)
            chapter_number = None
            if part.get("numbered"):
                number += 1
                chapter_number = number
            nav.append(NavEntry("page", docname=docname, number=chapter_number))
            walk_sections(chapter.get("sections"))
    return docnames, nav


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the stdlib's name
        pass


def start_server(html_dir: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    handler = functools.partial(QuietHandler, directory=str(html_dir))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def find_chromium(explicit: str | None) -> str:
    if explicit:
        if not Path(explicit).is_file():
            raise SystemExit(f"--chromium {explicit}: no such file.\n{INSTALL_HINT}")
        return explicit
    for name in CHROMIUM_CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    raise SystemExit(INSTALL_HINT)


def check_navigation(page: Page, items, expected: list[NavEntry], origin: str) -> None:
    if items is None:
        page.problems.append("no left navigation (nav.bd-docs-nav) on the page")
        return
    page_url = f"{origin}/{page.html_path}"
    seen = []
    for item in items:
        if item[0] == "caption":
            seen.append(("caption", item[1]))
        else:
            url = urldefrag(item[1])[0] or page_url
            path = urlsplit(url).path.lstrip("/")
            docname = path[: -len(".html")] if path.endswith(".html") else path
            seen.append(("page", docname, item[2]))
    want = [
        ("caption", e.text) if e.kind == "caption" else ("page", e.docname)
        for e in expected
    ]
    got = [s[:2] for s in seen]
    if got != want:
        page.problems.append(
            "left navigation does not match _toc.yml:\n"
            + "\n".join(
                f"        expected {w!r:70} got {g!r}"
                for w, g in _pad(want, got)
                if w != g
            )
        )
        return
    for entry, item in zip(expected, seen):
        if entry.kind != "page" or entry.number is None:
            continue
        if not item[2].startswith(f"{entry.number}. "):
            page.problems.append(
                f"navigation shows {item[2]!r} for {entry.docname}: expected chapter"
                f" number {entry.number} (numbers must run on across parts)"
            )


def _pad(a, b):
    n = max(len(a), len(b))
    return zip(a + [None] * (n - len(a)), b + [None] * (n - len(b)))


def check_solutions(page: Page, pw_page) -> int:
    """Every solution is folded, and unfolds when its toggle is clicked. Returns how
    many."""
    solutions = pw_page.locator("div.solution.admonition")
    count = solutions.count()
    for index in range(count):
        solution = solutions.nth(index)
        title = (
            solution.locator(":scope > .admonition-title")
            .first.inner_text()
            .strip()
            .splitlines()[0]
        )
        body = solution.locator(":scope > :not(.admonition-title)")
        if body.count() == 0:
            page.problems.append(f"solution {title!r} is empty")
            continue
        if any(body.nth(i).is_visible() for i in range(body.count())):
            page.problems.append(
                f"solution {title!r} is visible before its toggle is clicked (give it"
                " `:class: dropdown`)"
            )
            continue
        toggle = solution.locator(".toggle-button")
        if toggle.count() == 0:
            page.problems.append(f"solution {title!r} has no toggle button")
            continue
        toggle.first.click()
        try:
            body.first.wait_for(state="visible", timeout=5_000)
        except Exception:  # playwright's TimeoutError
            page.problems.append(
                f"solution {title!r} is still hidden after its toggle was clicked"
            )
    return count


def check_page(
    page: Page, context, origin: str, expected_nav, screenshots: Path, blocked: dict
) -> None:
    pw_page = context.new_page()
    pw_page.set_default_timeout(PAGE_TIMEOUT_MS)
    url = f"{origin}/{page.html_path}"
    pw_page.on(
        "pageerror", lambda exc: page.problems.append(f"JavaScript error: {exc}")
    )
    pw_page.on(
        "console",
        lambda msg: msg.type == "error"
        and page.problems.append(f"console error: {msg.text}"),
    )
    pw_page.on(
        "response",
        lambda response: response.status >= 400
        and page.problems.append(f"HTTP {response.status} for {response.url}"),
    )
    blocked[url] = []
    try:
        response = pw_page.goto(url, wait_until="load")
    except Exception as exc:
        page.problems.append(f"page did not load: {exc}")
        pw_page.close()
        return
    if response is None or response.status != 200:
        page.problems.append(
            f"page answered HTTP {response.status if response else '?'}"
        )

    math = pw_page.evaluate(MATH_JS, 20_000)
    if math["formulas"] and not math["started"]:
        page.problems.append(
            "MathJax did not start"
            f" ({math.get('startError', 'window.MathJax.startup missing')});"
            f" {math['formulas']} formulas are raw TeX"
        )
    else:  # one line per formula only when MathJax ran and still left some out
        for tex in math["untypeset"][:10]:
            page.problems.append(f"formula not typeset: {tex}")
    for error in math["errors"][:10]:
        page.problems.append(f"TeX error in a formula: {error}")
    raw_tex = pw_page.evaluate(RAW_TEX_JS)
    for snippet in raw_tex[:5]:
        page.problems.append(f"raw TeX in the text: ...{snippet}...")
    if len(raw_tex) > 5:
        page.problems.append(f"... and raw TeX in {len(raw_tex) - 5} more places")

    images = pw_page.evaluate(IMAGES_JS, 15_000)
    for src in images["broken"]:
        page.problems.append(f"image did not load: {src}")
    for src in images["squashed"]:
        page.problems.append(f"image is shown with zero width or height: {src}")

    check_navigation(page, pw_page.evaluate(NAV_JS), expected_nav, origin)

    # The screenshot shows the page as a reader first sees it: formulas typeset,
    # solutions folded.
    pw_page.screenshot(path=str(screenshots / page.screenshot_name), full_page=True)
    solutions = check_solutions(page, pw_page)

    pw_page.wait_for_timeout(200)  # let errors raised by the clicks arrive
    for request_url in blocked.get(url, []):
        page.problems.append(f"tried to load from the network (blocked): {request_url}")
    page.summary = (
        f"{math['formulas']} formulas, {images['count']} images, {solutions} solutions"
    )
    pw_page.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--html",
        type=Path,
        default=REPO / "_build" / "html",
        help="built HTML (default: _build/html)",
    )
    parser.add_argument(
        "--screenshots",
        type=Path,
        default=REPO / "_build" / "screenshots",
        help="where to write one PNG per page",
    )
    parser.add_argument(
        "--toc", type=Path, default=REPO / "_toc.yml", help="the book's _toc.yml"
    )
    parser.add_argument(
        "--chromium", help="path of the Chromium executable (default: chromium on PATH)"
    )
    args = parser.parse_args(argv)

    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise SystemExit(
            "The PyPI package playwright is missing: run this with .venv/bin/python"
            " (make env)."
        )

    html_dir = args.html.resolve()
    if not (html_dir / "index.html").is_file():
        raise SystemExit(
            f"{html_dir}/index.html not found: build the book first (make book)."
        )
    chromium = find_chromium(args.chromium)
    docnames, expected_nav = read_toc(args.toc)
    pages = [Page(docname, order) for order, docname in enumerate(docnames, start=1)]

    screenshots = args.screenshots.resolve()
    screenshots.mkdir(parents=True, exist_ok=True)
    for old in screenshots.glob("*.png"):
        old.unlink()

    server, origin = start_server(html_dir)
    blocked: dict[str, list[str]] = {}
    current = {"url": None}
    started = time.monotonic()
    with (
        tempfile.TemporaryDirectory(prefix="check-book-") as tmp,
        sync_playwright() as playwright,
    ):
        # Chromium writes its profile, caches and crash reports under these, never under
        # $HOME.
        env = dict(
            os.environ,
            HOME=tmp,
            XDG_CONFIG_HOME=f"{tmp}/config",
            XDG_CACHE_HOME=f"{tmp}/cache",
        )
        context = playwright.chromium.launch_persistent_context(
            user_data_dir=f"{tmp}/profile",
            executable_path=chromium,
            headless=True,
            args=CHROMIUM_ARGS,
            env=env,
            viewport=VIEWPORT,
            service_workers="block",
        )

        def route(route_, request):
            if request.url.startswith(origin + "/"):
                route_.continue_()
            else:
                blocked.setdefault(current["url"], []).append(request.url)
                route_.abort("blockedbyclient")

        context.route("**/*", route)
        print(
            f"Checking {len(pages)} pages of {html_dir} in {chromium} (Chromium"
            f" {context.browser.version if context.browser else '?'}), network blocked",
            flush=True,
        )
        for page in pages:
            if not (html_dir / page.html_path).is_file():
                page.problems.append(f"{page.html_path} is missing from {html_dir}")
                continue
            current["url"] = f"{origin}/{page.html_path}"
            check_page(page, context, origin, expected_nav, screenshots, blocked)
        context.close()
    server.shutdown()

    failed = [page for page in pages if page.problems]
    for page in pages:
        if page.problems:
            print(f"FAIL {page.html_path}")
            for problem in page.problems:
                print(f"     - {problem}")
        else:
            print(f"ok   {page.html_path} ({page.summary})")
    shots = len(list(screenshots.glob("*.png")))
    print(
        f"\n{shots} screenshots in {screenshots}; checked in"
        f" {time.monotonic() - started:.0f} s"
    )
    print(f"pages: {len(pages) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
