"""Small Sphinx additions for this book (loaded from ``_config.yml``: ``sphinx.local_extensions``).

1. **Colab links.** Colab can open a notebook from GitHub only as an ``.ipynb`` file, but the
   chapters are MyST Markdown, so sphinx-book-theme's Colab link to ``chapters/<name>.md``
   cannot work. The executed notebook of every chapter is part of the built site
   (``_build/html/_sources/<page>.ipynb``, the file behind the page's ``.ipynb`` download), so
   the Colab button is pointed at that file on the branch the site is published to
   (``book_site_branch``, ``gh-pages`` by default). It is an ordinary link: nothing is loaded
   from the network when a page is opened.

2. **The student edition** (``hide_solutions: true``, see ``_config_student.yml``).
   sphinx-exercise 1.2.1 hides plain ``{solution}`` blocks, but with gated
   ``{solution-start}`` / ``{solution-end}`` pairs it drops only the start, leaves the
   solution's text and code on the page and then crashes on the end marker. With
   ``hide_solutions`` on, this extension removes each gated solution completely (from the start
   marker to its end marker). It also removes every solution from the downloadable sources the
   site offers (``_sources/**/*.md`` and the executed ``_sources/**/*.ipynb``), so that neither
   the pages nor the downloads of the student edition contain a solution.

3. **Cross-references in lmmhelpers' docstrings.** The API reference (``api.md``) documents the
   public names of ``lmmhelpers`` at the top level (``lmmhelpers.coef_table``). Docstrings also
   refer to the package's submodules and private helpers (``:mod:`lmmhelpers.hypotheses```,
   ``:func:`between_within_strata```), which are deliberately not documented. With ``-n`` those
   references would fail the build, so exactly those targets, names that really exist in one
   of the package's submodules, are added to ``nitpick_ignore``; any other unresolved
   reference still fails the build.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import re
from pathlib import Path
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.transforms import SphinxTransform
from sphinx_exercise.directive import SolutionStartDirective
from sphinx_exercise.nodes import solution_end_node

# -- 1. Colab links ----------------------------------------------------------------------------


def _colab_from_site(app: Sphinx, pagename: str, templatename: str, context: dict, doctree):
    url = app.config.html_theme_options.get("repository_url", "").rstrip("/")
    branch = app.config.book_site_branch
    prefix = "https://github.com/"
    if not url.startswith(prefix) or not branch:
        return
    org_repo = url[len(prefix) :]
    for group in context.get("header_buttons", []):
        if group.get("label") != "launch-buttons":
            continue
        for button in group.get("buttons", []):
            if button.get("text") == "Colab":
                colab = button["url"].split("/github/", 1)[0]
                button["url"] = f"{colab}/github/{org_repo}/blob/{branch}/_sources/{pagename}.ipynb"


# -- 2. Hidden solutions -----------------------------------------------------------------------


class hidden_solution_start(nodes.Element):
    """Marks where a hidden gated solution starts; removed with it before anything is written."""


class HiddenSolutionStart(SolutionStartDirective):
    """``solution-start`` that, with ``hide_solutions``, leaves a marker for the removal."""

    def run(self):
        result = super().run()  # also records the start for sphinx-exercise's structure check
        if self.env.app.config.hide_solutions:
            return [hidden_solution_start()]
        return result


class RemoveHiddenSolutions(SphinxTransform):
    """Remove each hidden gated solution: its marker, everything up to its end, the end."""

    default_priority = 5  # after sphinx-exercise's structure check (1), before its merge (10)

    def apply(self, **kwargs: Any) -> None:
        for start in list(self.document.findall(hidden_solution_start)):
            parent = start.parent
            siblings = parent.children
            first = siblings.index(start)
            for last in range(first, len(siblings)):
                if isinstance(siblings[last], solution_end_node):
                    break
            else:  # sphinx-exercise has already reported the missing solution-end
                last = first
            for child in siblings[first : last + 1]:
                parent.remove(child)


_OPEN = re.compile(r"^(?P<fence>`{3,}|:{3,})\{(?P<name>solution|solution-start)\}")
_END = re.compile(r"^(?P<fence>`{3,}|:{3,})\{solution-end\}")


def _closes(line: str, fence: str) -> bool:
    """Whether ``line`` closes a MyST fence opened with ``fence`` (same character, as long)."""
    return bool(line) and set(line) == {fence[0]} and len(line) >= len(fence)


def strip_solutions_from_lines(lines: list[str], state: dict) -> list[str]:
    """Drop solution blocks from MyST lines; ``state`` carries an open block across calls.

    A plain ``{solution}`` block ends at its closing fence (nested fences of the same character
    are shorter, as MyST requires); a gated one at the closing fence of its ``{solution-end}``.
    """
    kept = []
    for line in lines:
        bare = line.rstrip()
        mode = state.get("mode")
        if mode is None:
            match = _OPEN.match(bare)
            if match:
                state["mode"] = "plain" if match["name"] == "solution" else "gated"
                state["fence"] = match["fence"]
            else:
                kept.append(line)
        elif mode == "gated":
            match = _END.match(bare)
            if match:
                state["mode"], state["fence"] = "plain", match["fence"]
        elif _closes(bare, state["fence"]):  # the end of a {solution} or a {solution-end}
            state.clear()
    return kept


def strip_solutions_from_notebook(notebook: dict) -> dict:
    """Drop solution blocks from a notebook's markdown cells, and every cell inside one."""
    state: dict = {}
    cells = []
    for cell in notebook.get("cells", []):
        source = cell.get("source", "")
        text = "".join(source) if isinstance(source, list) else source
        if cell.get("cell_type") == "markdown":
            inside = bool(state)
            kept = "".join(strip_solutions_from_lines(text.splitlines(keepends=True), state))
            if kept.strip() or (not text.strip() and not inside):
                cells.append({**cell, "source": kept})
        elif not state:
            cells.append(cell)
    return {**notebook, "cells": cells}


