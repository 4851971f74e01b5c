r"""The repeated-measures chapter: the seed's split-plot design, the answer's model, the ANOVA.

The seed question (seed 003) has eight participants, each measured once under both levels of
``Condition_1`` (within participants) and each in one level of ``Condition_2`` (between
participants). This module holds what the chapter ``chapters/repeated_measures.md`` computes
beyond the library:

- :func:`answer_model`, :func:`answer_fits` and :func:`vc_reml_criterion`: the accepted
  answer's one-group variance-components model, its fits by several optimizers compared by the
  REML criterion, and that criterion written out (Bates et al. 2015, eq. 41, σ² profiled);
- :func:`split_plot_anova` and :func:`greenhouse_geisser_epsilon`: the classical
  repeated-measures (split-plot) ANOVA, for balanced complete data with one value per
  participant and within level;
- :func:`complete_participants`: the listwise deletion that the classical ANOVA needs;
- :func:`anova_against_lmm`: the classical ANOVA (on the complete participants) beside the
  mixed model's type III tests (on every row);
- :func:`satterthwaite_two_ways`: Satterthwaite's ν computed as lmerTest does, in (θ, σ) with
  the observed Hessian, and on the variance scale with the expected information;
- :func:`split_plot_levels`: the exact levels (and powers) of the split-plot ANOVA and of the
  mixed model, which pools the two strata at a singular fit.
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats

from lmmhelpers._validation import check_str
from lmmhelpers.covariance import structure
from lmmhelpers.fitting import fit_mixedlm
from lmmhelpers.satterthwaite import (
    deviance_hessian,
    satterthwaite_df,
    satterthwaite_df_expected,
)
from lmmhelpers.tables import anova_table

__all__ = [
    "SPLIT_PLOT_FORMULA",
    "anova_against_lmm",
    "answer_fits",
    "answer_model",
    "complete_participants",
    "greenhouse_geisser_epsilon",
    "satterthwaite_two_ways",
    "split_plot_anova",
    "split_plot_levels",
    "vc_reml_criterion",
]

#: The fixed effects of the model the seed question needed, both conditions and their
#: interaction (fitted with a random intercept per participant, ``groups="participant_ID"``).
SPLIT_PLOT_FORMULA = "dependent_var ~ C(Condition_1) * C(Condition_2)"

#: The answer's variance components, as the answer names them.
ANSWER_VC = {
    "participant": "0 + C(participant_ID)",
    "cond1": "0 + C(Condition_1)",
    "cond2": "0 + C(Condition_2)",
}


def answer_model(table):
    """The accepted answer's model: every factor a variance component, one group for all rows.

    Parameters
    ----------
    table : pandas.DataFrame
        The seed's table (:func:`lmmhelpers.book.seed003_table`).

    Returns
    -------
    statsmodels MixedLM
        ``dependent_var ~ 1`` with ``vc_formula`` for participant, ``Condition_1`` and
        ``Condition_2`` and ``groups`` a constant column.

    Examples
    --------
    >>> from lmmhelpers.book import seed003_table
    >>> answer_model(seed003_table()).exog_vc.names
    ['cond1', 'cond2', 'participant']
    """
    data = table.assign(groups=0)
    return sm.MixedLM.from_formula("dependent_var ~ 1", vc_formula=ANSWER_VC,
                                   groups="groups", data=data)


def _recorded(fit):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t0 = time.perf_counter()
        result = fit()
        seconds = time.perf_counter() - t0
    texts = [f"{w.category.__name__}: {str(w.message).splitlines()[0]}" for w in caught]
    return result, texts, seconds


def answer_fits(table, methods=("default", "powell", "fit_mixedlm")):
    """Fit the answer's model with several optimizers; compare them by the REML criterion.

    Parameters
    ----------
    table : pandas.DataFrame
        The seed's table.
    methods : sequence of str
        ``"default"`` (statsmodels' ``fit()``), ``"fit_mixedlm"``
        (:func:`lmmhelpers.fit_mixedlm`) or any ``method=`` of statsmodels' ``fit``
        (``"powell"``, ``"nm"``, ``"lbfgs"``, ``"cg"``, ``"bfgs"``).

    Returns
    -------
    fits : pandas.DataFrame
        One row per method: ``converged`` (the flag the fit reports), ``REML criterion``
        (−2 × REML log-likelihood, lme4's scale), the three variances, the residual variance,
        the grand mean, the number of warnings and the seconds.
    warning_texts : pandas.DataFrame
        The distinct warnings of each method (``method``, ``warning``), recorded rather than
        printed.

    Examples
    --------
    >>> from lmmhelpers.book import seed003_table
    >>> fits, _ = answer_fits(seed003_table(), methods=("powell",))
    >>> round(float(fits.loc["powell", "REML criterion"]), 3)
    -0.873
    """
    rows, texts_rows = [], []
    for method in methods:
        method = check_str("method", method)
        if method == "default":
            run = lambda: answer_model(table).fit()  # noqa: E731
        elif method == "fit_mixedlm":
            run = lambda: fit_mixedlm(answer_model(table))  # noqa: E731
        else:
            run = lambda method=method: answer_model(table).fit(method=method)  # noqa: E731
        result, texts, seconds = _recorded(run)
        vcomp = dict(zip(result.model.exog_vc.names, result.vcomp, strict=True))
        rows.append({
            "method": method, "converged": bool(result.converged),
            "REML criterion": -2 * float(result.llf),
            "participant var": float(vcomp["participant"]),
            "cond1 var": float(vcomp["cond1"]), "cond2 var": float(vcomp["cond2"]),
            "residual var": float(result.scale),
            "grand mean": float(result.fe_params["Intercept"]),
            "warnings": len(texts), "seconds": seconds,
        })
        texts_rows += [{"method": method, "warning": t} for t in dict.fromkeys(texts)]
    warning_texts = pd.DataFrame(texts_rows, columns=["method", "warning"])
    return pd.DataFrame(rows).set_index("method"), warning_texts


def vc_reml_criterion(model, theta):
    r"""−2 × REML log-likelihood of a one-group variance-components model, σ² profiled out.

    .. math::

        -2\ell_R(\theta) = (n-p)\bigl(1 + \log 2\pi\hat\sigma^2_\theta\bigr)
        + \log\lvert V_\theta\rvert + \log\lvert X^\top V_\theta^{-1}X\rvert,
        \qquad \hat\sigma^2_\theta = r_\theta^\top V_\theta^{-1} r_\theta / (n-p),

    with :math:`V_\theta = I + \sum_j \theta_j^2 Z_jZ_j^\top` and :math:`r_\theta` the GLS
    residuals: lme4's REML criterion (Bates et al. 2015, section 3.4). Dense: for the small
    designs of the chapter only.

    Parameters
    ----------
    model : statsmodels MixedLM
        With one group and ``vc_formula`` (as :func:`answer_model`).
    theta : dict
        Relative standard deviations σ_j/σ by variance-component name; missing names are 0.

    Returns
    -------
    float

    Examples
    --------
    >>> from lmmhelpers.book import seed003_table
    >>> round(vc_reml_criterion(answer_model(seed003_table()), {}), 4)
    -0.8726
    """
    if len(model.group_labels) != 1:
        raise ValueError("model must have one group (a one-group variance-components model).")
    unknown = set(theta) - set(model.exog_vc.names)
    if unknown:
        raise ValueError(f"theta names {sorted(unknown)} are not variance components of the "
                         f"model ({model.exog_vc.names}).")
    X, y = np.asarray(model.exog), np.asarray(model.endog)
    n, p = X.shape
    V = np.eye(n)
    for j, name in enumerate(model.exog_vc.names):
        Z = model.exog_vc.mats[j][0]
        Z = np.asarray(Z.toarray() if hasattr(Z, "toarray") else Z)
        V += float(theta.get(name, 0.0)) ** 2 * Z @ Z.T
    Vi_X, Vi_y = np.linalg.solve(V, X), np.linalg.solve(V, y)
    XtViX = X.T @ Vi_X
    r = y - X @ np.linalg.solve(XtViX, X.T @ Vi_y)
    sigma2 = r @ np.linalg.solve(V, r) / (n - p)
    return float((n - p) * (1 + np.log(2 * np.pi * sigma2)) + np.linalg.slogdet(V)[1]
                 + np.linalg.slogdet(XtViX)[1])


def complete_participants(data, *, subject="participant_ID", within="Condition_1"):
    """The rows of participants observed once under every level of the within factor.

    The classical repeated-measures ANOVA needs complete data, so software drops every
    participant with a missing cell (listwise deletion); the mixed model keeps their rows.

    Parameters
    ----------
    data : pandas.DataFrame
    subject, within : str
        Column names.

    Returns
    -------
    pandas.DataFrame

    Examples
    --------
    >>> from lmmhelpers.book import seed003_table
    >>> len(complete_participants(seed003_table().drop(index=0)))
    14
    """
    levels = data[within].nunique()
    counts = data.groupby(subject)[within].agg(["nunique", "size"])
    keep = counts.index[(counts["nunique"] == levels) & (counts["size"] == levels)]
    return data[data[subject].isin(keep)]


def _check_split_plot(data, response, subject, within, between):
    for name, col in (("response", response), ("subject", subject), ("within", within),
                      ("between", between)):
        check_str(name, col)
        if col not in data:
            raise ValueError(f"{name} column {col!r} is not in data.")
    cells = data.groupby([subject, within]).size()
    n_within = data[within].nunique()
    if (cells != 1).any() or len(cells) != data[subject].nunique() * n_within:
        raise ValueError("split_plot_anova needs complete data with one value per subject and "
                         "within level; drop incomplete subjects (complete_participants) or "
                         "use the mixed model.")
    if (data.groupby(subject)[between].nunique() != 1).any():
        raise ValueError(f"between column {between!r} varies within a subject.")
    if data[between].nunique() < 2 or data[within].nunique() < 2:
        raise ValueError("split_plot_anova needs at least two levels of each factor.")


def _strata(data, response, subject, within, between):
    """Participant means (between stratum), orthonormal within contrasts, group labels."""
    wide = data.pivot(index=subject, columns=within, values=response).astype(float)
    group = data.groupby(subject)[between].first().loc[wide.index]
    a = wide.shape[1]
    # columns of C: an orthonormal basis of the contrasts among the a within levels
    C = np.linalg.qr(np.vstack([np.ones(a), np.eye(a)[: a - 1]]).T)[0][:, 1:]
    return wide.mean(axis=1), pd.DataFrame(wide.to_numpy() @ C, index=wide.index), group


def split_plot_anova(data, *, response="dependent_var", subject="participant_ID",
                     within="Condition_1", between="Condition_2"):
    r"""The classical repeated-measures (split-plot) ANOVA: one within, one between factor.

    Two error strata. The between factor is tested on the subject means, against the
    variation of subjects within its levels (:math:`N - g` df for :math:`N` subjects in
    :math:`g` levels). The within factor and the interaction are tested on the subjects'
    orthonormal within contrasts :math:`d_i = C^\top y_i` (:math:`a - 1` of them for
    :math:`a` within levels), against their pooled within-group variation
    (:math:`(N-g)(a-1)` df): the interaction asks whether the groups' mean contrasts differ,
    the within factor whether their unweighted average, :math:`\bar d = g^{-1}\sum_k \bar
    d_k`, is zero, with :math:`SS_W = \lVert\bar d\rVert^2 / (g^{-2}\sum_k n_k^{-1})`.
    With equal group sizes these are the textbook sums of squares; with unequal ones they
    are the type III (equal-weight) hypotheses. The F tests assume sphericity (with two
    within levels it always holds); no Greenhouse-Geisser or Huynh-Feldt correction is
    applied.

    Parameters
    ----------
    data : pandas.DataFrame
        Complete: one value per subject and within level.
    response, subject, within, between : str
        Column names (the seed's by default).

    Returns
    -------
    pandas.DataFrame
        Rows ``C(within)``, ``C(between)``, ``C(within):C(between)`` (the names of
        :func:`lmmhelpers.anova_table`); columns ``Num DF``, ``Den DF``, ``F Value``,
        ``Pr > F``, ``Error MS`` (the mean square of the term's error stratum, per row of
        data: the subject-means stratum is scaled by :math:`a`, as in the textbook table).

    Raises
    ------
    ValueError
        For incomplete data, or a between factor that varies within a subject.

    Examples
    --------
    >>> from lmmhelpers.book import seed003_table
    >>> split_plot_anova(seed003_table())["Den DF"].tolist()
    [6, 6, 6]
    """
    _check_split_plot(data, response, subject, within, between)
    means, d, group = _strata(data, response, subject, within, between)
    n_subj, g, a = len(means), group.nunique(), d.shape[1] + 1
    n_k = group.value_counts()
    # between stratum: one-way ANOVA of the subject means (times a: per row of data)
    m_k = means.groupby(group).mean()
    ss_b = a * float((n_k * (m_k - means.mean()) ** 2).sum())
    ss_sb = a * float(((means - means.groupby(group).transform("mean")) ** 2).sum())
    # within stratum: the contrasts d_i
    d_k = d.groupby(group).mean()
    ss_e = float(((d - d.groupby(group).transform("mean")) ** 2).to_numpy().sum())
    d_bar_w = d.mean()  # weighted by n_k: the reference of the interaction
    ss_wb = float((n_k.to_numpy()[:, None]
                   * (d_k.loc[n_k.index] - d_bar_w) ** 2).to_numpy().sum())
    d_bar = d_k.mean()  # unweighted: the type III within hypothesis
    ss_w = float((d_bar**2).sum() / ((1 / n_k).sum() / g**2))
    df_sb, df_e = n_subj - g, (n_subj - g) * (a - 1)
    ms_sb, ms_e = ss_sb / df_sb, ss_e / df_e
    rows = {}
    for term, ss, df_num, ms_err, df_err in [
        (f"C({within})", ss_w, a - 1, ms_e, df_e),
        (f"C({between})", ss_b, g - 1, ms_sb, df_sb),
        (f"C({within}):C({between})", ss_wb, (a - 1) * (g - 1), ms_e, df_e),
    ]:
        F = (ss / df_num) / ms_err
        rows[term] = {"Num DF": df_num, "Den DF": df_err, "F Value": F,
                      "Pr > F": float(stats.f.sf(F, df_num, df_err)), "Error MS": ms_err}
    return pd.DataFrame.from_dict(rows, orient="index")


def anova_against_lmm(data, *, ddf="kenward-roger"):
    """The classical ANOVA beside the mixed model's type III tests, term by term.

    The ANOVA (:func:`split_plot_anova`) sees only the participants with complete data
    (:func:`complete_participants`, listwise deletion); the mixed model
    (:data:`SPLIT_PLOT_FORMULA`, a random intercept per participant, fitted with
    :func:`lmmhelpers.fit_mixedlm`) uses every row. Columns are the seed's.

    Parameters
    ----------
    data : pandas.DataFrame
        Columns ``participant_ID``, ``Condition_1``, ``Condition_2``, ``dependent_var``.
    ddf : {"kenward-roger", "satterthwaite"}, default "kenward-roger"
        The mixed model's denominator df.

    Returns
    -------
    pandas.DataFrame
        One row per term: ``ANOVA F``, ``ANOVA df``, ``LMM F``, ``LMM df``, ``|F diff|``,
        and the rows each analysis used (``ANOVA rows``, ``LMM rows``). The frame's
        ``attrs["boundary"]`` says whether the mixed model's fit is singular.

    Examples
    --------
    >>> from lmmhelpers.book import seed003_table
    >>> gap = anova_against_lmm(seed003_table().drop(index=0))
    >>> gap[["ANOVA rows", "LMM rows"]].iloc[0].tolist()
    [14, 15]
    """
    complete = complete_participants(data)
    classical = split_plot_anova(complete)
    fit = fit_mixedlm(sm.MixedLM.from_formula(SPLIT_PLOT_FORMULA, data,
                                              groups=data["participant_ID"]))
    lmm = anova_table(fit, ddf=ddf).loc[classical.index]
    out = pd.DataFrame({
        "ANOVA F": classical["F Value"], "ANOVA df": classical["Den DF"],
        "LMM F": lmm["F Value"], "LMM df": lmm["Den DF"],
        "|F diff|": (lmm["F Value"] - classical["F Value"]).abs(),
        "ANOVA rows": len(complete), "LMM rows": len(data),
    })
    out.attrs["boundary"] = bool(fit.boundary)
    return out


def greenhouse_geisser_epsilon(data, *, response="dependent_var", subject="participant_ID",
                               within="Condition_1", between="Condition_2"):
    r"""Greenhouse and Geisser's ε̂ for the within factor of a split-plot design.

    With :math:`C` an orthonormal basis of the :math:`a - 1` within contrasts and
    :math:`S` the covariance of the within levels pooled over the between levels,
    :math:`\hat\varepsilon = \operatorname{tr}(C^\top SC)^2 / \{(a-1)\operatorname{tr}
    ((C^\top SC)^2)\}`, between :math:`1/(a-1)` and 1; it is 1 when :math:`C^\top SC` is a
    multiple of the identity (sphericity), and always 1 with two within levels.

    Parameters
    ----------
    data : pandas.DataFrame
        Balanced and complete, as :func:`split_plot_anova` needs.
    response, subject, within, between : str
        Column names.

    Returns
    -------
    float

    Examples
    --------
    >>> from lmmhelpers.book import seed003_table
    >>> greenhouse_geisser_epsilon(seed003_table())
    1.0
    """
    _check_split_plot(data, response, subject, within, between)
    _, d, group = _strata(data, response, subject, within, between)
    centred = (d - d.groupby(group).transform("mean")).to_numpy()
    M = centred.T @ centred / (len(d) - group.nunique())  # C^T S C
    a = d.shape[1] + 1
    return float(np.trace(M) ** 2 / ((a - 1) * np.trace(M @ M)))


def satterthwaite_two_ways(result, L):
    r"""Satterthwaite's ν for one contrast, as lmerTest computes it and on the variance scale.

    ν = 2(lᵀΦl)² / (gᵀAg) (Satterthwaite 1946; Kuznetsova et al. 2017, eq. 5) depends on
    the parameters φ in which the gradient g = ∂(lᵀΦl)/∂φ and the covariance A of φ̂ are
    taken. lmerTest uses φ = (θ, σ), θ the relative standard deviations, and A = 2H⁻¹ with
    H the Hessian of the REML deviance. Since τ² = σ²θ², ∂Φ/∂θ = 2σ²θ ∂Φ/∂τ² vanishes at
    θ = 0: at a singular fit g loses that component and ν is what it would be with the
    variance known. On the variance scale γ = (τ², σ²) with the expected information
    (Kenward and Roger's choice) the component stays.

    Parameters
    ----------
    result : statsmodels MixedLMResults
        A REML fit.
    L : array_like, shape (p,)
        One contrast of the fixed effects.

    Returns
    -------
    dict
        ``nu_lmertest``; ``nu_variance_expected``; ``hessian_eigenvalues`` of lmerTest's H
        scaled to unit diagonal (the matrix whose small eigenvalues lmerTest would drop);
        ``gradient_theta`` (g in (θ, σ)) and ``gradient_variance`` (g in (τ², σ²)).

    Examples
    --------
    >>> import statsmodels.formula.api as smf
    >>> from lmmhelpers import fit_mixedlm
    >>> from lmmhelpers.book import seed003_table
    >>> fit = fit_mixedlm(smf.mixedlm(SPLIT_PLOT_FORMULA, seed003_table(),
    ...                               groups="participant_ID"))
    >>> two = satterthwaite_two_ways(fit, [0, 0, 0, 1])
    >>> round(two["nu_lmertest"], 3), round(two["nu_variance_expected"], 3)
    (12.0, 6.0)
    """
    cs = structure(result)
    l = np.asarray(L, dtype=float).reshape(-1)
    if l.shape != (cs.p,):
        raise ValueError(f"L must have one entry per fixed effect ({cs.p}), got {l.shape}.")
    H, J = deviance_hessian(cs)
    d = np.sqrt(np.abs(np.diag(H)))
    d = np.where(d > 0, d, 1.0)
    lc = cs.conditioned(l)
    g_gamma = np.einsum("a,rab,b->r", lc, cs.dPhi_c(), lc) @ cs.gamma_map  # in γ, not γ̃
    return {
        "nu_lmertest": float(satterthwaite_df(cs, l)),
        "nu_variance_expected": float(satterthwaite_df_expected(cs, l)),
        "hessian_eigenvalues": np.linalg.eigvalsh(H / np.outer(d, d)),
        "gradient_theta": g_gamma @ J,
        "gradient_variance": g_gamma,
    }


def split_plot_levels(n_per_between=4, *, ratio=0.0, alpha=0.05, noncentrality=0.0):
    r"""Exact rejection rates of the split-plot ANOVA and of the mixed model that pools strata.

    The seed's layout: two levels of a between factor with ``n_per_between`` participants
    each, two within levels, one value per cell, a random intercept per participant.
    With :math:`m = 2(n - 1)` df in each stratum, the scaled sums of squares
    :math:`U = SS_{bp}/\sigma^2 \sim (1 + 2\rho)\chi^2_m` (participants within groups)
    and :math:`W = SS_w/\sigma^2 \sim \chi^2_m` (within residual), and a term's
    :math:`Z = SS_{term}/\sigma^2` are independent, :math:`\rho = \sigma_a^2/\sigma^2`.
    The split-plot ANOVA tests each term against its own stratum on :math:`m` df, an
    exact :math:`F(1, m)` test. REML's participant variance is zero exactly when
    :math:`MS_{bp} \le MS_w`; the mixed model's F is then the term's mean square over the
    pooled :math:`(SS_{bp} + SS_w)/(2m)`, with Kenward-Roger :math:`m` df and lmerTest's
    Satterthwaite :math:`2m = n - p` df; at an interior fit it is the ANOVA's F on
    :math:`m` df. (These identities are checked on live fits in the chapter and in
    ``tests/test_book_repeated_measures.py``.) Writing :math:`U/(1+2\rho) + W = T` and
    :math:`x = U/((1+2\rho)T) \sim \mathrm{Beta}(m/2, m/2)`, independent of :math:`T` and
    :math:`Z`, every rate is a one-dimensional integral over :math:`x` of an
    :math:`F(1, 2m)` tail, computed with ``scipy.integrate.quad`` (not simulated).

    Parameters
    ----------
    n_per_between : int, default 4
        Participants per level of the between factor (the seed has 4).
    ratio : float, default 0.0
        :math:`\rho = \sigma_a^2/\sigma^2`, the participant variance over the residual
        variance.
    alpha : float, default 0.05
        Nominal level.
    noncentrality : float, default 0.0
        The noncentrality :math:`\lambda` of the ANOVA's F statistic for the term (0: the
        null hypothesis, the rates are levels; above 0 they are powers).

    Returns
    -------
    pandas.DataFrame
        Rows ``within`` (``Condition_1`` and the interaction) and ``between``
        (``Condition_2``); columns ``split-plot ANOVA``, ``LMM, Kenward-Roger``,
        ``LMM, lmerTest Satterthwaite``. ``attrs["p_boundary"]`` is the probability of a
        singular fit, :math:`P(F_{m,m} < 1/(1+2\rho))`.

    Examples
    --------
    >>> levels = split_plot_levels(4)
    >>> levels.round(3).loc["within"].tolist()
    [0.05, 0.057, 0.066]
    >>> levels.attrs["p_boundary"]
    0.5
    """
    from scipy import integrate

    n = int(n_per_between)
    if n < 2:
        raise ValueError(f"n_per_between must be at least 2, got {n_per_between!r}.")
    if not (ratio >= 0 and 0 < alpha < 1 and noncentrality >= 0):
        raise ValueError("ratio and noncentrality must be >= 0 and alpha in (0, 1).")
    m, t, s, lam = 2 * (n - 1), 4 * (n - 1), 1.0 + 2.0 * ratio, float(noncentrality)
    c_m, c_t = stats.f.isf(alpha, 1, m), stats.f.isf(alpha, 1, t)
    share = stats.beta(m / 2, m / 2)
    cut = 1.0 / (1.0 + s)  # a singular fit: s x < 1 - x

    def tail(c):  # P(Z / (T / t) > c), an F(1, t) variable with noncentrality lam
        return stats.ncf.sf(c, 1, t, lam) if lam > 0 else stats.f.sf(c, 1, t)

    def integral(g, lo, hi):
        return integrate.quad(lambda x: share.pdf(x) * g(x), lo, hi, epsabs=1e-12)[0]

    rows = {}
    for term, own, scale in (("within", lambda x: 1 - x, 1.0),
                             ("between", lambda x: x, s)):
        # interior: the term's own stratum, m df; the between term's Z carries s too
        inside = integral(lambda x, own=own: tail(c_m * own(x) * t / m), cut, 1)
        row = {"split-plot ANOVA": (stats.ncf.sf(c_m, 1, m, lam) if lam > 0 else alpha)}
        for name, c in (("LMM, Kenward-Roger", c_m), ("LMM, lmerTest Satterthwaite", c_t)):
            pooled = integral(lambda x, c=c, scale=scale: tail(c * (1 + (s - 1) * x) / scale),
                              0, cut)
            row[name] = inside + pooled
        rows[term] = row
    out = pd.DataFrame.from_dict(rows, orient="index").astype(float)
    out.attrs["p_boundary"] = float(stats.f.cdf(1 / s, m, m))
    return out
