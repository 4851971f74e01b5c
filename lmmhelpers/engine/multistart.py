"""statsmodels' own optimizers, several of them, scored by the likelihood: ``engine="statsmodels"``.

statsmodels' default ``MixedLM.fit()`` tries BFGS, then L-BFGS, then CG and stops at the first
that says it converged. On small data sets that is often short of the REML optimum, Powell
declares convergence on crossed models before the optimum, and L-BFGS can crash with a
singular matrix near a zero variance. :func:`fit_statsmodels` runs several optimizers (or
chains such as ``"powell+lbfgs"``), compares them by the REML (or ML) log-likelihood evaluated
correctly, keeps the best, and tries small θ at exactly zero. This is the path
:func:`lmmhelpers.fit_mixedlm` takes with ``engine="statsmodels"`` and for models the engine
does not support.
"""

from __future__ import annotations

import sys
import time

import numpy as np
from statsmodels.base.model import LikelihoodModel
from statsmodels.regression.mixed_linear_model import MixedLMParams
from tqdm import tqdm

from lmmhelpers._statsmodels import VARIANCE_FLOOR, lifted, params_object
from lmmhelpers.parameters import BOUNDARY_TOL, VarianceParameters, theta_of, unpack_theta

#: Optimizers of statsmodels' ``LikelihoodModel.fit`` that work for MixedLM.
KNOWN_METHODS = ("lbfgs", "bfgs", "powell", "nm", "cg")
#: The attempts of ``engine="statsmodels"`` when ``methods`` is not given.
DEFAULT_METHODS = ("lbfgs", "powell+lbfgs", "nm+lbfgs", "bfgs")

#: θ below this are tried at exactly zero (then polished) after the attempts: see ``snap``.
SNAP_PROBE = 1e-2

#: Optimizer settings each method accepts (statsmodels.base.optimizer); ``disp`` goes to all.
OPTIMIZER_OPTIONS = {
    "lbfgs": ("m", "pgtol", "factr", "maxfun", "epsilon"),
    "bfgs": ("gtol", "norm", "epsilon"),
    "cg": ("gtol", "norm", "epsilon"),
    "powell": ("xtol", "ftol", "maxfun"),
    "nm": ("xtol", "ftol", "maxfun"),
}


def parse_methods(methods):
    """Chains of method names from ``methods`` (a string or a sequence of strings)."""
    if isinstance(methods, str):
        methods = (methods,)
    try:
        methods = tuple(methods)
    except TypeError:
        raise TypeError(f"methods must be a sequence of method names, got {methods!r}") from None
    if not methods:
        raise ValueError("methods must name at least one optimizer")
    chains = []
    for m in methods:
        if not isinstance(m, str):
            raise TypeError(f"methods must contain strings, got {m!r}")
        steps = tuple(s.strip().lower() for s in m.split("+"))
        unknown = [s for s in steps if s not in KNOWN_METHODS]
        if unknown:
            raise ValueError(
                f"methods: unknown optimizer {unknown[0]!r} in {m!r}; "
                f"known: {', '.join(KNOWN_METHODS)} (chain with '+', e.g. 'powell+lbfgs')"
            )
        chains.append(steps)
    return tuple(chains)


def _start_packed(model, start_params):
    """statsmodels' default start (Ψ/σ² = I, τ²/σ² = 1) or the user's, packed for the optimizer."""
    if start_params is None:
        params = MixedLMParams(model.k_fe, model.k_re, model.k_vc)
        params.fe_params = np.zeros(model.k_fe)
        params.cov_re = np.eye(model.k_re)
        params.vcomp = np.ones(model.k_vc)
    elif isinstance(start_params, MixedLMParams):
        params = start_params
    else:
        start = np.asarray(start_params, dtype=float).ravel()
        if start.size == model.k_fe + model.k_re2 + model.k_vc:
            has_fe = True
        elif start.size == model.k_re2 + model.k_vc:
            has_fe = False
        else:
            raise ValueError(
                f"start_params must have {model.k_re2 + model.k_vc} variance parameters "
                f"(optionally preceded by {model.k_fe} fixed effects), got {start.size} values"
            )
        if not np.all(np.isfinite(start)):
            raise ValueError("start_params must be finite")
        params = MixedLMParams.from_packed(
            start, model.k_fe, model.k_re, model.use_sqrt, has_fe=has_fe
        )
    return params.get_packed(use_sqrt=model.use_sqrt, has_fe=False)


