"""The reader's side of the book, checked without building it: the API reference, the glossary,
the preface, launch buttons, the student edition's configuration, and the hidden set-up cell
that lets a chapter run on Colab. (The built site is checked in test_book.py and
test_browser.py.)
"""

from __future__ import annotations

import inspect
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import jupytext
import pytest
import yaml

import lmmhelpers

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "_ext"))
import book_extras  # noqa: E402

CONFIG = yaml.safe_load((REPO_ROOT / "_config.yml").read_text())
STUDENT = yaml.safe_load((REPO_ROOT / "_config_student.yml").read_text())
README = (REPO_ROOT / "README.md").read_text()
PUBLIC = [name for name in lmmhelpers.__all__ if name != "__version__"]
CHAPTERS = sorted(
    p
    for p in (REPO_ROOT / "chapters").glob("*.md")
    if p.read_text().startswith("---") and "kernelspec:" in p.read_text()
)


# --- API reference -------------------------------------------------------------------------


def _documented(kind: str) -> list[str]:
    text = (REPO_ROOT / "api.md").read_text()
    return re.findall(rf"^\.\. auto{kind}:: (\w+)\s*$", text, re.M)


def test_api_reference_documents_every_public_name_once():
    documented = _documented("function") + _documented("class")
    assert len(documented) == len(set(documented)), "a name is documented twice in api.md"
    assert set(documented) == set(PUBLIC), (
        f"api.md is out of step with lmmhelpers.__all__: missing "
        f"{sorted(set(PUBLIC) - set(documented))}, extra {sorted(set(documented) - set(PUBLIC))}"
    )
    for name in PUBLIC:
        kind = "class" if inspect.isclass(getattr(lmmhelpers, name)) else "function"
        assert name in _documented(kind), f"document {name} with auto{kind} in api.md"
    # Every documented name is also in one of the summary tables.
    text = (REPO_ROOT / "api.md").read_text()
    summarised = set(re.findall(r"^   (\w+)\s*$", text, re.M))
    assert set(PUBLIC) <= summarised, sorted(set(PUBLIC) - summarised)


def test_docstring_examples_run_as_doctests():
    """The Examples sections are tests: pytest collects lmmhelpers with --doctest-modules."""
    import tomllib

    options = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["pytest"]
    assert "--doctest-modules" in options["ini_options"]["addopts"]
    assert "lmmhelpers" in options["ini_options"]["testpaths"]


@pytest.mark.parametrize("name", PUBLIC)
def test_public_name_has_a_runnable_example(name: str):
    doc = inspect.getdoc(getattr(lmmhelpers, name)) or ""
    match = re.search(r"^Examples\n-{8,}\n(.*?)(?=^\w[^\n]*\n-{3,}\n|\Z)", doc, re.M | re.S)
    assert match, f"{name}: no numpydoc 'Examples' section"
    assert re.search(r"^>>> ", match.group(1), re.M), f"{name}: Examples has no >>> line"


def test_api_reference_config_builds_offline_and_warning_free():
    config = CONFIG["sphinx"]["config"]
    for extension in ("sphinx.ext.autodoc", "sphinx.ext.autosummary", "sphinx.ext.napoleon"):
        assert extension in config["extensions"]
    assert config["napoleon_numpy_docstring"] is True
    # No intersphinx inventories are configured: they would be fetched from the network.
    assert not config.get("intersphinx_mapping")
    # Exemptions from -n: none in the configuration; book_extras exempts exactly the names
    # defined in lmmhelpers' submodules (internals that api.md does not document).
    assert not config.get("nitpick_ignore") and not config.get("nitpick_ignore_regex")
    assert config["book_api_package"] == "lmmhelpers"
    internal = book_extras.internal_targets("lmmhelpers")
    assert "lmmhelpers.hypotheses" in internal and "COLUMNS" in internal
    assert not set(PUBLIC) & internal  # public names must resolve, never be exempt
    assert "ValueError" not in internal and "pandas.DataFrame" not in internal


# --- glossary ------------------------------------------------------------------------------

