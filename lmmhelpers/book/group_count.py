"""The stored group-count sweeps: an index of cells and their p-values, stored compactly.

The full study tables are too big to commit for 33 cells, so ``scripts/make_sweeps_group_count.py``
writes two files under ``data/sweeps/``:

``group_count_index.csv``
    One row per cell (:func:`lmmhelpers.book.group_count_cells`), with the lmmhelpers version
    and the study key of the cell's description.
``group_count_pvalues.csv.gz``
    One row per cell, replicate, method and term: ``p_value`` and ``df`` rounded to 4
    significant digits, and ``converged``, ``boundary``, ``status`` as in the study table.

:func:`load_group_count` reads them and checks that every stored cell is the cell that
:func:`lmmhelpers.book.group_count_cells` specifies, so a chapter cannot read data made from
another specification.

In the balanced two-input design every test of the input is a function of the group means,
so some levels are exact: :func:`z_level` (a normal-reference test of the t statistic on
group means) and :func:`gee_level` (GEE with the plain or the Mancl-DeRouen sandwich, whose
statistic is that t times a constant); :func:`gee_ratio` recovers the constant from stored
p-values, and :func:`by_fit` splits a cell's rates by boundary and interior fits.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats
from scipy.special import betaln as special_betaln
from scipy.special import fdtr as special_fdtr

from lmmhelpers._validation import check_probability
from lmmhelpers.book.repository import repository_root
from lmmhelpers.book.studies import group_count_cells, group_count_study
from lmmhelpers.summaries import rejection_rate

__all__ = ["GROUP_COUNT_COLUMNS", "boundary_levels", "boundary_probability", "by_fit",
           "compact", "gee_level", "gee_ratio",
           "group_count_index", "load_group_count", "z_level"]

#: The columns of a study table that the compact file keeps.
GROUP_COUNT_COLUMNS = ("replicate", "method", "term", "p_value", "df", "converged", "boundary",
                       "status")
INDEX_FILE, PVALUES_FILE = "group_count_index.csv", "group_count_pvalues.csv.gz"


def directory():
    """``data/sweeps/`` of the repository."""
    return repository_root() / "data" / "sweeps"


def group_count_index():
    """The index the script writes: the cells with the lmmhelpers version and study keys.

    Examples
    --------
    >>> index = group_count_index()
    >>> list(index.columns[:3]), len(index)
    (['cell', 'sweep', 'design'], 33)
    """
    import lmmhelpers

    rows = []
    for entry in group_count_cells():
        rows.append({**entry, "lmmhelpers_version": lmmhelpers.__version__,
                     "study_key": group_count_study(entry).key()})
    return pd.DataFrame(rows)


def compact(results, cell):
    """The stored columns of one cell's study table (rounded when written).

    Examples
    --------
    >>> from lmmhelpers.book import null_pvalue_study
    >>> table = null_pvalue_study(3, 4, 1.0, 1.0, n_sim=2, seed=1, progress=False)
    >>> list(compact(table, 7).columns[:3])
    ['cell', 'replicate', 'method']
    """
    out = results[list(GROUP_COUNT_COLUMNS)].copy()
    out.insert(0, "cell", int(cell))
    return out


def _as_text(frame):
    return frame.astype(object).where(frame.notna(), "").map(str)


def load_group_count():
    """The stored index and p-values, checked against the cells' specification.

    Returns
    -------
    index : pandas.DataFrame
        One row per cell, as :func:`group_count_index`.
    pvalues : pandas.DataFrame
        One row per cell, replicate, method and term.

    Raises
    ------
    FileNotFoundError
        When a file is missing (naming it and the script that writes it).
    ValueError
        When a stored cell differs from its specification in :func:`group_count_cells`, or
        was stored under another study key.

    Examples
    --------
    >>> index, pvalues = load_group_count()
    >>> int(index.loc[0, "n_sim"]) == int((pvalues["cell"] == 0).sum() / 4)
    True
    """
    here = directory()
    for name in (INDEX_FILE, PVALUES_FILE):
        if not (here / name).is_file():
            raise FileNotFoundError(
                f"{here / name} is missing; regenerate it with "
                "scripts/make_sweeps_group_count.py.")
    index = pd.read_csv(here / INDEX_FILE)
    expected = group_count_index()
    columns = [c for c in expected.columns if c not in ("lmmhelpers_version",)]
    stored, wanted = _as_text(index.reindex(columns=columns)), _as_text(expected[columns])
    if stored.shape != wanted.shape or not (stored.to_numpy() == wanted.to_numpy()).all():
        raise ValueError(
            f"{here / INDEX_FILE} does not list the cells of lmmhelpers.book.group_count_cells "
            "(or their study keys changed): regenerate it with "
            "scripts/make_sweeps_group_count.py (--index-only rewrites the index alone).")
    pvalues = pd.read_csv(here / PVALUES_FILE, low_memory=False)  # boundary: bool or empty
    return index, pvalues


# --------------------------------------------------------------------------------------------
# exact levels in the balanced two-input design (every statistic a function of group means)
# --------------------------------------------------------------------------------------------


def _check_groups(n_groups):
    m = np.asarray(n_groups, dtype=float)
    if np.any(m < 2) or np.any(m != np.round(m)):
        raise ValueError(f"n_groups must be whole numbers of at least 2, got {n_groups!r}")
    return m


def z_level(n_groups, alpha=0.05):
    """Level of a normal-reference test whose statistic is the t on group means.

    With ``m`` groups per input and a balanced design, the t statistic of the ``2m`` group
    means has a :math:`t_{2m-2}` distribution under the null; the mixed model's Wald
    statistic equals it whenever the fit is interior. Compared with the normal quantile
    :math:`z_{1-\\alpha/2}`, it rejects with probability
    :math:`P(|T_{2m-2}| > z_{1-\\alpha/2})`.

    Parameters
    ----------
    n_groups : int or array_like
        Groups per input, ``m`` (at least 2).
    alpha : float, default 0.05
        Nominal level.

    Returns
    -------
    float or ndarray
        A float for a single ``n_groups``.

    Examples
    --------
    >>> round(z_level(3), 3), round(z_level(10, alpha=0.01), 4)
    (0.122, 0.019)
    >>> z_level([10, 1000]).round(3).tolist()
    [0.066, 0.05]
    """
    alpha = check_probability("alpha", alpha)
    m = _check_groups(n_groups)
    level = 2 * stats.t.sf(stats.norm.isf(alpha / 2), 2 * m - 2)
    return float(level) if level.ndim == 0 else level


def gee_level(n_groups, alpha=0.05, *, reference="normal", cov_type="bias_reduced"):
    """Exact level of GEE with the Mancl-DeRouen covariance in the balanced two-input design.

    With a group-level covariate and ``m`` groups of equal size per input, GEE's estimate is
    the difference of the inputs' averages of group means, and the bias-reduced sandwich of
    Mancl and DeRouen (2001) is :math:`m/(m-1)` times the squared standard error of the t test
    on group means, so :math:`z_{MD} = T\\sqrt{(m-1)/m}` with :math:`T \\sim t_{2m-2}`. The
    level is :math:`P(|T_{2m-2}| > q\\sqrt{m/(m-1)})` with ``q`` the normal (or, with
    ``reference="t"``, the :math:`t_{2m-2}`) quantile. The plain sandwich
    (``cov_type="robust"``) is :math:`(m-1)/m` times the squared standard error instead, so
    its level is :math:`P(|T_{2m-2}| > q\\sqrt{(m-1)/m})`. Either depends on ``m`` only, not
    on the group size or the intraclass correlation.

    Parameters
    ----------
    n_groups : int or array_like
        Groups per input, ``m`` (at least 2).
    alpha : float, default 0.05
        Nominal level.
    reference : {"normal", "t"}
        The reference distribution the statistic is compared with.
    cov_type : {"bias_reduced", "robust"}
        The Mancl-DeRouen sandwich or the plain one (statsmodels' names).

    Returns
    -------
    float or ndarray

    Examples
    --------
    >>> round(float(gee_level(3)), 3), round(float(gee_level(3, reference="t")), 3)
    (0.074, 0.027)
    >>> round(float(gee_level(3, cov_type="robust")), 3)
    0.185
    """
    m = _check_groups(n_groups)
    df = 2 * m - 2
    if reference == "normal":
        q = stats.norm.isf(alpha / 2)
    elif reference == "t":
        q = stats.t.isf(alpha / 2, df)
    else:
        raise ValueError(f"reference must be 'normal' or 't', got {reference!r}")
    if cov_type == "bias_reduced":
        factor = m / (m - 1)
    elif cov_type == "robust":
        factor = (m - 1) / m
    else:
        raise ValueError(f"cov_type must be 'bias_reduced' or 'robust', got {cov_type!r}")
    return 2 * stats.t.sf(q * np.sqrt(factor), df)


def gee_ratio(rows, n_groups):
    """Per replicate, GEE's statistic over the t on group means, recovered from p-values.

    GEE's p-value is :math:`2\\Phi(-|z|)`, the group-means test's :math:`2F_{t,2m-2}(-|t|)`;
    inverting both gives :math:`|z|/|t|`, which :func:`gee_level` says is
    :math:`\\sqrt{(m-1)/m}` in every replicate (up to the 4-digit rounding of the stored
    p-values). Replicates whose group-means p-value exceeds 0.5 are left out, where the
    statistics are near 0 and rounding dominates their ratio.

    Parameters
    ----------
    rows : pandas.DataFrame
        One cell's rows (``replicate``, ``method``, ``p_value``), with the methods
        ``"gee-bias-reduced"`` and ``"group-means-t"``.
    n_groups : int
        Groups per input of the cell.

    Returns
    -------
    pandas.Series
        The ratio, by replicate.

    Examples
    --------
    >>> rows = pd.DataFrame({"replicate": [0, 0], "method": ["gee-bias-reduced",
    ...                      "group-means-t"], "p_value": [0.02339, 0.05]})
    >>> round(float(gee_ratio(rows, 3).iloc[0]), 2)  # sqrt(2/3), to the p-values' rounding
    0.82
    """
    m = int(_check_groups(n_groups))
    p = rows.pivot_table(index="replicate", columns="method", values="p_value")
    p = p[p["group-means-t"] < 0.5]
    z = stats.norm.isf(p["gee-bias-reduced"] / 2)
    t = stats.t.isf(p["group-means-t"] / 2, 2 * m - 2)
    return pd.Series(z / t, index=p.index, name="ratio")


def by_fit(rows, alpha=0.05):
    """Rejection rates of one cell split by whether its REML fit ended on the boundary.

    Every replicate is labelled by the ``boundary`` flag of its REML fit (the rows of the
    mixed-model methods, which share one fit), and every method's rows of that replicate,
    the t test on group means and GEE included, carry the label. The rates within a subset
    can then be read against the exact test on the same subset.

    Parameters
    ----------
    rows : pandas.DataFrame
        One cell's rows (``replicate``, ``method``, ``p_value``, ``boundary``, ``status``).
    alpha : float, default 0.05

    Returns
    -------
    pandas.DataFrame
        :func:`lmmhelpers.rejection_rate` by ``fit`` ("boundary" or "interior") and
        ``method``.

    Examples
    --------
    >>> rows = pd.DataFrame({"replicate": [0, 0, 1, 1],
    ...     "method": ["satterthwaite", "group-means-t"] * 2,
    ...     "term": "x", "p_value": [0.01, 0.02, 0.5, 0.6],
    ...     "boundary": [True, None, False, None], "converged": [True, True, True, True],
    ...     "status": "ok", "df": 4.0})
    >>> by_fit(rows)[["fit", "method", "rate"]].values.tolist()[:2]
    [['boundary', 'group-means-t', 1.0], ['boundary', 'satterthwaite', 1.0]]
    """
    mixed = rows[rows["method"] == "satterthwaite"].set_index("replicate")["boundary"]
    flag = rows["replicate"].map(mixed.astype(bool))
    out = rows.assign(fit=np.where(flag, "boundary", "interior"))
    return rejection_rate(out, alpha, by=["fit", "method"])


# --------------------------------------------------------------------------------------------
# boundary fits in the balanced two-input design: exact levels by a one-dimensional integral
# --------------------------------------------------------------------------------------------

#: The tests :func:`boundary_levels` covers and, at a boundary fit, their reference df
#: as a function of ``(a, w)``, the group means' and the within-group residual df.
_BOUNDARY_REFERENCE = {"group-means-t": None, "normal": lambda a, w: np.inf,
                       "satterthwaite": lambda a, w: a + w, "kenward-roger": lambda a, w: a}


def _design(n_groups, n_per_group, icc):
    m = int(_check_groups(n_groups))
    n = int(n_per_group)
    if n < 2 or n != n_per_group:
        raise ValueError(f"n_per_group must be a whole number of at least 2, got {n_per_group!r}")
    icc = check_probability("icc", icc)
    if icc >= 1:
        raise ValueError("icc must be below 1")
    a, w = 2 * m - 2, 2 * m * (n - 1)
    return a, w, 1 + n * icc / (1 - icc)


def boundary_probability(n_groups, n_per_group, icc):
    """Probability that the REML fit of the balanced two-input design ends on the boundary.

    With ``m`` groups of ``n`` per input, the REML estimate of the group variance is
    :math:`(MS_B - MS_W)/n` truncated at zero, so the fit is on the boundary exactly when
    :math:`MS_B < MS_W`, and :math:`MS_B/MS_W \\sim \\kappa F_{2m-2,\\,2m(n-1)}` with
    :math:`\\kappa = 1 + n\\rho/(1-\\rho)`:

    .. math:: P(\\text{boundary}) = P\\left(F_{2m-2,\\,2m(n-1)} < 1/\\kappa\\right).

    Parameters
    ----------
    n_groups : int
        Groups per input, ``m``.
    n_per_group : int
        Observations per group, ``n``.
    icc : float
        Intraclass correlation :math:`\\rho = \\sigma_b^2/(\\sigma_b^2 + \\sigma^2)`.

    Returns
    -------
    float

    Examples
    --------
    >>> round(boundary_probability(3, 5, 0.1), 4)
    0.3628
    """
    a, w, kappa = _design(n_groups, n_per_group, icc)
    return float(stats.f.cdf(1 / kappa, a, w))


def boundary_levels(n_groups, n_per_group, icc, alpha=0.05):
    """Exact rejection rates of the input test by boundary and interior REML fits.

    In the balanced two-input design under the null, write :math:`a = 2m-2`,
    :math:`w = 2m(n-1)`, :math:`\\kappa = 1 + n\\rho/(1-\\rho)`, and scale the sums of
    squares for the input (:math:`SS_A`), the groups within inputs (:math:`SS_B`) and within
    groups (:math:`SS_W`): :math:`X_A = SS_A/\\lambda \\sim \\chi^2_1`,
    :math:`X_B = SS_B/\\lambda \\sim \\chi^2_a` and :math:`X_W = SS_W/\\sigma^2 \\sim \\chi^2_w`,
    independent, with :math:`\\lambda = \\kappa\\sigma^2`. The share of the group means' sum of
    squares that is between inputs, :math:`U = X_A/(X_A + X_B)`, is
    :math:`\\mathrm{Beta}(1/2, a/2)` and independent of its total :math:`X_A + X_B`, hence of
    :math:`V = \\kappa (X_A + X_B)/X_W = \\kappa\\,\\frac{a+1}{w} F_{a+1,\\,w}`. Then

    - the t statistic on group means is :math:`T^2 = aU/(1-U)`, and at an interior fit every
      mixed-model Wald statistic equals it (z compared with the normal quantile,
      Satterthwaite and Kenward-Roger with :math:`t_a`);
    - the fit is on the boundary exactly when :math:`MS_B < MS_W`, i.e. :math:`V(1-U) < a/w`;
    - at a boundary fit the Wald statistic is the OLS t on all rows,
      :math:`Z^2 = (a+w)\\,UV / ((1-U)V + 1)`, compared with the normal quantile (z),
      :math:`t_{a+w}` (Satterthwaite, as lmerTest) or :math:`t_a` (Kenward-Roger).

    So for a quantile :math:`q`, :math:`Z^2 > q^2` is :math:`V > v_q(U)` with
    :math:`v_q(u) = q^2/(u(a+w) - q^2(1-u))` (never when the denominator is not positive), and

    .. math::

        P(\\text{boundary},\\ |Z| > q)
        = \\int_0^1 f_U(u)\\,\\Big[G\\Big(\\tfrac{a}{w(1-u)}\\Big) - G\\big(v_q(u)\\big)\\Big]^+ du,

    with :math:`G` the distribution function of :math:`V` and :math:`f_U` the
    :math:`\\mathrm{Beta}(1/2, a/2)` density; the interior rates are the same integral over
    :math:`\\{V(1-U) \\ge a/w,\\ aU/(1-U) > q^2\\}`. The integral is one-dimensional and is
    evaluated with ``scipy.integrate.quad`` after :math:`u = s^2`.

    Parameters
    ----------
    n_groups : int
        Groups per input, ``m``.
    n_per_group : int
        Observations per group, ``n``.
    icc : float
        Intraclass correlation :math:`\\rho`.
    alpha : float, default 0.05
        Nominal level.

    Returns
    -------
    pandas.DataFrame
        Indexed by method (``"group-means-t"``, ``"normal"``, ``"satterthwaite"``,
        ``"kenward-roger"``), with the rejection rates among ``boundary`` fits, among
        ``interior`` fits and over ``all`` data sets, and, among boundary fits, the
        probabilities that the method rejects and the exact test does not (``more``) and the
        reverse (``fewer``): times the number of boundary fits, the expected paired counts.

    See Also
    --------
    boundary_probability, z_level

    Examples
    --------
    >>> levels = boundary_levels(3, 5, 0.1)
    >>> levels["boundary"].round(3).tolist()
    [0.124, 0.122, 0.106, 0.032]
    >>> levels["all"].round(3).tolist()
    [0.05, 0.074, 0.044, 0.017]
    """
    from scipy import integrate

    alpha = check_probability("alpha", alpha)
    a, w, kappa = _design(n_groups, n_per_group, icc)
    p_boundary = boundary_probability(n_groups, n_per_group, icc)
    scale = kappa * (a + 1) / w

    def cdf_v(v):
        return float(special_fdtr(a + 1, w, v / scale)) if np.isfinite(v) else 1.0

    norm = 2 * np.exp(-special_betaln(0.5, a / 2))

    def density(s):  # f_U(u) du with u = s**2
        return norm * (1 - s * s) ** (a / 2 - 1)

    def v_q(u, q):
        den = u * (a + w) - q * q * (1 - u)
        return q * q / den if den > 0 else np.inf

    def integral(lo, hi, inner):
        lo, hi = np.sqrt(lo), np.sqrt(hi)
        if hi <= lo:
            return 0.0
        value, _ = integrate.quad(lambda s: density(s) * inner(s * s), lo, hi,
                                  limit=200, epsabs=1e-11, epsrel=1e-10)
        return value

    def at_boundary(u, q):
        top = cdf_v(a / (w * (1 - u))) if u < 1 else 1.0
        return max(top - cdf_v(v_q(u, q)), 0.0) if q is not None else top

    def at_interior(u):
        return 1 - (cdf_v(a / (w * (1 - u))) if u < 1 else 1.0)

    q_t = stats.t.isf(alpha / 2, a)
    u_t = q_t ** 2 / (a + q_t ** 2)  # the exact test rejects when U > u_t
    b_exact = integral(u_t, 1, lambda u: at_boundary(u, None))
    rows = {}
    for method, ref in _BOUNDARY_REFERENCE.items():
        q_int = stats.norm.isf(alpha / 2) if method == "normal" else q_t
        u_int = q_int ** 2 / (a + q_int ** 2)
        interior = integral(u_int, 1, at_interior)
        if ref is None:
            rej_b, more, fewer = b_exact, 0.0, 0.0
        else:
            df = ref(a, w)
            q = stats.norm.isf(alpha / 2) if np.isinf(df) else stats.t.isf(alpha / 2, df)
            more = integral(0, u_t, lambda u, q=q: at_boundary(u, q))
            both = integral(u_t, 1, lambda u, q=q: at_boundary(u, q))
            rej_b, fewer = more + both, b_exact - both
        rows[method] = {"boundary": rej_b / p_boundary,
                        "interior": interior / (1 - p_boundary),
                        "all": rej_b + interior,
                        "more": more / p_boundary, "fewer": fewer / p_boundary}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("method")
