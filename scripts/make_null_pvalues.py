"""Regenerate the stored data of the null-p-value chapter (``chapters/null_pvalues.md``).

Usage::

    python scripts/make_null_pvalues.py [--n-jobs 2] [--reuse] [--only {studies,question}]

Everything is specified once, in ``lmmhelpers.book.null_pvalues``; this script only runs and
stores it, under ``data/sweeps/null_pvalues/``:

``study-<key>.csv.gz`` and ``.json``
    :func:`lmmhelpers.book.null_pvalues_studies`: the question's design with its labels and
    with correct labels, 4,000 replicates each, analysed by z, Satterthwaite, Kenward-Roger
    and the t test on group means (``StoredStudy.regenerate(digits=6)``: the numbers rounded
    to 6 significant digits; the chapter loads them with ``StoredStudy.load``).
``question_code.csv`` and ``.json``
    :data:`lmmhelpers.book.QUESTION_CODE_RUN`: the question's own loop (statsmodels'
    default fit) for 2,000 iterations from one seed, its p-values and warnings. It runs
    sequentially (one generator stream, as in the question).
"""

from __future__ import annotations

import argparse
import sys
import time

from lmmhelpers.book import QUESTION_CODE_RUN, null_pvalues_studies


def run_studies(n_jobs, force):
    for name, study in null_pvalues_studies().items():
        t0 = time.perf_counter()
        table, path = study.regenerate(n_jobs=n_jobs, progress=False, force=force, digits=6)
        print(f"{name}: {study.n_sim} replicates in {time.perf_counter() - t0:.0f} s -> "
              f"{path}", file=sys.stderr, flush=True)
        assert len(study.load()) == len(table)


def run_question():
    t0 = time.perf_counter()
    table = QUESTION_CODE_RUN.run()
    path = QUESTION_CODE_RUN.save(table)
    print(f"question's code: {len(table)} iterations in {time.perf_counter() - t0:.0f} s -> "
          f"{path}", file=sys.stderr, flush=True)
    assert len(QUESTION_CODE_RUN.load()) == len(table)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-jobs", type=int, default=1, help="worker processes for the studies")
    parser.add_argument("--reuse", action="store_true",
                        help="round a stored study again instead of recomputing it")
    parser.add_argument("--only", choices=("studies", "question"), default=None,
                        help="regenerate one part only")
    args = parser.parse_args(argv)
    if args.only in (None, "studies"):
        run_studies(args.n_jobs, force=not args.reuse)
    if args.only in (None, "question"):
        run_question()


if __name__ == "__main__":
    main()
