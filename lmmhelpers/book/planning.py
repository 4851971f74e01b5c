"""The planning chapter's scenarios: exact power of the group-means t test, and crossed power.

- :func:`group_means_power`: the exact power of the two-sample t test on group means in the
  balanced two-input design (:func:`lmmhelpers.two_input_design`), from the noncentral t
  distribution; the check on every simulated power curve of that design.
- :func:`crossed_se`: the standard error of the category effect in a complete, balanced
  subjects × items design (:func:`lmmhelpers.crossed_design`) with by-subject random slopes.
- :func:`crossed_power`: the simulated power of the tests of that effect, every replicate a
  fresh draw of :func:`lmmhelpers.crossed_design` refitted with :func:`lmmhelpers.refit` on
  one template fit (in a complete design the design matrices do not change between draws, so
  the model is built once).
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
from scipy import stats

from lmmhelpers._validation import check_int, check_probability, check_real, check_seed
from lmmhelpers.book.scenarios import CROSSED_VC, crossed_model, crossed_one_group
from lmmhelpers.calibrate import RefitTests
from lmmhelpers.fitting import fit_mixedlm
from lmmhelpers.simulate import crossed_design
from lmmhelpers.summaries import rejection_rate

__all__ = ["crossed_power", "crossed_se", "group_means_power"]


def group_means_power(n_groups, n_per_group, *, effect, group_var=1.0, resid_var=1.0,
                      alpha=0.05):
    """Exact power of the t test on group means in the balanced two-input design.

    With ``G = n_groups`` groups per input and ``m = n_per_group`` observations per group,
    the group means are independent with variance ``group_var + resid_var / m``; their
    two-sample t statistic has ``2G - 2`` df and noncentrality
    ``δ = effect / sqrt(2 (group_var + resid_var / m) / G)``, and the two-sided power is
    ``P(|T_{2G-2}(δ)| > t_{1-α/2, 2G-2})``.

    Parameters
    ----------
    n_groups : int or array_like
        Groups per input (at least 2).
    n_per_group : int or array_like
        Observations per group.
    effect : float
        Difference of the inputs' means.
    group_var, resid_var : float, default 1.0
        Variance of the group effects and of the residuals.
    alpha : float, default 0.05

    Returns
    -------
    float or ndarray

    Examples
    --------
    >>> round(float(group_means_power(10, 20, effect=0.0)), 3)  # at effect 0: the level
    0.05
    >>> group_means_power([3, 12], 10, effect=1.0, group_var=0.25).round(2).tolist()
    [0.36, 0.98]
    """
    alpha = check_probability("alpha", alpha)
    effect = check_real("effect", effect)
    group_var = check_real("group_var", group_var, minimum=0.0)
    resid_var = check_real("resid_var", resid_var, minimum=0.0)
    g = np.asarray(n_groups, dtype=float)
    m = np.asarray(n_per_group, dtype=float)
    if np.any(g < 2) or np.any(m < 1):
        raise ValueError("n_groups must be at least 2 and n_per_group at least 1")
    df = 2 * g - 2
    delta = effect / np.sqrt(2 * (group_var + resid_var / m) / g)
    crit = stats.t.ppf(1 - alpha / 2, df)
    power = stats.nct.sf(crit, df, delta) + stats.nct.cdf(-crit, df, delta)
    return float(power) if np.ndim(power) == 0 else power


def crossed_se(n_subj, n_items, *, omega_0=80.0, tau_1=40.0, sigma=200.0):
    """Standard error of the category effect in a complete, balanced subjects × items design.

    Half the items are in each category (``X_i = ±0.5``). The estimate is the mean over
    subjects of each subject's outgroup-minus-ingroup difference; subject intercepts cancel,
    so its variance is ``tau_1² / S + 4 omega_0² / I + 4 sigma² / (S I)`` for ``S`` subjects and
    ``I`` items (by-subject slopes, by-item intercepts, residuals). Defaults are DeBruine &
    Barr's (2021) values, as in :func:`lmmhelpers.crossed_design`.

    Parameters
    ----------
    n_subj, n_items : int or array_like
        Subjects and items (``n_items`` even).
    omega_0, tau_1, sigma : float
        SDs of the item intercepts, subject slopes and residuals.

    Returns
    -------
    float or ndarray

    Examples
    --------
    >>> round(float(crossed_se(100, 50)), 2)  # the paper's design
    23.66
    """
    s = np.asarray(n_subj, dtype=float)
    i = np.asarray(n_items, dtype=float)
    var = tau_1**2 / s + 4 * omega_0**2 / i + 4 * sigma**2 / (s * i)
    se = np.sqrt(var)
    return float(se) if np.ndim(se) == 0 else se


def _crossed_y(seed, **params):
    """One response vector of :func:`lmmhelpers.crossed_design`, as the column ``y``."""
    return pd.DataFrame({"y": crossed_design(seed=seed, **params)["RT"].to_numpy()})


def crossed_power(n_subj, n_items, n_sim, seed, *, vc=None,
                  methods=("normal", "satterthwaite", "kenward-roger"), alpha=0.05,
                  n_jobs=1, **params):
    """Simulated power of the tests of the category effect in a subjects × items design.

    Each replicate draws a complete data set from :func:`lmmhelpers.crossed_design` (seeded as
    :func:`lmmhelpers.run_study` seeds its replicates) and fits the crossed model (by default
    by-subject and by-item intercepts, :data:`lmmhelpers.book.scenarios.CROSSED_VC`) by
    :func:`lmmhelpers.refit` of one template fit; every method reads that one fit.

    Parameters
    ----------
    n_subj, n_items : int
        Subjects and items (``n_items`` even: half in each category).
    n_sim : int
        Replicates.
    seed : int
        Root seed (the template data set uses it too).
    vc : dict, optional
        Variance components of the fitted model (default ``CROSSED_VC``); e.g. add
        ``"slope": "0 + C(subj_id):X_i"`` for by-subject slopes (several times slower).
    methods : sequence of str
        Reference distributions, as in :func:`lmmhelpers.calibrate`.
    alpha : float, default 0.05
    n_jobs : int, default 1
    **params
        Other parameters of :func:`lmmhelpers.crossed_design` (``beta_1``, ``rho``, ...).

    Returns
    -------
    pandas.DataFrame
        One row per method: ``n_subj``, ``n_items``, ``method``, ``power``, ``lower``,
        ``upper`` (Wilson 95%), ``n_used``, ``n_failed``, ``n_not_converged``, ``n_boundary``.

    Examples
    --------
    >>> t = crossed_power(6, 4, n_sim=3, seed=1, methods=("normal",), tau_1=0.0)
    >>> t[["n_subj", "n_items", "method", "n_used"]].values.tolist()
    [[6, 4, 'normal', 3]]
    """
    from lmmhelpers.study import run_study

    n_subj = check_int("n_subj", n_subj, minimum=2)
    n_items = check_int("n_items", n_items, minimum=2)
    if n_items % 2:
        raise ValueError(f"n_items must be even (half in each category), got {n_items}")
    n_sim = check_int("n_sim", n_sim, minimum=1)
    seed = check_seed(seed)
    layout = {"n_subj": n_subj, "n_ingroup": n_items // 2, "n_outgroup": n_items // 2}
    if params.get("missing", 0.0):
        raise ValueError("crossed_power needs complete data: missing must be 0")
    template = fit_mixedlm(crossed_model(crossed_one_group(seed=seed, **layout, **params),
                                         vc=CROSSED_VC if vc is None else vc))
    design = functools.partial(_crossed_y, **layout, **params)
    draws = run_study(design, [RefitTests(template, ["X_i"], methods)], n_sim, seed,
                      n_jobs=n_jobs, progress=False)
    rates = rejection_rate(draws, alpha=alpha, by=["method"]).rename(
        columns={"rate": "power", "n_error": "n_failed"})
    rates.insert(0, "n_items", n_items)
    rates.insert(0, "n_subj", n_subj)
    return rates[["n_subj", "n_items", "method", "power", "lower", "upper", "n_used",
                  "n_failed", "n_not_converged", "n_boundary"]]
