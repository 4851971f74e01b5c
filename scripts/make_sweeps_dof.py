"""Regenerate the cached studies of the chapters on degrees of freedom and crossed effects.

Usage::

    python scripts/make_sweeps_dof.py [--n-jobs 2] [--only {dof,optimizers,lrt}]

Everything lands in ``data/sweeps/`` with a ``dof_`` or ``crossed_`` prefix:

``dof_study-<key>.csv.gz`` / ``.json``, ``dof_index.csv``, ``dof_summary.csv``
    Null calibration of the fixed-effect tests in three designs (one ``lmmhelpers.run_study``
    call each; the table and description are written as ``lmmhelpers.save_study`` writes them,
    with the prefix; read them back with ``lmmhelpers.study.read_study_csv``):

    * ``nested``: the two-input design with 3 groups of 5 per input (6 groups), the input
      effect between groups;
    * ``unbalanced``: 4 groups per input of 2, 3, 6 and 12 rows;
    * ``crossed``: 20 subjects × 8 items (4 per category), the category effect between
      items, fitted with the one-group ``vc_formula`` construction.

    Methods: z ("normal"), Satterthwaite, Kenward-Roger from one REML fit per replicate. The
    between-within rule (``lmmhelpers.between_within_df``) needs no fit: its t statistic is
    the z statistic, referred to a t distribution with the design's between-within df, so
    ``dof_summary.csv`` derives it from the "normal" rows (method ``between-within``).
    Replicate i of a study is seeded by ``SeedSequence(seed).spawn(n_sim)[i]``, so a chapter
    that runs the first replicates live gets exactly the first rows of the cached table.
``crossed_optimizers.csv``
    For 60 crossed data sets (20 subjects × 10 items) in two conditions (item SD 80, the
    DeBruine & Barr value, and item SD 10, near the boundary): statsmodels' default ``fit()``,
    ``fit(method=...)`` for powell, nm, lbfgs, bfgs, and ``lmmhelpers.fit_mixedlm``; per fit
    the optimizer's ``converged`` flag, the REML criterion, the seconds and the warnings.
``crossed_lrt_null.csv``
    The REML likelihood-ratio statistic for "item variance = 0" on 300 crossed data sets
    (16 subjects × 6 items) simulated without item variance.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import time
import warnings
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import statsmodels.formula.api as smf
from scipy import stats

import lmmhelpers
from lmmhelpers import crossed_design, rejection_rate, run_study, two_input_design
from lmmhelpers.study import MixedLMTest, read_study_csv, study_description, study_key

ROOT = Path(__file__).resolve().parents[1]
SWEEPS = ROOT / "data" / "sweeps"
METHODS = ("normal", "satterthwaite", "kenward-roger")
VC = {"subj": "0 + C(subj_id)", "item": "0 + C(item_id)"}


def crossed_one_group(**kwargs):
    """crossed_design with a constant column ``one``: statsmodels' single group."""
    return crossed_design(**kwargs).assign(one=1)


def dof_conditions():
    """(name, design, analyses, n_sim, seed, groups for the between-within rule)."""
    between = "input[T.input_1]"
    nested = MixedLMTest("output ~ input", "group", between, methods=METHODS)
    return [
        ("nested", functools.partial(two_input_design, n_groups=3, n_per_group=5),
         [nested], 1000, 3101, "group"),
        ("unbalanced", functools.partial(two_input_design, n_groups=4,
                                         n_per_group=[2, 3, 6, 12]),
         [nested], 1000, 3102, "group"),
        ("crossed", functools.partial(crossed_one_group, n_subj=20, n_ingroup=4, n_outgroup=4,
                                      beta_1=0.0, tau_1=0.0, rho=0.0),
         [MixedLMTest("RT ~ X_i", "one", "X_i", methods=METHODS, re_formula="0",
                      vc_formula=VC)], 400, 3103, "item_id"),
    ]


