"""Fitting a statsmodels MixedLM at the optimum lme4 reaches, with a verdict you can trust.

:func:`fit_mixedlm` minimises the profiled REML (or ML) criterion in θ with the engine of
:mod:`lmmhelpers.engine` (lme4's formulation, Bates et al. 2015, JSS 67(1), section 3, and
its optimizer, BOBYQA), checks convergence with lme4's scale-free rule, and returns a
statsmodels ``MixedLMResults`` at the optimum, so that everything built on statsmodels'
results keeps working.  ``engine="statsmodels"`` runs statsmodels' own optimizers instead
(several, scored by the likelihood: :mod:`lmmhelpers.engine.multistart`); models the engine
does not support take that path too, and say so in ``fit_history``.

:func:`refit` is MixedModels.jl's ``refit!``: the same model with a new response, every
structure reused, starting from the previous θ (Monte Carlo studies, parametric bootstrap).
"""

from __future__ import annotations

import copy
import functools
import time
import warnings

import numpy as np
import pandas as pd
from statsmodels.regression.mixed_linear_model import MixedLM, MixedLMParams
from statsmodels.tools.sm_exceptions import ConvergenceWarning

from lmmhelpers import _statsmodels
from lmmhelpers._model_checks import check_model
from lmmhelpers.engine import criterion_for
from lmmhelpers.engine.multistart import (
    DEFAULT_METHODS,
    KNOWN_METHODS,
    OPTIMIZER_OPTIONS,
    SNAP_PROBE,
    fit_statsmodels,
    parse_methods,
)
from lmmhelpers.engine.optimize import check_convergence, minimize_theta
from lmmhelpers.parameters import (
    BOUNDARY_TOL,
    VarianceParameters,
    is_boundary,
    random_effects_basis,
    theta_of,
    unpack_theta,
)

__all__ = [
    "SlowFitWarning",
    "fit_mixedlm",
    "refit",
    "ENGINES",
    "KNOWN_METHODS",
    "OPTIMIZER_OPTIONS",
    "SNAP_PROBE",
    "VARIANCE_FLOOR",
]

#: The fitting engines of :func:`fit_mixedlm`.
ENGINES = ("lmmhelpers", "statsmodels")
#: The smallest variance ratio that a fit reports, for Ψ's eigenvalues and each τ²_j over σ².
#: statsmodels cannot evaluate its likelihood at exactly zero, so a variance estimated as zero
#: is reported as this floor times σ² (θ = √floor), below lme4's singular-fit tolerance.
VARIANCE_FLOOR = _statsmodels.VARIANCE_FLOOR

#: Keyword arguments of ``MixedLM.fit`` that fit_mixedlm does not support.
_UNSUPPORTED = ("free", "fe_pen", "cov_pen", "method", "do_cg", "full_output", "niter_sa")
#: Attribute of the statsmodels result holding what :func:`refit` reuses.
_ENGINE_ATTR = "_lmmhelpers_engine"
_HISTORY_COLUMNS = ["method", "converged", "llf", "grad_norm", "seconds", "error"]


class SlowFitWarning(UserWarning):
    """A large model falls back to statsmodels' optimizers: the fit may take minutes."""


#: Estimated floating-point operations of one statsmodels likelihood evaluation above which
#: a fallback to statsmodels' optimizers warns (Σ over groups of n_g q_g² + q_g³, q_g the
#: random effects of group g). Measured: a one-group crossed design of 300 × 300 levels
#: (1,200 rows, 6e8) takes 5 s for two lbfgs iterations, 800 × 800 (1e10) 35 s; the issue's
#: 3,100 × 3,100 design (5e11) took 188 s in all, in silence.
SLOW_FIT_OPERATIONS = 1e8


def _fallback_cost(model):
    """(operations per evaluation, rows, groups, largest q_g) of statsmodels' likelihood."""
    cost, q_max = 0.0, 0
    for i, label in enumerate(model.group_labels):
        n_g = len(model.row_indices[label])
        q_g = model.k_re + sum(model.exog_vc.mats[j][i].shape[1]
                               for j in range(len(model.exog_vc.names)))
        cost += n_g * q_g**2 + q_g**3
        q_max = max(q_max, q_g)
    return cost, int(model.nobs), len(model.group_labels), q_max


