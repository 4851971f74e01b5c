"""The stored studies of the crossed-random-effects chapter (subjects × items).

Everything is stored under ``data/sweeps/crossed/`` by ``scripts/make_sweeps_crossed.py``:

``OPTIMIZER_STUDY`` (``optimizers.csv.gz``)
    statsmodels' optimizers and :func:`lmmhelpers.fit_mixedlm` on crossed data sets.
``LRT_NULL_STUDY`` (``lrt_null.csv.gz``)
    The REML likelihood-ratio statistic for "item variance = 0", and the exact ANOVA F
    statistic of the same hypothesis (:func:`item_f_test`), on data without item variance.
:func:`item_means_studies` (``study-<key>.csv.gz``)
    The category effect tested under the null by the crossed model, Satterthwaite and
    Kenward-Roger, and by the t test on item means, without and with by-subject random
    slopes (:class:`lmmhelpers.book.StoredStudy` objects).

The first two run through :func:`lmmhelpers.book.run_seeded`, so data set ``i`` of a
condition is the same whether the script or a chapter draws it.
"""

from __future__ import annotations

import functools
import time
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from lmmhelpers.book.repository import repository_root
from lmmhelpers.book.runner import replicate_rng, run_seeded
from lmmhelpers.book.scenarios import CROSSED_SLOPE_VC, CROSSED_VC, crossed_model, crossed_one_group
from lmmhelpers.book.studies import StoredStudy
from lmmhelpers.fitting import fit_mixedlm, refit
from lmmhelpers.parameters import is_boundary
from lmmhelpers.study import GroupMeansTTest, MixedLMTest

__all__ = ["LRT_NULL_STUDY", "OPTIMIZER_STUDY", "OPTIMIZERS",
           "item_f_test", "optimizer_rows", "item_means_studies"]

_SCRIPT = "scripts/make_sweeps_crossed.py"
#: The fits compared, statsmodels' default ``fit()``, ``fit(method=...)`` and fit_mixedlm.
OPTIMIZERS = ("default", "powell", "nm", "lbfgs", "bfgs", "fit_mixedlm")


def _read(path, script):
    if not path.is_file():
        raise FileNotFoundError(f"stored study {path} is missing; regenerate it with {script}.")
    return pd.read_csv(path)


def _save(table, path):
    path.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(path, index=False, float_format="%.10g")


