"""Calibrate the tests of a fitted model on its own design: how often does each method reject a
true null hypothesis *here*?

lmerTest and pbkrtest give degrees of freedom but never check them on the user's design; the
chapters of the book show by simulation that the answer depends on the design (the number of
groups, boundary fits, crossed factors). :func:`calibrate` asks that question of a fit: it
draws ``n_sim`` responses from the fitted model with every fixed effect set to 0 (the fitted
variance components and residual variance kept), refits each draw with :func:`refit`, and
reports for each tested coefficient and each method the share of p-values below ``alpha``,
with a Wilson interval. A method whose interval lies above ``alpha`` is anti-conservative on
this design.

Setting *every* coefficient to 0 is no loss: the REML estimates of the variance parameters,
and the t statistic of β_j − β_j, do not depend on the value of β (they depend on the data
only through residuals from the fixed-effects fit), so one set of draws serves every term.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lmmhelpers import _statsmodels
from lmmhelpers._validation import (
    check_ddf,
    check_int,
    check_n_jobs,
    check_probability,
    check_seed,
    check_share,
    require_refittable,
)
from lmmhelpers.draws import draw_response
from lmmhelpers.study._rows import make_row
from lmmhelpers.summaries import TooFewUsableDraws, rejection_rate

__all__ = ["NullDraws", "RefitTests", "calibrate", "calibration_summary"]

#: The columns of :func:`calibrate`'s table, in order (a contract: other code relies on them).
CALIBRATION_COLUMNS = ("term", "method", "alpha", "rate", "lower", "upper", "n_used",
                       "n_failed", "n_not_converged", "n_boundary")


def _check_result(result):
    from statsmodels.regression.mixed_linear_model import MixedLMResults

    bare = _statsmodels.unwrap(result)
    if not isinstance(bare, MixedLMResults):
        raise TypeError("result must be a fitted statsmodels MixedLM (from "
                        f"lmmhelpers.fit_mixedlm), got {type(result).__name__}")
    if not getattr(bare, "converged", False):
        raise ValueError("result did not converge: calibrate a converged fit "
                         "(lmmhelpers.fit_mixedlm(model) and check result.converged)")
    return require_refittable(bare, "result", "calibrate")


def _check_terms(terms, bare):
    names = list(bare.model.exog_names)
    if terms is None:
        terms = [n for n in names if n != "Intercept"] or names
    elif isinstance(terms, str):
        terms = [terms]
    terms = list(terms)
    if any(not isinstance(t, str) for t in terms):
        raise TypeError(f"terms must be coefficient names (str) of the model {names}, "
                        f"got {terms}")
    terms = list(dict.fromkeys(terms))  # a term named twice is calibrated once
    unknown = [t for t in terms if t not in names]
    if unknown or not terms:
        raise ValueError(f"terms must name coefficients of the model {names}, "
                         f"got {unknown or terms}")
    return terms


class NullDraws:
    """A design for :func:`lmmhelpers.run_study`: responses drawn from ``result`` with β = 0."""

    def __init__(self, result):
        self.result = result

    def __call__(self, seed):
        bare = _statsmodels.unwrap(self.result)
        y = draw_response(bare, beta=np.zeros(bare.model.k_fe), seed=seed)
        return pd.DataFrame({"y": y})


class RefitTests:
    """An analysis for :func:`lmmhelpers.run_study`: refit ``result`` to the replicate's ``y``
    and test each term by each method (one fit shared by every method)."""

    def __init__(self, result, terms, methods):
        self.result, self.terms, self.methods = result, tuple(terms), tuple(methods)

    def run(self, rep):
        from lmmhelpers.covariance import structure
        from lmmhelpers.fitting import refit
        from lmmhelpers.tables import t_test

        try:
            fit = refit(self.result, rep.data["y"].to_numpy())
            cs = structure(fit)
        except Exception as exc:  # noqa: BLE001 - a failed refit is a counted row, not a crash
            return [make_row(m, t, status="error", message=f"{type(exc).__name__}: {exc}")
                    for t in self.terms for m in self.methods]
        common = {"converged": bool(fit.converged), "boundary": bool(fit.boundary)}
        names = list(fit.model.exog_names)
        rows = []
        for term in self.terms:
            l = np.eye(len(names))[names.index(term)]
            for method in self.methods:
                try:
                    r = t_test(cs, l, ddf=method)
                except Exception as exc:  # noqa: BLE001
                    rows.append(make_row(method, term, status="error",
                                     message=f"{type(exc).__name__}: {exc}", **common))
                    continue
                rows.append(make_row(method, term, estimate=r["estimate"], std_err=r["se"],
                                 statistic=r["t"], df=r["df"], p_value=r["p"], **common))
        # rows ordered term by term, methods within, as calibrate's table
        return rows


#: Default ``min_usable`` of :func:`calibrate` and :func:`lmmhelpers.bootstrap_test`: the share
#: of draws that must give a usable result, per term and method.
MIN_USABLE = 0.9


def calibrate(result, terms=None, methods=("normal", "satterthwaite", "kenward-roger"), *,
              n_sim=1000, seed=0, n_jobs=1, alpha=0.05, progress=False, return_draws=False,
              min_usable=MIN_USABLE):
    """Type I error of each test method on the design of a fitted model, by simulation.

    Parameters
    ----------
    result : statsmodels MixedLMResults
        A converged REML fit by :func:`lmmhelpers.fit_mixedlm` (its designs are reused by
        :func:`lmmhelpers.refit`).
    terms : str or sequence of str, optional
        Coefficients to calibrate (default: every coefficient but the intercept); a name
        given twice is calibrated once.
    methods : sequence of {"normal", "satterthwaite", "kenward-roger"}
        The reference distributions to compare ("normal" is statsmodels' z test); a method
        given twice (or by two aliases) is run once.
    n_sim : int, default 1000
        Number of null draws. The Wilson interval's half-width at a rate of 0.05 is about
        0.014 for 1,000 draws and 0.01 for 2,000.
    seed : int, default 0
        Root seed: draw ``i`` uses ``numpy.random.SeedSequence(seed).spawn(n_sim)[i]``, so the
        table is the same for any ``n_jobs`` and backend.
    n_jobs : int, default 1
        Worker processes (joblib; ``None`` defers to an enclosing ``joblib.parallel_config``,
        e.g. dask).
    alpha : float, default 0.05
        The test level.
    progress : bool, default False
        A progress bar on stderr.
    return_draws : bool, default False
        Also return the per-draw table of :func:`lmmhelpers.run_study`.
    min_usable : float, default 0.9
        The share of the ``n_sim`` draws that must give a p-value, for every term and
        method; below it :class:`lmmhelpers.TooFewUsableDraws` is raised (with the table and
        the draws), because a rate over the draws that happened to succeed is a rate over a
        subset selected by the data. 0 turns the check off.

    Returns
    -------
    pandas.DataFrame
        One row per (term, method), columns :data:`CALIBRATION_COLUMNS`: the rejection
        ``rate`` over ``n_used`` draws with its Wilson 95% interval ``lower``–``upper``;
        ``n_failed`` draws whose refit or test failed (never dropped silently: they are
        not in ``n_used``), ``n_not_converged`` and ``n_boundary`` (singular) refits.
        ``attrs["summary"]`` holds :func:`calibration_summary`'s text. With
        ``return_draws=True``, a pair (table, draws).

    Raises
    ------
    ValueError
        If ``result`` did not converge or cannot be refitted (a fit by statsmodels'
        optimizers or by ``model.fit()``: refit it with :func:`lmmhelpers.fit_mixedlm`), or an
        argument is invalid.
    lmmhelpers.TooFewUsableDraws
        If the share of usable draws of a term and method is below ``min_usable``.

    Examples
    --------
    >>> import numpy as np, pandas as pd, statsmodels.formula.api as smf
    >>> from lmmhelpers import fit_mixedlm
    >>> rng = np.random.default_rng(0)
    >>> g = np.repeat(np.arange(6), 5)
    >>> df = pd.DataFrame({"g": g, "trt": g % 2})
    >>> df["y"] = rng.normal(size=6)[g] + rng.normal(size=30)
    >>> result = fit_mixedlm(smf.mixedlm("y ~ trt", df, groups="g"))
    >>> table = calibrate(result, n_sim=20, seed=1)
    >>> table[["term", "method", "n_used"]].values.tolist()
    [['trt', 'normal', 20], ['trt', 'satterthwaite', 20], ['trt', 'kenward-roger', 20]]
    """
    from lmmhelpers.study import run_study

    bare = _check_result(result)
    terms = _check_terms(terms, bare)
    if isinstance(methods, str):
        methods = (methods,)
    methods = tuple(dict.fromkeys(check_ddf(m, name="methods") for m in methods))
    if not methods:
        raise ValueError("methods must name at least one method")
    if bare.method != "REML" and set(methods) - {"normal"}:
        raise ValueError("Satterthwaite and Kenward-Roger need a REML fit; refit with "
                         "lmmhelpers.fit_mixedlm(model, reml=True)")
    n_sim = check_int("n_sim", n_sim, minimum=1)
    seed = check_seed(seed)
    n_jobs = check_n_jobs(n_jobs)
    alpha = check_probability("alpha", alpha)
    min_usable = check_share("min_usable", min_usable)
    draws = run_study(NullDraws(result), [RefitTests(result, terms, methods)], n_sim, seed,
                      n_jobs=n_jobs, progress=progress)
    table = _table(draws, terms, methods, alpha)
    table.attrs["summary"] = calibration_summary(table)
    error = TooFewUsableDraws.check(table, n_sim, min_usable, "calibrate", draws,
                                    labels=("term", "method"))
    if error is not None:
        raise error
    return (table, draws) if return_draws else table


def _table(draws, terms, methods, alpha):
    rates = rejection_rate(draws, alpha=alpha, by=["term", "method"])
    rates = rates.rename(columns={"n_error": "n_failed"})
    order = {(t, m): i for i, (t, m) in enumerate((t, m) for t in terms for m in methods)}
    rates["_order"] = [order[(t, m)] for t, m in zip(rates["term"], rates["method"],
                                                     strict=True)]
    rates = rates.sort_values("_order").reset_index(drop=True)
    return rates[list(CALIBRATION_COLUMNS)]


def calibration_summary(table):
    """Which methods hold their level on this design: one sentence per (term, method).

    A method *holds its level* when the Wilson interval of its rate contains ``alpha``; it is
    *anti-conservative* when the interval lies above ``alpha`` and *conservative* when it lies
    below. Nothing is claimed from the point estimate alone.

    Examples
    --------
    >>> t = pd.DataFrame({"term": "x", "method": ["normal", "satterthwaite"], "alpha": 0.05,
    ...                   "rate": [0.11, 0.052], "lower": [0.09, 0.04], "upper": [0.13, 0.066],
    ...                   "n_used": 1000, "n_failed": 0, "n_not_converged": 0, "n_boundary": 3})
    >>> print(calibration_summary(t))
    x, normal: rate 0.110 [0.090, 0.130] at alpha 0.05: anti-conservative here
    x, satterthwaite: rate 0.052 [0.040, 0.066] at alpha 0.05: holds its level here
    """
    lines = []
    for r in table.itertuples(index=False):
        if not r.n_used:
            lines.append(f"{r.term}, {r.method}: no valid p-values (see n_failed)")
            continue
        if r.lower > r.alpha:
            verdict = "anti-conservative here"
        elif r.upper < r.alpha:
            verdict = "conservative here"
        else:
            verdict = "holds its level here"
        lines.append(f"{r.term}, {r.method}: rate {r.rate:.3f} [{r.lower:.3f}, {r.upper:.3f}]"
                     f" at alpha {r.alpha:g}: {verdict}")
    return "\n".join(lines)
