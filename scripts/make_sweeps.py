"""Regenerate the seed sweeps under data/sweeps/ (too slow for a book build).

Usage::

    python scripts/make_sweeps.py [--n-jobs 2] [--only {groups,seed}] [--force]

The sweeps are specified once, in :func:`lmmhelpers.book.seed_sweeps` (its docstring lists
them); each condition is one ``run_study`` call stored by ``save_study`` under the key of its
description (``study-<key>.csv.gz`` and ``.json``). ``data/sweeps/index.csv`` lists the
conditions with their files, and ``data/sweeps/summary.csv`` their rejection rates at
α = .05 with Wilson intervals and failure counts.
"""

from __future__ import annotations

import argparse
import sys
import time

import pandas as pd

import lmmhelpers
from lmmhelpers import rejection_rate
from lmmhelpers.book import repository_root, seed_sweep_study, seed_sweeps


def study_arguments(entry):
    """(design, analyses, n_sim, seed) of one row of ``data/sweeps/index.csv``."""
    study = seed_sweep_study(entry)
    return study.design, list(study.analyses), study.n_sim, study.seed


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-jobs", type=int, default=-1, help="worker processes (-1: all)")
    parser.add_argument("--only", choices=("groups", "seed"), help="one sweep only")
    parser.add_argument("--force", action="store_true", help="recompute cached studies")
    args = parser.parse_args(argv)
    sweeps = repository_root() / "data" / "sweeps"

    index, summaries = [], []
    for study in seed_sweeps():
        entry = {k: v for k, v in study.info.items() if k != "script"}
        if args.only and entry["sweep"] != args.only:
            continue
        t = time.perf_counter()
        res, path = study.regenerate(n_jobs=args.n_jobs, force=args.force)
        print(f"{study.name} in {time.perf_counter() - t:.0f} s", file=sys.stderr)
        index.append({**entry, "lmmhelpers_version": lmmhelpers.__version__,
                      "file": path.name})
        rates = rejection_rate(res, alpha=0.05, by="method")
        condition = {c: entry[c] for c in ("sweep", "n_groups", "n_per_group", "labels")}
        summaries.append(rates.assign(**condition)[list(condition) + list(rates.columns)])

    if args.only and (sweeps / "index.csv").exists():
        kept = pd.read_csv(sweeps / "index.csv")
        index = kept[kept["sweep"] != args.only].to_dict("records") + index
        old_summary = pd.read_csv(sweeps / "summary.csv")
        summaries.insert(0, old_summary[old_summary["sweep"] != args.only])
    pd.DataFrame(index).to_csv(sweeps / "index.csv", index=False)
    pd.concat(summaries, ignore_index=True).to_csv(sweeps / "summary.csv", index=False,
                                                   float_format="%.6g")
    listed = {row["file"] for row in index}
    for stale in sweeps.glob("study-*"):
        if stale.name.replace(".json", ".csv.gz") not in listed:
            print(f"note: {stale.name} is not in the index (an old version?)", file=sys.stderr)


if __name__ == "__main__":
    main()
