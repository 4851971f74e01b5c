"""The built book in a real browser, with the network blocked.

Headless Chromium (Debian's ``chromium`` package, driven by the Python ``playwright`` package;
Playwright's own browser download is not used) opens every page of the site built by the
``built_book`` fixture, served from a local HTTP server. Every request that is not to that
server is aborted and reported. For each page the test checks that

- no console error and no uncaught JavaScript exception occurs (one known theme message is
  allow-listed below), no local file is missing and no request leaves the machine;
- every image has loaded and has alt text;
- MathJax (served from the site itself) typeset every math element, without TeX errors;
- the sidebar links to every page of ``_toc.yml``, visibly;

and it saves a full-page screenshot to ``tests/artifacts/screenshots/``.

Without a browser the test skips with the reason; ``.ci/run`` sets ``LMM_REQUIRE_BROWSER=1`` so
that a missing browser fails CI instead.
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import threading
from pathlib import Path
from urllib.parse import urldefrag

import pytest
import yaml

pytestmark = pytest.mark.slow

REPO_ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = REPO_ROOT / "tests" / "artifacts" / "screenshots"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Console errors that are known, understood and harmless. Keep this list short and explained.
ALLOWED_CONSOLE_ERRORS = [
    # pydata-sphinx-theme 0.17 (under sphinx-book-theme 1.3) logs this on a fresh browser
    # profile, before any theme mode is stored; `default_mode` does not silence it.
    re.compile(r"^Got invalid theme mode: \. Resetting to auto\.$"),
]


def _toc_pages() -> list[str]:
    toc = yaml.safe_load((REPO_ROOT / "_toc.yml").read_text())
    pages = [str(toc["root"])]

    def walk(node):
        if isinstance(node, dict):
            if "file" in node:
                pages.append(str(node["file"]))
            for key in ("parts", "chapters", "sections"):
                for child in node.get(key) or []:
                    walk(child)

    walk(toc)
    return [str(Path(p).with_suffix("")) if Path(p).suffix else p for p in pages]


TOC_PAGES = _toc_pages()
# Pages Sphinx writes besides the chapters; index.html redirects to the root page.
EXTRA_PAGES = ["index", "genindex", "search"]


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        pass


@pytest.fixture(scope="module")
def site(built_book):
    """The built site, served on 127.0.0.1 at a free port."""
    assert built_book.returncode == 0, "the book build failed; see test_book.py"
    handler = functools.partial(_QuietHandler, directory=str(built_book.html))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield built_book.html, f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium, headless, driven by Playwright."""
    require = os.environ.get("LMM_REQUIRE_BROWSER") == "1"
    reason = None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:  # pragma: no cover - depends on the machine
        reason = f"the playwright package is not installed ({exc})"
    if reason is None and not Path(CHROMIUM).exists():
        reason = f"no Chromium at {CHROMIUM}: apt-get install -y chromium (Debian's package)"
    if reason is not None:
        if require:
            pytest.fail(f"LMM_REQUIRE_BROWSER=1 but {reason}")
        pytest.skip(reason)
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def test_site_has_exactly_the_expected_pages(site):
    html, _ = site
    skip = {"_static", "_sources", "_images"}
    found = {
        str(p.relative_to(html).with_suffix(""))
        for p in html.rglob("*.html")
        if not skip.intersection(p.relative_to(html).parts)
    }
    assert found == set(TOC_PAGES) | set(EXTRA_PAGES), "pages exist that the browser test skips"


def _visit(browser, base: str, page_name: str):
    """Open one page with the network blocked; return the page and what went wrong."""
    problems: list[str] = []
    context = browser.new_context(viewport={"width": 1280, "height": 900})

    def route(request_route):
        url = request_route.request.url
        if url.startswith(base):
            request_route.continue_()
        else:
            problems.append(f"blocked a network request: {url}")
            request_route.abort()

    context.route("**/*", route)
    page = context.new_page()

    def on_console(message):
        if message.type != "error":
            return
        if any(pattern.search(message.text) for pattern in ALLOWED_CONSOLE_ERRORS):
            return
        problems.append(f"console error: {message.text} ({message.location})")

    def on_response(response):
        if response.status >= 400:
            problems.append(f"HTTP {response.status}: {response.url}")

    page.on("console", on_console)
    page.on("pageerror", lambda exc: problems.append(f"uncaught exception: {exc}"))
    page.on("response", on_response)
    page.on(
        "requestfailed",
        lambda request: (
            request.url.startswith(base)
            and problems.append(f"request failed: {request.url} ({request.failure})")
        ),
    )
    page.goto(base + page_name + ".html", wait_until="load")
    page.wait_for_load_state("networkidle")
    return context, page, problems


