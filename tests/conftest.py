"""Shared fixtures for the book tests.

Only session-scoped fixtures that are requested by name live here, so unit tests of lmmhelpers
are not affected: the book is built only when a test asks for ``built_book``.

``built_book`` builds the whole book once per test session from a clean copy of the checkout
(tracked files plus new, not ignored ones; no ``_build``, no execution cache), with every
notebook executed and warnings as errors. The browser test reuses the same site.

``student_book`` builds the student edition (``_config_student.yml``: no solutions) without
executing anything a second time: from a copy of the same clean source in which every notebook
page is replaced by the notebook the full build has just executed (``_build/jupyter_execute``),
with execution switched off in the copy's student configuration. The outputs are therefore
those of this session's build, never older ones.

Set ``LMM_BOOK_HTML=/path/to/_build/html`` to test an already built site instead (for quick
iteration on the browser test only; the build test then skips).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO_ROOT / "tests" / "artifacts"
BUILD_ARGS = ["build", "--all", "-W", "-n", "--keep-going"]
STUDENT_CONFIG = "_config_student.yml"

# Never copied into the clean build directory, even when present and untracked.
_IGNORED_PARTS = {".git", "_build", ".jupyter_cache", "__pycache__", ".ipynb_checkpoints"}


@dataclass
class BuiltBook:
    """The outcome of one clean build of the book."""

    source: Path
    html: Path
    returncode: int
    log: str
    seconds: float
    prebuilt: bool = False


def _book_files(root: Path) -> list[Path]:
    """Files of the checkout that a fresh clone would have (plus new, not ignored ones)."""
    try:
        out = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
            cwd=root,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        names = [n for n in out.split("\0") if n]
    except (OSError, subprocess.CalledProcessError):
        names = [str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()]
    files = []
    for name in names:
        path = Path(name)
        if _IGNORED_PARTS.intersection(path.parts):
            continue
        if (root / path).is_file():
            files.append(path)
    return files


def copy_clean_checkout(root: Path, dest: Path) -> Path:
    """Copy the checkout's files (no build output, no caches) to ``dest``."""
    for rel in _book_files(root):
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / rel, target)
    return dest


def jupyter_book_executable() -> str:
    """The ``jupyter-book`` script of the running interpreter's environment."""
    candidate = Path(sys.executable).with_name("jupyter-book")
    if candidate.exists():
        return str(candidate)
    found = shutil.which("jupyter-book")
    if found is None:
        pytest.fail("jupyter-book is not installed: pip install -r requirements.txt")
    return found


@pytest.fixture(scope="session")
def built_book(tmp_path_factory: pytest.TempPathFactory) -> BuiltBook:
    """Build the whole book from a clean copy of the checkout, once per session."""
    prebuilt = os.environ.get("LMM_BOOK_HTML")
    if prebuilt:
        html = Path(prebuilt).resolve()
        if not (html / "intro.html").is_file():
            pytest.fail(f"LMM_BOOK_HTML={prebuilt} does not contain a built book")
        return BuiltBook(REPO_ROOT, html, 0, "", 0.0, prebuilt=True)

    source = copy_clean_checkout(REPO_ROOT, tmp_path_factory.mktemp("book-src"))
    start = time.perf_counter()
    proc = subprocess.run(
        [jupyter_book_executable(), *BUILD_ARGS, str(source)],
        cwd=source,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - start
    log = proc.stdout + "\n" + proc.stderr
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "book-build.log").write_text(
        f"{log}\n[tests] clean build: {seconds:.1f} s, exit status {proc.returncode}\n"
    )
    return BuiltBook(source, source / "_build" / "html", proc.returncode, log, seconds)


def _is_notebook_source(path: Path) -> bool:
    text = path.read_text()
    return path.suffix == ".md" and text.startswith("---") and "kernelspec:" in text


