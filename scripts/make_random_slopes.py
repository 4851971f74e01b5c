"""Regenerate the stored studies of the chapter on random slopes and the maximal model.

Usage::

    python scripts/make_random_slopes.py [--n-jobs 2] [--only NAME ...] [--force]

Every study is specified once, in :func:`lmmhelpers.book.slope_studies`; this script only
runs and stores them (``data/sweeps/random_slopes/study-<key>.csv.gz`` and ``.json``, with
``index.csv``: one row per study, its size, seed and run time). The chapter loads them with
``StoredStudy.load``.
"""

from __future__ import annotations

import argparse
import sys
import time

import pandas as pd

import lmmhelpers
from lmmhelpers.book import repository_root, slope_studies


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-jobs", type=int, default=1)
    parser.add_argument("--only", nargs="*", default=None, help="study names")
    parser.add_argument("--force", action="store_true", help="recompute stored studies")
    args = parser.parse_args(argv)
    studies = slope_studies()
    unknown = sorted(set(args.only or ()) - set(studies))
    if unknown:
        parser.error(f"unknown studies {unknown}; known: {sorted(studies)}")
    directory = repository_root() / "data" / "sweeps" / "random_slopes"
    index_path = directory / "index.csv"
    index = pd.read_csv(index_path) if index_path.exists() else pd.DataFrame()
    rows = {r["name"]: r for r in index.to_dict("records")}
    for name in args.only or studies:
        study = studies[name]
        try:
            stored = not args.force and study.load() is not None
        except FileNotFoundError:
            stored = False
        t0 = time.perf_counter()
        table, path = study.regenerate(n_jobs=args.n_jobs, progress=False, force=args.force)
        seconds = time.perf_counter() - t0
        if stored and name in rows:  # loaded, not computed: keep the computing run's time
            seconds = float(rows[name]["seconds"])
        rows[name] = {"name": name, **{k: v for k, v in study.info.items() if k != "script"},
                      "n_sim": study.n_sim, "seed": study.seed, "seconds": round(seconds, 1),
                      "file": path.name, "lmmhelpers_version": lmmhelpers.__version__}
        print(f"{name}: {study.n_sim} replicates in {seconds:.0f} s", file=sys.stderr,
              flush=True)
        assert len(study.load()) == len(table)
        directory.mkdir(parents=True, exist_ok=True)
        pd.DataFrame(list(rows.values())).to_csv(index_path, index=False)


if __name__ == "__main__":
    main()
