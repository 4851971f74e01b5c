"""Benchmark of the Monte Carlo runner on the seed's design (prints figures; not a test).

Usage::

    python benchmarks/bench_study.py [--n-sim 200] [--split 30]

Prints
1. the split of one replicate's cost: data generation, the REML fit (``fit_mixedlm``), the
   z table, Satterthwaite and Kenward-Roger (each on a fresh fit, and both on one fit, which
   shares the cached covariance structure);
2. replicates per second of ``null_pvalue_study`` (z, Satterthwaite, KR) on 1 and 2 worker
   processes, after a warm-up that starts the worker pool, and the speedup.

The machine's load average is printed too: figures taken on a busy machine are not comparable.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
import warnings

import numpy as np
import statsmodels.formula.api as smf

import lmmhelpers
from lmmhelpers import coef_table, two_input_design
from lmmhelpers.book import null_pvalue_study

DESIGN = dict(n_groups=10, n_per_group=20, group_var=1.0, resid_var=1.0)
METHODS = ("normal", "satterthwaite", "kenward-roger")


def _fit(data):
    model = smf.mixedlm("output ~ input", data, groups="group")
    try:
        from lmmhelpers.fitting import fit_mixedlm
    except ImportError:
        return model.fit(), "statsmodels MixedLM.fit"
    return fit_mixedlm(model), "lmmhelpers.fit_mixedlm"


def cost_split(n):
    """Median seconds per replicate of each step, over ``n`` replicates."""
    steps = {k: [] for k in ("data", "fit", "normal", "satterthwaite", "kenward-roger",
                             "satterthwaite+kenward-roger on one fit")}
    fitter = ""
    children = np.random.SeedSequence(2024).spawn(n)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for seq in children:
            t0 = time.perf_counter()
            data = two_input_design(**DESIGN, seed=np.random.default_rng(seq))
            t1 = time.perf_counter()
            result, fitter = _fit(data)
            t2 = time.perf_counter()
            steps["data"].append(t1 - t0)
            steps["fit"].append(t2 - t1)
            for method in ("normal", "satterthwaite", "kenward-roger"):
                fresh, _ = _fit(data)  # a fresh result: no cached structure
                t = time.perf_counter()
                coef_table(fresh, ddf=method)
                steps[method].append(time.perf_counter() - t)
            t = time.perf_counter()
            coef_table(result, ddf="satterthwaite")
            coef_table(result, ddf="kenward-roger")
            steps["satterthwaite+kenward-roger on one fit"].append(time.perf_counter() - t)
    return {k: float(np.median(v)) for k, v in steps.items()}, fitter


def throughput(n_sim, n_jobs, seed):
    t = time.perf_counter()
    res = null_pvalue_study(**DESIGN, n_sim=n_sim, seed=seed, n_jobs=n_jobs, methods=METHODS,
                            progress=False)
    elapsed = time.perf_counter() - t
    return n_sim / elapsed, res


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-sim", type=int, default=200, help="replicates per timed run")
    parser.add_argument("--split", type=int, default=30, help="replicates for the cost split")
    parser.add_argument("--repeats", type=int, default=3,
                        help="timed runs per worker count, interleaved; the best is reported")
    args = parser.parse_args()

    print(f"lmmhelpers {lmmhelpers.__version__}, Python {platform.python_version()}, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    print(f"design: two_input_design({', '.join(f'{k}={v}' for k, v in DESIGN.items())}), "
          f"{2 * DESIGN['n_groups'] * DESIGN['n_per_group']} rows")

    split, fitter = cost_split(args.split)
    print(f"\ncost of one replicate (median of {args.split}, ms; fit by {fitter}):")
    for step, seconds in split.items():
        print(f"  {step:<42s} {1000 * seconds:8.1f}")
    total = split["data"] + split["fit"] + split["satterthwaite+kenward-roger on one fit"] + \
        split["normal"]
    print(f"  {'total (data, fit, z, S and KR on one fit)':<42s} {1000 * total:8.1f}")

    throughput(8, 2, seed=0)  # warm-up: starts the worker processes and imports there
    runs = {1: [], 2: []}
    for _ in range(args.repeats):  # interleaved, so that load from elsewhere hits both alike
        for n_jobs in (1, 2):
            rate, res = throughput(args.n_sim, n_jobs, seed=1)
            runs[n_jobs].append(rate)
    print(f"\nnull_pvalue_study, methods {METHODS}, n_sim={args.n_sim}, {args.repeats} "
          f"interleaved runs each (load average now {os.getloadavg()[0]:.2f}):")
    for n_jobs, rate in runs.items():
        print(f"  n_jobs={n_jobs}: best {max(rate):6.2f} replicates/s "
              f"(all: {', '.join(f'{r:.2f}' for r in rate)})")
    print(f"  speedup 2 vs 1 worker (best vs best): {max(runs[2]) / max(runs[1]):.2f}x")
    failed = int((res["status"] != "ok").sum())
    print(f"  rows not ok: {failed}; boundary fits: {int(res['boundary'].sum())} of {len(res)}")


if __name__ == "__main__":
    main()
