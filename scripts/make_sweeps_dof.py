"""Regenerate the stored studies of the degrees-of-freedom chapter.

Usage::

    python scripts/make_sweeps_dof.py [--n-jobs 2]

Every study is specified once, in ``lmmhelpers.book``; this script only runs and stores them.

``data/sweeps/dof/study-<key>.csv.gz`` and ``.json``, ``dof_index.csv``, ``dof_summary.csv``
    :func:`lmmhelpers.book.dof_studies`: level and power of z, Satterthwaite and
    Kenward-Roger (and, in the balanced designs, the t test on group means) in a nested, a
    boundary-prone, an unbalanced and a crossed design, each under the null and with an
    effect, stored by ``save_study`` (a chapter loads them with ``StoredStudy.load``); files
    of earlier specifications are removed. The summary adds the between-within rule
    (:func:`lmmhelpers.book.between_within_rows`: the z statistic against t with the
    design's between-within df).

The crossed chapter's studies are made by ``scripts/make_sweeps_crossed.py``.
"""

from __future__ import annotations

import argparse
import sys
import time

import pandas as pd

import lmmhelpers
from lmmhelpers import rejection_rate
from lmmhelpers.book import (
    between_within_df_of,
    between_within_rows,
    dof_studies,
    repository_root,
)


def run_dof(n_jobs):
    sweeps = repository_root() / "data" / "sweeps"
    studies = dof_studies()
    keys = {study.key() for study in studies.values()}
    for old in (sweeps / "dof").glob("study-*"):  # files of earlier specifications
        if old.name.split(".")[0].removeprefix("study-") not in keys:
            old.unlink()
    index, summaries = [], []
    for name, study in studies.items():
        t0 = time.perf_counter()
        res, path = study.regenerate(n_jobs=n_jobs, progress=False, force=True)
        seconds = time.perf_counter() - t0
        df_bw = between_within_df_of(study)
        full = pd.concat([res, between_within_rows(res, df_bw)], ignore_index=True)
        rates = rejection_rate(full, alpha=0.05, by="method")
        summaries.append(rates.assign(study=name)[["study"] + list(rates.columns)])
        index.append({"study": name, "design": study.info["design"],
                      "effect": study.info["effect"], "n_sim": study.n_sim, "seed": study.seed,
                      "df_between_within": df_bw, "seconds": round(seconds, 1),
                      "file": path.relative_to(sweeps).as_posix(),
                      "lmmhelpers_version": lmmhelpers.__version__})
        print(f"{name}: {study.n_sim} replicates in {seconds:.0f} s", file=sys.stderr, flush=True)
        assert len(study.load()) == len(res)
    pd.DataFrame(index).to_csv(sweeps / "dof_index.csv", index=False)
    pd.concat(summaries, ignore_index=True).to_csv(sweeps / "dof_summary.csv", index=False,
                                                   float_format="%.6g")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--only", choices=("dof",), help="kept for old command lines")
    args = parser.parse_args(argv)
    run_dof(args.n_jobs)


if __name__ == "__main__":
    main()
