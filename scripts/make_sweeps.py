"""Regenerate every cached Monte Carlo sweep under data/sweeps/ (too slow for a book build).

Usage::

    python scripts/make_sweeps.py [--n-jobs 2] [--only NAME] [--force]

Each condition is one ``lmmhelpers.run_study`` call with ``cache_dir=data/sweeps``: its table
is saved as ``study-<key>.csv.gz`` with its description in ``study-<key>.json``, where the key
hashes the full description and ``lmmhelpers.__version__``. ``data/sweeps/index.csv`` lists the
conditions with their files, and ``data/sweeps/summary.csv`` their rejection rates at α = .05
with Wilson intervals and failure counts. A chapter reads the index (or loads a study through
the same cache); ``tests/test_study.py`` recomputes a slice of a saved study and checks that
the numbers are the same.

The sweeps
----------
``groups``
    Null data in the seed's two-input design with 5 samples per group and 2, 3, 5 or 10
    groups per input (4 to 20 groups in all, as the R table in the inference notes), 1,000
    replicates each: z, Satterthwaite, Kenward-Roger, LRT, t test on group means and GEE with
    the Mancl-DeRouen covariance.
``seed``
    The seed's own design (10 groups of 20 per input), with its mislabelled groups and with
    correct labels, and the answer's 20 groups of 10: 500 replicates each, z, Satterthwaite,
    Kenward-Roger and LRT.
"""

from __future__ import annotations

import argparse
import functools
import sys
import time
from pathlib import Path

import pandas as pd

import lmmhelpers
from lmmhelpers import rejection_rate, run_study, two_input_design
from lmmhelpers.study import read_study_csv, study_description, study_key, two_input_analyses

ROOT = Path(__file__).resolve().parents[1]
SWEEPS = ROOT / "data" / "sweeps"

ALL = ("normal", "satterthwaite", "kenward-roger", "lrt", "group-means-t", "gee-bias-reduced")
MIXED = ("normal", "satterthwaite", "kenward-roger", "lrt")


def conditions():
    """Every condition of every sweep, as a dict of plain values (one row of the index)."""
    rows = []
    for k, n_groups in enumerate((2, 3, 5, 10)):
        rows.append(dict(sweep="groups", n_groups=n_groups, n_per_group=5, group_var=1.0,
                         resid_var=1.0, labels="correct", n_sim=1000, seed=1000 + k,
                         methods=";".join(ALL)))
    for k, (n_groups, n_per_group, labels) in enumerate(
            [(10, 20, "seed"), (10, 20, "correct"), (20, 10, "correct")]):
        rows.append(dict(sweep="seed", n_groups=n_groups, n_per_group=n_per_group,
                         group_var=1.0, resid_var=1.0, labels=labels, n_sim=500,
                         seed=2000 + k, methods=";".join(MIXED)))
    return rows


def study_arguments(entry):
    """(design, analyses, n_sim, seed) for one condition of the index."""
    design = functools.partial(
        two_input_design, n_groups=int(entry["n_groups"]), n_per_group=int(entry["n_per_group"]),
        group_var=float(entry["group_var"]), resid_var=float(entry["resid_var"]), effect=0.0,
        labels=str(entry["labels"]), missing=0.0,
    )
    analyses = two_input_analyses(tuple(str(entry["methods"]).split(";")))
    return design, analyses, int(entry["n_sim"]), int(entry["seed"])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-jobs", type=int, default=-1, help="worker processes (-1: all)")
    parser.add_argument("--only", choices=("groups", "seed"), help="one sweep only")
    parser.add_argument("--force", action="store_true", help="recompute cached studies")
    args = parser.parse_args(argv)

    index, summaries = [], []
    for entry in conditions():
        if args.only and entry["sweep"] != args.only:
            continue
        design, analyses, n_sim, seed = study_arguments(entry)
        key = study_key(study_description(design, analyses, n_sim, seed))
        path = SWEEPS / f"study-{key}.csv.gz"
        if args.force and path.exists():
            path.unlink()
        t = time.perf_counter()
        res = run_study(design, analyses, n_sim, seed, n_jobs=args.n_jobs, progress=True,
                        cache_dir=SWEEPS)
        print(f"{entry['sweep']}: {entry['n_groups']} x {entry['n_per_group']} "
              f"({entry['labels']}) in {time.perf_counter() - t:.0f} s", file=sys.stderr)
        index.append({**entry, "lmmhelpers_version": lmmhelpers.__version__,
                      "file": path.name})
        rates = rejection_rate(res, alpha=0.05, by="method")
        condition = {c: entry[c] for c in ("sweep", "n_groups", "n_per_group", "labels")}
        summaries.append(rates.assign(**condition)[list(condition) + list(rates.columns)])

    if args.only:
        old = SWEEPS / "index.csv"
        if old.exists():
            kept = pd.read_csv(old)
            kept = kept[kept["sweep"] != args.only]
            index = kept.to_dict("records") + index
            old_summary = pd.read_csv(SWEEPS / "summary.csv")
            summaries.insert(0, old_summary[old_summary["sweep"] != args.only])
    pd.DataFrame(index).to_csv(SWEEPS / "index.csv", index=False)
    pd.concat(summaries, ignore_index=True).to_csv(SWEEPS / "summary.csv", index=False,
                                                   float_format="%.6g")
    listed = {row["file"] for row in index}
    for stale in SWEEPS.glob("study-*"):
        if stale.name.replace(".json", ".csv.gz") not in listed:
            print(f"note: {stale.name} is not in the index (an old version?)", file=sys.stderr)
    # the files read back to the same table
    check = read_study_csv(SWEEPS / index[-1]["file"])
    assert len(check) > 0


if __name__ == "__main__":
    main()