# --------------------------------------------------------------------------------------------
# optimizers
# --------------------------------------------------------------------------------------------


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
    >>> len(OPTIMIZER_STUDY.load()) == 2 * OPTIMIZER_STUDY.n_sets * len(OPTIMIZERS)
    True
    """

    conditions: tuple = (("item SD 80", 80.0), ("item SD 10", 10.0))
    n_sets: int = 60
    seed: int = 4100
    file: str = "sweeps/crossed/optimizers.csv.gz"

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
        return _read(self.path(), f"{_SCRIPT} --only optimizers")

    def save(self, table):
        _save(table, self.path())


# --------------------------------------------------------------------------------------------
# is the item variance zero? (boundary LRT)
# --------------------------------------------------------------------------------------------


def item_f_test(data, response="RT"):
    """The exact ANOVA F test of "item variance = 0" in a complete, balanced crossed design.

    With one response per subject × item, items nested in the two categories and no
    by-subject slopes, the item mean square (items within categories) over the residual mean
    square (subject × item) has an F distribution with ``(I - 2, (S - 1)(I - 1))`` df when
    the item variance is zero: subject effects cancel from both.

    Parameters
    ----------
    data : pandas.DataFrame
        Columns ``subj_id``, ``item_id``, ``X_i`` and the response, every cell once.
    response : str, default "RT"

    Returns
    -------
    dict
        ``F``, ``df_items``, ``df_resid`` and ``p_value``.

    Examples
    --------
    >>> d = crossed_one_group(n_subj=16, n_ingroup=3, n_outgroup=3, omega_0=0.0, seed=2)
    >>> out = item_f_test(d)
    >>> out["df_items"], out["df_resid"]
    (4, 75)
    """
    y = data[response].to_numpy(float)
    n_subj, n_items = data["subj_id"].nunique(), data["item_id"].nunique()
    if len(data) != n_subj * n_items or data.groupby(["subj_id", "item_id"]).size().max() > 1:
        raise ValueError("data must hold every subject x item cell exactly once")
    grand = y.mean()
    subj = data.groupby("subj_id")[response].transform("mean").to_numpy()
    item = data.groupby("item_id")[response].transform("mean").to_numpy()
    category = data.groupby("X_i")[response].transform("mean").to_numpy()
    ss_items = float(np.sum((item - category) ** 2))
    ss_resid = float(np.sum((y - subj - item + grand) ** 2))
    df_items, df_resid = n_items - 2, (n_subj - 1) * (n_items - 1)
    F = (ss_items / df_items) / (ss_resid / df_resid)
    return {"F": F, "df_items": df_items, "df_resid": df_resid,
            "p_value": float(stats.f.sf(F, df_items, df_resid))}


@functools.lru_cache(maxsize=4)
def _lrt_templates(n_subj, n_items):
    """Engine fits of the full and the reduced model, reused for every replicate (refit)."""
    data = crossed_one_group(n_subj=n_subj, n_ingroup=n_items // 2,
                             n_outgroup=n_items - n_items // 2, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        full = fit_mixedlm(crossed_model(data))
        reduced = fit_mixedlm(crossed_model(data, vc={"subj": CROSSED_VC["subj"]}))
    return full, reduced


def _lrt_task(i, rng, n_subj, n_items):
    data = crossed_one_group(n_subj=n_subj, n_ingroup=n_items // 2,
                             n_outgroup=n_items - n_items // 2, omega_0=0.0, tau_1=0.0,
                             rho=0.0, seed=rng)
    full_t, reduced_t = _lrt_templates(n_subj, n_items)
    y = data["RT"].to_numpy(float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        full = refit(full_t, y, start="default")
        reduced = refit(reduced_t, y, start="default")
    item_var = dict(zip(full.model.exog_vc.names, full.vcomp, strict=True))["item"]
    statistic = max(2 * (float(full.llf) - float(reduced.llf)), 0.0)
    return [{"replicate": i, "lrt": statistic, "item_var": float(item_var),
             "boundary": bool(full.boundary), "converged": bool(full.converged
                                                               and reduced.converged),
             "F": item_f_test(data)["F"]}]


@dataclass(frozen=True)
class LRTNullStudy:
    """REML LRT of "item variance = 0" on crossed data simulated without item variance.

    Each replicate: ``lrt`` (2 × the REML log-likelihood difference, clipped at 0), the full
    fit's ``item_var``, ``boundary`` and ``converged`` (both fits), and the exact F statistic
    of :func:`item_f_test`. Both models are refitted with :func:`lmmhelpers.refit` from
    lme4's default start, which gives the numbers of a fresh :func:`lmmhelpers.fit_mixedlm`.

    Examples
    --------
    >>> LRT_NULL_STUDY.n_subj, LRT_NULL_STUDY.n_items
    (16, 6)
    >>> list(LRT_NULL_STUDY.run(replicates=[0]).columns)
    ['replicate', 'lrt', 'item_var', 'boundary', 'converged', 'F']
    """

    n_sim: int = 6000
    seed: int = 4200
    n_subj: int = 16
    n_items: int = 6
    file: str = "sweeps/crossed/lrt_null.csv.gz"

    def run(self, *, n_jobs=1, replicates=None):
        """The statistics of all (or some) replicates, computed live."""
        return run_seeded(_lrt_task, self.n_sim, self.seed, n_jobs=n_jobs,
                          replicates=replicates, n_subj=self.n_subj, n_items=self.n_items)

    def path(self):
        return repository_root() / "data" / self.file

    def load(self):
        """The stored statistics (``FileNotFoundError`` naming the script when missing)."""
        return _read(self.path(), f"{_SCRIPT} --only lrt")

    def save(self, table):
        _save(table, self.path())


# --------------------------------------------------------------------------------------------
# item means against the crossed model, without and with by-subject slopes
# --------------------------------------------------------------------------------------------


def item_means_studies():
    """The category effect under the null, tested four ways, as by-subject slopes grow.

    The design: 20 subjects × 10 items (5 per category), DeBruine & Barr's intercept SDs
    (items 80, subjects 100), residual SD 200, no category effect (``beta_1 = 0``), and a
    by-subject slope SD ``tau_1`` of 0 or 200 (uncorrelated with the intercepts). Studies
    ``intercepts-tau<t>``: the crossed model with random intercepts only (Satterthwaite and
    Kenward-Roger) and the t test on item means, one fit per replicate. Study
    ``slopes-tau200``: the crossed model with a by-subject slope variance component
    (``CROSSED_SLOPE_VC``, Kenward-Roger) on the same data sets as ``intercepts-tau200``.
    2,000 replicates each; stored in ``data/sweeps/crossed/``.

    Returns
    -------
    dict of StoredStudy
        By name.

    Examples
    --------
    >>> studies = item_means_studies()
    >>> sorted(studies)
    ['intercepts-tau0', 'intercepts-tau200', 'slopes-tau200']
    >>> studies["slopes-tau200"].seed == studies["intercepts-tau200"].seed
    True
    """
    intercepts = (
        MixedLMTest("RT ~ X_i", "one", "X_i", methods=("satterthwaite", "kenward-roger"),
                    re_formula="0", vc_formula=CROSSED_VC),
        GroupMeansTTest("RT", "item_id", "X_i"),
    )
    slopes = (MixedLMTest("RT ~ X_i", "one", "X_i", methods=("kenward-roger",),
                          re_formula="0", vc_formula=CROSSED_SLOPE_VC),)
    out = {}
    for name, tau_1, analyses, seed in (("intercepts-tau0", 0.0, intercepts, 5100),
                                        ("intercepts-tau200", 200.0, intercepts, 5101),
                                        ("slopes-tau200", 200.0, slopes, 5101)):
        design = functools.partial(crossed_one_group, n_subj=20, n_ingroup=5, n_outgroup=5,
                                   beta_1=0.0, omega_0=80.0, tau_0=100.0, tau_1=tau_1,
                                   rho=0.0, sigma=200.0)
        out[name] = StoredStudy(name, design, analyses, 2000, seed, "sweeps/crossed",
                                {"tau_1": tau_1, "script": f"{_SCRIPT} --only slopes"})
    return out


#: The stored optimizer comparison.
OPTIMIZER_STUDY = OptimizerStudy()
#: The stored null LRT statistics.
LRT_NULL_STUDY = LRTNullStudy()
