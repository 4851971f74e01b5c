"""The first mixed model of the book: one simulated design, its two fits, and the REML profile.

The design has ``n_groups`` groups of ``n_per_group`` observations; the first half of the
groups are controls and the second half treated (a *between-group* effect), and every
observation has a covariate ``x`` centred within its group (a *within-group* effect):

    y_gi = β0 + β1 treated_g + β2 x_gi + b_g + ε_gi,   b_g ~ N(0, σ_b²),  ε_gi ~ N(0, σ²).

The marginal covariance of one group's observations is compound symmetric,
V_g = σ² I + σ_b² J; :func:`profile_loglik` evaluates the ML and REML
log-likelihoods of this model in closed form and profiles them over σ² and β.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import optimize

from lmmhelpers._validation import check_int, check_real, check_str

__all__ = ["FIRST_MODEL_FORMULA", "first_model_data", "first_model_replicate", "profile_loglik"]

#: The formula of the chapter's model, with a between-group treatment and a within-group covariate.
FIRST_MODEL_FORMULA = "y ~ treated + x"


def first_model_data(
    n_groups=12,
    n_per_group=8,
    *,
    intercept=10.0,
    treatment=1.0,
    slope=0.5,
    group_var=1.0,
    resid_var=1.0,
    seed=None,
):
    """Simulate groups with a between-group treatment and a within-group covariate.

    ``y = intercept + treatment * treated + slope * x + b_group + e`` with
    ``b_group ~ N(0, group_var)`` and ``e ~ N(0, resid_var)``; the first ``n_groups // 2``
    groups are controls (``treated = 0``), the others treated. ``x`` is drawn N(0, 1) and
    centred within each group, so that it varies only within groups.

    Parameters
    ----------
    n_groups : int, default 12
        Number of groups (at least 2; the first half are controls).
    n_per_group : int, default 8
        Observations per group (at least 2).
    intercept, treatment, slope : float
        β0, β1 (treated minus control) and β2 (per unit of ``x``).
    group_var, resid_var : float
        σ_b², the variance of the group effects (0 allowed), and σ², the residual variance.
    seed : None, int, SeedSequence or Generator
        Source of randomness.

    Returns
    -------
    pandas.DataFrame
        Columns ``group`` (``"g01"``, ...), ``treated`` (0 or 1), ``x``, ``y`` and
        ``group_effect`` (the true b_g, for checking what a fit recovers).

    Examples
    --------
    >>> data = first_model_data(4, 3, seed=1)
    >>> data.shape
    (12, 5)
    >>> data.groupby("group")["treated"].first().tolist()
    [0, 0, 1, 1]
    >>> bool(data.groupby("group")["x"].mean().abs().max() < 1e-12)
    True
    """
    n_groups = check_int("n_groups", n_groups, minimum=2)
    n_per_group = check_int("n_per_group", n_per_group, minimum=2)
    intercept = check_real("intercept", intercept)
    treatment = check_real("treatment", treatment)
    slope = check_real("slope", slope)
    group_var = check_real("group_var", group_var, minimum=0.0)
    resid_var = check_real("resid_var", resid_var, minimum=0.0)
    if resid_var == 0:
        raise ValueError("resid_var must be positive, got 0")
    rng = np.random.default_rng(seed)
    group = np.repeat(np.arange(n_groups), n_per_group)
    treated = (group >= n_groups // 2).astype(int)
    b = rng.normal(0.0, np.sqrt(group_var), n_groups)
    z = rng.normal(size=(n_groups, n_per_group))
    x = (z - z.mean(axis=1, keepdims=True)).ravel()
    e = rng.normal(0.0, np.sqrt(resid_var), n_groups * n_per_group)
    y = intercept + treatment * treated + slope * x + b[group] + e
    width = len(str(n_groups))
    return pd.DataFrame({
        "group": [f"g{k + 1:0{width + 1}d}" for k in group],
        "treated": treated,
        "x": x,
        "y": y,
        "group_effect": b[group],
    })


def first_model_replicate(i, rng, *, terms=("treated", "x"), **design):
    """Fit OLS and the random-intercept model to one simulated data set; one row per fit and term.

    The task of a seeded loop (:func:`lmmhelpers.book.run_seeded`): draw
    :func:`first_model_data` with ``rng``, fit the model of ``FIRST_MODEL_FORMULA`` by OLS
    and by REML (:func:`lmmhelpers.fit_mixedlm`, random intercept by ``group``), and report
    each term's estimate, standard error and 95 % interval (normal quantiles for the mixed
    model, as its ``summary()``; t for OLS). The models are built from the design matrix
    (``sm.OLS``, ``sm.MixedLM``), the same fits as ``smf.ols``/``smf.mixedlm`` with the
    formula, without parsing it in every replicate.

    Parameters
    ----------
    i : int
        Replicate number.
    rng : numpy.random.Generator
        The replicate's generator.
    terms : sequence of str, default ("treated", "x")
        Coefficients to report.
    **design
        Passed to :func:`first_model_data`.

    Returns
    -------
    list of dict
        Keys ``replicate``, ``model`` (``"OLS"`` or ``"LMM"``), ``term``, ``estimate``, ``se``,
        ``lower``, ``upper``, ``group_var`` and ``group_var_ml`` (the LMM's REML and ML
        estimates of σ_b²; NaN for OLS),
        ``converged`` and ``boundary`` (the LMM's verdicts; True and False for OLS).

    Examples
    --------
    >>> rows = first_model_replicate(0, np.random.default_rng(2), n_groups=6)
    >>> [(r["model"], r["term"]) for r in rows]
    [('OLS', 'treated'), ('OLS', 'x'), ('LMM', 'treated'), ('LMM', 'x')]
    """
    import statsmodels.api as sm

    from lmmhelpers import fit_mixedlm

    data = first_model_data(seed=rng, **design)
    X = data[["treated", "x"]].astype(float)
    X.insert(0, "Intercept", 1.0)  # the columns of "y ~ treated + x"
    ols = sm.OLS(data["y"], X).fit()
    model = sm.MixedLM(data["y"], X, groups=data["group"])
    lmm = fit_mixedlm(model)
    group_var_ml = float(fit_mixedlm(model, reml=False).cov_re.iloc[0, 0])
    rows = []
    for name, fit in (("OLS", ols), ("LMM", lmm)):
        ci = fit.conf_int()
        for term in terms:
            rows.append({
                "replicate": int(i),
                "model": name,
                "term": check_str("terms", term),
                "estimate": float(fit.params[term]),
                "se": float(fit.bse[term]),
                "lower": float(ci.loc[term, 0]),
                "upper": float(ci.loc[term, 1]),
                "group_var": float(fit.cov_re.iloc[0, 0]) if name == "LMM" else np.nan,
                "group_var_ml": group_var_ml if name == "LMM" else np.nan,
                "converged": bool(fit.converged) if name == "LMM" else True,
                "boundary": bool(fit.boundary) if name == "LMM" else False,
            })
    return rows


def _group_sums(y, X, groups):
    """Per group: n, X'X, X'1, X'y, 1'y and y'y (all the likelihood needs)."""
    out = []
    for g in pd.unique(groups):
        rows = groups == g
        yg, Xg = y[rows], X[rows]
        out.append((int(rows.sum()), Xg.T @ Xg, Xg.sum(axis=0), Xg.T @ yg, yg.sum(), yg @ yg))
    return out


def _cs_pieces(sums, group_var, resid_var):
    """X'V⁻¹X, X'V⁻¹y, y'V⁻¹y and log|V| for V block diagonal, V_g = σ² I + σ_b² J."""
    p = sums[0][1].shape[0]
    xvx, xvy, yvy, logdet = np.zeros((p, p)), np.zeros(p), 0.0, 0.0
    for n, xx, sx, xy, sy, yy in sums:
        # V_g⁻¹ = (I − c J) / σ² with c = σ_b² / (σ² + n σ_b²); |V_g| = σ^(2n) (1 + n σ_b²/σ²)
        c = group_var / (resid_var + n * group_var)
        xvx += (xx - c * np.outer(sx, sx)) / resid_var
        xvy += (xy - c * sx * sy) / resid_var
        yvy += (yy - c * sy**2) / resid_var
        logdet += n * np.log(resid_var) + np.log1p(n * group_var / resid_var)
    return xvx, xvy, yvy, logdet


def _loglik(sums, n, p, group_var, resid_var, reml):
    """The ML or REML log-likelihood at (σ_b², σ²), with β at its GLS estimate."""
    xvx, xvy, yvy, logdet = _cs_pieces(sums, group_var, resid_var)
    beta = np.linalg.solve(xvx, xvy)
    quad = yvy - beta @ xvy
    if reml:
        _, logdet_xvx = np.linalg.slogdet(xvx)
        return -0.5 * ((n - p) * np.log(2 * np.pi) + logdet + logdet_xvx + quad)
    return -0.5 * (n * np.log(2 * np.pi) + logdet + quad)


def profile_loglik(data, group_vars, *, reml=True, formula=FIRST_MODEL_FORMULA, group="group"):
    """The (REML or ML) log-likelihood of a random-intercept model, profiled at given σ_b².

    For each σ_b² the log-likelihood is maximised over β (its GLS estimate) and over σ²
    (numerically), so the curve's maximum is at the fit's σ_b² estimate and its value there
    is the fit's log-likelihood (statsmodels' ``llf``, whose REML criterion uses the same
    constant, (n − p) log 2π).

    Parameters
    ----------
    data : pandas.DataFrame
        The data.
    group_vars : array_like
        Values of σ_b² (non-negative).
    reml : bool, default True
        Profile the REML log-likelihood; False for ML.
    formula : str, default FIRST_MODEL_FORMULA
        The fixed effects (a patsy/formulaic formula with the response on the left).
    group : str, default "group"
        The grouping column.

    Returns
    -------
    pandas.DataFrame
        Columns ``group_var``, ``resid_var`` (the profiled σ²) and ``loglik``.

    Examples
    --------
    >>> import statsmodels.formula.api as smf
    >>> from lmmhelpers import fit_mixedlm
    >>> data = first_model_data(seed=3)
    >>> fit = fit_mixedlm(smf.mixedlm(FIRST_MODEL_FORMULA, data, groups="group"))
    >>> prof = profile_loglik(data, [float(fit.cov_re.iloc[0, 0])])
    >>> bool(abs(prof["loglik"].iloc[0] - fit.llf) < 1e-4)
    True
    """
    import statsmodels.formula.api as smf

    check_str("formula", formula)
    check_str("group", group)
    values = np.atleast_1d(np.asarray(group_vars, dtype=float))
    if values.size == 0 or not np.all(np.isfinite(values)) or np.any(values < 0):
        raise ValueError("group_vars must be non-empty, finite and non-negative")
    ols = smf.ols(formula, data).fit()
    y = np.asarray(ols.model.endog, dtype=float)
    X = np.asarray(ols.model.exog, dtype=float)
    groups = data.loc[ols.model.data.row_labels, group].to_numpy()
    sums, (n, p) = _group_sums(y, X, groups), X.shape
    start = float(ols.scale)
    rows = []
    for s2b in values:
        def minus(log_s2, s2b=s2b):
            return -_loglik(sums, n, p, s2b, np.exp(log_s2), reml)

        best = optimize.minimize_scalar(
            minus, bracket=(np.log(start) - 1, np.log(start) + 1), tol=1e-10
        )
        rows.append({"group_var": float(s2b), "resid_var": float(np.exp(best.x)),
                     "loglik": float(-best.fun)})
    return pd.DataFrame(rows)
