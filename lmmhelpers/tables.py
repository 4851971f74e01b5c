"""Result tables with t and F tests for a statsmodels MixedLM fit.

The three public functions validate their input, build the covariance structure of the fit
once (cached on the result), and hand each hypothesis to the chosen method:

* ``"satterthwaite"``: :mod:`lmmhelpers.satterthwaite` (as lmerTest);
* ``"kenward-roger"``: :mod:`lmmhelpers.kenward_roger` (as pbkrtest);
* ``"normal"``: the Wald z and χ² tests statsmodels reports (infinite denominator df), with
  the standard errors of Φ = (XᵀV̂⁻¹X)⁻¹, for comparison.

Column names follow statsmodels' ``summary2`` (``Coef.``, ``Std.Err.``, ``P>|t|``, ...) and
``AnovaRM`` (``Num DF``, ``Den DF``, ``F Value``, ``Pr > F``).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import special
from statsmodels.regression.mixed_linear_model import MixedLMResults
from statsmodels.tools.sm_exceptions import ConvergenceWarning

from lmmhelpers import _statsmodels, kenward_roger, satterthwaite
from lmmhelpers._model_checks import check_model
from lmmhelpers._validation import check_ddf, check_probability
from lmmhelpers.covariance import structure
from lmmhelpers.hypotheses import type3_contrasts

COEF_COLUMNS = ["Coef.", "Std.Err.", "df", "t", "P>|t|", "[0.025", "0.975]"]
ANOVA_COLUMNS = ["Num DF", "Den DF", "F Value", "Pr > F"]


# -- validation at the boundary --------------------------------------------------------------
def _check_result(result, ddf):
    """Unwrap and validate a MixedLM result for ``ddf``; return the bare results object."""
    ddf = check_ddf(ddf)
    bare = _statsmodels.unwrap(result)
    if not isinstance(bare, MixedLMResults):
        raise TypeError(
            "result must be a fitted statsmodels MixedLM (MixedLMResults, from "
            f"MixedLM.fit() or lmmhelpers.fit_mixedlm), got {type(result).__name__}."
        )
    model = bare.model
    if ddf != "normal" and getattr(bare, "method", "REML") != "REML":
        raise ValueError(
            f"ddf={ddf!r} needs a REML fit, but result was fitted by {bare.method}. "
            "Refit with model.fit(reml=True) or lmmhelpers.fit_mixedlm(model, reml=True)."
        )
    if getattr(bare, "freepat", None) is not None:
        raise ValueError(
            "result was fitted with a constrained covariance (fit(free=...)); "
            "only free covariance structures are supported."
        )
    check_model(model)
    finite = np.all(np.isfinite(np.asarray(bare.fe_params, dtype=float)))
    if not finite or not np.isfinite(bare.scale):
        raise ValueError("result has non-finite estimates; the fit failed. Refit it.")
    if not getattr(bare, "converged", True):
        warnings.warn(
            "result did not converge, so its tests are computed at a point that may not be "
            "the REML optimum; refit with lmmhelpers.fit_mixedlm(model).",
            ConvergenceWarning,
            stacklevel=3,
        )
    return bare, ddf


#: Smallest singular value of L with its rows scaled to unit length below which the rows are
#: treated as linearly dependent (rows that differ by 1e-12 make LΦLᵀ numerically singular).
CONTRAST_RANK_TOL = 1e-8


def _check_contrast(L, rhs, model):
    try:
        L = np.asarray(L, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"L must be a numeric array, got {L!r}.") from exc
    if L.ndim == 1:
        L = L[None, :]
    if L.ndim != 2 or L.shape[1] != model.k_fe:
        raise ValueError(
            f"L must have one column per fixed effect ({model.k_fe}: "
            f"{list(model.exog_names)}), got shape {np.shape(L)}."
        )
    if not np.all(np.isfinite(L)):
        raise ValueError("L contains missing or infinite values.")
    norms = np.linalg.norm(L, axis=1)
    if np.any(norms == 0):
        raise ValueError(f"L has a row of zeros (row {int(np.argmin(norms))}); drop it.")
    singular = np.linalg.svd(L / norms[:, None], compute_uv=False)
    rank = int(np.sum(singular > CONTRAST_RANK_TOL))
    if rank < L.shape[0]:
        raise ValueError(
            f"L has {L.shape[0]} rows but rank {rank}: its rows are linearly dependent "
            "(or nearly so). Drop the redundant rows."
        )
    rhs = np.zeros(L.shape[0]) if rhs is None else np.asarray(rhs, dtype=float).reshape(-1)
    if rhs.shape[0] != L.shape[0]:
        raise ValueError(f"rhs must have one value per row of L ({L.shape[0]}), got {rhs.size}.")
    if not np.all(np.isfinite(rhs)):
        raise ValueError(f"rhs must be finite, got {rhs.tolist()}.")
    return L, rhs


# scipy.special's t and normal distribution functions: the same numbers as scipy.stats, without
# its per-call overhead (a Monte Carlo study calls them thousands of times).
def _t_sf2(t, df):
    """Two-sided p-value of t on df degrees of freedom (normal for infinite df)."""
    if np.isinf(df):
        return float(2 * special.ndtr(-abs(t)))
    return float(2 * special.stdtr(df, -abs(t)))


def _t_quantile(prob, df):
    return float(special.ndtri(prob) if np.isinf(df) else special.stdtrit(df, prob))


# -- one hypothesis, any method: one t test and one F test ------------------------------------
# Each method supplies only what differs: the variance of lᵀβ̂ and its df for a t test, and the
# statistic with its df for an F test. Everything else (estimate, t, p) is computed once here.
def _variance_and_df(cs, l, ddf):
    lc = cs.conditioned(l)  # lᵀΦl = l̃ᵀΦ̃l̃, computed where Φ is well conditioned
    if ddf == "kenward-roger":
        variance = float(lc @ kenward_roger.Phi_A_conditioned(cs) @ lc)
        return variance, kenward_roger.ddf_and_scale(cs, l)[0]
    variance = float(lc @ cs.Phi_c @ lc)
    if ddf == "satterthwaite":
        return variance, satterthwaite.satterthwaite_df(cs, l)
    return variance, np.inf


def t_test(cs, l, *, rhs=0.0, ddf="satterthwaite"):
    """The t test of lᵀβ = rhs with the variance and df of method ``ddf``.

    Second-tier building block of :func:`coef_table` and :func:`contrast_test`, for code that
    already holds a :class:`~lmmhelpers.covariance.CovarianceStructure`.

    Parameters
    ----------
    cs : lmmhelpers.covariance.CovarianceStructure
    l : array_like, shape (p,)
    rhs : float, default 0.0
    ddf : {"normal", "satterthwaite", "kenward-roger"}
        "normal": SE from Φ, infinite df (the z test); "satterthwaite": SE from Φ,
        Satterthwaite's df; "kenward-roger": SE from Φ_A, KR's df.

    Returns
    -------
    dict
        ``estimate``, ``se``, ``df``, ``t``, ``p`` (two-sided).
    """
    ddf = check_ddf(ddf)
    l = np.asarray(l, dtype=float).reshape(-1)
    estimate = float(l @ cs.beta)
    variance, df = _variance_and_df(cs, l, ddf)
    se = float(np.sqrt(variance))
    t = (estimate - rhs) / se
    return {"estimate": estimate, "se": se, "df": float(df), "t": t,
            "p": _t_sf2(t, df)}


def f_test(cs, L, *, rhs=None, ddf="satterthwaite"):
    """The F test of Lβ = rhs with the statistic and df of method ``ddf``.

    "normal": the Wald χ²/q with infinite denominator df (statsmodels' ``wald_test``);
    "satterthwaite": lmerTest's ``contestMD``; "kenward-roger": pbkrtest's scaled F*.

    Returns
    -------
    dict
        ``num_df``, ``den_df``, ``F``, ``p``.
    """
    ddf = check_ddf(ddf)
    L = np.atleast_2d(np.asarray(L, dtype=float))
    rhs = np.zeros(L.shape[0]) if rhs is None else np.asarray(rhs, dtype=float).reshape(-1)
    if ddf == "satterthwaite":
        F, q, den = satterthwaite.f_statistic(cs, L, rhs)
    elif ddf == "kenward-roger":
        F, q, den = kenward_roger.f_statistic(cs, L, rhs)
    else:
        diff = L @ cs.beta - rhs
        q, den = L.shape[0], np.inf
        Lc = cs.conditioned(L)
        F = float(diff @ np.linalg.solve(Lc @ cs.Phi_c @ Lc.T, diff)) / q
    p = special.chdtrc(q, q * F) if np.isinf(den) else special.fdtrc(q, den, F)
    return {"num_df": q, "den_df": float(den), "F": float(F), "p": float(p)}


def coefficient_test(result, term, ddf="satterthwaite"):
    """The t test of one coefficient: :func:`coef_table`'s row for ``term``, as a dict.

    The same validation and numbers as :func:`coef_table` without building the table (a
    Monte Carlo study tests one coefficient in thousands of fits).

    Returns
    -------
    dict
        ``estimate``, ``se``, ``df``, ``t``, ``p``.

    Examples
    --------
    >>> import numpy as np, pandas as pd, statsmodels.formula.api as smf
    >>> from lmmhelpers import fit_mixedlm
    >>> rng = np.random.default_rng(0)
    >>> g = np.repeat(np.arange(8), 5)
    >>> df = pd.DataFrame({"g": g, "trt": g % 2, "y": rng.normal(size=8)[g] + rng.normal(size=40)})
    >>> result = fit_mixedlm(smf.mixedlm("y ~ trt", df, groups="g"))
    >>> round(coefficient_test(result, "trt", ddf="kenward-roger")["df"], 3)
    6.0
    """
    bare, ddf = _check_result(result, ddf)
    names = list(bare.model.exog_names)
    if term not in names:
        raise KeyError(f"term {term!r} is not a coefficient of the model: {names}")
    return t_test(structure(bare), np.eye(len(names))[names.index(term)], ddf=ddf)


def _t_row(res, alpha):
    half = _t_quantile(1 - alpha / 2, res["df"]) * res["se"]
    return [res["estimate"], res["se"], res["df"], res["t"], res["p"],
            res["estimate"] - half, res["estimate"] + half]


def _coef_columns(alpha):
    return COEF_COLUMNS[:5] + [f"[{alpha / 2:g}", f"{1 - alpha / 2:g}]"]


# -- public API ---------------------------------------------------------------------------------
def coef_table(result, ddf="satterthwaite", *, alpha=0.05):
    """Fixed-effect estimates with t tests and confidence intervals.

    Parameters
    ----------
    result : statsmodels MixedLMResults
        A REML fit of a ``MixedLM`` (``"normal"`` also accepts ML).
    ddf : {"satterthwaite", "kenward-roger", "normal"}, default "satterthwaite"
        Denominator degrees of freedom: Satterthwaite (lmerTest), Kenward-Roger (pbkrtest,
        which also adjusts the standard errors), or the normal reference statsmodels uses.
    alpha : float, default 0.05
        1 − the confidence level of the intervals.

    Returns
    -------
    pandas.DataFrame
        Indexed like ``result.fe_params``; columns ``Coef.``, ``Std.Err.``, ``df``, ``t``,
        ``P>|t|``, ``[0.025``, ``0.975]``. Standard errors come from Φ = (XᵀV̂⁻¹X)⁻¹ at the
        REML estimates, as lme4 reports them (Kenward-Roger: from Φ_A).

    Raises
    ------
    ValueError
        For an unknown ``ddf``, an ML fit with a small-sample method, missing data, or a
        single group with a per-group random effect. A ``ConvergenceWarning`` is issued for
        a result that did not converge.

    Examples
    --------
    >>> import numpy as np, pandas as pd, statsmodels.formula.api as smf
    >>> import lmmhelpers
    >>> rng = np.random.default_rng(0)
    >>> g = np.repeat(np.arange(8), 5)
    >>> df = pd.DataFrame({"g": g, "trt": g % 2})
    >>> df["y"] = rng.normal(size=8)[g] + rng.normal(size=40)
    >>> result = smf.mixedlm("y ~ trt", df, groups="g").fit()
    >>> table = lmmhelpers.coef_table(result, ddf="kenward-roger")
    >>> list(table.columns)
    ['Coef.', 'Std.Err.', 'df', 't', 'P>|t|', '[0.025', '0.975]']
    >>> round(float(table.loc["trt", "df"]), 3)  # 8 groups, 2 between-group parameters
    6.0
    """
    bare, ddf = _check_result(result, ddf)
    alpha = check_probability("alpha", alpha)
    cs = structure(bare)
    rows = [_t_row(t_test(cs, l, ddf=ddf), alpha) for l in np.eye(bare.model.k_fe)]
    index = pd.Index(bare.model.exog_names)
    return pd.DataFrame(rows, index=index, columns=_coef_columns(alpha))


def anova_table(result, ddf="satterthwaite", *, typ=3, type=None):
    """Type III F tests of every term of the fixed-effects formula.

    Parameters
    ----------
    result : statsmodels MixedLMResults
        A REML fit of a ``MixedLM`` built from a formula.
    ddf : {"satterthwaite", "kenward-roger", "normal"}, default "satterthwaite"
    typ : {3}, default 3
        Type III hypotheses (SAS, lmerTest): on unweighted cell means, so the same whatever
        the contrast coding of the factors (see :mod:`lmmhelpers.hypotheses`). Named ``typ``
        as in statsmodels' ``anova_lm``.
    type : {3}, optional
        Deprecated spelling of ``typ`` (it shadows a builtin); still accepted, with a
        ``DeprecationWarning``, for one release.

    Returns
    -------
    pandas.DataFrame
        One row per term, in the order the formula expands them, intercept excluded; columns
        ``Num DF``, ``Den DF``, ``F Value``, ``Pr > F``.

    Examples
    --------
    >>> import numpy as np, pandas as pd, statsmodels.formula.api as smf
    >>> import lmmhelpers
    >>> rng = np.random.default_rng(1)
    >>> df = pd.DataFrame({"subject": np.repeat(np.arange(12), 3),
    ...                    "dose": np.tile(["lo", "mid", "hi"], 12)})
    >>> df["y"] = rng.normal(size=12)[df["subject"]] + rng.normal(size=36)
    >>> result = smf.mixedlm("y ~ C(dose)", df, groups="subject").fit()
    >>> lmmhelpers.anova_table(result).loc["C(dose)", ["Num DF", "Den DF"]].round(3).tolist()
    [2.0, 22.0]
    """
    if type is not None:
        warnings.warn(
            "anova_table(type=...) is deprecated; use typ=... (as statsmodels' anova_lm).",
            DeprecationWarning,
            stacklevel=2,
        )
        typ = type
    bare, ddf = _check_result(result, ddf)
    if typ != 3:
        raise ValueError(f"typ must be 3 (type III hypotheses), got {typ!r}.")
    cs = structure(bare)
    contrasts = type3_contrasts(bare.model)
    rows = {}
    for term, L in contrasts.items():
        res = f_test(cs, L, ddf=ddf)
        rows[term] = [res["num_df"], res["den_df"], res["F"], res["p"]]
    return pd.DataFrame.from_dict(rows, orient="index", columns=ANOVA_COLUMNS)


def contrast_test(result, L, ddf="satterthwaite", *, rhs=None, alpha=0.05):
    """Test Lβ = rhs: a t test for one row of L, an F test for several.

    Parameters
    ----------
    result : statsmodels MixedLMResults
        A REML fit of a ``MixedLM``.
    L : array_like, shape (p,) or (q, p)
        The contrast: one column per fixed effect (``result.fe_params``), rows linearly
        independent.
    ddf : {"satterthwaite", "kenward-roger", "normal"}, default "satterthwaite"
    rhs : array_like, shape (q,), optional
        The hypothesised value of Lβ; zero by default.
    alpha : float, default 0.05
        For the confidence interval of a one-row contrast.

    Returns
    -------
    pandas.DataFrame
        One row. For a one-row L the columns of :func:`coef_table`; otherwise those of
        :func:`anova_table`.

    Examples
    --------
    >>> import numpy as np, pandas as pd, statsmodels.formula.api as smf
    >>> import lmmhelpers
    >>> rng = np.random.default_rng(0)
    >>> g = np.repeat(np.arange(8), 5)
    >>> df = pd.DataFrame({"g": g, "trt": g % 2})
    >>> df["y"] = rng.normal(size=8)[g] + rng.normal(size=40)
    >>> result = smf.mixedlm("y ~ trt", df, groups="g").fit()
    >>> mean_treated = [1, 1]  # Intercept + trt
    >>> list(lmmhelpers.contrast_test(result, mean_treated).columns)
    ['Coef.', 'Std.Err.', 'df', 't', 'P>|t|', '[0.025', '0.975]']
    >>> list(lmmhelpers.contrast_test(result, np.eye(2)).columns)
    ['Num DF', 'Den DF', 'F Value', 'Pr > F']
    """
    bare, ddf = _check_result(result, ddf)
    alpha = check_probability("alpha", alpha)
    L, rhs = _check_contrast(L, rhs, bare.model)
    cs = structure(bare)
    if L.shape[0] == 1:
        row = _t_row(t_test(cs, L[0], rhs=float(rhs[0]), ddf=ddf), alpha)
        return pd.DataFrame([row], index=["contrast"], columns=_coef_columns(alpha))
    res = f_test(cs, L, rhs=rhs, ddf=ddf)
    return pd.DataFrame(
        [[res["num_df"], res["den_df"], res["F"], res["p"]]],
        index=["contrast"],
        columns=ANOVA_COLUMNS,
    )