def _warn_slow_fallback(model, reason, n_attempts):
    """Say at the start, not only in fit_history, that a large model takes the slow path.

    Returns whether it warned (then the attempts show a progress bar as well).
    """
    cost, n, groups, q_max = _fallback_cost(model)
    if cost < SLOW_FIT_OPERATIONS:
        return False
    warnings.warn(
        f"fit_mixedlm: the engine does not support this model ({reason}), so statsmodels' "
        f"optimizers fit it: {n:,} rows in {groups:,} group(s), up to {q_max:,} random "
        f"effects in one group, about {cost:.1g} operations per likelihood evaluation and "
        f"hundreds of evaluations for each of up to {n_attempts} optimizer attempts. This can "
        "take many minutes; a progress bar counts the attempts, and result.fit_history will "
        "show each attempt's time. A smaller or nested design, or fewer crossed levels, fits "
        "with the engine.",
        SlowFitWarning,
        stacklevel=3,
    )
    return True


def _validate(model, reml, engine, methods, grad_tol, maxiter, fit_kwds):
    if not isinstance(model, MixedLM):
        raise TypeError(
            "model must be a statsmodels.regression.mixed_linear_model.MixedLM, "
            f"got {type(model).__name__}"
        )
    if not isinstance(reml, (bool, np.bool_)):
        raise TypeError(f"reml must be True or False, got {reml!r}")
    if engine is not None and engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES} or None, got {engine!r}")
    chains = parse_methods(DEFAULT_METHODS if methods is None else methods)
    grad_tol = float(grad_tol)
    if not np.isfinite(grad_tol) or grad_tol <= 0:
        raise ValueError(f"grad_tol must be a positive number, got {grad_tol!r}")
    if maxiter is not None:
        if not isinstance(maxiter, (int, np.integer)) or isinstance(maxiter, bool):
            raise TypeError(f"maxiter must be an integer, got {maxiter!r}")
        if maxiter < 1:
            raise ValueError(f"maxiter must be at least 1, got {maxiter!r}")
    bad = sorted(set(fit_kwds).intersection(_UNSUPPORTED))
    if bad:
        raise TypeError(f"fit_mixedlm does not support the MixedLM.fit argument {bad[0]!r}")
    used = {"disp"}.union(*(OPTIMIZER_OPTIONS[step] for chain in chains for step in chain))
    unused = sorted(set(fit_kwds).difference(used))
    if unused:
        raise TypeError(
            f"fit_mixedlm: no optimizer in methods accepts the keyword {unused[0]!r}; "
            f"settings per method: {OPTIMIZER_OPTIONS}"
        )
    if engine is None:  # statsmodels' optimizer options choose statsmodels' optimizers
        engine = "statsmodels" if methods is not None or fit_kwds else "lmmhelpers"
    elif engine == "lmmhelpers" and (methods is not None or fit_kwds):
        raise TypeError("methods and optimizer settings apply to engine='statsmodels' only")
    return chains, grad_tol, engine


