r"""Parametric bootstrap likelihood-ratio test of two nested mixed models (pbkrtest's PBmodcomp).

The likelihood-ratio statistic LRT = 2(ℓ_full − ℓ_reduced) of two nested ML fits is referred to
χ² with the difference in the number of parameters as df. That reference is asymptotic, and
wrong on the boundary: when the models differ by a variance component, the null value 0 is on
the edge of the parameter space and LRT has a point mass at 0 (Self & Liang 1987; Stram & Lee
1994; Crainiceanu & Ruppert 2004). The parametric bootstrap replaces the reference by the
distribution of LRT* in data simulated from the *reduced* fit (Halekoh & Højsgaard 2014, JSS
59(9), section 3):

.. math::

    p = \frac{1 + \#\{b : LRT^*_b \ge LRT\}}{1 + B},

with B the number of bootstrap samples whose two refits succeeded. Every refit reuses the
designs (:func:`lmmhelpers.refit`), so B = 1,000 costs seconds, not hours.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy import stats

from lmmhelpers import _statsmodels
from lmmhelpers._validation import (
    check_int,
    check_n_jobs,
    check_seed,
    check_share,
    require_refittable,
)
from lmmhelpers.draws import draw_response
from lmmhelpers.study._rows import make_row
from lmmhelpers.summaries import TooFewUsableDraws

__all__ = ["bootstrap_test"]

BOOTSTRAP_COLUMNS = ("LRT", "df", "p_chisq", "p_bootstrap", "p_pbkrtest", "n_sim", "n_used",
                     "n_failed", "refitted_ml")


#: Likelihood-ratio statistics below this are 0: two fits that meet at the boundary agree in
#: log-likelihood only to the optimizer's precision, and whether such a statistic came out
#: as +1e-12 or 0 must not decide pbkrtest's count of positive LRT* (nor depend on the row
#: order). χ²₁ gives such a statistic a p-value of 0.9992.
LRT_ZERO = 1e-6


def _lrt(full_llf, reduced_llf):
    lrt = 2.0 * (float(full_llf) - float(reduced_llf))
    return lrt if lrt > LRT_ZERO else 0.0


def _n_params(bare):
    model = bare.model
    return model.k_fe + model.k_re * (model.k_re + 1) // 2 + model.k_vc + 1


def _in_span(A, B):
    """Whether every column of A lies in the column space of B (relative tolerance)."""
    if A.shape[1] == 0:
        return True
    if B.shape[1] == 0:
        return False
    coef, *_ = np.linalg.lstsq(B, A, rcond=None)
    resid = A - B @ coef
    return bool(np.linalg.norm(resid) <= 1e-8 * max(np.linalg.norm(A), 1.0))


def _vc_matrix(model, j, i):
    mat = model.exog_vc.mats[j][i]
    return sp.csc_matrix(mat) if sp.issparse(mat) else sp.csc_matrix(np.asarray(mat, float))


def _same_covariance(A, B):
    """Whether AAᵀ = BBᵀ (the same covariance pattern), from small products only.

    ‖AAᵀ − BBᵀ‖²_F = ‖AᵀA‖²_F − 2‖BᵀA‖²_F + ‖BᵀB‖²_F: no n × n matrix is formed.
    """
    def sq(M):
        M = M.toarray() if sp.issparse(M) else np.asarray(M)
        return float(np.sum(M * M))

    aa, ab, bb = sq(A.T @ A), sq(B.T @ A), sq(B.T @ B)
    return abs(aa - 2 * ab + bb) <= 1e-10 * max(aa + bb, 1e-300)


def _vc_match(mf, mr):
    """For each variance component of ``mr``, the component of ``mf`` with the same design.

    Two components are the same when, in every group, their designs give the same
    covariance pattern ZZᵀ (the same columns up to order and labels): so a component is
    matched by its design, not by its name. None marks a component without a match.
    """
    n_groups = len(mf.group_labels)
    match = []
    for j in range(len(mr.exog_vc.names)):
        found = None
        for k in range(len(mf.exog_vc.names)):
            if all(_same_covariance(_vc_matrix(mr, j, i), _vc_matrix(mf, k, i))
                   for i in range(n_groups)):
                found = k
                break
        match.append(found)
    return match


def _check_nested(full, reduced):
    """The difference in parameters of two nested fits, after checking that they are nested.

    Nesting is decided by the designs: the reduced fixed-effect and re_formula columns lie in
    the span of the full model's, and every variance component of the reduced model has the
    design of one of the full model's (whatever either is named).
    """
    mf, mr = full.model, reduced.model
    if mf.nobs != mr.nobs or not np.allclose(mf.endog, mr.endog, rtol=1e-12, atol=0):
        raise ValueError("full and reduced must be fitted to the same data (the same response "
                         "in the same row order); they differ")
    if list(mf.group_labels) != list(mr.group_labels) or not all(
        np.array_equal(mf.row_indices[g], mr.row_indices[g]) for g in mf.group_labels
    ):
        raise ValueError("full and reduced must have the same groups")
    X_f, X_r = np.asarray(mf.exog, float), np.asarray(mr.exog, float)
    Z_f = np.asarray(mf.exog_re, float) if mf.k_re else np.zeros((mf.nobs, 0))
    Z_r = np.asarray(mr.exog_re, float) if mr.k_re else np.zeros((mr.nobs, 0))
    reasons = []
    if not _in_span(X_r, X_f):
        reasons.append("a fixed-effect column of reduced is not in the span of full's")
    if not _in_span(Z_r, Z_f):
        reasons.append("a random-effect (re_formula) column of reduced is not in the span "
                       "of full's")
    unmatched = [name for name, k in zip(mr.exog_vc.names, _vc_match(mf, mr), strict=True)
                 if k is None]
    if unmatched:
        reasons.append(f"reduced's variance component(s) {unmatched} have no component of "
                       "the same design in full")
    df = _n_params(full) - _n_params(reduced)
    if not reasons and df < 1:
        reasons.append(f"full has no more parameters than reduced ({_n_params(full)} "
                       f"against {_n_params(reduced)})")
    if reasons:
        raise ValueError(
            "reduced must be nested in full (decided by the designs, not by names): "
            + "; ".join(reasons) + ". Pass the larger model as full, with the same data and "
            "groups."
        )
    return df


def _as_ml(bare, name):
    from lmmhelpers.fitting import fit_mixedlm

    if not getattr(bare, "converged", False):
        raise ValueError(f"{name} did not converge; refit it with lmmhelpers.fit_mixedlm")
    if bare.method == "ML":
        return bare, False
    return _statsmodels.unwrap(fit_mixedlm(bare.model, reml=False)), True


class ReducedDraws:
    """A design for :func:`lmmhelpers.run_study`: responses drawn from the reduced ML fit."""

    def __init__(self, reduced):
        self.reduced = reduced

    def __call__(self, seed):
        return pd.DataFrame({"y": draw_response(self.reduced, seed=seed)})


class RefitLRT:
    """An analysis for :func:`lmmhelpers.run_study`: refit both models, report LRT*."""

    def __init__(self, full, reduced, df):
        self.full, self.reduced, self.df = full, reduced, df

    def run(self, rep):
        from lmmhelpers.fitting import refit

        row = make_row("bootstrap-lrt", "LRT", df=float(self.df))
        try:
            y = rep.data["y"].to_numpy()
            f, r = refit(self.full, y), refit(self.reduced, y)
        except Exception as exc:  # noqa: BLE001 - counted as a failed sample
            row.update(status="error", message=f"{type(exc).__name__}: {exc}")
            return [row]
        lrt = _lrt(f.llf, r.llf)
        row.update(statistic=lrt, p_value=float(stats.chi2.sf(lrt, self.df)),
                   converged=bool(f.converged and r.converged), boundary=bool(r.boundary))
        return [row]


def bootstrap_test(full, reduced, *, n_sim=1000, seed=0, n_jobs=1, progress=False,
                   return_samples=False, min_usable=0.9):
    """Parametric bootstrap likelihood-ratio test of ``reduced`` against ``full``.

    Parameters
    ----------
    full, reduced : statsmodels MixedLMResults
        Converged fits of two nested models to the same data (by
        :func:`lmmhelpers.fit_mixedlm`). They may differ in fixed effects, in random effects
        (a random slope, a variance component: the boundary case), or both. REML fits are
        refitted by ML first, with a warning (likelihood ratios of REML fits that differ in
        fixed effects are meaningless).
    n_sim : int, default 1000
        Bootstrap samples, drawn from the reduced ML fit.
    seed : int, default 0
        Root seed; sample ``i`` uses ``SeedSequence(seed).spawn(n_sim)[i]``: the same p-value
        for any ``n_jobs`` and backend.
    n_jobs : int, default 1
        Worker processes (joblib).
    progress : bool, default False
    return_samples : bool, default False
        Also return the per-sample table (LRT* in ``statistic``).
    min_usable : float, default 0.9
        The share of the ``n_sim`` samples whose two refits must succeed; below it
        :class:`lmmhelpers.TooFewUsableDraws` is raised (with the table and the samples):
        a p-value over the samples that happened to refit is not the bootstrap's. 0 turns
        the check off.

    Returns
    -------
    pandas.DataFrame
        One row: ``LRT``, ``df`` (difference in the number of parameters), ``p_chisq``
        (χ²_df reference), ``p_bootstrap`` ((1 + #{LRT* ≥ LRT}) / (1 + n_used), the usual
        bootstrap p-value, Davison & Hinkley 1997, eq. 4.11), ``p_pbkrtest`` (what
        ``PBmodcomp`` 0.5.2 reports: only the samples with LRT* > 0 count, (1 + #{LRT* >
        LRT}) / (1 + #{LRT* > 0}); with a point mass at 0, on the boundary, it is larger;
        statistics below ``LRT_ZERO`` = 1e-6 count as 0, the precision of two fits that
        meet at the boundary),
        ``n_sim``, ``n_used``, ``n_failed`` (samples whose refits failed: counted, not used)
        and ``refitted_ml``.

    Raises
    ------
    ValueError
        If the fits are not nested (decided by the designs: column spans and variance
        components' designs, not names), differ in data, did not converge, or cannot be
        refitted (fits by statsmodels' optimizers, ``engine="statsmodels"``, ``methods=...``
        or ``model.fit()``: refit them with :func:`lmmhelpers.fit_mixedlm`).
    lmmhelpers.TooFewUsableDraws
        If fewer than ``min_usable`` of the samples could be refitted.

    Examples
    --------
    >>> import numpy as np, pandas as pd, statsmodels.formula.api as smf
    >>> from lmmhelpers import fit_mixedlm
    >>> rng = np.random.default_rng(0)
    >>> g = np.repeat(np.arange(8), 5)
    >>> df = pd.DataFrame({"g": g, "x": rng.normal(size=40)})
    >>> df["y"] = rng.normal(size=8)[g] + 0.5 * df["x"] + rng.normal(size=40)
    >>> full = fit_mixedlm(smf.mixedlm("y ~ x", df, groups="g"), reml=False)
    >>> reduced = fit_mixedlm(smf.mixedlm("y ~ 1", df, groups="g"), reml=False)
    >>> out = bootstrap_test(full, reduced, n_sim=30, seed=2)
    >>> list(out.columns[:4]), int(out["df"].iloc[0])
    (['LRT', 'df', 'p_chisq', 'p_bootstrap'], 1)
    """
    from statsmodels.regression.mixed_linear_model import MixedLMResults

    from lmmhelpers.study import run_study

    for name, res in (("full", full), ("reduced", reduced)):
        if not isinstance(_statsmodels.unwrap(res), MixedLMResults):
            raise TypeError(f"{name} must be a fitted statsmodels MixedLM, got "
                            f"{type(res).__name__}")
    n_sim = check_int("n_sim", n_sim, minimum=1)
    seed = check_seed(seed)
    n_jobs = check_n_jobs(n_jobs)
    min_usable = check_share("min_usable", min_usable)
    df = _check_nested(_statsmodels.unwrap(full), _statsmodels.unwrap(reduced))
    full_ml, refit_full = _as_ml(_statsmodels.unwrap(full), "full")
    reduced_ml, refit_reduced = _as_ml(_statsmodels.unwrap(reduced), "reduced")
    for name, fit in (("full", full_ml), ("reduced", reduced_ml)):
        require_refittable(fit, name, "bootstrap_test", reml=False)
    refitted = refit_full or refit_reduced
    if refitted:
        warnings.warn("bootstrap_test: REML fits were refitted by maximum likelihood; the "
                      "likelihood-ratio test compares ML fits.", UserWarning, stacklevel=2)
    lrt = _lrt(full_ml.llf, reduced_ml.llf)
    samples = run_study(ReducedDraws(reduced_ml), [RefitLRT(full_ml, reduced_ml, df)], n_sim,
                        seed, n_jobs=n_jobs, progress=progress)
    star = samples["statistic"].to_numpy(float)
    ok = (samples["status"] == "ok").to_numpy() & np.isfinite(star)
    used = star[ok]
    n_used = int(used.size)
    positive = used[used > 0]
    table = pd.DataFrame([{
        "LRT": lrt, "df": df, "p_chisq": float(stats.chi2.sf(lrt, df)),
        # no usable sample, no bootstrap p-value (with min_usable=0): NaN, never (1+0)/(1+0)
        "p_bootstrap": (1 + int(np.sum(used >= lrt))) / (1 + n_used) if n_used else np.nan,
        "p_pbkrtest": ((1 + int(np.sum(positive > lrt))) / (1 + positive.size)
                       if n_used else np.nan),
        "n_sim": n_sim, "n_used": n_used, "n_failed": n_sim - n_used, "refitted_ml": refitted,
    }], columns=list(BOOTSTRAP_COLUMNS))
    usable = pd.DataFrame({"method": ["bootstrap-lrt"], "term": ["LRT"], "n_used": [n_used]})
    error = TooFewUsableDraws.check(usable, n_sim, min_usable, "bootstrap_test", samples,
                                    labels=("method",))
    if error is not None:
        error.table = table
        raise error
    return (table, samples) if return_samples else table
