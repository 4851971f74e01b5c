"""Regenerate the stored studies of the chapter on crossed random effects (subjects × items).

Usage::

    python scripts/make_sweeps_crossed.py [--n-jobs 2] [--only {optimizers,lrt,slopes}]

Every study is specified once, in ``lmmhelpers.book.crossed``; this script only runs and
stores them, under ``data/sweeps/crossed/``:

``optimizers.csv.gz``
    ``lmmhelpers.book.OPTIMIZER_STUDY``: statsmodels' optimizers and ``fit_mixedlm`` on
    crossed data sets in two conditions.
``lrt_null.csv.gz``
    ``lmmhelpers.book.LRT_NULL_STUDY``: the REML likelihood-ratio statistic and the exact F
    statistic for "item variance = 0" on null crossed data sets.
``study-<key>.csv.gz`` and ``.json``
    :func:`lmmhelpers.book.item_means_studies`: the null category effect tested by the crossed
    model and by the t test on item means, without and with by-subject slopes.
"""

from __future__ import annotations

import os

# one BLAS thread per process: the fits are small, and threads only contend for the cores
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

from lmmhelpers.book import LRT_NULL_STUDY, OPTIMIZER_STUDY, item_means_studies  # noqa: E402


def _timed(label, run):
    t0 = time.perf_counter()
    run()
    print(f"{label}: {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--only", choices=("optimizers", "lrt", "slopes"))
    args = parser.parse_args(argv)
    if args.only in (None, "lrt"):
        _timed("lrt", lambda: LRT_NULL_STUDY.save(LRT_NULL_STUDY.run(n_jobs=args.n_jobs)))
    if args.only in (None, "slopes"):
        for name, study in item_means_studies().items():
            _timed(name, lambda study=study: study.regenerate(n_jobs=args.n_jobs,
                                                              progress=False, force=True))
    if args.only in (None, "optimizers"):
        _timed("optimizers",
               lambda: OPTIMIZER_STUDY.save(OPTIMIZER_STUDY.run(n_jobs=args.n_jobs)))


if __name__ == "__main__":
    main()