def _start_theta(model, crit, start_params):
    """θ̃ to start from: lme4's (Λ̃ = I, θ̃_j = 1) in the criterion's conditioned basis (every
    random-effect column of RMS 1, so the start does not depend on a covariate's units or
    origin), or the user's start mapped to that basis."""
    if start_params is None:
        return np.where(np.isfinite(crit.lower), 1.0, 0.0)
    if isinstance(start_params, MixedLMParams):
        params = start_params
    else:
        packed = _statsmodels_start(model, start_params)
        params = MixedLMParams.from_packed(
            packed, model.k_fe, model.k_re, model.use_sqrt, has_fe=False
        )
    cov_re = np.atleast_2d(np.asarray(params.cov_re, dtype=float)).reshape(model.k_re,
                                                                           model.k_re)
    vcomp = np.asarray(params.vcomp, dtype=float).reshape(-1)
    if vcomp.shape != (model.k_vc,) or not (np.all(np.isfinite(cov_re))
                                            and np.all(np.isfinite(vcomp))):
        raise ValueError(
            f"start_params must hold finite values for a {model.k_re} × {model.k_re} cov_re "
            f"and {model.k_vc} vcomp (values so large that their squares overflow are not); "
            "pass None for the default start"
        )
    if model.k_re and np.linalg.eigvalsh((cov_re + cov_re.T) / 2).min() < -1e-12 * max(
            1.0, float(np.abs(cov_re).max())):
        raise ValueError(
            "start_params: the random-effects covariance (cov_re, relative to the residual "
            "variance) has a negative eigenvalue, so it is not a covariance matrix. Give a "
            "positive semi-definite cov_re (e.g. np.eye(k_re)) or pass None for the default."
        )
    if np.any(vcomp < 0):
        raise ValueError(
            "start_params: a variance component (vcomp) is negative. Give variances >= 0 or "
            "pass None for the default start."
        )
    rel = crit.basis.to_conditioned(VarianceParameters(cov_re=cov_re, vcomp=vcomp, scale=1.0))
    theta = np.maximum(theta_of(rel.cov_re, rel.vcomp), crit.lower)
    if not np.all(np.isfinite(theta)):
        raise ValueError(
            "start_params: the starting variances overflow (they must be relative to the "
            "residual variance, not astronomically large); pass None for the default start"
        )
    return theta


def _statsmodels_start(model, start_params):
    from lmmhelpers.engine.multistart import _start_packed

    if start_params is not None and not isinstance(start_params, MixedLMParams):
        try:
            start_params = np.asarray(start_params, dtype=float)
        except (TypeError, ValueError):
            raise ValueError(
                "start_params must be an array of numbers (packed variance parameters, "
                f"optionally preceded by the fixed effects) or a MixedLMParams, got "
                f"{start_params!r}"
            ) from None

    return np.asarray(_start_packed(model, start_params), dtype=float)


def _conditioned_start(work, work_c, basis, start_params):
    """The packed start of statsmodels' optimizers for the conditioned copy ``work_c``:
    statsmodels' default (Ψ̃/σ² = I, τ̃²/σ² = 1) or the user's start mapped to the basis."""
    if start_params is None:
        return _statsmodels_start(work_c, None)
    packed = _statsmodels_start(work, start_params)
    params = MixedLMParams.from_packed(packed, work.k_fe, work.k_re, work.use_sqrt,
                                       has_fe=False)
    rel = basis.to_conditioned(VarianceParameters(
        cov_re=np.atleast_2d(params.cov_re).reshape(work.k_re, work.k_re),
        vcomp=np.asarray(params.vcomp, dtype=float), scale=1.0))
    if not np.all(np.isfinite(rel.cov_re)) or not np.all(np.isfinite(rel.vcomp)):
        raise ValueError(
            "start_params: the starting variances overflow; give them relative to the "
            "residual variance, or pass None for the default start"
        )
    if work.use_sqrt:  # packed: Λ̃'s lower triangle, then √τ̃² (statsmodels' order)
        return theta_of(rel.cov_re, rel.vcomp)
    return np.concatenate((rel.cov_re[np.tril_indices(work.k_re)], rel.vcomp))


def _statsmodels_result(work, work_c, basis, reml, best):
    """The result on the user's model from statsmodels' answer on the conditioned copy:
    β̂, σ̂² and the log-likelihood computed where they are well conditioned."""
    cov_c, vcomp_c = _statsmodels.lifted(best["cov_re"], best["vcomp"], work.k_re)
    params_c = _statsmodels.params_object(work_c, cov_c, vcomp_c)
    scale = float(work_c.get_scale(params_c.fe_params, cov_c, vcomp_c))
    llf = float(work_c.loglike(params_c, profile_fe=False))
    return _statsmodels.build_results(work, reml, cov_c, vcomp_c,
                                      fe_params=params_c.fe_params, scale=scale, llf=llf,
                                      basis=basis)


def _history(rows):
    return pd.DataFrame(
        {
            "method": [r["method"] for r in rows],
            "converged": [bool(r["converged"]) for r in rows],
            "llf": [float(r["llf"]) for r in rows],
            "grad_norm": [float(r["grad_norm"]) for r in rows],
            "seconds": [float(r["seconds"]) for r in rows],
            "error": [r["error"] for r in rows],
        },
        columns=_HISTORY_COLUMNS,
    )


