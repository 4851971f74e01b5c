"""Small Sphinx additions for this book (loaded from ``_config.yml``: ``sphinx.local_extensions``).

Colab can open a notebook from GitHub only as an ``.ipynb`` file, but the chapters are MyST
Markdown. sphinx-book-theme therefore builds a Colab link to ``chapters/<name>.md``, which Colab
cannot open. The executed notebook of every chapter is part of the built site
(``_build/html/_sources/<page>.ipynb``, the file behind the page's ``.ipynb`` download), so the
Colab button is pointed at that file on the branch the site is published to
(``book_site_branch``, ``gh-pages`` by default). The link is an ordinary link; nothing is loaded
from the network when a page is opened.
"""

from __future__ import annotations

from typing import Any

from sphinx.application import Sphinx


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


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_config_value("book_site_branch", "gh-pages", "html")
    # After sphinx-book-theme has made the launch buttons (its handler runs at priority 501).
    app.connect("html-page-context", _colab_from_site, priority=600)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
