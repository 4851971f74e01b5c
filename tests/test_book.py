"""The book: its configuration, its chapters as notebooks, and a clean build of the whole book.

The build test is slow (every notebook is executed); deselect it with ``-m "not slow"``.
"""

from __future__ import annotations

import re
from pathlib import Path

import jupytext
import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
CONFIG = yaml.safe_load((REPO_ROOT / "_config.yml").read_text())
NETWORK_URL = re.compile(r"""(?:https?:)?//[^\s"'<>)]+""")


def source_of(doc: str) -> Path:
    for suffix in (".md", ".ipynb", ".rst"):
        path = REPO_ROOT / f"{doc}{suffix}"
        if path.is_file():
            return path
    raise AssertionError(f"_toc.yml names {doc!r}, but there is no such file")


def is_notebook(path: Path) -> bool:
    """A MyST Markdown notebook has a jupytext header with a kernelspec."""
    text = path.read_text()
    return path.suffix == ".md" and text.startswith("---") and "kernelspec:" in text


# --- configuration -------------------------------------------------------------------------


def test_every_notebook_is_executed_and_a_failing_cell_fails_the_build():
    execute = CONFIG["execute"]
    assert execute["execute_notebooks"] == "force"  # never a stale jupyter-cache entry
    assert execute["raise_on_error"] is True
    assert execute.get("allow_errors", False) is False
    assert execute["stderr_output"] in {"warn", "error", "severe"}
    assert execute["run_in_temp"] is True  # no chapter may depend on the working directory


def test_config_merges_sphinx_settings_and_serves_math_offline():
    sphinx = CONFIG["sphinx"]
    assert sphinx["recursive_update"] is True
    extensions = sphinx["config"]["extensions"]
    for needed in ("sphinx_exercise", "sphinx-mathjax-offline", "sphinxcontrib.bibtex", "myst_nb"):
        assert needed in extensions
    assert "sphinx_thebe" not in extensions  # writes an unpkg.com script address into pages
    assert {"amsmath", "dollarmath"} <= set(CONFIG["parse"]["myst_enable_extensions"])
    assert CONFIG["bibtex_bibfiles"] == ["references.bib"]
    assert CONFIG["launch_buttons"].get("thebe") is False


def test_requirements_pin_everything_exactly():
    lines = [
        line.strip()
        for line in (REPO_ROOT / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert "-e ." in lines
    pins = [line for line in lines if line != "-e ."]
    loose = [line for line in pins if not re.fullmatch(r"[A-Za-z0-9_.\-\[\],]+==[^=<>~!]+", line)]
    assert not loose, f"not pinned with ==: {loose}"
    names = {re.split(r"[=\[]", line)[0].lower().replace("_", "-") for line in pins}
    assert "jupyter-book==1.0.4.post1" in pins
    for needed in (
        "statsmodels",
        "numpy",
        "pandas",
        "scipy",
        "patsy",
        "matplotlib",
        "seaborn",
        "joblib",
        "tqdm",
        "dask",
        "distributed",
        "jupytext",
        "ipykernel",
        "sphinx-exercise",
        "sphinx-mathjax-offline",
        "playwright",
        "pytest",
        "hypothesis",
        "ruff",
    ):
        assert needed in names, f"{needed} missing from requirements.txt"
    # Widget output makes a page load scripts from a CDN.
    assert "ipywidgets" not in names


# --- chapters ------------------------------------------------------------------------------


def test_toc_and_chapter_files_agree(toc_docs):
    assert len(toc_docs) == len(set(toc_docs)), "a page appears twice in _toc.yml"
    for doc in toc_docs:
        source_of(doc)
    on_disk = {f"chapters/{p.stem}" for p in (REPO_ROOT / "chapters").glob("*.md")}
    missing = on_disk - set(toc_docs)
    assert not missing, f"chapters not in _toc.yml: {sorted(missing)}"


def test_no_notebook_outputs_are_committed():
    ipynbs = [
        p for p in (REPO_ROOT / "chapters").rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts
    ]
    assert not ipynbs, f"chapters are MyST Markdown; remove {ipynbs}"


@pytest.mark.parametrize(
    "path", sorted((REPO_ROOT / "chapters").glob("*.md")), ids=lambda p: p.name
)
def test_chapter_is_a_myst_notebook_when_it_has_code(path: Path):
    text = path.read_text()
    if "{code-cell}" not in text:
        return  # a plain page, such as the bibliography
    assert is_notebook(path), f"{path.name} has code cells but no jupytext/kernelspec header"
    notebook = jupytext.read(path)
    assert notebook.metadata["jupytext"]["text_representation"]["format_name"] == "myst"
    assert notebook.metadata["kernelspec"]["name"] == "python3"
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code, f"{path.name}: jupytext found no code cells"
    assert all(not cell.get("outputs") for cell in code)


# --- the build -----------------------------------------------------------------------------


def _html_files(html: Path) -> list[Path]:
    skip = {"_static", "_sources", "_images"}
    return [p for p in html.rglob("*.html") if not skip.intersection(p.relative_to(html).parts)]


@pytest.mark.slow
def test_book_builds_from_clean_with_every_notebook_executed_and_no_warning(built_book, toc_docs):
    if built_book.prebuilt:
        pytest.skip("LMM_BOOK_HTML is set: testing a prebuilt site, not a build")
    tail = "\n".join(built_book.log.splitlines()[-60:])
    assert built_book.returncode == 0, (
        f"book build failed; see tests/artifacts/book-build.log\n{tail}"
    )
    warnings = [
        line for line in built_book.log.splitlines() if "WARNING:" in line or "ERROR:" in line
    ]
    assert not warnings, "\n".join(warnings)

    notebooks = [doc for doc in toc_docs if is_notebook(source_of(doc))]
    assert notebooks, "no notebook in the book"
    for doc in notebooks:
        assert re.search(
            rf"{re.escape(doc)}\.md: Executed notebook in [0-9.]+ seconds", built_book.log
        ), f"{doc} was not executed during the build"
        assert "Executing notebook using a cache" not in built_book.log
    for doc in toc_docs:
        assert (built_book.html / f"{doc}.html").is_file(), f"{doc}.html missing"
    print(f"\nclean book build: {built_book.seconds:.1f} s, {len(notebooks)} notebooks executed")


@pytest.mark.slow
def test_no_built_page_references_a_network_script(built_book):
    assert built_book.returncode == 0, "book build failed"
    assert (built_book.html / "_static" / "mathjax" / "tex-chtml.js").is_file()
    offenders = []
    script_src = re.compile(r"<script[^>]*\bsrc=[\"']([^\"']+)[\"']", re.I)
    inline_script = re.compile(r"<script(?:\s[^>]*)?>(.*?)</script>", re.I | re.S)
    link_tag = re.compile(r"<link\b[^>]*>", re.I)
    href = re.compile(r"\bhref=[\"']([^\"']+)[\"']", re.I)
    for page in _html_files(built_book.html):
        text = page.read_text()
        name = page.relative_to(built_book.html)
        for src in script_src.findall(text):
            if NETWORK_URL.match(src):
                offenders.append(f"{name}: <script src={src}>")
        for body in inline_script.findall(text):
            for url in NETWORK_URL.findall(body):
                offenders.append(f"{name}: inline script mentions {url}")
        for tag in link_tag.findall(text):
            target = href.search(tag)
            if "stylesheet" in tag.lower() and target and NETWORK_URL.match(target.group(1)):
                offenders.append(f"{name}: stylesheet {target.group(1)}")
    assert not offenders, "\n".join(offenders)
