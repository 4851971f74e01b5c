"""Regenerate the cached Monte Carlo results of the null-p-value and group-count chapters.

Usage::

    python scripts/make_sweeps_group_count.py [--n-jobs 2] [--only SWEEP] [--raw-dir DIR]

Every condition ("cell") is one :func:`lmmhelpers.run_study` call with its own root seed. The
full study tables (one row per replicate, method and term, with messages and warnings) are
too big to commit for this many cells, so the script writes two compact files:

``data/sweeps/group_count_index.csv``
    One row per cell: its sweep, design parameters, ``n_sim``, ``seed``, methods, the
    lmmhelpers version and the study key (:func:`lmmhelpers.study.study_key` of the study's
    description, the key ``run_study(cache_dir=...)`` saves a full table under).
``data/sweeps/group_count_pvalues.csv.gz``
    One row per cell, replicate, method and term: ``p_value`` and ``df`` rounded to 4
    significant digits, and ``converged``, ``boundary``, ``status`` as in the study table.
    That is enough for rejection rates with Wilson intervals and failure counts at any
    level (:func:`lmmhelpers.rejection_rate`), p-value histograms and QQ plots.

``--raw-dir`` keeps the full tables there as well (``run_study``'s cache), so that an
interrupted run resumes where it stopped. A chapter reruns a few replicates of a cell with
``run_study(..., replicates=...)`` and checks them against the stored p-values.

The sweeps
----------
``stages``
    The question's design (10 groups of 20 per input, group and residual variance 1), with
    the question's labels and with correct labels, 1,000 replicates each: z, Satterthwaite,
    Kenward-Roger and the t test on group means.
``split``
    The same total of 400 rows split as 20 groups of 10 per input under the null (1,000
    replicates; the null 10 x 20 cell is the ``stages`` cell with correct labels), both
    splits with an input effect of 0.8 (power, 500 replicates each), and 20 x 10 under the
    null with the question's labelling code (500 replicates).
``grid``
    Groups per input 3, 5, 10, 40 × intraclass correlation 0.1, 0.5, 0.9 (total variance 1)
    with 5 samples per group, and the same groups with 20 samples per group at ICC 0.5; null
    data, 400 replicates per cell (200 with 40 groups per input, whose fits of 400 to 1,600
    rows are the slowest): z, Satterthwaite, Kenward-Roger, t test on group means, GEE with
    the Mancl-DeRouen covariance.
``within``
    :func:`lmmhelpers.two_input_within_design` with 3, 5, 10, 20 groups per input, 5
    observations per group and condition, null data: z, Satterthwaite and Kenward-Roger for
    the between-group input effect and the within-group condition effect, one fit per
    replicate, 300 replicates.

The sizes are what a shared 2-core machine could run in about an hour; the intervals in the
chapters show what they can resolve.
"""

from __future__ import annotations

import argparse
import functools
import sys
import time
from pathlib import Path

import pandas as pd

import lmmhelpers
from lmmhelpers import MixedLMTest, run_study, two_input_design, two_input_within_design
from lmmhelpers.study import study_description, study_key, two_input_analyses

ROOT = Path(__file__).resolve().parents[1]
SWEEPS = ROOT / "data" / "sweeps"
INDEX = SWEEPS / "group_count_index.csv"
PVALUES = SWEEPS / "group_count_pvalues.csv.gz"

MIXED = ("normal", "satterthwaite", "kenward-roger")
STAGES = MIXED + ("group-means-t",)
GRID = MIXED + ("group-means-t", "gee-bias-reduced")
WITHIN_TERMS = ("input[T.input_1]", "condition[T.b]")


def conditions():
    """Every cell of every sweep as a dict of plain values (one row of the index), cheap first."""
    rows = []

    def add(**kw):
        kw.setdefault("effect", 0.0)
        kw.setdefault("labels", "correct")
        rows.append({"cell": len(rows), **kw})

    for k, (labels, n_sim) in enumerate((("seed", 1000), ("correct", 1000))):
        add(sweep="stages", design="two_input", n_groups=10, n_per_group=20, group_var=1.0,
            resid_var=1.0, labels=labels, n_sim=n_sim, seed=3000 + k,
            methods=";".join(STAGES))
    # the null 10 x 20 split is the "correct" stages cell
    for k, (m, n, effect, labels, n_sim) in enumerate([
            (20, 10, 0.0, "correct", 1000), (10, 20, 0.8, "correct", 500),
            (20, 10, 0.8, "correct", 500), (20, 10, 0.0, "seed", 500)]):
        add(sweep="split", design="two_input", n_groups=m, n_per_group=n, group_var=1.0,
            resid_var=1.0, effect=effect, labels=labels, n_sim=n_sim, seed=3100 + k,
            methods=";".join(STAGES))
    for k, m in enumerate((3, 5, 10, 20)):
        add(sweep="within", design="two_input_within", n_groups=m, n_per_group=5,
            group_var=1.0, resid_var=1.0, n_sim=300, seed=3200 + k, methods=";".join(MIXED))
    k = 0
    for m in (3, 5, 10, 40):
        for n, iccs in ((5, (0.1, 0.5, 0.9)), (20, (0.5,))):
            for icc in iccs:
                add(sweep="grid", design="two_input", n_groups=m, n_per_group=n,
                    group_var=icc, resid_var=round(1.0 - icc, 10), icc=icc,
                    n_sim=400 if m <= 10 else 200,
                    seed=4000 + k, methods=";".join(GRID))
                k += 1
    return rows


