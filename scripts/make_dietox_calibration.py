"""Store null draws of the dietox answer's tests (chapter "A complete analysis, reported").

Usage::

    python scripts/make_dietox_calibration.py [--n-sim N] [--n-jobs J]

Draws data sets from the REML fit of :func:`lmmhelpers.book.dietox.dietox_answer_model` with every
fixed effect 0 (variances as fitted), refits each, and stores the p-values of the type III
F tests of the diets and of the t test of ``C(Cu)[T.3]`` in ``data/calibration/``
(``dietox_answer.csv``, one row per draw; ``dietox_answer.json``, the seed, the fit and the
versions). The chapter reads them with :func:`lmmhelpers.book.dietox_answer_calibration`: the
copper F test is the test the written result reports, and ``lmmhelpers.calibrate`` tests one
coefficient at a time.
"""

from __future__ import annotations

import argparse
import json
import platform
import warnings
from datetime import date

import numpy as np
import pandas as pd
import scipy
import statsmodels
from joblib import Parallel, delayed
from scipy import stats

import lmmhelpers
from lmmhelpers import anova_table, coef_table, draw_response, fit_mixedlm, refit
from lmmhelpers.book import repository_root
from lmmhelpers.book.dietox import DIETOX_ANSWER_CALIBRATION, dietox_answer_model

SEED = 2026


def one_draw(fit, replicate, seed):
    row = {"replicate": replicate, "status": "ok", "message": ""}
    y = draw_response(fit, beta=np.zeros(len(fit.fe_params)), seed=seed)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            new = refit(fit, y)
            kr = anova_table(new, "kenward-roger")
            sat = anova_table(new, "satterthwaite")
            t_kr = coef_table(new, "kenward-roger").loc["C(Cu)[T.3]", "P>|t|"]
    except Exception as exc:  # noqa: BLE001 - a failed draw is a counted row
        return {**row, "status": "error", "message": f"{type(exc).__name__}: {exc}"}
    return {**row, "converged": bool(new.converged), "boundary": bool(new.boundary),
            "p_cu_F_kr": kr.loc["C(Cu)", "Pr > F"], "p_cu_F_s": sat.loc["C(Cu)", "Pr > F"],
            "p_cu_chi2": stats.chi2.sf(
                sat.loc["C(Cu)", "F Value"] * sat.loc["C(Cu)", "Num DF"], 2),
            "p_evit_F_kr": kr.loc["C(Evit)", "Pr > F"], "p_cu3_t_kr": t_kr,
            "F_cu_kr": kr.loc["C(Cu)", "F Value"]}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-sim", type=int, default=1000)
    parser.add_argument("--n-jobs", type=int, default=1)
    args = parser.parse_args()
    fit = fit_mixedlm(dietox_answer_model())
    seeds = np.random.SeedSequence(SEED).spawn(args.n_sim)
    rows = Parallel(n_jobs=args.n_jobs)(delayed(one_draw)(fit, i, s)
                                        for i, s in enumerate(seeds))
    path = repository_root() / DIETOX_ANSWER_CALIBRATION
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(path.with_suffix(".csv"), index=False)
    measured = {"seed": SEED, "n_sim": args.n_sim, "reml_criterion": -2 * float(fit.llf),
                "date": date.today().isoformat(), "python": platform.python_version(),
                "numpy": np.__version__, "scipy": scipy.__version__,
                "statsmodels": statsmodels.__version__, "lmmhelpers": lmmhelpers.__version__}
    path.with_suffix(".json").write_text(json.dumps(measured, indent=1) + "\n",
                                         encoding="utf-8")


if __name__ == "__main__":
    main()