def _engine_fit(work, crit, reml, theta0, grad_tol, maxiter, snap):
    """Optimise θ with the engine and build the result on ``work`` (a prepared copy).

    θ is the criterion's θ̃, in the conditioned basis of the random effects (see
    :func:`lmmhelpers.engine.criterion_for`): every random-effect column has RMS 1 and the
    ``re_formula`` columns are orthogonal, so the optimizer's steps, its snapping to the
    bound, the convergence verdict and the boundary rule do not depend on the units or origin
    of a covariate (for random intercepts θ̃ is lme4's θ).
    """
    t0 = time.perf_counter()

    def f(theta):
        return crit.deviance(theta, reml)

    theta, value, n_evals = minimize_theta(f, theta0, crit.lower, maxeval=maxiter, snap=snap)
    _check_residual_variance(crit, reml, f, theta, value)
    check = check_convergence(f, theta, crit.lower, tol=grad_tol, f0=value)
    # lme4's isSingular on θ̃ (= is_boundary(result))
    bounded = np.isfinite(crit.lower)
    check["boundary"] = bool(np.any(theta[bounded] < BOUNDARY_TOL))
    dev, beta, sigma2, _ = crit.solve(theta, reml)
    Lam, theta_vc = unpack_theta(theta, crit.k_re)
    result = _statsmodels.build_results(
        work, reml, Lam @ Lam.T, theta_vc**2, fe_params=beta, scale=sigma2, llf=-dev / 2,
        basis=crit.basis,
    )
    seconds = time.perf_counter() - t0
    optimizer = "brent" if len(theta) == 1 else "bobyqa"
    row = {"method": optimizer, "converged": check["converged"], "llf": -dev / 2,
           "grad_norm": check["grad_norm"], "seconds": seconds, "error": ""}
    inner = _statsmodels.unwrap(result)
    setattr(inner, _ENGINE_ATTR, {"criterion": crit, "reml": reml, "theta": theta,
                                  "grad_tol": grad_tol, "maxiter": maxiter, "snap": snap,
                                  "evaluations": n_evals})
    return result, row, check


#: θ̃ (σ_b/σ in units of RMS-1 columns) above which an optimum is checked for lying at
#: infinity, i.e. a residual variance of zero.
THETA_LARGE = 1e4
#: σ̂ relative to the root mean square of y's residual from the fixed effects below which the
#: residual variance counts as zero (rounding): σ̂²/s² < RESIDUAL_SHARE_TOL.
RESIDUAL_SHARE_TOL = 1e-8


def _check_residual_variance(crit, reml, f, theta, value):
    """Raise when a large θ̂ is not a minimum along the ray 10θ̂: the infimum is at σ² = 0.

    When the fixed and random effects fit the response exactly within every group (no
    residual left but rounding), −2ℓ → −∞ as θ → ∞ and the optimizer stops wherever its
    bracket ends or the arithmetic breaks down (the criterion is then not finite at 10θ̂);
    every number built on that point (σ̂², df, p-values) is rounding noise. At a genuine
    optimum the criterion is finite and higher at 10θ̂, and σ̂² is more than
    ``RESIDUAL_SHARE_TOL`` times the mean square of y's residual from the fixed effects.
    """
    if not np.any(np.abs(theta) > THETA_LARGE):
        return
    try:
        sigma2 = crit.solve(theta, reml)[2]
    except np.linalg.LinAlgError:  # the criterion is not finite there: rounding
        sigma2 = 0.0
    if not (f(10 * theta) > value and sigma2 > RESIDUAL_SHARE_TOL * crit.s**2):
        raise _zero_residual_error()


def _zero_residual_error():
    return ValueError(
        "the residual variance is zero up to rounding: the fixed and random effects fit "
        "the response exactly within every group (σ̂ below 1e-4 of the response's spread "
        "after the fixed effects), so the REML optimum does not exist and df and p-values "
        "would be rounding noise. Check the response (e.g. group means entered as y, or y "
        "computed from the model), or fit a model without these random effects."
    )


