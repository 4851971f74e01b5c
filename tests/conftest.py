"""Shared fixtures for the book tests.

Only session-scoped fixtures that are requested by name live here, so unit tests of lmmhelpers
are not affected: the book is built only when a test asks for ``built_book``.

``built_book`` builds the whole book once per test session from a clean copy of the checkout
(tracked files plus new, not ignored ones; no ``_build``, no execution cache), with every
notebook executed and warnings as errors. The browser test reuses the same site.

Set ``LMM_BOOK_HTML=/path/to/_build/html`` to test an already built site instead (for quick
iteration on the browser test only; the build test then skips).
"""

from __future__ import annotations

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