def study_arguments(entry):
    """(design, analyses, n_sim, seed) of one cell of the index."""
    methods = tuple(str(entry["methods"]).split(";"))
    if entry["design"] == "two_input":
        design = functools.partial(
            two_input_design, n_groups=int(entry["n_groups"]),
            n_per_group=int(entry["n_per_group"]), group_var=float(entry["group_var"]),
            resid_var=float(entry["resid_var"]), effect=float(entry["effect"]),
            labels=str(entry["labels"]), missing=0.0,
        )
        analyses = two_input_analyses(methods)
    elif entry["design"] == "two_input_within":
        design = functools.partial(
            two_input_within_design, n_groups=int(entry["n_groups"]),
            n_per_cell=int(entry["n_per_group"]), group_var=float(entry["group_var"]),
            resid_var=float(entry["resid_var"]), slope_var=0.0, between_effect=0.0,
            within_effect=0.0, missing=0.0,
        )
        # one analysis per term; both read the same fit of the replicate
        analyses = [MixedLMTest("output ~ input + condition", "group", term, methods=methods)
                    for term in WITHIN_TERMS]
    else:
        raise ValueError(f"unknown design {entry['design']!r}")
    return design, analyses, int(entry["n_sim"]), int(entry["seed"])


def compact(results, cell):
    """The committed columns of one study table, p-values and df to 4 significant digits."""
    out = results[["replicate", "method", "term", "p_value", "df", "converged", "boundary",
                   "status"]].copy()
    out.insert(0, "cell", int(cell))
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-jobs", type=int, default=2, help="worker processes (-1: all)")
    parser.add_argument("--only", choices=("stages", "split", "within", "grid"),
                        help="recompute one sweep only, keep the others' stored rows")
    parser.add_argument("--raw-dir", type=Path, default=None,
                        help="also keep the full study tables here (resumable)")
    args = parser.parse_args(argv)

    cells = conditions()
    kept = None
    if args.only and PVALUES.exists():
        old = pd.read_csv(INDEX)
        drop = set(old.loc[old["sweep"] == args.only, "cell"])
        kept = pd.read_csv(PVALUES, keep_default_na=False, na_values={"p_value": [""],
                                                                      "df": [""]})
        kept = kept[~kept["cell"].isin(drop)]
    index, parts = [], [] if kept is None else [kept]
    for entry in cells:
        design, analyses, n_sim, seed = study_arguments(entry)
        key = study_key(study_description(design, analyses, n_sim, seed))
        index.append({**entry, "lmmhelpers_version": lmmhelpers.__version__, "study_key": key})
        if args.only and entry["sweep"] != args.only and kept is not None:
            continue
        t = time.perf_counter()
        res = run_study(design, analyses, n_sim, seed, n_jobs=args.n_jobs, progress=False,
                        cache_dir=args.raw_dir)
        print(f"cell {entry['cell']} {entry['sweep']}: {entry['n_groups']} x "
              f"{entry['n_per_group']} icc={entry.get('icc', '')} effect={entry['effect']} "
              f"{entry['labels']}: {time.perf_counter() - t:.0f} s", file=sys.stderr, flush=True)
        parts.append(compact(res, entry["cell"]))
        # write after every cell, so that a partial run leaves usable files
        SWEEPS.mkdir(parents=True, exist_ok=True)
        pd.DataFrame(index).to_csv(INDEX, index=False)
        table = pd.concat(parts, ignore_index=True)
        table.sort_values(["cell", "replicate"], kind="stable").to_csv(
            PVALUES, index=False, float_format="%.4g",
            compression={"method": "gzip", "mtime": 0})


if __name__ == "__main__":
    main()