def _lifted_components(model, cov_re, vcomp):
    return lifted(cov_re, vcomp, model.k_re)


def _lifted(model, packed):
    """(Ψ/σ², τ²/σ²) from optimizer parameters, with every variance raised to VARIANCE_FLOOR.

    Eigenvalues of Ψ/σ² and the τ²/σ² below the floor are raised to it. This changes the
    log-likelihood by O(1e-10 · n) and keeps statsmodels' GLS, likelihood and score on the
    correct side of the D → 0 limit (issue #10239).
    """
    p = MixedLMParams.from_packed(
        np.asarray(packed, dtype=float), model.k_fe, model.k_re, model.use_sqrt, has_fe=False
    )
    return _lifted_components(model, p.cov_re, p.vcomp)


def _params_object(model, cov_re, vcomp):
    return params_object(model, cov_re, vcomp)


def _theta_gradient(model, params):
    """Projected gradient in θ, and the inward slopes of the coordinates on the boundary.

    θ is lme4's parameter vector: the lower triangle of the relative Cholesky factor Λ of
    Ψ/σ² (row by row), then τ_j/σ. statsmodels' ``score_sqrt`` differentiates the profiled
    log-likelihood with respect to exactly these. A diagonal element of Λ, or a τ_j/σ, below
    lme4's boundary tolerance is on its bound θ ≥ 0: there only an inward (positive)
    component violates optimality, so the outward part is dropped.

    Returns
    -------
    projected : ndarray
        The projected gradient (its norm is ``grad_norm``).
    inward_slope : ndarray
        For each coordinate on the boundary, the derivative of the log-likelihood with
        respect to θ_j² (= gradient / 2θ_j). The θ-gradient vanishes on the boundary by
        symmetry whether or not the boundary is a maximum; this slope tells: positive means
        the likelihood rises into the interior (a saddle, not a maximum).
    """
    _, s_re, s_vc = model.score_sqrt(params, calc_fe=False)
    grad = np.concatenate((np.atleast_1d(s_re), np.atleast_1d(s_vc))).astype(float)
    vp = VarianceParameters(cov_re=params.cov_re, vcomp=params.vcomp, scale=1.0)
    re_mask, vc_mask = vp.boundary_mask(BOUNDARY_TOL)
    rows, cols = np.tril_indices(model.k_re)
    on_bound = np.concatenate(((rows == cols) & re_mask[rows], vc_mask))
    theta = vp.theta
    projected = np.where(on_bound, np.maximum(grad, 0.0), grad)
    inward_slope = grad[on_bound] / (2 * np.maximum(theta[on_bound], np.sqrt(VARIANCE_FLOOR)))
    return projected, inward_slope


def _theta_point(model, theta):
    """MixedLMParams (relative to σ²) at a packed θ (lmmhelpers.parameters.unpack_theta)."""
    Lam, theta_vc = unpack_theta(theta, model.k_re)
    return _params_object(model, Lam @ Lam.T, theta_vc**2)


def _scaled_gradient(model, params, grad, free, step=1e-5):
    """lme4's convergence statistic: max_i min(|g_i|, |(R⁻ᵀg)_i|) on the deviance scale.

    g is the θ-gradient of the REML (ML) deviance, −2 × the log-likelihood's, and RᵀR the
    deviance Hessian in the free θ (central differences of the gradient). The Newton-scaled
    gradient does not grow with the number of observations, as the raw gradient does; lme4's
    ``checkConv`` takes the smaller of the two per coordinate and compares it with 2e-3.
    Falls back to the raw gradient where the Hessian is not positive definite.
    """
    g = -2 * grad[free]
    if not g.size:
        return 0.0
    theta = theta_of(params.cov_re, params.vcomp)
    idx = np.flatnonzero(free)
    H = np.empty((len(idx), len(idx)))
    for a, i in enumerate(idx):
        h = step * max(1.0, abs(theta[i]))
        up, down = theta.copy(), theta.copy()
        up[i] += h
        down[i] -= h
        g_up = _raw_theta_gradient(model, _theta_point(model, up))[free]
        g_down = _raw_theta_gradient(model, _theta_point(model, down))[free]
        H[:, a] = -2 * (g_up - g_down) / (2 * h)
    H = (H + H.T) / 2
    try:
        R = np.linalg.cholesky(H).T  # RᵀR = H, as R's chol()
        scaled = np.linalg.solve(R, g)
    except np.linalg.LinAlgError:
        scaled = g
    return float(np.max(np.minimum(np.abs(scaled), np.abs(g))))


