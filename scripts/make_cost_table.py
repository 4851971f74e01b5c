"""Cache the timings the book cites but does not measure live (R's side, and large sizes).

Usage::

    python scripts/make_cost_table.py [--no-r] [--only {inference,crossed}]

Writes two CSV files under ``data/cost/`` (seconds, wall clock, best of a few repeats):

``dof_inference_times.csv``
    Satterthwaite and Kenward-Roger (coefficient table + type III table, from an existing fit,
    the covariance structure included) in lmmhelpers and, where ``Rscript`` with lmerTest and
    pbkrtest exists, in R (``benchmarks/r_timing.R``: lmerTest on an existing lme4 fit;
    pbkrtest's ``vcovAdj`` + ``Lb_ddf`` + the type III KR tests; crossed designs up to
    ``R_MAX_CROSSED_ROWS`` rows). The designs are those of
    ``lmmhelpers.book.nested_slopes`` (random intercepts and slopes, 20 rows per group) and
    the crossed subjects × items design of ``benchmarks/bench_inference.py``; lmmhelpers'
    time is ``lmmhelpers.book.time_corrections`` (best of 3).
``crossed_fit_times.csv``
    Fitting the crossed model ``y ~ cond + (1|subj) + (1|item)`` with the one-group
    ``vc_formula`` construction in statsmodels (one REML log-likelihood evaluation; a Powell
    fit; the default fit) against ``lme4::lmer`` at growing numbers of subjects = items.

Both chapters build without R and without this script: they read these files and say so.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import shutil
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import pandas as pd

from lmmhelpers import fit_mixedlm
from lmmhelpers.book import best_time, nested_slopes, repository_root, time_corrections

ROOT = repository_root()
OUT = ROOT / "data" / "cost"
#: pbkrtest's KR on a crossed design inverts dense n x n matrices many times: 900 rows take
#: about 25 s per call on a shared 2-core machine, 1,600 rows several minutes. R is timed up
#: to this size only.
R_MAX_CROSSED_ROWS = 900


def _bench():
    """benchmarks/bench_inference.py: its crossed design (subjects × items, every subject
    sees every item, a condition within both) and its R timing (``time_r``)."""
    spec = importlib.util.spec_from_file_location(
        "bench_inference", ROOT / "benchmarks" / "bench_inference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def inference(use_r):
    bench = _bench()
    designs = [("nested", lambda n=n: nested_slopes(n)) for n in (1_000, 5_000, 20_000)]
    designs += [("crossed", lambda s=s: bench.crossed_intercepts(s, s)) for s in (20, 30, 40)]
    rows = []
    for kind, make in designs:
        data, model, formula = make()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = fit_mixedlm(model)
        row = {"design": kind, "n_obs": len(data), "formula": formula}
        seconds = time_corrections(result, reps=3)
        row["lmmhelpers_satterthwaite"] = seconds["satterthwaite"]
        row["lmmhelpers_kr"] = seconds["kenward-roger"]
        if use_r and (kind == "nested" or len(data) <= R_MAX_CROSSED_ROWS):
            r = bench.time_r(data, formula, reps=1 if len(data) > 2_000 else 3)
            if r:
                row["r_satterthwaite"] = r["timings"]["satterthwaite"]["median"]
                row["r_kr"] = r["timings"]["kr"]["median"]
                row["r_versions"] = "; ".join(f"{k} {v}" for k, v in r["versions"].items())
        print(row, file=sys.stderr, flush=True)
        rows.append(row)
    pd.DataFrame(rows).to_csv(OUT / "dof_inference_times.csv", index=False, float_format="%.6g")


def crossed(use_r):
    bench = _bench()
    rows = []
    for s in (10, 20, 30, 40, 60, 80):
        data, model, formula = bench.crossed_intercepts(s, s)
        row = {"n_subjects": s, "n_items": s, "n_obs": len(data)}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            start = model.fit(method="powell")
            params = start.params_object
            reps = 2 if s < 60 else 1
            row["loglike_eval"] = best_time(
                lambda m=model, p=params: m.loglike(p, profile_fe=True), 5)
            row["fit_powell"] = best_time(lambda m=model: m.fit(method="powell"), reps)
            row["fit_default"] = best_time(lambda m=model: m.fit(), reps)
        if use_r:
            r = _r_fit_time(data, formula)
            if r:
                row["lme4_fit"] = r
        print(row, file=sys.stderr, flush=True)
        rows.append(row)
    pd.DataFrame(rows).to_csv(OUT / "crossed_fit_times.csv", index=False, float_format="%.6g")


def _r_fit_time(data, formula):
    with tempfile.TemporaryDirectory() as tmp:
        csv, out = Path(tmp) / "data.csv", Path(tmp) / "out.json"
        data.drop(columns=["one"], errors="ignore").to_csv(csv, index=False)
        cmd = ["Rscript", str(ROOT / "benchmarks" / "r_timing.R"), str(csv), formula, str(out),
               "3", "fit"]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            print(f"R failed: {proc.stderr[-300:]}", file=sys.stderr)
            return None
        return float(json.loads(out.read_text())["timings"]["fit"]["median"])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-r", action="store_true", help="do not run R")
    parser.add_argument("--only", choices=("inference", "crossed"))
    args = parser.parse_args(argv)
    use_r = not args.no_r and shutil.which("Rscript") is not None
    OUT.mkdir(parents=True, exist_ok=True)
    if args.only in (None, "inference"):
        inference(use_r)
    if args.only in (None, "crossed"):
        crossed(use_r)


if __name__ == "__main__":
    main()
