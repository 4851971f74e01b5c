"""The stored crossed-design studies that are not :func:`lmmhelpers.run_study` studies.

``data/sweeps/crossed_optimizers.csv``: statsmodels' optimizers and
:func:`lmmhelpers.fit_mixedlm` on crossed data sets (``OPTIMIZER_STUDY``).
``data/sweeps/crossed_lrt_null.csv``: the REML likelihood-ratio statistic for "item variance
= 0" on null data (``LRT_NULL_STUDY``). Both are written by
``scripts/make_sweeps_dof.py`` through :func:`lmmhelpers.book.run_seeded`, so data set ``i``
of a condition is the same whether the script or a chapter draws it.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from lmmhelpers.book.repository import repository_root
from lmmhelpers.book.runner import replicate_rng, run_seeded
from lmmhelpers.book.scenarios import crossed_lrt, crossed_model, crossed_one_group
from lmmhelpers.fitting import fit_mixedlm
from lmmhelpers.parameters import is_boundary

__all__ = ["LRT_NULL_STUDY", "OPTIMIZER_STUDY", "OPTIMIZERS", "optimizer_rows"]

#: The fits compared, statsmodels' default ``fit()``, ``fit(method=...)`` and fit_mixedlm.
OPTIMIZERS = ("default", "powell", "nm", "lbfgs", "bfgs", "fit_mixedlm")


def optimizer_rows(data, dataset, condition):
    """One row per optimizer of ``OPTIMIZERS`` on one crossed data set.

    Each row: the optimizer's ``converged`` flag, the REML criterion, whether the fit is
    singular, the seconds, the warnings (counted and their first lines) and any error.

    Examples
    --------
    >>> d = crossed_one_group(n_subj=6, n_ingroup=3, n_outgroup=3, tau_1=0.0, rho=0.0, seed=1)
    >>> [r["optimizer"] for r in optimizer_rows(d, 0, "demo")][:2]
    ['default', 'powell']
    """
    rows = []
    for label in OPTIMIZERS:
        model = crossed_model(data)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            t0 = time.perf_counter()
            try:
                if label == "default":
                    r = model.fit()
                elif label == "fit_mixedlm":
                    r = fit_mixedlm(model)
                else:
                    r = model.fit(method=label)
                error = ""
            except Exception as exc:  # noqa: BLE001 - recorded in the row, not dropped
                r, error = None, f"{type(exc).__name__}: {exc}"
            seconds = time.perf_counter() - t0
        texts = list(dict.fromkeys(str(w.message).split("\n")[0] for w in caught))
        rows.append({
            "condition": condition, "dataset": dataset, "optimizer": label,
            "converged": None if r is None else bool(r.converged),
            "reml_criterion": np.nan if r is None else -2 * float(r.llf),
            "boundary": None if r is None else bool(is_boundary(r)),
            "seconds": seconds, "n_warnings": len(caught), "warnings": " | ".join(texts),
            "error": error,
        })
    return rows


def _optimizer_task(i, rng, condition, omega_0):
    data = crossed_one_group(n_subj=20, n_ingroup=5, n_outgroup=5, omega_0=omega_0,
                             tau_1=0.0, rho=0.0, seed=rng)
    return optimizer_rows(data, i, condition)


@dataclass(frozen=True)
class OptimizerStudy:
    """Optimizers on crossed data (20 subjects × 10 items) in two conditions.

    Condition ``k`` (item SD 80, the DeBruine & Barr value; item SD 10, near the boundary)
    has ``n_sets`` data sets seeded from ``seed + k``.

    Examples
    --------
    >>> OPTIMIZER_STUDY.conditions
    (('item SD 80', 80.0), ('item SD 10', 10.0))
    >>> len(OPTIMIZER_STUDY.load())
    720
    """

    conditions: tuple = (("item SD 80", 80.0), ("item SD 10", 10.0))
    n_sets: int = 60
    seed: int = 4100
    file: str = "sweeps/crossed_optimizers.csv"

    def data(self, condition, dataset):
        """Data set ``dataset`` of condition ``condition`` (its name)."""
        k = [c for c, _ in self.conditions].index(condition)
        return crossed_one_group(n_subj=20, n_ingroup=5, n_outgroup=5,
                                 omega_0=self.conditions[k][1], tau_1=0.0, rho=0.0,
                                 seed=replicate_rng(self.seed + k, self.n_sets, dataset))

    def run(self, *, n_jobs=1, datasets=None):
        """The study's table (or the rows of some data sets), computed live."""
        parts = [run_seeded(_optimizer_task, self.n_sets, self.seed + k, n_jobs=n_jobs,
                            replicates=datasets, condition=condition, omega_0=omega_0)
                 for k, (condition, omega_0) in enumerate(self.conditions)]
        return pd.concat(parts, ignore_index=True).sort_values(["condition", "dataset"],
                                                               kind="stable")

    def path(self):
        return repository_root() / "data" / self.file

    def load(self):
        """The stored table (``FileNotFoundError`` naming the script when it is missing)."""
        return _read(self.path(), "scripts/make_sweeps_dof.py --only optimizers")

    def save(self, table):
        table.to_csv(self.path(), index=False, float_format="%.10g")


def _lrt_task(i, rng, n_subj, n_items):
    data = crossed_one_group(n_subj=n_subj, n_ingroup=n_items // 2,
                             n_outgroup=n_items - n_items // 2, omega_0=0.0, tau_1=0.0,
                             rho=0.0, seed=rng)
    statistic, boundary = crossed_lrt(data, drop="item")
    return [{"replicate": i, "lrt": statistic, "boundary": boundary}]


@dataclass(frozen=True)
class LRTNullStudy:
    """REML LRT of "item variance = 0" on crossed data simulated without item variance.

    Examples
    --------
    >>> LRT_NULL_STUDY.n_sim, LRT_NULL_STUDY.n_subj, LRT_NULL_STUDY.n_items
    (300, 16, 6)
    """

    n_sim: int = 300
    seed: int = 4200
    n_subj: int = 16
    n_items: int = 6
    file: str = "sweeps/crossed_lrt_null.csv"

    def run(self, *, n_jobs=1, replicates=None):
        """The statistics of all (or some) replicates, computed live."""
        return run_seeded(_lrt_task, self.n_sim, self.seed, n_jobs=n_jobs,
                          replicates=replicates, n_subj=self.n_subj, n_items=self.n_items)

    def path(self):
        return repository_root() / "data" / self.file

    def load(self):
        """The stored statistics (``FileNotFoundError`` naming the script when missing)."""
        return _read(self.path(), "scripts/make_sweeps_dof.py --only lrt")

    def save(self, table):
        table.to_csv(self.path(), index=False, float_format="%.10g")


def _read(path, script):
    if not path.is_file():
        raise FileNotFoundError(f"stored study {path} is missing; regenerate it with {script}.")
    return pd.read_csv(path)


#: The stored optimizer comparison.
OPTIMIZER_STUDY = OptimizerStudy()
#: The stored null LRT statistics.
LRT_NULL_STUDY = LRTNullStudy()
