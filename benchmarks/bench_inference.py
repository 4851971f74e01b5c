"""Benchmark: Satterthwaite and Kenward-Roger in lmmhelpers against lmerTest and pbkrtest.

Both sides get the same simulated data in one run. For each design the script prints the
seconds lmmhelpers needs for a coefficient table plus a type III table (from an existing fit,
the covariance structure included), R's seconds for the same work on an existing lme4 fit
(``benchmarks/r_timing.R``), their ratio, the peak memory of our computation, and the largest
relative difference between the two sides' df. R runs only where ``Rscript`` with lmerTest and
pbkrtest is installed; ``--no-r`` skips it, ``--quick`` runs the small designs only.

Usage::

    python benchmarks/bench_inference.py [--quick] [--no-r] [--r-max-rows N]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
import time
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import statsmodels.formula.api as smf

import lmmhelpers
from lmmhelpers import anova_table, coef_table
from lmmhelpers.book import nested_slopes
from lmmhelpers.covariance import structure

HERE = Path(__file__).parent


def crossed_data(n_subjects, n_items, seed=0):
    """Subjects × items, every subject sees every item; a condition within both."""
    rng = np.random.default_rng(seed)
    s = np.repeat(np.arange(n_subjects), n_items)
    i = np.tile(np.arange(n_items), n_subjects)
    cond = np.where((s + i) % 2 == 0, "a", "b")
    y = 0.3 * (cond == "b") + rng.normal(size=n_subjects)[s] + rng.normal(size=n_items)[i]
    y = y + rng.normal(size=len(s))
    return pd.DataFrame({"y": y, "cond": cond, "subj": [f"s{k:04d}" for k in s],
                         "item": [f"i{k:04d}" for k in i], "one": 1})


def crossed_model(data):
    """The one-group crossed construction of :func:`crossed_data`'s model."""
    return smf.mixedlm("y ~ C(cond)", data, groups="one", re_formula="0",
                       vc_formula={"subj": "0 + C(subj)", "item": "0 + C(item)"})


#: The crossed model in lme4's notation.
CROSSED_LME4 = "y ~ cond + (1 | subj) + (1 | item)"


def crossed_intercepts(n_subjects, n_items, seed=0):
    """(data, model, lme4 formula) of the crossed benchmark design."""
    data = crossed_data(n_subjects, n_items, seed)
    return data, crossed_model(data), CROSSED_LME4


def time_ours(result, ddf, reps=3):
    """Median seconds and peak MiB for coef_table + anova_table from a fresh structure."""
    times, peak = [], 0
    for _ in range(reps):
        tracemalloc.start()
        t0 = time.perf_counter()
        structure(result, refresh=True)  # time the structure too, from scratch, every rep
        coefs = coef_table(result, ddf=ddf)
        terms = anova_table(result, ddf=ddf)
        times.append(time.perf_counter() - t0)
        peak = max(peak, tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    return float(np.median(times)), peak / 2**20, coefs, terms


def time_r(data, formula, reps):
    if shutil.which("Rscript") is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        csv, out = Path(tmp) / "data.csv", Path(tmp) / "out.json"
        data.drop(columns=["one"], errors="ignore").to_csv(csv, index=False)
        cmd = ["Rscript", str(HERE / "r_timing.R"), str(csv), formula, str(out), str(reps),
               "satterthwaite,kr"]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            print(f"    R failed: {proc.stderr.strip()[-300:]}")
            return None
        return json.loads(out.read_text())


def max_rel_diff(ours, theirs):
    ours, theirs = np.asarray(ours, dtype=float), np.asarray(theirs, dtype=float)
    return float(np.max(np.abs(ours - theirs) / np.abs(theirs)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small designs only")
    parser.add_argument("--no-r", action="store_true", help="do not run R")
    parser.add_argument("--r-max-rows", type=int, default=50_000,
                        help="run R only on designs up to this many rows (default 50000)")
    args = parser.parse_args()

    designs = [
        ("nested slopes, 20,000 rows", lambda: nested_slopes(20_000)),
        ("crossed 30 x 30", lambda: crossed_intercepts(30, 30)),
    ]
    if not args.quick:
        designs += [
            ("nested slopes, 50,000 rows", lambda: nested_slopes(50_000)),
            ("nested slopes, 100,000 rows", lambda: nested_slopes(100_000)),
            ("crossed 50 x 50", lambda: crossed_intercepts(50, 50)),
            ("crossed 100 x 100", lambda: crossed_intercepts(100, 100)),
        ]

    print(f"lmmhelpers {lmmhelpers.__version__}; times are medians, seconds; ratio = R / ours\n")
    header = (f"{'design':30s} {'n':>7s} {'fit':>6s} | {'Satt':>6s} {'R':>7s} {'ratio':>6s} | "
              f"{'KR':>6s} {'R':>7s} {'ratio':>6s} | {'MiB':>5s} {'df diff':>8s}")
    print(header)
    print("-" * len(header))
    for label, make in designs:
        data, model, formula = make()
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = lmmhelpers.fit_mixedlm(model)
        t_fit = time.perf_counter() - t0
        t_s, mem_s, coef_s, terms_s = time_ours(result, "satterthwaite")
        t_k, mem_k, coef_k, terms_k = time_ours(result, "kenward-roger")
        r = None
        if not args.no_r and len(data) <= args.r_max_rows:
            r = time_r(data, formula, reps=1 if len(data) > 2_000 else 3)
        if r:
            r_s = r["timings"]["satterthwaite"]["median"]
            r_k = r["timings"]["kr"]["median"]
            diff = max(
                max_rel_diff(coef_s["df"], r["df"]["coef_satterthwaite"]),
                max_rel_diff(coef_k["df"], r["df"]["coef_kr"]),
            )
            r_cols = f"{r_s:7.2f} {r_s / t_s:6.0f} | {t_k:6.3f} {r_k:7.2f} {r_k / t_k:6.0f}"
            tail = f"{diff:8.1e}"
        else:
            r_cols = f"{'-':>7s} {'-':>6s} | {t_k:6.3f} {'-':>7s} {'-':>6s}"
            tail = f"{'-':>8s}"
        print(f"{label:30s} {len(data):7d} {t_fit:6.1f} | {t_s:6.3f} {r_cols} | "
              f"{max(mem_s, mem_k):5.0f} {tail}", flush=True)


if __name__ == "__main__":
    main()