def _check_statsmodels_residual(work, result):
    """The same check for statsmodels' optimizers: σ̂² against y's residual from X."""
    y, X = np.asarray(work.endog, dtype=float), np.asarray(work.exog, dtype=float)
    resid = y - X @ np.linalg.lstsq(X, y, rcond=None)[0]
    if not float(result.scale) > RESIDUAL_SHARE_TOL * float(np.mean(resid**2)):
        raise _zero_residual_error()


def _finish(result, rows, optimizer, grad_norm, converged, slope=None, boundary=None):
    """Set the verdict attributes on the result and warn once when it did not converge."""
    inner = _statsmodels.unwrap(result)  # set on the results: summary() and the wrapper see them
    inner.optimizer = optimizer
    inner.grad_norm = float(grad_norm)
    inner.boundary = bool(is_boundary(result) if boundary is None else boundary)
    _statsmodels.set_lazy(inner, "fit_history", functools.partial(_history, rows))
    inner.converged = bool(converged)
    if not converged:
        extra = f", slope into the interior from the boundary = {slope:.3g}" if slope else ""
        warnings.warn(
            f"fit_mixedlm: no optimizer reached a maximum (best: {optimizer}, |gradient| = "
            f"{grad_norm:.3g}{extra}). Try more iterations (maxiter), other methods or "
            "start_params, rescaling covariates, or a simpler random-effects structure; see "
            "result.fit_history.",
            ConvergenceWarning,
            stacklevel=3,
        )
    return result


