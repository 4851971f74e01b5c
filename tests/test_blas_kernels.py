"""The book under other OpenBLAS kernels: chapters run, claims hold, numbers read the same.

A reader's CPU picks the kernel that runs numpy's and scipy's linear algebra. The book's own
build runs on this machine's kernel; here every chapter is executed again under each kernel of
``blas_kernels.KERNELS`` (``OPENBLAS_CORETYPE``, in fresh processes, two at a time), and

- every cell must run: a ``claim`` that fails under another kernel fails here, quoting it;
- the kernel asked for must be the one that ran (as threadpoolctl reports it inside the
  chapter's own Python kernel), so that the check cannot pass by testing the same kernel twice;
- every number the prose shows must read the same as in the book's own build, at the precision
  the prose shows it; glued timings (``*_seconds``, ``*_milliseconds``) are exempt.

A CPU that cannot run a kernel (no AVX2, or not x86-64) skips it with the reason; CI sets
``LMM_REQUIRE_BLAS_KERNELS=1``, which turns such a skip into a failure.
"""

from __future__ import annotations

import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from blas_kernels import KERNELS, compare, cpu_runs, glue_formats, glue_from_build, run_under
from test_book import is_notebook, source_of

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"

#: What OpenBLAS reports for a kernel asked by name (its DYNAMIC_ARCH build runs Prescott's
#: code under the name of the older Katmai kernel it shares).
REPORTED_AS = {"Haswell": {"Haswell"}, "Prescott": {"Prescott", "Katmai"}}


def _skip_or_fail(reason: str):
    if os.environ.get("LMM_REQUIRE_BLAS_KERNELS") == "1":
        pytest.fail(f"LMM_REQUIRE_BLAS_KERNELS=1, but {reason}")
    pytest.skip(reason)


# --- the comparison itself (fast) -----------------------------------------------------------


def test_glue_formats_reads_every_role_and_spec():
    text = ("{glue:text}`rate:.3f` and {glue:text}`rate:.1%`, {glue:text}`n` rows, "
            "{glue}`shown` and {glue:text}`chapters/x::other:.2f`")
    assert glue_formats(text) == {"rate": {".3f", ".1%"}, "n": {""}, "shown": {""},
                                  "other": {".2f"}}


def test_compare_flags_what_the_prose_would_show_differently_and_nothing_else():
    formats = {"gap": {".2f"}, "tiny": {".1e"}, "flag": {""}, "fit_seconds": {".1f"},
               "missing": {""}}
    build = {"gap": "4.3146", "tiny": "3.0e-06", "flag": "'True'", "fit_seconds": "1.2",
             "missing": "1"}
    other = {"gap": "4.3149", "tiny": "6.5e-06", "flag": "'False'", "fit_seconds": "9.9"}
    assert compare(build, other, formats) == [
        ("flag", "", "True", "False"),
        ("missing", "", "1", None),
        ("tiny", ".1e", "3.0e-06", "6.5e-06"),
    ]


def test_which_kernels_a_cpu_can_run():
    avx2 = "processor : 0\nflags : fpu sse2 pni ssse3 fma avx avx2\n"
    sse3 = "processor : 0\nflags : fpu sse2 pni ssse3\n"
    assert cpu_runs("Haswell", cpuinfo=avx2, machine="x86_64")
    assert cpu_runs("Prescott", cpuinfo=avx2, machine="x86_64")
    assert not cpu_runs("Haswell", cpuinfo=sse3, machine="x86_64")
    assert cpu_runs("Prescott", cpuinfo=sse3, machine="x86_64")
    assert not cpu_runs("Prescott", cpuinfo=avx2, machine="arm64")
    with pytest.raises(ValueError, match="kernel must be one of"):
        cpu_runs("Zen")


# --- every chapter under every kernel (slow) ----------------------------------------------


@pytest.fixture(scope="session")
def kernel_runs(toc_docs, tmp_path_factory):
    """Every chapter executed under every kernel this CPU can run: {(kernel, doc): run}."""
    chapters = [doc for doc in toc_docs if is_notebook(source_of(doc))]
    jobs = [(k, doc) for k in KERNELS if cpu_runs(k) for doc in chapters]
    out_dir = tmp_path_factory.mktemp("kernels")

    def run(job):
        kernel, doc = job
        out = out_dir / f"{kernel}-{doc.replace('/', '-')}.json"
        proc = run_under(kernel, source_of(doc), out)
        if proc.returncode != 0 or not out.is_file():
            return {"failed": f"exit {proc.returncode}\n{proc.stderr[-3000:]}"}
        return json.loads(out.read_text())

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=max(1, min(2, os.cpu_count() or 1))) as pool:
        results = dict(zip(jobs, pool.map(run, jobs), strict=True))
    lines = [f"{k} {doc}: ran {r.get('kernels')} in {r.get('seconds', 0):.1f} s"
             for (k, doc), r in results.items()]
    lines.append(f"[tests] {len(jobs)} executions, two at a time: "
                 f"{time.perf_counter() - start:.1f} s wall clock")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "blas-kernels.log").write_text("\n".join(lines) + "\n")
    return results


def _runs_of(kernel_runs, kernel):
    if not cpu_runs(kernel):
        _skip_or_fail(f"this CPU cannot run OpenBLAS's {kernel} kernel (x86-64 with AVX2 needed)")
    runs = {doc: r for (k, doc), r in kernel_runs.items() if k == kernel}
    assert runs, f"no chapter was executed under {kernel}"
    return runs


@pytest.mark.slow
@pytest.mark.parametrize("kernel", KERNELS)
def test_every_chapter_runs_and_every_claim_holds_under_another_kernel(kernel_runs, kernel):
    runs = _runs_of(kernel_runs, kernel)
    problems = []
    for doc, run in runs.items():
        if "failed" in run:
            problems.append(f"{doc}: the executor failed: {run['failed']}")
            continue
        if not set(run["kernels"]) or not set(run["kernels"]) <= REPORTED_AS[kernel]:
            problems.append(f"{doc}: asked for {kernel}, OpenBLAS ran {run['kernels']}")
        problems += [f"{doc}: {error}" for error in run["errors"]]
    assert not problems, f"under OPENBLAS_CORETYPE={kernel}:\n" + "\n".join(problems)


@pytest.mark.slow
@pytest.mark.parametrize("kernel", KERNELS)
def test_glued_numbers_read_the_same_under_another_kernel(built_book, kernel_runs, kernel):
    runs = _runs_of(kernel_runs, kernel)
    assert built_book.returncode == 0, "the book build failed"
    executed = built_book.html.parent / "jupyter_execute"
    differ, compared = [], 0
    for doc, run in runs.items():
        if "failed" in run:
            continue  # reported by the test above
        formats = glue_formats(source_of(doc).read_text())
        if not formats:
            continue  # a page that shows no glued number
        reference = glue_from_build(executed / f"{doc}.glue.json")
        assert reference, f"the book's build stored no glued values for {doc}"
        compared += len(formats)
        differ += [f"{doc}: {name}:{fmt} reads {a!r} in the build, {b!r} under {kernel}"
                   for name, fmt, a, b in compare(reference, run["glue"], formats)]
    assert compared > 100, "hardly any glued number was compared"
    assert not differ, (
        "numbers in the prose that depend on the BLAS kernel (state them from a stored run, "
        "or as a bound that holds everywhere):\n" + "\n".join(differ)
    )