def between_within_rows(results, df_bw):
    """Rows of method "between-within" from the "normal" rows: p from t(df_bw) at the z."""
    bw = results[results["method"] == "normal"].copy()
    bw["method"] = "between-within"
    bw["df"] = float(df_bw)
    ok = bw["status"] == "ok"
    bw.loc[ok, "p_value"] = 2 * stats.t.sf(np.abs(bw.loc[ok, "statistic"]), df_bw)
    return bw


def design_df_bw(design, analysis, groups):
    """The between-within df of the tested coefficient, from one draw of the design."""
    data = design(seed=0)
    kwargs = {"groups": analysis.groups}
    if analysis.re_formula is not None:
        kwargs["re_formula"] = analysis.re_formula
    if analysis.vc_formula is not None:
        kwargs["vc_formula"] = dict(analysis.vc_formula)
    model = smf.mixedlm(analysis.formula, data, **kwargs)
    return int(lmmhelpers.between_within_df(model, groups=groups)[analysis.term])


def _run_study_part(design, analyses, n_sim, seed, replicates):
    return run_study(design, analyses, n_sim, seed, n_jobs=1, progress=False,
                     replicates=replicates)


def _run_study_split(design, analyses, n_sim, seed, n_jobs):
    """run_study over replicate chunks in forked workers (so __main__ designs work).

    Replicate i's rows do not depend on which chunk ran it, so the table is the one a single
    ``run_study`` call gives.
    """
    chunks = [list(range(j, n_sim, max(n_jobs, 1))) for j in range(max(n_jobs, 1))]
    with joblib.parallel_config(backend="multiprocessing"):
        parts = joblib.Parallel(n_jobs=n_jobs)(
            joblib.delayed(_run_study_part)(design, analyses, n_sim, seed, c) for c in chunks)
    res = pd.concat(parts, ignore_index=True)
    return res.sort_values("replicate", kind="stable").reset_index(drop=True)


def run_dof(n_jobs):
    index, summaries = [], []
    for name, design, analyses, n_sim, seed, groups in dof_conditions():
        description = study_description(design, analyses, n_sim, seed)
        key = study_key(description)
        t0 = time.perf_counter()
        res = _run_study_split(design, analyses, n_sim, seed, n_jobs)
        seconds = time.perf_counter() - t0
        csv_path = SWEEPS / f"dof_study-{key}.csv.gz"
        res.to_csv(csv_path, index=False, compression={"method": "gzip", "mtime": 0})
        (SWEEPS / f"dof_study-{key}.json").write_text(
            json.dumps(description, indent=1, sort_keys=True) + "\n")
        df_bw = design_df_bw(design, analyses[0], groups)
        full = pd.concat([res, between_within_rows(res, df_bw)], ignore_index=True)
        rates = rejection_rate(full, alpha=0.05, by="method")
        summaries.append(rates.assign(design=name)[["design"] + list(rates.columns)])
        index.append({"design": name, "n_sim": n_sim, "seed": seed, "df_between_within": df_bw,
                      "seconds": round(seconds, 1), "file": csv_path.name,
                      "lmmhelpers_version": lmmhelpers.__version__})
        print(f"{name}: {n_sim} replicates in {seconds:.0f} s", file=sys.stderr, flush=True)
        assert len(read_study_csv(csv_path)) == len(res)
    pd.DataFrame(index).to_csv(SWEEPS / "dof_index.csv", index=False)
    pd.concat(summaries, ignore_index=True).to_csv(SWEEPS / "dof_summary.csv", index=False,
                                                   float_format="%.6g")


def crossed_model(data, vc=VC, formula="RT ~ X_i"):
    return smf.mixedlm(formula, data, groups="one", re_formula="0", vc_formula=vc)