def _with_glue(notebook_path: Path) -> dict:
    """The executed notebook with its hidden glue outputs put back.

    myst-nb moves the outputs of ``glue(..., display=False)`` out of the notebook it saves and
    into ``<doc>.glue.json``; the student build reads glue values from the notebook's outputs,
    so they are appended (with their original ``scrapbook`` metadata and mime prefix) to the
    last code cell. Displayed glue outputs never left the notebook.
    """
    notebook = json.loads(notebook_path.read_text())
    glue_path = notebook_path.with_name(notebook_path.stem + ".glue.json")
    if glue_path.is_file():
        hidden = []
        for output in json.loads(glue_path.read_text()).values():
            prefix = output.get("metadata", {}).get("scrapbook", {}).get("mime_prefix", "")
            if prefix:
                data = {prefix + mime: value for mime, value in output["data"].items()}
                hidden.append({**output, "data": data})
        code = [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]
        code[-1].setdefault("outputs", []).extend(hidden)
    return notebook


def prepare_student_source(source: Path, executed: Path, dest: Path, docs: list[str]) -> Path:
    """A copy of ``source`` for the student edition that uses the executed notebooks.

    Every notebook page ``<doc>.md`` becomes ``<doc>.ipynb`` from ``executed`` (the full
    build's ``jupyter_execute`` directory, glue values included); the copy's student
    configuration executes nothing and no longer excludes ``.ipynb`` files. Everything else is
    the same as in ``source``.
    """
    import yaml

    for path in source.rglob("*"):
        rel = path.relative_to(source)
        if path.is_file() and not _IGNORED_PARTS.intersection(rel.parts):
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, dest / rel)
    for doc in docs:
        page = dest / f"{doc}.md"
        if not (page.is_file() and _is_notebook_source(page)):
            continue
        notebook = executed / f"{doc}.ipynb"
        if not notebook.is_file():
            pytest.fail(f"the full build left no executed notebook for {doc} in {executed}")
        page.with_suffix(".ipynb").write_text(json.dumps(_with_glue(notebook), indent=1))
        page.unlink()
    config_path = dest / STUDENT_CONFIG
    config = yaml.safe_load(config_path.read_text())
    config["execute"]["execute_notebooks"] = "off"
    config["exclude_patterns"] = [p for p in config["exclude_patterns"] if p != "**.ipynb"]
    config_path.write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True))
    return dest


def _toc_entries(node) -> list[str]:
    """Every ``file:`` entry below a node of ``_toc.yml``, in order."""
    found: list[str] = []
    if isinstance(node, dict):
        if "file" in node:
            found.append(str(node["file"]))
        for key in ("parts", "chapters", "sections"):
            for child in node.get(key, []) or []:
                found.extend(_toc_entries(child))
    return found


@pytest.fixture(scope="session")
def toc_docs() -> list[str]:
    """Document names in ``_toc.yml`` (root first), without file extension."""
    import yaml

    toc = yaml.safe_load((REPO_ROOT / "_toc.yml").read_text())
    names = [str(toc["root"]), *_toc_entries(toc)]
    return [str(Path(n).with_suffix("")) if Path(n).suffix else n for n in names]


@pytest.fixture(scope="session")
def student_book(built_book, toc_docs, tmp_path_factory: pytest.TempPathFactory) -> BuiltBook:
    """The student edition, built from the notebooks the full build executed, once per session."""
    executed = built_book.html.parent / "jupyter_execute"
    if built_book.returncode != 0:
        pytest.fail("the full book build failed; the student edition is built from its notebooks")
    if not executed.is_dir():
        pytest.skip(f"no executed notebooks next to {built_book.html} (LMM_BOOK_HTML site?)")
    source = built_book.source
    if built_book.prebuilt:  # the book directory of the prebuilt site, if it is one
        book_dir = built_book.html.parent.parent
        source = book_dir if (book_dir / STUDENT_CONFIG).is_file() else REPO_ROOT
    dest = prepare_student_source(
        source, executed, tmp_path_factory.mktemp("student-src"), toc_docs
    )
    start = time.perf_counter()
    proc = subprocess.run(
        [jupyter_book_executable(), *BUILD_ARGS, "--config", STUDENT_CONFIG, str(dest)],
        cwd=dest,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - start
    log = proc.stdout + "\n" + proc.stderr
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "student-build.log").write_text(
        f"{log}\n[tests] student edition build: {seconds:.1f} s, exit status {proc.returncode}\n"
    )
    return BuiltBook(dest, dest / "_build" / "html", proc.returncode, log, seconds)