GLOSSARY_TERMS = [
    "ICC",
    "intraclass correlation",
    "REML",
    "ML",
    "boundary fit",
    "singular fit",
    "variance component",
    "crossed random effects",
    "nested random effects",
    "pseudo-replication",
    "Satterthwaite degrees of freedom",
    "Satterthwaite",
    "Kenward-Roger",
    "denominator degrees of freedom",
    "Wald z test",
    "type III test",
    "type I error rate",
    "calibration",
    "Wilson interval",
    "Clopper-Pearson interval",
]


def glossary_terms() -> list[str]:
    text = (REPO_ROOT / "glossary.md").read_text()
    block = re.search(r"```\{glossary\}\n(.*?)\n```", text, re.S).group(1)
    return [line.strip() for line in block.splitlines() if line and not line[0].isspace()]


def test_glossary_defines_the_terms_the_chapters_link_to():
    defined = {term.lower() for term in glossary_terms()}
    missing = [term for term in GLOSSARY_TERMS if term.lower() not in defined]
    assert not missing, f"glossary.md lacks {missing}"


def test_glossary_terms_are_alphabetical_and_unique():
    text = (REPO_ROOT / "glossary.md").read_text()
    block = re.search(r"```\{glossary\}\n(.*?)\n```", text, re.S).group(1)
    # The first name of each entry: a term line that follows a blank line.
    heads = re.findall(r"(?:^|\n\n)(\S[^\n]*)", block)
    assert heads == sorted(heads, key=str.lower), heads
    terms = [term.lower() for term in glossary_terms()]
    assert len(terms) == len(set(terms))


# --- preface, launch buttons, versions ----------------------------------------------------


def test_preface_gives_the_readmes_commands_and_a_teaching_plan():
    preface = (REPO_ROOT / "preface.md").read_text()
    commands = re.findall(r"```bash\n(.*?)\n```", README, re.S)
    setup, tests = commands[0].strip(), commands[1].strip()
    assert setup.startswith("python3 -m venv") and tests == "python -m pytest"
    assert setup in preface and tests in preface
    student = next(c for c in commands if "_config_student.yml" in c)
    assert student.strip() in preface
    for heading in ("Who this book is for", "Prerequisites", "How to read it", "Teaching"):
        assert re.search(rf"^## {heading}", preface, re.M), heading
    for chapter in CHAPTERS:
        assert f"{{doc}}`chapters/{chapter.stem}`" in preface, chapter.stem


def test_launch_buttons_point_at_the_repository_and_load_no_script():
    assert CONFIG["repository"]["url"] == "https://github.com/lmm-book/lmm-book"
    assert CONFIG["repository"]["branch"] == "main"
    launch = CONFIG["launch_buttons"]
    assert launch["binderhub_url"] == "https://mybinder.org"
    assert launch["colab_url"] == "https://colab.research.google.com"
    assert launch["thebe"] is False  # Thebe loads its script from unpkg.com
    assert "sphinx_thebe" not in CONFIG["sphinx"]["config"]["extensions"]
    assert "book_extras" in CONFIG["sphinx"]["config"]["extensions"]
    assert CONFIG["sphinx"]["local_extensions"] == {"book_extras": "_ext"}


def test_binder_environment_matches_the_pinned_one():
    requirements = (REPO_ROOT / "requirements.txt").read_text()
    python = re.search(r"\(Python (3\.\d+)", requirements).group(1)
    assert (REPO_ROOT / "runtime.txt").read_text().strip() == f"python-{python}"
    post_build = REPO_ROOT / "postBuild"
    assert os.access(post_build, os.X_OK), "postBuild must be executable for repo2docker"
    assert "jupytext-config set-default-viewer markdown myst" in post_build.read_text()
    assert "jupytext==" in requirements and "jupyterlab==" in requirements


def test_lmmhelpers_plots_use_a_colour_blind_safe_palette():
    import seaborn as sns

    from lmmhelpers import plots

    assert list(plots._palette(4)) == list(sns.color_palette("colorblind", 4))
    _, code = setup_cell_from_readme()
    assert 'sns.set_palette("colorblind")' in code  # every chapter's figures, via the set-up