def optimizer_rows(data, dataset, condition):
    """One row per optimizer on one data set."""
    rows = []
    for label in ("default", "powell", "nm", "lbfgs", "bfgs", "fit_mixedlm"):
        model = crossed_model(data)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            t0 = time.perf_counter()
            try:
                if label == "default":
                    r = model.fit()
                elif label == "fit_mixedlm":
                    r = lmmhelpers.fit_mixedlm(model)
                else:
                    r = model.fit(method=label)
                error = ""
            except Exception as exc:  # noqa: BLE001 - recorded
                r, error = None, f"{type(exc).__name__}: {exc}"
            seconds = time.perf_counter() - t0
        texts = list(dict.fromkeys(str(w.message).split("\n")[0] for w in caught))
        rows.append({
            "condition": condition, "dataset": dataset, "optimizer": label,
            "converged": None if r is None else bool(r.converged),
            "reml_criterion": np.nan if r is None else -2 * float(r.llf),
            "boundary": None if r is None else bool(lmmhelpers.is_boundary(r)),
            "seconds": seconds, "n_warnings": len(caught), "warnings": " | ".join(texts),
            "error": error,
        })
    return rows


def _optimizer_batch(condition, omega_0, children):
    rows = []
    for i, seq in children:
        data = crossed_one_group(n_subj=20, n_ingroup=5, n_outgroup=5, omega_0=omega_0,
                                 tau_1=0.0, rho=0.0, seed=np.random.default_rng(seq))
        rows.extend(optimizer_rows(data, i, condition))
    return rows


def run_optimizers(n_jobs, n_sets=60):
    rows = []
    for k, (condition, omega_0) in enumerate((("item SD 80", 80.0), ("item SD 10", 10.0))):
        children = list(enumerate(np.random.SeedSequence(4100 + k).spawn(n_sets)))
        batches = [children[j::max(n_jobs, 1)] for j in range(max(n_jobs, 1))]
        with joblib.parallel_config(backend="multiprocessing"):
            parts = joblib.Parallel(n_jobs=n_jobs)(
                joblib.delayed(_optimizer_batch)(condition, omega_0, b) for b in batches)
        for part in parts:
            rows.extend(part)
    frame = pd.DataFrame(rows).sort_values(["condition", "dataset"], kind="stable")
    frame.to_csv(SWEEPS / "crossed_optimizers.csv", index=False, float_format="%.10g")


def lrt_statistic(data):
    """REML LRT of item variance = 0: subjects + items against subjects only."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        full = lmmhelpers.fit_mixedlm(crossed_model(data))
        null = lmmhelpers.fit_mixedlm(crossed_model(data, vc={"subj": VC["subj"]}))
    return max(2 * (float(full.llf) - float(null.llf)), 0.0), bool(full.boundary)


def _lrt_batch(children):
    rows = []
    for i, seq in children:
        data = crossed_one_group(n_subj=16, n_ingroup=3, n_outgroup=3, omega_0=0.0,
                                 tau_1=0.0, rho=0.0, seed=np.random.default_rng(seq))
        stat, boundary = lrt_statistic(data)
        rows.append({"replicate": i, "lrt": stat, "boundary": boundary})
    return rows


def run_lrt(n_jobs, n_sim=300, seed=4200):
    children = list(enumerate(np.random.SeedSequence(seed).spawn(n_sim)))
    batches = [children[j::max(n_jobs, 1)] for j in range(max(n_jobs, 1))]
    with joblib.parallel_config(backend="multiprocessing"):
        parts = joblib.Parallel(n_jobs=n_jobs)(joblib.delayed(_lrt_batch)(b) for b in batches)
    frame = pd.DataFrame([r for p in parts for r in p]).sort_values("replicate")
    frame.to_csv(SWEEPS / "crossed_lrt_null.csv", index=False, float_format="%.10g")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--only", choices=("dof", "optimizers", "lrt"))
    args = parser.parse_args(argv)
    SWEEPS.mkdir(parents=True, exist_ok=True)
    if args.only in (None, "dof"):
        run_dof(args.n_jobs)
    if args.only in (None, "optimizers"):
        run_optimizers(args.n_jobs)
    if args.only in (None, "lrt"):
        run_lrt(args.n_jobs)


if __name__ == "__main__":
    main()
