"""Execute the book's chapters under another OpenBLAS kernel and compare their glued numbers.

A reader's CPU decides which OpenBLAS kernel runs numpy's and scipy's linear algebra, and
kernels round differently. Whatever the prose says must hold under every kernel: a claim that
depends on an optimizer's path or on the last bits of a sum breaks the book on someone's
laptop. ``tests/test_blas_kernels.py`` executes every chapter with ``OPENBLAS_CORETYPE`` set
to other kernels and checks that (1) every cell runs, so every ``claim`` holds, (2) the kernel
asked for is the one that ran (read inside the notebook's own kernel with threadpoolctl), and
(3) every number the prose shows reads the same as in the book's own build, at the precision
the prose shows it (the chapter's ``{glue:text}`name:fmt``` roles, formatted by myst-nb's own
formatter). Glued timings are named ``*_seconds`` or ``*_milliseconds`` and are not compared.

Run it by hand on one chapter::

    OPENBLAS_CORETYPE=Haswell python tests/blas_kernels.py chapters/complete_analysis.md out.json

which writes the glued values (``text/plain``), the kernel that ran and the run time to
``out.json``.
"""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]

#: The kernels checked besides the machine's own. Both run on any x86-64 CPU with AVX2.
KERNELS = ("Haswell", "Prescott")

#: Glued values that are timings: they differ from run to run and are never compared.
TIMING_NAME = re.compile(r"_(seconds|milliseconds)$")

#: A glue role in MyST text: {glue:text}`name:.3f`, {glue}`name`, {glue:md}`doc::name`.
GLUE_ROLE = re.compile(r"\{glue(?::(?:text|md|any))?\}`([^`]+)`")

#: The cell appended to every executed notebook: which OpenBLAS kernels the kernel runs.
_CORENAME_CELL = """\
import json as _json
from threadpoolctl import threadpool_info as _threadpool_info
print("BLAS-KERNELS", _json.dumps(sorted({i.get("architecture") or "?"
      for i in _threadpool_info() if i.get("internal_api") == "openblas"})))
"""


#: The CPU flags (as /proc/cpuinfo spells them) each kernel needs; "pni" is SSE3.
KERNEL_NEEDS = {"Haswell": ("avx2", "fma"), "Prescott": ("pni",)}


def cpu_runs(kernel: str, *, cpuinfo: str | None = None, machine: str | None = None) -> bool:
    """Whether this CPU (or the given ``cpuinfo`` text and ``machine``) can run ``kernel``."""
    if kernel not in KERNEL_NEEDS:
        raise ValueError(f"kernel must be one of {sorted(KERNEL_NEEDS)}, got {kernel!r}")
    machine = platform.machine() if machine is None else machine
    if machine.lower() not in {"x86_64", "amd64"}:
        return False
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            return False
    lines = re.findall(r"^flags\s*:(.*)$", cpuinfo, re.M)
    flags = set(lines[0].split()) if lines else set()
    return all(flag in flags for flag in KERNEL_NEEDS[kernel])


def glue_formats(text: str) -> dict[str, set[str]]:
    """The format specs each glued name is shown with in a MyST page (``""`` for none)."""
    shown: dict[str, set[str]] = {}
    for content in GLUE_ROLE.findall(text):
        page, _, rest = content.rpartition("::")
        key, _, fmt = rest.partition(":")
        shown.setdefault(key, set()).add(fmt)
    return shown


def shown_as(plain_text: str, fmt: str) -> str:
    """How myst-nb renders ``{glue:text}`name:fmt``` for a value whose text/plain is given."""
    from myst_nb.core.variables import format_plain_text

    return format_plain_text(plain_text, fmt)


def glue_from_notebook(notebook) -> dict[str, str]:
    """The ``text/plain`` of every value a notebook glued (``display=False`` or not)."""
    values: dict[str, str] = {}
    for cell in notebook["cells"]:
        for output in cell.get("outputs", []):
            meta = output.get("metadata", {}).get("scrapbook")
            if not meta:
                continue
            prefix = meta.get("mime_prefix", "")
            text = output.get("data", {}).get(prefix + "text/plain")
            if text is not None:
                values[meta["name"]] = text
    return values


def glue_from_build(glue_json: Path) -> dict[str, str]:
    """The glued values a jupyter-book build stored next to its executed notebook."""
    if not glue_json.is_file():
        return {}
    return {
        name: output["data"]["text/plain"]
        for name, output in json.loads(glue_json.read_text()).items()
        if "text/plain" in output.get("data", {})
    }


def compare(reference: dict[str, str], other: dict[str, str], formats: dict[str, set[str]]):
    """Glued numbers the prose shows differently under ``other`` than under ``reference``.

    Returns a list of ``(name, format, reference text, other text)``; a name the prose shows
    that either run did not glue is listed with ``None`` for the missing side.
    """
    differ = []
    for name in sorted(formats):
        if TIMING_NAME.search(name):
            continue
        ref, new = reference.get(name), other.get(name)
        if ref is None or new is None:
            differ.append((name, "", ref, new))
            continue
        for fmt in sorted(formats[name]):
            a, b = shown_as(ref, fmt), shown_as(new, fmt)
            if a != b:
                differ.append((name, fmt, a, b))
    return differ


def execute(chapter: Path, out: Path) -> None:
    """Execute one MyST chapter in a fresh temporary directory; write its glue and kernel.

    Every cell runs even after one fails, so that one run lists every claim that fails (a
    later failure can be a consequence of an earlier one).
    """
    import jupytext
    import nbformat
    from nbclient import NotebookClient

    notebook = jupytext.read(chapter)
    notebook.cells.append(nbformat.v4.new_code_cell(_CORENAME_CELL))
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="lmm-kernel-") as workdir:
        NotebookClient(
            notebook, timeout=1200, kernel_name="python3", allow_errors=True,
            resources={"metadata": {"path": workdir}},
        ).execute()
    seconds = time.perf_counter() - start
    last = notebook.cells[-1].get("outputs", [])
    printed = "".join(o.get("text", "") for o in last if o.get("name") == "stdout")
    found = re.search(r"BLAS-KERNELS (\[.*\])", printed)
    outputs = [o for cell in notebook.cells for o in cell.get("outputs", [])]
    errors = [f"{o['ename']}: {o['evalue']}" for o in outputs if o.get("output_type") == "error"]
    out.write_text(json.dumps({
        "chapter": chapter.name,
        "coretype": os.environ.get("OPENBLAS_CORETYPE", ""),
        "kernels": json.loads(found.group(1)) if found else [],
        "seconds": seconds,
        "errors": errors,
        "glue": glue_from_notebook(notebook),
    }, indent=1))


def run_under(kernel: str, chapter: Path, out: Path) -> subprocess.CompletedProcess:
    """Execute ``chapter`` in a new process with ``OPENBLAS_CORETYPE=kernel``.

    The kernel is fixed when OpenBLAS loads, so it is set in the environment of a new process
    (whose notebook kernel inherits it); one BLAS thread each, as the runs share the machine.
    """
    env = {**os.environ, "OPENBLAS_CORETYPE": kernel, "OPENBLAS_NUM_THREADS": "1",
           "PYDEVD_DISABLE_FILE_VALIDATION": "1"}
    return subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), str(chapter), str(out)],
        env=env, capture_output=True, text=True, cwd=tempfile.gettempdir(),
    )


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python tests/blas_kernels.py CHAPTER.md OUT.json")
    execute(Path(sys.argv[1]).resolve(), Path(sys.argv[2]).resolve())
