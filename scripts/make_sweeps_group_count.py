"""Regenerate the stored Monte Carlo results of the null-p-value and group-count chapters.

Usage::

    python scripts/make_sweeps_group_count.py [--n-jobs 2] [--only SWEEP] [--raw-dir DIR]
    python scripts/make_sweeps_group_count.py --index-only

The cells are specified once, in :func:`lmmhelpers.book.group_count_cells` (its docstring
lists the sweeps; :func:`lmmhelpers.book.group_count_study` turns a cell into its study), and
the two compact files are described in ``lmmhelpers.book.group_count``:
``data/sweeps/group_count_index.csv`` (one row per cell with its study key) and
``data/sweeps/group_count_pvalues.csv.gz`` (p-values and df to 4 significant digits, and the
fit's status). ``--raw-dir`` keeps the full tables there as well (``run_study``'s cache), so
that an interrupted run resumes where it stopped; ``--index-only`` rewrites the index alone
(after a change of the study key rule, say). The sizes are what a shared 2-core machine could
run in about half an hour (every compared cell 2,000 replicates).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd

from lmmhelpers import run_study
from lmmhelpers.book import compact, group_count_index, group_count_study
from lmmhelpers.book.group_count import INDEX_FILE, PVALUES_FILE, directory


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-jobs", type=int, default=2, help="worker processes (-1: all)")
    parser.add_argument("--only", choices=("stages", "split", "within", "grid"),
                        help="recompute one sweep only, keep the others' stored rows")
    parser.add_argument("--raw-dir", type=Path, default=None,
                        help="also keep the full study tables here (resumable)")
    parser.add_argument("--index-only", action="store_true", help="rewrite the index only")
    args = parser.parse_args(argv)
    sweeps = directory()
    sweeps.mkdir(parents=True, exist_ok=True)
    index = group_count_index()
    if args.index_only:
        index.to_csv(sweeps / INDEX_FILE, index=False)
        return

    kept = None
    if args.only and (sweeps / PVALUES_FILE).exists():
        old = pd.read_csv(sweeps / INDEX_FILE)
        drop = set(old.loc[old["sweep"] == args.only, "cell"])
        kept = pd.read_csv(sweeps / PVALUES_FILE, keep_default_na=False,
                           na_values={"p_value": [""], "df": [""]})
        kept = kept[~kept["cell"].isin(drop)]
    parts = [] if kept is None else [kept]
    for k, entry in enumerate(index.to_dict("records")):
        if args.only and entry["sweep"] != args.only and kept is not None:
            continue
        study = group_count_study(entry)
        t = time.perf_counter()
        res = run_study(study.design, study.analyses, study.n_sim, study.seed,
                        n_jobs=args.n_jobs, progress=False, cache_dir=args.raw_dir)
        print(f"cell {entry['cell']} {study.name}: {time.perf_counter() - t:.0f} s",
              file=sys.stderr, flush=True)
        parts.append(compact(res, entry["cell"]))
        # write after every cell, so that a partial run leaves usable files
        index.iloc[: k + 1].to_csv(sweeps / INDEX_FILE, index=False)
        table = pd.concat(parts, ignore_index=True)
        table.sort_values(["cell", "replicate"], kind="stable").to_csv(
            sweeps / PVALUES_FILE, index=False, float_format="%.4g",
            compression={"method": "gzip", "mtime": 0})
    index.to_csv(sweeps / INDEX_FILE, index=False)


if __name__ == "__main__":
    main()
