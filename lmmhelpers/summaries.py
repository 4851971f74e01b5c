"""Summaries of Monte Carlo studies: rejection rates with intervals, uniformity, power.

Every summary works on the long table of :func:`lmmhelpers.run_study` and counts what
happened to the fits alongside the rate: ``n`` replicates, ``n_valid`` with a p-value,
``n_error`` (exceptions), ``n_not_converged``, ``n_boundary`` and ``n_not_applicable``. A rate is
computed over the valid p-values only and says so; nothing is dropped silently.
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np
import pandas as pd
from scipy import stats

from lmmhelpers._validation import check_int, check_probability

__all__ = [
    "TooFewUsableDraws",
    "clopper_pearson_interval",
    "interval_coverage",
    "power",
    "rejection_rate",
    "uniformity_test",
    "wilson_interval",
]


def _check_level(level):
    return check_probability("level", level)


def _check_counts(k, n):
    k = np.asarray(k)
    n = np.asarray(n)
    if k.dtype.kind not in "iuf" or n.dtype.kind not in "iuf":
        raise TypeError("k and n must be numbers of successes and trials")
    if np.any(n < 0) or np.any(k < 0) or np.any(k > n):
        raise ValueError("k and n must satisfy 0 <= k <= n")
    if np.any(k != np.round(k)) or np.any(n != np.round(n)):
        raise ValueError("k and n must be whole numbers")
    return k.astype(float), n.astype(float)


def wilson_interval(k, n, level=0.95):
    """Wilson score interval for a binomial proportion.

    Parameters
    ----------
    k : int or array_like
        Number of successes (e.g. rejections).
    n : int or array_like
        Number of trials; where ``n == 0`` the interval is (0, 1).
    level : float, default 0.95
        Confidence level.

    Returns
    -------
    lower, upper : float or ndarray

    Examples
    --------
    >>> lo, hi = wilson_interval(25, 500)
    >>> round(float(lo), 4), round(float(hi), 4)
    (0.0341, 0.0728)
    >>> wilson_interval(0, 0)
    (0.0, 1.0)
    """
    level = _check_level(level)
    k, n = _check_counts(k, n)
    z = stats.norm.ppf(0.5 + level / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(n > 0, k / np.where(n > 0, n, 1), 0.5)
        denom = 1 + z**2 / np.where(n > 0, n, 1)
        centre = (p + z**2 / (2 * np.where(n > 0, n, 1))) / denom
        half = z * np.sqrt(p * (1 - p) / np.where(n > 0, n, 1)
                           + z**2 / (4 * np.where(n > 0, n, 1) ** 2)) / denom
    lower = np.where(n > 0, np.clip(centre - half, 0, 1), 0.0)
    upper = np.where(n > 0, np.clip(centre + half, 0, 1), 1.0)
    # exact endpoints at the extremes (rounding would leave 1e-17 instead of 0)
    lower = np.where(k == 0, 0.0, lower)
    upper = np.where(k == n, 1.0, upper)
    if lower.ndim == 0:
        return float(lower), float(upper)
    return lower, upper


def clopper_pearson_interval(k, n, level=0.95):
    """Clopper-Pearson ("exact") interval for a binomial proportion.

    Parameters
    ----------
    k, n, level
        As :func:`wilson_interval`.

    Returns
    -------
    lower, upper : float or ndarray

    Examples
    --------
    >>> lo, hi = clopper_pearson_interval(25, 500)
    >>> round(float(lo), 4), round(float(hi), 4)
    (0.0326, 0.0729)
    """
    level = _check_level(level)
    k, n = _check_counts(k, n)
    a = (1 - level) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        lower = np.where(k > 0, stats.beta.ppf(a, k, n - k + 1), 0.0)
        upper = np.where(k < n, stats.beta.ppf(1 - a, k + 1, n - k), 1.0)
    lower = np.where(n > 0, np.nan_to_num(lower), 0.0)
    upper = np.where(n > 0, np.nan_to_num(upper, nan=1.0), 1.0)
    if lower.ndim == 0:
        return float(lower), float(upper)
    return lower, upper


_INTERVALS = {"wilson": wilson_interval, "clopper-pearson": clopper_pearson_interval}


def interval_coverage(p, n, *, level=0.95, interval="wilson", method=None):
    """Exact coverage probability of a binomial interval at a true proportion ``p``.

    The sum over ``k = 0..n`` of ``P(K = k)`` for the ``k`` whose interval contains ``p``;
    no simulation involved.

    Parameters
    ----------
    p : float
        True proportion, in [0, 1].
    n : int
        Number of trials.
    level : float, default 0.95
        Nominal level.
    interval : {"wilson", "clopper-pearson"}, default "wilson"
        The interval (the same argument as in :func:`rejection_rate`).
    method : {"wilson", "clopper-pearson"}, optional
        Deprecated spelling of ``interval``; accepted with a ``DeprecationWarning``.

    Returns
    -------
    float

    Examples
    --------
    >>> round(interval_coverage(0.05, 1000), 4)
    0.9504
    >>> interval_coverage(0.05, 1000, interval="clopper-pearson") >= 0.95
    True
    """
    if method is not None:
        warnings.warn("interval_coverage(method=...) is deprecated; use interval=...",
                      DeprecationWarning, stacklevel=2)
        interval = method
    if interval not in _INTERVALS:
        raise ValueError(f"interval must be one of {sorted(_INTERVALS)}, got {interval!r}")
    if isinstance(p, bool) or not isinstance(p, numbers.Real) or not 0 <= p <= 1:
        raise ValueError(f"p must be a probability in [0, 1], got {p!r}")
    n = check_int("n", n, minimum=1)
    level = _check_level(level)
    k = np.arange(n + 1)
    lower, upper = _INTERVALS[interval](k, np.full(k.shape, n), level)
    inside = (lower <= p) & (p <= upper)
    return float(stats.binom.pmf(k, n, p)[inside].sum())


def _check_results(results):
    if not isinstance(results, pd.DataFrame):
        raise TypeError(f"results must be a study's DataFrame, got {type(results).__name__}")
    missing = {"p_value", "status", "converged", "boundary"} - set(results.columns)
    if missing:
        raise ValueError(f"results lacks the columns {sorted(missing)} of a study's table")


def _by(by, results):
    if by is None:
        return []
    by = [by] if isinstance(by, str) else list(by)
    absent = [c for c in by if c not in results.columns]
    if absent:
        raise ValueError(f"by names columns not in results: {absent}")
    return by


def _counts(frame):
    status = frame["status"]
    conv = frame["converged"].astype("boolean")
    bnd = frame["boundary"].astype("boolean")
    return {
        "n": len(frame),
        "n_valid": int(frame["p_value"].notna().sum()),
        "n_error": int((status == "error").sum()),
        "n_not_converged": int((conv == False).sum()),  # noqa: E712 - NA counts as neither
        "n_boundary": int((bnd == True).sum()),  # noqa: E712
        "n_not_applicable": int((status == "not applicable").sum()),
    }


def rejection_rate(results, alpha=0.05, *, by=("method", "term"), level=0.95,
                   interval="wilson", converged_only=False):
    """Rejection rate at one or more levels ``alpha``, with binomial intervals.

    Parameters
    ----------
    results : pandas.DataFrame
        A study's table (see :func:`lmmhelpers.run_study`), possibly several studies
        concatenated with columns that tell them apart (then add those to ``by``).
    alpha : float or sequence of float, default 0.05
        Test levels; a p-value below ``alpha`` is a rejection.
    by : str or sequence of str, default ("method", "term")
        Columns to group by (those absent from ``results`` are an error).
    level : float, default 0.95
        Confidence level of the interval for the rate.
    interval : {"wilson", "clopper-pearson"}, default "wilson"
    converged_only : bool, default False
        Count only rows whose fit converged (the others still appear in the counts).

    Returns
    -------
    pandas.DataFrame
        One row per group and ``alpha``: the ``by`` columns, ``alpha``, ``rejections``,
        ``rate`` (= rejections / n_used), ``lower``, ``upper``, ``n_used`` (the p-values the
        rate is over) and the counts ``n``, ``n_valid``, ``n_error``, ``n_not_converged``,
        ``n_boundary``, ``n_not_applicable``. A group without p-values has rate NaN.

    Examples
    --------
    >>> import pandas as pd
    >>> res = pd.DataFrame({"method": "z", "p_value": [0.01, 0.2, 0.04, None],
    ...                     "status": ["ok", "ok", "ok", "error"],
    ...                     "converged": [True, True, False, None], "boundary": False})
    >>> rejection_rate(res, alpha=0.05, by="method")[["rate", "n_used", "n_error",
    ...                                               "n_not_converged"]]
           rate  n_used  n_error  n_not_converged
    0  0.666667       3        1                1
    """
    _check_results(results)
    alphas = [alpha] if isinstance(alpha, numbers.Real) else list(alpha)
    alphas = [check_probability("alpha", a) for a in alphas]
    if interval not in _INTERVALS:
        raise ValueError(f"interval must be one of {sorted(_INTERVALS)}, got {interval!r}")
    level = _check_level(level)
    by = _by(by, results)
    groups = results.groupby(by, sort=True, dropna=False) if by else [((), results)]
    out = []
    for key, frame in groups:
        key = key if isinstance(key, tuple) else (key,)
        counts = _counts(frame)
        used = frame["p_value"].notna()
        if converged_only:
            used &= frame["converged"].astype("boolean").fillna(False).astype(bool)
        p = frame.loc[used, "p_value"].to_numpy(dtype=float)
        for a in alphas:
            k = int((p < a).sum())
            n_used = int(p.size)
            lo, hi = _INTERVALS[interval](k, n_used, level)
            out.append({**dict(zip(by, key, strict=True)), "alpha": float(a), "rejections": k,
                        "rate": k / n_used if n_used else np.nan,
                        "lower": lo if n_used else np.nan, "upper": hi if n_used else np.nan,
                        "n_used": n_used, **counts})
    return pd.DataFrame(out)


def power(results, alpha=0.05, *, by=("method", "term"), level=0.95, interval="wilson"):
    """Power at the effect the study simulated: its rejection rate, with intervals.

    The same computation as :func:`rejection_rate` (under a nonzero effect the rejection rate
    is the power); the ``rate`` column is named ``power``.

    Examples
    --------
    >>> import pandas as pd
    >>> res = pd.DataFrame({"method": "z", "p_value": [0.001, 0.2, 0.03, 0.04],
    ...                     "status": "ok", "converged": True, "boundary": False})
    >>> float(power(res, by="method")["power"].iloc[0])
    0.75
    """
    table = rejection_rate(results, alpha=alpha, by=by, level=level, interval=interval)
    return table.rename(columns={"rate": "power"})


def uniformity_test(results, by=("method", "term")):
    """How far the p-values are from uniform: Kolmogorov-Smirnov test and tail ratios.

    Parameters
    ----------
    results : pandas.DataFrame
        A study's table.
    by : str or sequence of str, default ("method", "term")
        Columns to group by.

    Returns
    -------
    pandas.DataFrame
        The ``by`` columns, ``n_used`` (valid p-values), ``ks_statistic``, ``ks_pvalue``
        (one-sample KS against U(0, 1)), ``mean_p`` (0.5 under uniformity) and the
        failure counts of :func:`rejection_rate`.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> p = np.random.default_rng(0).uniform(size=400)
    >>> res = pd.DataFrame({"method": "z", "p_value": p, "status": "ok",
    ...                     "converged": True, "boundary": False})
    >>> bool(uniformity_test(res, by="method")["ks_pvalue"].iloc[0] > 0.05)
    True
    """
    _check_results(results)
    by = _by(by, results)
    groups = results.groupby(by, sort=True, dropna=False) if by else [((), results)]
    out = []
    for key, frame in groups:
        key = key if isinstance(key, tuple) else (key,)
        p = frame["p_value"].dropna().to_numpy(dtype=float)
        if p.size:
            ks = stats.kstest(p, "uniform")
            stat, pval, mean = float(ks.statistic), float(ks.pvalue), float(p.mean())
        else:
            stat = pval = mean = np.nan
        out.append({**dict(zip(by, key, strict=True)), "n_used": int(p.size),
                    "ks_statistic": stat, "ks_pvalue": pval, "mean_p": mean,
                    **_counts(frame)})
    return pd.DataFrame(out)


class TooFewUsableDraws(RuntimeError):
    """Fewer simulated data sets than the stated share gave a usable result.

    Raised by :func:`lmmhelpers.calibrate`, :func:`lmmhelpers.bootstrap_test` and
    :func:`lmmhelpers.power_curve` when, for some method and term, the share of draws with a
    usable result (a p-value, a likelihood-ratio statistic) falls below their ``min_usable``:
    a rate over the draws that happened to succeed is a rate over a subset selected by the
    data, not a property of the method. Nothing computed is lost: ``table`` holds the
    function's table and ``draws`` the per-draw rows (their ``message`` column says what
    failed).

    Examples
    --------
    >>> import pandas as pd
    >>> table = pd.DataFrame({"method": ["z"], "term": ["x"], "n_used": [3], "n_failed": [7]})
    >>> err = TooFewUsableDraws.check(table, n_sim=10, min_usable=0.9, what="calibrate")
    >>> print(err)  # doctest: +ELLIPSIS
    calibrate: too few usable draws for z, x: only 3 of 10 (30%) gave a usable result; ...
    """

    def __init__(self, message, table=None, draws=None):
        super().__init__(message)
        self.table = table
        self.draws = draws

    @classmethod
    def check(cls, table, n_sim, min_usable, what, draws=None, labels=("method", "term")):
        """The exception for the rows of ``table`` below ``min_usable``, or None.

        ``table`` has ``n_used`` and the ``labels`` columns; ``draws`` (optional) the
        per-draw rows, whose commonest error message is quoted.
        """
        if min_usable <= 0 or n_sim <= 0:
            return None
        share = table["n_used"].to_numpy(dtype=float) / n_sim
        low = share < min_usable
        if not low.any():
            return None
        columns = [c for c in labels if c in table.columns]
        which = "; ".join(", ".join(str(r[c]) for c in columns)
                          for _, r in table.loc[low, columns].iterrows())
        worst = int(np.argmin(share))
        reason = ""
        if draws is not None and "message" in draws.columns:
            failed = draws.loc[draws["status"] != "ok", "message"].astype(str)
            failed = failed[failed != ""]
            if len(failed):
                common = failed.value_counts()
                reason = (f" The commonest failure ({int(common.iloc[0])} rows): "
                          f"{common.index[0]}.")
        message = (
            f"{what}: too few usable draws for {which}: "
            f"{'only' if low.sum() == 1 else 'as few as'} {int(table['n_used'].iloc[worst])} "
            f"of {n_sim} ({share[worst]:.0%}) gave a usable result; at least "
            f"{min_usable:.0%} are required (min_usable={min_usable:g}), because a rate over "
            f"the draws that happened to succeed is not the method's rate.{reason} Look at "
            "the failures in this exception's .draws, simplify the model or the design, or "
            "pass a smaller min_usable to accept the subset knowingly."
        )
        return cls(message, table=table, draws=draws)