def test_versions_page_lists_versions_and_execution_times():
    text = (REPO_ROOT / "versions.md").read_text()
    assert "```{nb-exec-table}" in text
    for name in ("statsmodels", "numpy", "pandas", "scipy", "matplotlib", "seaborn"):
        assert f'"{name}"' in text
    for name in ("jupyter-book", "myst-nb", "sphinx"):
        assert f'"{name}"' in text
    assert "lmmhelpers.__version__" in text and "python_version()" in text


def test_back_matter_is_in_the_table_of_contents(toc_docs):
    for doc in ("preface", "glossary", "chapters/references", "api", "versions"):
        assert doc in toc_docs


# --- student edition ----------------------------------------------------------------------


def _without(config: dict, *paths: tuple[str, ...]) -> dict:
    import copy

    config = copy.deepcopy(config)
    for path in paths:
        node = config
        for key in path[:-1]:
            node = node[key]
        node.pop(path[-1], None)
    return config


def test_student_config_is_the_book_config_with_solutions_hidden():
    assert STUDENT["sphinx"]["config"]["hide_solutions"] is True
    assert CONFIG["sphinx"]["config"].get("hide_solutions", False) is False
    assert "student edition" in STUDENT["title"].lower()
    assert STUDENT["html"]["announcement"]
    differ = [("title",), ("html", "announcement"), ("sphinx", "config", "hide_solutions")]
    assert _without(STUDENT, *differ) == _without(CONFIG, *differ), (
        "_config_student.yml must equal _config.yml except for title, announcement and "
        "hide_solutions: change both files together"
    )


PLAIN = """\
intro

```{exercise}
:label: ex-a

Question A?
```

````{solution} ex-a
:class: dropdown

Answer A, with code:
```python
print("secret A")
```
````

:::{solution} ex-a
Answer A again
:::

between

```{solution-start} ex-a
:class: dropdown
```

Gated answer

```{code-cell} ipython3
print("secret B")
```

```{solution-end}
```

outro
"""


def test_solutions_are_stripped_from_myst_sources():
    kept = "".join(book_extras.strip_solutions_from_lines(PLAIN.splitlines(True), {}))
    assert "Question A?" in kept and "intro" in kept and "between" in kept and "outro" in kept
    for secret in ("Answer A", "secret A", "Gated answer", "secret B", "solution"):
        assert secret not in kept


def test_solutions_are_stripped_from_notebooks():
    notebook = jupytext.reads(PLAIN.replace("```python", "```text"), fmt="md:myst")
    import nbformat

    stripped = book_extras.strip_solutions_from_notebook(nbformat.from_dict(notebook))
    text = "\n".join(
        "".join(c["source"]) if isinstance(c["source"], list) else c["source"]
        for c in stripped["cells"]
    )
    assert "Question A?" in text and "outro" in text
    for secret in ("Answer A", "secret B", "Gated answer", "solution"):
        assert secret not in text
    assert not [c for c in stripped["cells"] if c["cell_type"] == "code"]


# --- the hidden set-up cell ---------------------------------------------------------------


def setup_cell_from_readme() -> tuple[str, str]:
    """The set-up cell as README.md gives it: (the MyST block, the cell's code)."""
    block = re.search(
        r"<!-- setup-cell:start -->\n\s*````md\n(.*?)\n\s*````\n\s*<!-- setup-cell:end -->",
        README,
        re.S,
    ).group(1)
    block = textwrap.dedent(block)
    code = re.search(
        r"```\{code-cell\} ipython3\n:tags: \[remove-cell\]\n\n(.*?)\n```", block, re.S
    )
    return block, code.group(1)