def fit_mixedlm(
    model,
    reml=True,
    methods=None,
    start_params=None,
    maxiter=None,
    grad_tol=2e-3,
    stop_early=True,
    snap=True,
    *,
    engine=None,
    **fit_kwds,
):
    """Fit a MixedLM at the REML (or ML) optimum, and say whether to trust it.

    By default the profiled criterion in θ is minimised by the engine of
    :mod:`lmmhelpers.engine`, as lme4 does it: the penalized least squares formulation of
    Bates, Mächler, Bolker & Walker (2015, JSS 67(1), section 3), batched q × q Cholesky
    factors for one grouping factor, a blocked Cholesky factor for the one-group crossed
    construction, BOBYQA (Brent's method for a single θ) from lme4's start θ = 1, and lme4's
    convergence check. The result is a statsmodels ``MixedLMResults`` at the optimum.

    With ``engine="statsmodels"`` (or when ``methods`` or optimizer settings are given, or the
    engine does not support the model) statsmodels' own optimizers run instead: each entry of
    ``methods`` is an *attempt*, a statsmodels optimizer or a chain such as
    ``"powell+lbfgs"``; the attempts are scored by the log-likelihood at their answers and the
    best wins, whatever the optimizers' own flags say. With ``stop_early=True`` the run stops
    after the first attempt with a small gradient off the boundary; with ``snap=True`` small θ
    of the winner are tried at exactly zero.

    Parameters
    ----------
    model : statsmodels.regression.mixed_linear_model.MixedLM
        The model to fit (for example from ``statsmodels.formula.api.mixedlm``). It is not
        modified: the fit works on a shallow copy, which ``result.model`` is.
    reml : bool, default True
        Maximise the restricted (REML) likelihood; False for maximum likelihood.
    methods : str or sequence of str, optional
        statsmodels' optimizers to try (``engine="statsmodels"``), each one of
        ``KNOWN_METHODS`` or several joined by ``"+"``. Default
        ``("lbfgs", "powell+lbfgs", "nm+lbfgs", "bfgs")``.
    start_params : array_like or MixedLMParams, optional
        Starting values as for ``MixedLM.fit`` (packed variance parameters, optionally preceded
        by the fixed effects). Default: θ̃ = 1, lme4's start in the conditioned basis of the
        random effects (:func:`lmmhelpers.parameters.random_effects_basis`: Ψ̃/σ² = I for
        orthogonal random-effect columns of RMS 1, τ̃²/σ² = 1), which does not depend on the
        units or origin of a covariate.
    maxiter : int, optional
        Iteration limit: criterion evaluations of the engine (default 10,000), or of every
        statsmodels optimizer run (default 100).
    grad_tol : float, default 2e-3
        Largest acceptable ``grad_norm`` for the verdict ``converged`` (lme4's 0.002).
    stop_early : bool, default True
        ``engine="statsmodels"``: stop after the first attempt with a small gradient off the
        boundary.
    snap : bool, default True
        Try θ near 0 at exactly 0 after the optimizer (both engines).
    engine : {"lmmhelpers", "statsmodels"}, optional
        Default: "lmmhelpers", unless ``methods`` or optimizer settings are given.
    **fit_kwds
        statsmodels optimizer settings (``OPTIMIZER_OPTIONS``: ``gtol`` for bfgs and cg,
        ``pgtol`` and ``factr`` for lbfgs, ``xtol`` and ``ftol`` for powell and nm...) and
        ``disp``, each passed only to the methods that accept it.

    Returns
    -------
    statsmodels.regression.mixed_linear_model.MixedLMResultsWrapper
        The statsmodels result at the optimum, with these attributes added or reset:

        ``optimizer`` : str
            ``"bobyqa"`` or ``"brent"`` (the engine), or the winning statsmodels attempt, e.g.
            ``"powell+lbfgs"``.
        ``grad_norm`` : float
            lme4's convergence statistic (``checkConv``): for each θ, the smaller of the
            deviance gradient and the Newton-scaled gradient R⁻¹g (RᵀR the deviance
            Hessian), maximised over θ; for a θ on its bound only an inward slope counts. θ is
            relative (Λ's lower triangle, then τ_j/σ), so the statistic does not depend on the
            units of y, and thanks to the scaling it does not grow with n.
        ``boundary`` : bool
            ``lmmhelpers.parameters.is_boundary(result)``: lme4's scale-free singular-fit rule.
        ``fit_history`` : pandas.DataFrame
            One row per attempt: method, converged, llf, grad_norm, seconds, error. When the
            engine could not fit the model, its first row is method ``"engine"`` with the
            reason in ``error``.
        ``converged`` : bool
            The verdict: True when ``grad_norm <= grad_tol``.

    Warns
    -----
    ConvergenceWarning
        Once, when the verdict is False. The optimizers' own warnings are suppressed.
    SlowFitWarning
        At the start, when the engine does not support a large model (above
        ``SLOW_FIT_OPERATIONS`` operations per likelihood evaluation) and statsmodels'
        optimizers fit it: the warning names the design's size and the reason.

    Raises
    ------
    TypeError
        If ``model`` is not a MixedLM or an argument has the wrong type.
    ValueError
        If a method is unknown, the model cannot be estimated (a collinear, duplicated or
        all-zero fixed-effect or random-effect column, named; variance parameters no data can
        tell apart; groups of size one; more random effects than observations; a variance
        component with a single level; missing values; no fixed effects; a date column used as
        a factor), the response is fitted exactly by the fixed effects or the residual
        variance is zero (the fixed and random effects fit it exactly), ``start_params`` is
        not a valid start (wrong length, not finite, a negative variance), or every attempt
        failed.

    Notes
    -----
    The result's variance parameters are handed to statsmodels with every relative variance at
    least ``VARIANCE_FLOOR`` = 2e-10 (statsmodels issue #10239: below 1e-10 ``get_fe_params``
    treats a variance as infinite). The fixed effects are the engine's GLS solution; ``llf``
    is the engine's criterion. statsmodels' ``cov_params()`` (and so ``bse``, ``summary()``)
    is computed from its Hessian when first asked for.

    Examples
    --------
    >>> import numpy as np, pandas as pd, statsmodels.formula.api as smf
    >>> rng = np.random.default_rng(1)
    >>> g = np.repeat(np.arange(6), 5)
    >>> df = pd.DataFrame({"g": g, "trt": g % 2, "y": rng.normal(size=30) + rng.normal(size=6)[g]})
    >>> result = fit_mixedlm(smf.mixedlm("y ~ trt", df, groups="g"))
    >>> result.converged, result.grad_norm < 2e-3, result.optimizer
    (True, True, 'brent')
    >>> list(result.fit_history.columns)
    ['method', 'converged', 'llf', 'grad_norm', 'seconds', 'error']
    """
    chains, grad_tol, engine = _validate(
        model, reml, engine, methods, grad_tol, maxiter, fit_kwds
    )
    check_model(model)  # a design that cannot be estimated: an error naming the cause
    reml = bool(reml)
    work = _statsmodels.prepared_copy(model, reml)
    rows, slow = [], False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.filterwarnings("ignore", message=".*[Ss]ingular.*")
        warnings.filterwarnings("ignore", category=RuntimeWarning)
        if engine == "lmmhelpers":
            t0 = time.perf_counter()
            try:
                crit = criterion_for(work)
            except NotImplementedError as e:
                rows.append({"method": "engine", "converged": False, "llf": np.nan,
                             "grad_norm": np.nan, "seconds": time.perf_counter() - t0,
                             "error": f"not supported, statsmodels' optimizers used: {e}"})
                slow = _warn_slow_fallback(work, e, len(chains))
            else:
                theta0 = _start_theta(work, crit, start_params)
                result, row, check = _engine_fit(
                    work, crit, reml, theta0, grad_tol, maxiter or 10_000, snap
                )
                rows.append(row)
        if not rows or rows[0]["method"] == "engine":
            # statsmodels' optimizers run on the model in the conditioned basis of the random
            # effects too, so that their answer does not depend on a covariate's origin
            basis = random_effects_basis(work)
            work_c = _statsmodels.conditioned_copy(work, basis)
            start = _conditioned_start(work, work_c, basis, start_params)
            best, sm_rows = fit_statsmodels(
                work_c, chains, start, maxiter or 100, grad_tol, stop_early, snap, fit_kwds,
                progress=slow,
            )
            rows.extend(sm_rows)
            result = _statsmodels_result(work, work_c, basis, reml, best)
            _check_statsmodels_residual(work, result)
            converged = bool(best["grad_norm"] <= grad_tol and best["inward_slope"] <= grad_tol)
            verdict = (best["optimizer"], best["grad_norm"], converged,
                       best["inward_slope"] if best["boundary"] else None)
        else:
            verdict = (row["method"], check["grad_norm"], check["converged"],
                       check["inward_slope"] or None, check["boundary"])
    return _finish(result, rows, *verdict)