def _strip_downloads(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or not app.config.hide_solutions or app.builder.format != "html":
        return
    sources = Path(app.outdir) / "_sources"
    if not sources.is_dir():
        return
    for path in sources.rglob("*.md"):
        text = path.read_text(encoding="utf-8")
        state: dict = {}
        path.write_text(
            "".join(strip_solutions_from_lines(text.splitlines(keepends=True), state)),
            encoding="utf-8",
        )
    for path in sources.rglob("*.ipynb"):
        notebook = json.loads(path.read_text(encoding="utf-8"))
        path.write_text(
            json.dumps(strip_solutions_from_notebook(notebook), indent=1, ensure_ascii=False),
            encoding="utf-8",
        )


# -- 3. Undocumented internals of the documented package ---------------------------------------

_PY_ROLES = ("py:mod", "py:func", "py:class", "py:data", "py:attr", "py:meth", "py:obj", "py:exc")


def internal_targets(package_name: str) -> set[str]:
    """Modules of ``package_name`` (sub-packages included) and the names defined in the
    package that each module holds (its own or re-exported), bare and qualified."""
    package = importlib.import_module(package_name)
    targets: set[str] = set()
    prefix = package_name + "."
    for info in pkgutil.walk_packages(package.__path__, prefix):
        module_name = info.name
        module = importlib.import_module(module_name)
        targets.add(module_name)
        for name, value in vars(module).items():
            if name.startswith("__"):
                continue
            origin = getattr(value, "__module__", module_name) or ""
            if not (origin == package_name or origin.startswith(prefix)) and not name.isupper():
                continue  # imported from elsewhere (numpy, pandas)
            targets.add(f"{module_name}.{name}")
            if name not in getattr(package, "__all__", ()):
                targets.add(name)
    return targets


def _ignore_internal_references(app: Sphinx, config) -> None:
    if not config.book_api_package:
        return
    ignored = list(config.nitpick_ignore or [])
    for target in sorted(internal_targets(config.book_api_package)):
        ignored.extend((role, target) for role in _PY_ROLES)
    config.nitpick_ignore = ignored


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_config_value("book_site_branch", "gh-pages", "html")
    # After sphinx-book-theme has made the launch buttons (its handler runs at priority 501).
    app.connect("html-page-context", _colab_from_site, priority=600)

    app.add_node(hidden_solution_start)
    app.add_directive("solution-start", HiddenSolutionStart, override=True)
    app.add_transform(RemoveHiddenSolutions)
    app.connect("build-finished", _strip_downloads)

    app.add_config_value("book_api_package", "", "env")
    app.connect("config-inited", _ignore_internal_references)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