def test_setup_cell_is_valid_ipython_and_does_nothing_where_lmmhelpers_imports():
    from IPython.core.inputtransformer2 import TransformerManager

    _, code = setup_cell_from_readme()
    python = TransformerManager().transform_cell(code)
    compile(python, "<setup cell>", "exec")
    assert "get_ipython().system(" in python and "get_ipython().run_line_magic('pip'" in python

    calls: list[str] = []

    class Shell:
        def system(self, command):
            calls.append(command)

        def run_line_magic(self, name, line):
            calls.append(f"%{name} {line}")

    namespace = {"get_ipython": lambda: Shell()}
    exec(python, namespace)  # lmmhelpers is installed here
    assert calls == []


def test_setup_cell_installs_lmmhelpers_from_a_clone_where_it_is_missing(tmp_path):
    """The Colab branch, offline: lmmhelpers hidden, ``git clone`` served from this checkout.

    ``%pip install`` is simulated by copying the clone's package into a directory that stands
    for the kernel's site-packages (already on ``sys.path``, as site-packages is): the cell
    itself edits no path, and the installed package finds the book's data in the clone.
    """
    from IPython.core.inputtransformer2 import TransformerManager

    _, code = setup_cell_from_readme()
    python = TransformerManager().transform_cell(code)
    assert "https://github.com/lmm-book/lmm-book.git" in python
    assert "sys.path" not in python
    site = tmp_path / "site-packages"
    site.mkdir()
    harness = textwrap.dedent(
        f"""
        import importlib.abc, json, shutil, subprocess, sys
        sys.path.insert(0, {str(site)!r})  # the kernel's site-packages

        class Hide(importlib.abc.MetaPathFinder):  # lmmhelpers is "not installed" ...
            active = True
            def find_spec(self, name, path=None, target=None):
                if self.active and name.split(".")[0] == "lmmhelpers":
                    raise ImportError("hidden")

        hide = Hide()
        sys.meta_path.insert(0, hide)
        calls = []

        class Shell:
            def system(self, command):
                command = command.format(**namespace)
                calls.append(command)
                command = command.replace(
                    "https://github.com/lmm-book/lmm-book.git", {str(REPO_ROOT)!r}
                )
                subprocess.run(command, shell=True, check=True)

            def run_line_magic(self, name, line):
                line = line.format(**namespace)
                calls.append("%" + name + " " + line)
                if name == "pip":  # pip install <clone>: the package lands in site-packages
                    clone = line.split()[-1]
                    shutil.copytree(clone + "/lmmhelpers", {str(site)!r} + "/lmmhelpers")
                    hide.active = False  # ... until it has been installed

        namespace = {{"get_ipython": lambda: Shell()}}
        exec({python!r}, namespace)
        import lmmhelpers
        from lmmhelpers.book import repository_root
        print(json.dumps([calls, lmmhelpers.__file__, str(repository_root())]))
        """
    )
    env = {**os.environ, "HOME": str(tmp_path)}
    env.pop("LMM_BOOK_REPO", None)
    proc = subprocess.run(
        [sys.executable, "-c", harness], capture_output=True, text=True, env=env, cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    import json

    calls, module_file, root = json.loads(proc.stdout.strip().splitlines()[-1])
    clone = tmp_path / "lmm-book"
    assert calls[0].startswith("git clone") and calls[0].endswith(str(clone))
    assert calls[1] == f"%pip install --quiet {clone}"
    assert Path(module_file).is_relative_to(site), module_file  # the installed copy
    assert Path(root) == clone  # the package finds the repository's data in the clone


def _first_code_cell(path: Path):
    notebook = jupytext.read(path)
    return next((c for c in notebook.cells if c.cell_type == "code"), None)


def _has_setup_cell(path: Path) -> bool:
    _, code = setup_cell_from_readme()
    cell = _first_code_cell(path)
    return (
        cell is not None
        and cell.source.strip() == code.strip()
        and "remove-cell" in cell.metadata.get("tags", [])
    )


def test_every_chapter_starts_with_the_setup_cell():
    assert CHAPTERS
    missing = [p.name for p in CHAPTERS if not _has_setup_cell(p)]
    assert not missing, f"first code cell is not README's set-up cell in {missing}"