def can_refit(result):
    """Whether :func:`refit` can refit ``result`` (it was fitted by the engine).

    Examples
    --------
    >>> import numpy as np, pandas as pd, statsmodels.formula.api as smf
    >>> df = pd.DataFrame({"g": np.repeat(np.arange(5), 4),
    ...                    "y": np.random.default_rng(0).normal(size=20)})
    >>> model = smf.mixedlm("y ~ 1", df, groups="g")
    >>> can_refit(fit_mixedlm(model)), can_refit(fit_mixedlm(model, engine="statsmodels"))
    (True, False)
    """
    return getattr(_statsmodels.unwrap(result), _ENGINE_ATTR, None) is not None


def _new_response(model, y):
    """``y`` as a float vector in the model's row order: a Series aligned by its index."""
    n = len(model.endog)
    if isinstance(y, pd.DataFrame):
        raise TypeError("y must be a 1-D array or a pandas Series, got a DataFrame; pass one "
                        "column, e.g. data['y']")
    if isinstance(y, pd.Series):
        labels = getattr(model.data, "row_labels", None)
        if labels is None:  # a model built from arrays: rows have no labels but positions
            labels = pd.RangeIndex(n)
        if not y.index.is_unique:
            raise ValueError("y is a Series whose index has repeated labels: it cannot be "
                             "aligned with the model's rows; pass y.to_numpy() if its values "
                             "are in the model's row order")
        missing = pd.Index(labels).difference(y.index)
        if len(missing):
            raise ValueError(
                f"y is a Series whose index does not match the model's rows: {len(missing)} "
                f"of its {n} row labels are not in y's index (e.g. {list(missing[:3])}). "
                "Index y like the model's data, or pass y.to_numpy() if its values are in "
                "the model's row order")
        y = y.reindex(labels)
    try:
        y = np.asarray(y, dtype=float)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"y must be numeric, got {type(y).__name__}: {exc}") from exc
    if y.shape != (n,):
        raise ValueError(f"y must have {n} values, one per row of the model, as a 1-D array; "
                         f"got shape {y.shape}" + ("; pass y.ravel() for a column vector"
                                         if y.shape in ((n, 1), (1, n)) else ""))
    if not np.all(np.isfinite(y)):
        raise ValueError(f"y must be finite; it has {int(np.sum(~np.isfinite(y)))} missing "
                         "or infinite values")
    return y