def _raw_theta_gradient(model, params):
    _, s_re, s_vc = model.score_sqrt(params, calc_fe=False)
    return np.concatenate((np.atleast_1d(s_re), np.atleast_1d(s_vc))).astype(float)


def _evaluate(model, packed):
    """Log-likelihood, gradient summaries and (Ψ/σ², τ²/σ²) at the lifted optimizer answer."""
    cov_re, vcomp = _lifted(model, packed)
    params = _params_object(model, cov_re, vcomp)
    projected, inward_slope = _theta_gradient(model, params)
    vp = VarianceParameters(cov_re=cov_re, vcomp=vcomp, scale=1.0)
    re_mask, vc_mask = vp.boundary_mask(BOUNDARY_TOL)
    rows, cols = np.tril_indices(model.k_re)
    # free coordinates: not a boundary diagonal, and not in a zeroed column of Λ
    free = np.concatenate((~re_mask[cols], ~vc_mask))
    try:
        grad_stat = _scaled_gradient(model, params, projected, free)
    except (np.linalg.LinAlgError, ValueError, FloatingPointError):
        grad_stat = float(np.max(np.abs(2 * projected))) if projected.size else 0.0
    bound_part = projected[~free]
    if bound_part.size:  # an inward gradient at the boundary counts unscaled
        grad_stat = max(grad_stat, float(np.max(np.abs(2 * bound_part))))
    return {
        "llf": float(model.loglike(params, profile_fe=False)),
        "grad_norm": grad_stat,
        "inward_slope": float(inward_slope.max()) if inward_slope.size else -np.inf,
        "boundary": bool(inward_slope.size),
        "cov_re": cov_re,
        "vcomp": vcomp,
    }


def _run_step(model, method, start, maxiter, fit_kwds):
    """One statsmodels optimizer run on the profiled likelihood; returns (packed, converged)."""
    options = {k: v for k, v in fit_kwds.items() if k in OPTIMIZER_OPTIONS[method]}
    rslt = LikelihoodModel.fit(
        model,
        start_params=start,
        method=method,
        skip_hessian=True,
        disp=fit_kwds.get("disp", False),
        maxiter=maxiter,
        **options,
    )
    return np.atleast_1d(np.asarray(rslt.params, dtype=float)), bool(
        rslt.mle_retvals.get("converged", False)
    )


def _attempt(model, chain, start, maxiter, fit_kwds):
    """Run a chain such as ('powell', 'lbfgs'); keep the best stage. Returns a history row."""
    t0 = time.perf_counter()
    row = {"method": "+".join(chain), "converged": False, "llf": np.nan,
           "grad_norm": np.nan, "seconds": np.nan, "error": "", "state": None}
    best = None
    packed = start
    for i, step in enumerate(chain):
        try:
            if best is not None:
                # Polish from the lifted point, so a gradient method never starts at θ = 0.
                p = _params_object(model, best["cov_re"], best["vcomp"])
                packed = p.get_packed(use_sqrt=model.use_sqrt, has_fe=False)
            packed, flag = _run_step(model, step, packed, maxiter, fit_kwds)
            state = _evaluate(model, packed)
        except (np.linalg.LinAlgError, ValueError, FloatingPointError, OverflowError) as e:
            row["error"] = f"{step}: {type(e).__name__}: {e}"
            break
        if not np.isfinite(state["llf"]):
            row["error"] = f"{step}: non-finite log-likelihood"
            break
        state.update(optimizer="+".join(chain[: i + 1]), flag=flag)
        if best is None or state["llf"] >= best["llf"] - 1e-9:
            best = state
    row["seconds"] = time.perf_counter() - t0
    if best is not None:
        row.update(llf=best["llf"], grad_norm=best["grad_norm"], converged=best["flag"],
                   state=best)
    return row


