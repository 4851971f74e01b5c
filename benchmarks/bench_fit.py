"""Benchmark: fit_mixedlm's engine against lme4, formula to fitted result, and the refit rate.

For each case of issue 12 (nested random slopes ``y ~ x + C(A)``, ``re_formula="~x"``, 20 rows
per group; crossed subjects × items ``y ~ C(cond)`` with two intercept factors) the script
times ``smf.mixedlm(...)`` + :func:`lmmhelpers.fit_mixedlm` (best of 3; the model construction
and the fit also separately) and, in the same run where ``Rscript`` with lme4 exists,
``lme4::lmer`` on the same data (``benchmarks/r_fit_timing.R``, best of 3). It prints both REML
criteria and the ratio of the times. Then the seed design's replicate (two_input_design, 10
groups per input × 20, ``output ~ input``, random intercept): :func:`lmmhelpers.refit` + z,
Satterthwaite and Kenward-Roger coefficient tables, in replicates per second on one core.

Usage::

    python benchmarks/bench_fit.py [--quick] [--no-r] [--replicates N]
"""

from __future__ import annotations

import os

# One core, as the targets are stated (and as R's reference BLAS runs). A threaded BLAS on a
# shared machine makes the engine's many small products 10-50x slower (measured here).
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import statsmodels.formula.api as smf  # noqa: E402
from bench_inference import CROSSED_LME4, crossed_data, crossed_model  # noqa: E402

from lmmhelpers import coef_table, fit_mixedlm, refit, two_input_design  # noqa: E402

HERE = Path(__file__).parent


def nested_slopes(n_groups, per_group=20, seed=0):
    """Random intercept and slope per group; a 3-level factor and x fixed (issue 11 item 6)."""
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(n_groups), per_group)
    x = rng.normal(size=len(g))
    A = rng.choice(["a1", "a2", "a3"], size=len(g))
    b = rng.multivariate_normal([0, 0], [[1.0, 0.2], [0.2, 0.5]], size=n_groups)
    y = 1 + 0.5 * x + 0.3 * (A == "a2") + b[g, 0] + b[g, 1] * x + rng.normal(size=len(g))
    data = pd.DataFrame({"y": y, "x": x, "A": A, "g": [f"g{i:05d}" for i in g]})

    def build():
        return smf.mixedlm("y ~ x + C(A)", data, groups="g", re_formula="~x")

    return data, build, "y ~ x + A + (x | g)"


def crossed(n_subjects, n_items, seed=0):
    """bench_inference's crossed design; the model is built inside the timed region."""
    data = crossed_data(n_subjects, n_items, seed)
    return data, lambda: crossed_model(data), CROSSED_LME4


CASES = [
    ("nested random slopes 20 x 20", lambda: nested_slopes(20)),
    ("nested random slopes 1,000 x 20", lambda: nested_slopes(1000)),
    ("nested random slopes 5,000 x 20", lambda: nested_slopes(5000)),
    ("crossed 30 x 30", lambda: crossed(30, 30)),
    ("crossed 50 x 50", lambda: crossed(50, 50)),
    ("crossed 100 x 100", lambda: crossed(100, 100)),
]


def _best(f, reps=3):
    best, out = np.inf, None
    for _ in range(reps):
        t0 = time.perf_counter()
        out = f()
        best = min(best, time.perf_counter() - t0)
    return best, out


def time_python(build):
    """Best-of-3 seconds: formula → result, model construction alone, fit alone; the result."""
    total, result = _best(lambda: fit_mixedlm(build()))
    construct, model = _best(build)
    fit, _ = _best(lambda: fit_mixedlm(model))
    return total, construct, fit, result


def time_r(data, formula):
    """lme4's best-of-3 seconds and REML criterion, or None when R fails."""
    with tempfile.TemporaryDirectory() as tmp:
        csv, out = Path(tmp) / "data.csv", Path(tmp) / "out.json"
        data.to_csv(csv, index=False)
        cmd = ["Rscript", str(HERE / "r_fit_timing.R"), str(csv), formula, str(out), "3"]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0 or not out.exists():
            print(f"  R failed: {proc.stderr.strip()[-300:]}")
            return None
        res = json.loads(out.read_text())
    return float(res["best"]), float(res["reml_criterion"])


def seed_replicates(n_rep):
    """Replicates per second of the seed design: refit + z/Satterthwaite/KR tables."""
    first = fit_mixedlm(smf.mixedlm("output ~ input", two_input_design(seed=0),
                                    groups="group"))
    ys = [two_input_design(seed=k)["output"].to_numpy() for k in range(1, n_rep + 1)]

    def replicate(y):
        r = refit(first, y)
        return [coef_table(r, ddf=d) for d in ("normal", "satterthwaite", "kenward-roger")]

    for y in ys[:10]:  # warm-up
        replicate(y)
    t_all, _ = _best(lambda: [replicate(y) for y in ys], reps=1)
    t_refit, fits = _best(lambda: [refit(first, y) for y in ys], reps=1)
    t_tables, _ = _best(lambda: [[coef_table(r, ddf=d) for d in
                                   ("normal", "satterthwaite", "kenward-roger")]
                                  for r in fits], reps=1)
    n = len(ys)
    full_path, _ = _best(
        lambda: [fit_mixedlm(smf.mixedlm("output ~ input", two_input_design(seed=k),
                                          groups="group")) for k in range(1, 21)], reps=1)
    return {"replicates_per_s": n / t_all, "refit_ms": 1e3 * t_refit / n,
            "tables_ms": 1e3 * t_tables / n, "formula_and_fit_ms": 1e3 * full_path / 20}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the small cases only")
    parser.add_argument("--no-r", action="store_true", help="skip lme4")
    parser.add_argument("--replicates", type=int, default=300)
    args = parser.parse_args(argv)
    use_r = not args.no_r and shutil.which("Rscript") is not None
    if not use_r:
        print("R side skipped: " + ("--no-r" if args.no_r else "no Rscript on PATH"))
    cases = CASES if not args.quick else [CASES[0], CASES[3]]
    rows = []
    for name, make in cases:
        data, build, formula = make()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            total, construct, fit, result = time_python(build)
        row = {"model": name, "rows": len(data), "lmmhelpers s": total,
               "of which model construction s": construct, "fit s": fit,
               "converged": bool(result.converged), "REML crit ours": -2 * result.llf}
        if use_r:
            r = time_r(data, formula)
            if r is not None:
                row.update({"lme4 s": r[0], "REML crit lme4": r[1], "ratio": total / r[0],
                            "ratio, fit alone": fit / r[0],
                            "crit ours - lme4": -2 * result.llf - r[1]})
        rows.append(row)
        print(pd.DataFrame([row]).to_string(index=False, float_format="%.4g"), flush=True)
    table = pd.DataFrame(rows)
    print("\n" + table.to_markdown(index=False, floatfmt=".4g")
          if hasattr(table, "to_markdown") else table.to_string(index=False))
    seed = seed_replicates(args.replicates)
    print(
        f"\nseed design replicate (refit + z/S/KR coef_table): "
        f"{seed['replicates_per_s']:.0f} replicates/s; refit {seed['refit_ms']:.2f} ms, "
        f"three coef_tables {seed['tables_ms']:.2f} ms; formula + fit_mixedlm per replicate "
        f"{seed['formula_and_fit_ms']:.2f} ms"
    )


if __name__ == "__main__":
    main()