def refit(result, y, *, start="previous"):
    """The same model fitted to a new response, every structure reused (MixedModels.jl refit!).

    The designs (X, Z, groups), the method (REML or ML) and the settings of ``result`` are
    kept; only the response changes. The optimizer starts from the θ of ``result``. For
    Monte Carlo studies and the parametric bootstrap: the cost of a replicate is the
    optimisation alone, with no formula parsing and no model construction.

    Parameters
    ----------
    result : MixedLMResults
        A fit by :func:`fit_mixedlm` with the engine (``engine="lmmhelpers"``).
    y : array_like, shape (n,), or pandas Series
        The new response: an array in the row order of the model's data, or a Series,
        aligned with the model's rows by its index (refused when its index lacks one of
        them).
    start : {"previous", "default"}, default "previous"
        Start the optimizer at the θ of ``result`` (fewest evaluations when the new response
        resembles the old), or at lme4's default start, as :func:`fit_mixedlm` does: then the
        refit gives the same numbers as a fresh fit of the new response, whatever ``result``
        was (the study runner uses this, so that its tables do not depend on which replicate
        a worker fitted first).

    Returns
    -------
    MixedLMResultsWrapper
        As :func:`fit_mixedlm` returns; ``result.model`` is a copy of the model with ``y`` as
        its response. ``result`` itself is unchanged.

    Raises
    ------
    ValueError
        If ``result`` was not fitted by the engine, ``y`` has the wrong shape (not 1-D of
        length n), non-finite values or an index that does not match the rows, the fixed
        effects fit ``y`` exactly, or the residual variance is zero (the fixed and random
        effects fit ``y`` exactly).
    TypeError
        If ``y`` is a DataFrame or not numeric.

    Examples
    --------
    >>> import numpy as np, pandas as pd, statsmodels.formula.api as smf
    >>> rng = np.random.default_rng(1)
    >>> g = np.repeat(np.arange(8), 5)
    >>> df = pd.DataFrame({"g": g, "trt": g % 2, "y": rng.normal(size=40) + rng.normal(size=8)[g]})
    >>> first = fit_mixedlm(smf.mixedlm("y ~ trt", df, groups="g"))
    >>> y_new = rng.normal(size=40) + rng.normal(size=8)[g]
    >>> again = refit(first, y_new)
    >>> direct = fit_mixedlm(smf.mixedlm("y ~ trt", df.assign(y=y_new), groups="g"))
    >>> bool(np.allclose(again.fe_params, direct.fe_params, atol=1e-6))
    True
    """
    bare = _statsmodels.unwrap(result)
    state = getattr(bare, _ENGINE_ATTR, None)
    if state is None:
        raise ValueError(
            "refit needs a result of fit_mixedlm with engine='lmmhelpers' (this one was "
            "fitted by statsmodels' optimizers); fit the new response with fit_mixedlm"
        )
    if start not in ("previous", "default"):
        raise ValueError(f"start must be 'previous' or 'default', got {start!r}")
    y = _new_response(bare.model, y)
    work = _statsmodels.with_response(bare.model, y)
    crit = copy.copy(state["criterion"])  # the first result's criterion keeps its response,
    crit.set_response(y)  # so refits from one result in several threads do not interfere
    theta0 = state["theta"] if start == "previous" else _start_theta(work, crit, None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.filterwarnings("ignore", category=RuntimeWarning)
        new, row, check = _engine_fit(work, crit, state["reml"], theta0,
                                      state["grad_tol"], state["maxiter"], state["snap"])
    return _finish(new, [row], row["method"], check["grad_norm"], check["converged"],
                   check["inward_slope"] or None, check["boundary"])