def _snap_attempt(model, best, maxiter, fit_kwds):
    """Try the answer with every small θ (below SNAP_PROBE) set to zero, then polished.

    In lme4's θ the likelihood is flat near θ_j = 0 (its slope vanishes there), so the
    unconstrained optimizers of statsmodels stop at θ_j ~ 1e-3 when the optimum is exactly
    0. Returns a history row, or None when no θ is small.
    """
    vp = VarianceParameters(cov_re=best["cov_re"], vcomp=best["vcomp"], scale=1.0)
    re_mask, vc_mask = vp.boundary_mask(SNAP_PROBE)
    if not (re_mask.any() or vc_mask.any()):
        return None
    snapped = vp.snapped(SNAP_PROBE)
    params = _params_object(model, *_lifted_components(model, snapped.cov_re, snapped.vcomp))
    start = params.get_packed(use_sqrt=model.use_sqrt, has_fe=False)
    t0 = time.perf_counter()
    row = {"method": "snap", "converged": True, "llf": np.nan, "grad_norm": np.nan,
           "seconds": np.nan, "error": "", "state": None}
    try:
        first = _evaluate(model, start)
        first.update(optimizer=best["optimizer"] + "+snap", flag=True)
        chosen = first
        packed, flag = _run_step(model, "lbfgs", start, maxiter, fit_kwds)
        polished = _evaluate(model, packed)
        if polished["llf"] > first["llf"]:
            polished.update(optimizer=best["optimizer"] + "+snap+lbfgs", flag=flag)
            chosen = polished
            row["method"] = "snap+lbfgs"
    except (np.linalg.LinAlgError, ValueError, FloatingPointError, OverflowError) as e:
        row["error"] = f"snap: {type(e).__name__}: {e}"
        chosen = locals().get("first")
    row["seconds"] = time.perf_counter() - t0
    if chosen is not None and np.isfinite(chosen["llf"]):
        row.update(llf=chosen["llf"], grad_norm=chosen["grad_norm"], converged=chosen["flag"],
                   state=chosen)
    return row


def _settled(rows, grad_tol, llf_tol=1e-6):
    """Whether the attempts so far are enough (the early-stopping rule of fit_mixedlm)."""
    ok = [r["state"] for r in rows if r["state"] is not None]
    if not ok:
        return False
    best = max(ok, key=lambda s: s["llf"])
    if best["grad_norm"] > grad_tol or best["inward_slope"] > grad_tol:
        return False
    if not best["boundary"]:
        return True
    agree = [s for s in ok if s["llf"] >= best["llf"] - llf_tol and s["grad_norm"] <= grad_tol]
    return len(agree) >= 2


def fit_statsmodels(model, chains, start, maxiter, grad_tol, stop_early, snap, fit_kwds,
                    *, progress=False):
    """Run the attempts on a prepared model copy; returns (best state, history rows).

    With ``progress=True`` (a fit that takes minutes), a progress bar on stderr counts the
    attempts and shows each one's optimizer, time and log-likelihood as it ends.

    Raises ValueError when every attempt failed.
    """
    rows = []
    with tqdm(total=len(chains), desc="fit_mixedlm: statsmodels' optimizers", unit="attempt",
              disable=not progress, file=sys.stderr) as bar:
        for chain in chains:
            rows.append(_attempt(model, chain, start, maxiter, fit_kwds))
            last = rows[-1]
            bar.set_postfix_str(f"{last['method']} {last['seconds']:.1f} s, "
                                f"llf {last['llf']:.6g}", refresh=False)
            bar.update(1)
            if stop_early and _settled(rows, grad_tol):
                break
    ok = [r["state"] for r in rows if r["state"] is not None]
    if not ok:
        errors = "; ".join(r["error"] for r in rows)
        raise ValueError(f"fit_mixedlm: every optimizer failed ({errors})")
    best = max(ok, key=lambda s: s["llf"])
    if snap:
        row = _snap_attempt(model, best, maxiter, fit_kwds)
        if row is not None:
            rows.append(row)
            if row["state"] is not None and row["state"]["llf"] >= best["llf"]:
                best = row["state"]
    return best, rows
