"""Store null draws of the dietox answer's tests (chapter "A complete analysis, reported").

Usage::

    python scripts/make_dietox_calibration.py [--n-sim N] [--n-jobs J]

Runs :func:`lmmhelpers.book.dietox_answer_null_draws`: data sets drawn from the REML fit of
:func:`lmmhelpers.book.dietox_answer_model` with every fixed effect 0 (variances as fitted),
each refitted, with the p-values of the type III F tests of the diets and of the t test of
``C(Cu)[T.3]``. Stores them in ``data/calibration/`` (``dietox_answer.csv``, one row per draw;
``dietox_answer.json``, the seed, the fit's REML criterion and the versions). The chapter reads
them with :func:`lmmhelpers.book.dietox_answer_calibration`: the copper F test is the test the
written result reports, and ``lmmhelpers.calibrate`` tests one coefficient at a time.
"""

from __future__ import annotations

import argparse
import json
import platform
from datetime import date

import numpy as np
import scipy
import statsmodels

import lmmhelpers
from lmmhelpers.book import dietox_answer_null_draws, repository_root
from lmmhelpers.book.dietox import DIETOX_ANSWER_CALIBRATION

SEED = 2026


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-sim", type=int, default=2000)
    parser.add_argument("--n-jobs", type=int, default=1)
    args = parser.parse_args()
    draws, criterion = dietox_answer_null_draws(args.n_sim, SEED, n_jobs=args.n_jobs)
    path = repository_root() / DIETOX_ANSWER_CALIBRATION
    path.parent.mkdir(parents=True, exist_ok=True)
    draws.to_csv(path.with_suffix(".csv"), index=False)
    measured = {"seed": SEED, "n_sim": args.n_sim, "reml_criterion": criterion,
                "date": date.today().isoformat(), "python": platform.python_version(),
                "numpy": np.__version__, "scipy": scipy.__version__,
                "statsmodels": statsmodels.__version__, "lmmhelpers": lmmhelpers.__version__}
    path.with_suffix(".json").write_text(json.dumps(measured, indent=1) + "\n",
                                         encoding="utf-8")


if __name__ == "__main__":
    main()