_MATHJAX_DONE = """
async () => {
  if (!window.MathJax) return "no MathJax";
  for (let i = 0; i < 200 && !(MathJax.startup && MathJax.startup.promise); i++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  if (!(MathJax.startup && MathJax.startup.promise)) return "MathJax did not start";
  await MathJax.startup.promise;
  return "ok";
}
"""

_MATH_REPORT = """
() => {
  const math = Array.from(document.querySelectorAll("span.math, div.math"));
  return {
    total: math.length,
    display: document.querySelectorAll("div.math").length,
    typeset: math.filter((el) => el.querySelector("mjx-container")).length,
    typesetDisplay: document.querySelectorAll('mjx-container[display="true"]').length,
    errors: document.querySelectorAll("mjx-merror").length,
    raw: math.filter((el) => !el.querySelector("mjx-container"))
      .map((el) => el.textContent.slice(0, 80)),
  };
}
"""

_IMAGES = """
async () => {
  const images = Array.from(document.images);
  for (const img of images) { img.loading = "eager"; img.scrollIntoView(); }
  await Promise.all(images.map((img) => img.complete ? null :
    new Promise((resolve) => { img.onload = img.onerror = resolve; })));
  window.scrollTo(0, 0);
  return images.map((img) => ({
    src: img.currentSrc || img.src,
    ok: img.complete && img.naturalWidth > 0,
    alt: (img.getAttribute("alt") || "").trim(),
  }));
}
"""

_SIDEBAR = """
() => Array.from(document.querySelectorAll("nav.bd-docs-nav a[href]")).map((a) => ({
  href: a.href,
  visible: !!(a.offsetWidth || a.offsetHeight || a.getClientRects().length),
}))
"""


@pytest.mark.parametrize("page_name", TOC_PAGES + EXTRA_PAGES)
def test_page_in_headless_chromium(browser, site, page_name: str):
    html, base = site
    context, page, problems = _visit(browser, base, page_name)
    try:
        if page_name == "index":  # a redirect to the root page
            page.wait_for_url(base + TOC_PAGES[0] + ".html")
            page.wait_for_load_state("load")

        # MathJax is served from the site and typesets every math element.
        source = (html / f"{page_name}.html").read_text()
        if "_static/mathjax/" in source:
            assert page.evaluate(_MATHJAX_DONE) == "ok", "MathJax did not finish"
        math = page.evaluate(_MATH_REPORT)
        assert math["errors"] == 0, f"{math['errors']} TeX errors on {page_name}"
        assert math["typeset"] == math["total"], f"math left untypeset: {math['raw']}"
        assert math["typesetDisplay"] >= math["display"]

        images = page.evaluate(_IMAGES)
        broken = [image["src"] for image in images if not image["ok"]]
        assert not broken, f"images that did not load: {broken}"
        no_alt = [image["src"] for image in images if not image["alt"]]
        assert not no_alt, f"images without alt text: {no_alt}"

        links = page.evaluate(_SIDEBAR)
        if page_name not in ("index",) and TOC_PAGES:
            reached = {urldefrag(link["href"]).url for link in links if link["visible"]}
            expected = {base + name + ".html" for name in TOC_PAGES}
            missing = sorted(expected - reached)
            assert not missing, f"sidebar of {page_name} does not reach {missing}"

        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shot = SCREENSHOTS / f"{page_name.replace('/', '__')}.png"
        page.screenshot(path=str(shot), full_page=True)
        page.wait_for_timeout(200)  # let late console messages arrive
        assert not problems, "\n".join(problems)
    finally:
        context.close()


def test_math_is_actually_tested(site):
    """Guard against a vacuous pass: the book has display math on several pages."""
    html, _ = site
    pages_with_display_math = [
        name for name in TOC_PAGES if '<div class="math' in (html / f"{name}.html").read_text()
    ]
    assert len(pages_with_display_math) >= 2, pages_with_display_math
