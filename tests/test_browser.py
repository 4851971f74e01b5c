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

and it saves a full-page screenshot to ``tests/artifacts/screenshots/``. Further tests check

- every page at 200 % zoom (a 640 CSS-pixel-wide viewport at device scale factor 2, i.e. a
  1280-pixel window zoomed to 200 %): no horizontal scrolling of the page;
- the download links of every notebook page (``.ipynb`` and ``.md``) work;
- the search page finds "Satterthwaite" (Sphinx's search runs in the browser);
- a crawl of the whole site: every link, image, script and stylesheet address that points into
  the site returns HTTP 200, and every ``#fragment`` exists on its target page.

Without a browser the test skips with the reason; ``.ci/run`` sets ``LMM_REQUIRE_BROWSER=1`` so
that a missing browser fails CI instead.
"""

from __future__ import annotations

import contextlib
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


@contextlib.contextmanager
def _serve(html: Path):
    """Serve a built site on 127.0.0.1 at a free port; yield its base address."""
    handler = functools.partial(_QuietHandler, directory=str(html))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def site(built_book):
    """The built site, served on 127.0.0.1 at a free port."""
    assert built_book.returncode == 0, "the book build failed; see test_book.py"
    with _serve(built_book.html) as base:
        yield built_book.html, base


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

        # Glued numbers read at the weight of the words around them (myst-nb makes them bold).
        bolder = page.evaluate(
            "() => [...document.querySelectorAll('p span.pasted-text')].filter(s =>"
            " Number(getComputedStyle(s).fontWeight)"
            " > Number(getComputedStyle(s.parentElement).fontWeight)).length"
        )
        assert bolder == 0, f"{bolder} glued numbers of {page_name} render bolder than their text"

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


# --- 200 % zoom --------------------------------------------------------------------------

_OVERFLOW = """
() => {
  const root = document.documentElement;
  const article = document.querySelector("article.bd-article") || document.body;
  const wide = [];
  for (const el of article.querySelectorAll("*")) {
    const r = el.getBoundingClientRect();
    if (r.right <= root.clientWidth + 1 || r.width === 0) continue;
    // Content inside its own scroll box (code, tables, wide math) may be wider.
    let boxed = false;
    for (let p = el.parentElement; p && p !== article.parentElement; p = p.parentElement) {
      const style = getComputedStyle(p);
      if (["auto", "scroll", "hidden"].includes(style.overflowX)) { boxed = true; break; }
    }
    if (!boxed) wide.push(el.tagName + "." + el.className + " right=" + Math.round(r.right));
  }
  return {scrollWidth: root.scrollWidth, clientWidth: root.clientWidth, wide: wide.slice(0, 5)};
}
"""


@pytest.mark.parametrize("page_name", TOC_PAGES + ["search"])
def test_page_is_readable_at_200_percent_zoom(browser, site, page_name: str):
    _, base = site
    context = browser.new_context(viewport={"width": 640, "height": 900}, device_scale_factor=2)
    context.route(
        "**/*",
        lambda r: r.continue_() if r.request.url.startswith(base) else r.abort(),
    )
    page = context.new_page()
    try:
        page.goto(base + page_name + ".html", wait_until="load")
        page.wait_for_load_state("networkidle")
        if "_static/mathjax/" in page.content():
            page.evaluate(_MATHJAX_DONE)
        report = page.evaluate(_OVERFLOW)
        assert report["scrollWidth"] <= report["clientWidth"] + 1, (
            f"{page_name} scrolls sideways at 200 % zoom: {report}"
        )
        assert not report["wide"], f"{page_name}: content wider than the window: {report}"
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"zoom200__{page_name.replace('/', '__')}.png"))
    finally:
        context.close()


# --- downloads and search ----------------------------------------------------------------


def _notebook_pages() -> list[str]:
    pages = []
    for name in TOC_PAGES:
        path = REPO_ROOT / f"{name}.md"
        if (
            path.is_file()
            and path.read_text().startswith("---")
            and "kernelspec:" in (path.read_text())
        ):
            pages.append(name)
    return pages


@pytest.mark.parametrize("page_name", _notebook_pages())
def test_download_links_work(browser, site, page_name: str):
    import json

    _, base = site
    context, page, problems = _visit(browser, base, page_name)
    try:
        links = page.evaluate(
            """() => Array.from(document.querySelectorAll(
                 "a.btn-download-notebook-button, a.btn-download-source-button"))
               .map((a) => a.href)"""
        )
        suffixes = sorted(link.rsplit(".", 1)[-1] for link in links)
        assert suffixes == ["ipynb", "md"], f"{page_name}: download links {links}"
        for link in links:
            assert link.startswith(base), link
            response = context.request.get(link)
            assert response.status == 200, f"{link}: HTTP {response.status}"
            body = response.body()
            if link.endswith(".ipynb"):
                notebook = json.loads(body)
                assert notebook["nbformat"] == 4 and notebook["cells"]
            else:
                assert b"```{code-cell}" in body
        assert not problems, "\n".join(problems)
    finally:
        context.close()


def test_search_finds_satterthwaite(browser, site):
    _, base = site
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.route(
        "**/*",
        lambda r: r.continue_() if r.request.url.startswith(base) else r.abort(),
    )
    page = context.new_page()
    try:
        page.goto(base + "search.html?q=Satterthwaite", wait_until="load")
        page.wait_for_selector("#search-results ul.search li", timeout=30_000)
        # Sphinx writes the summary ("Search finished, found N pages ...") when it is done.
        page.wait_for_function(
            "() => /found/i.test((document.querySelector('#search-results .search-summary')"
            " || {}).textContent || '')",
            timeout=30_000,
        )
        hits = page.evaluate(
            """() => Array.from(document.querySelectorAll("#search-results ul.search li a"))
               .map((a) => a.href)"""
        )
        pages = {urldefrag(h).url for h in hits}
        assert base + "glossary.html" in pages, f"search for Satterthwaite found {sorted(pages)}"
        page.screenshot(path=str(SCREENSHOTS / "search__Satterthwaite.png"))
    finally:
        context.close()


# --- a crawl of every internal link --------------------------------------------------------


def _crawl(html: Path, base: str) -> None:
    """Every address in the site that points into the site answers 200; every #fragment exists."""
    import urllib.error
    import urllib.request
    from urllib.parse import urljoin, urlsplit

    from bs4 import BeautifulSoup

    pages = [
        p
        for p in html.rglob("*.html")
        if not {"_static", "_sources", "_images"}.intersection(p.relative_to(html).parts)
    ]
    ids_cache: dict[str, set[str] | None] = {}
    status_cache: dict[str, int] = {}

    def status(url: str) -> int:
        if url not in status_cache:
            try:
                with urllib.request.urlopen(url, timeout=10) as response:
                    status_cache[url] = response.status
                    if url.endswith(".html"):
                        soup = BeautifulSoup(response.read().decode(), "html.parser")
                        ids_cache[url] = {
                            tag.get("id") or tag.get("name")
                            for tag in soup.find_all(attrs={"id": True})
                            + soup.find_all("a", attrs={"name": True})
                        }
            except urllib.error.HTTPError as exc:
                status_cache[url] = exc.code
        return status_cache[url]

    broken, missing_fragments, checked = [], [], 0
    for path in pages:
        page_url = base + str(path.relative_to(html)).replace(os.sep, "/")
        soup = BeautifulSoup(path.read_text(), "html.parser")
        addresses = [a.get("href") for a in soup.find_all(["a", "link"], href=True)]
        addresses += [t.get("src") for t in soup.find_all(["img", "script"], src=True)]
        for address in addresses:
            if not address or address.startswith(("mailto:", "javascript:", "data:")):
                continue
            url = urljoin(page_url, address)
            if not url.startswith(base):
                continue  # an outside link (Binder, Colab, statsmodels.org): not fetched
            target, fragment = urldefrag(url)
            target = target.split("?", 1)[0]
            if urlsplit(target).path.endswith("/"):
                target += "index.html"
            checked += 1
            code = status(target)
            if code != 200:
                broken.append(f"{path.relative_to(html)}: {address} -> HTTP {code}")
            elif fragment and target.endswith(".html"):
                if fragment not in (ids_cache.get(target) or set()):
                    missing_fragments.append(f"{path.relative_to(html)}: {address}")
    assert checked > 100, f"only {checked} internal addresses found: is the crawl working?"
    assert not broken, "\n".join(broken)
    assert not missing_fragments, "missing #fragments:\n" + "\n".join(missing_fragments)


def test_no_broken_internal_link_or_fragment(site):
    html, base = site
    _crawl(html, base)


def test_student_edition_has_no_broken_internal_link_or_fragment(student_book):
    assert student_book.returncode == 0, "the student edition failed to build; see test_book.py"
    with _serve(student_book.html) as base:
        _crawl(student_book.html, base)
