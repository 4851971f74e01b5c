"""Minimising a profiled criterion over θ, and lme4's convergence check.

The optimizer is the one lme4 (``nloptwrap``) and MixedModels.jl use: Powell's BOBYQA, a
derivative-free trust-region method with quadratic models and bound constraints, from NLopt.
BOBYQA needs at least two parameters; a single θ is found by a bracket and Brent's bounded
method (scipy's ``minimize_scalar``), then compared with θ = 0.

The verdict is lme4's ``checkConv`` (lme4 1.1-31, ``R/checkConv.R``): with g the gradient of
the deviance and H its Hessian (central finite differences, step 1e-4, as lme4's ``deriv12``),
R the Cholesky factor of H (RᵀR = H), the statistic is max_i min(|g_i|, |(R⁻¹g)_i|) ≤ 2e-3.
The Newton-scaled gradient does not grow with n as the raw gradient does; θ is relative, so the
statistic does not depend on the units of y.  On a coordinate at its bound (θ_j = 0) only an
inward slope counts: the one-sided difference (f(θ + h e_j) − f(θ))/h, when negative.
"""

from __future__ import annotations

import nlopt
import numpy as np
from scipy.optimize import minimize_scalar

#: lme4's tolerance on the convergence statistic (``check.conv.grad``'s ``tol``).
GRAD_TOL = 2e-3
#: Finite-difference step of the gradient and Hessian (lme4's ``deriv12`` delta).
FD_STEP = 1e-4
#: θ below this (on a bounded coordinate) are tried at exactly 0 after the optimizer.
SNAP = 1e-3
#: NLopt's stopping rules: absolute change of the criterion and relative change of θ.
FTOL_ABS = 1e-10
XTOL_REL = 1e-8
MAXEVAL = 10_000


class _Tracked:
    """The objective, remembering the best point seen (NLopt may stop by raising)."""

    def __init__(self, f):
        self.f, self.n, self.best_x, self.best_f = f, 0, None, np.inf

    def __call__(self, x, grad=None):
        value = self.f(np.array(x, dtype=float))
        self.n += 1
        if value < self.best_f:
            self.best_x, self.best_f = np.array(x, dtype=float), float(value)
        return value


def _bobyqa(f, theta0, lower, maxeval=MAXEVAL):
    tracked = _Tracked(f)
    opt = nlopt.opt(nlopt.LN_BOBYQA, len(theta0))
    opt.set_lower_bounds(lower)
    opt.set_min_objective(tracked)
    opt.set_ftol_abs(FTOL_ABS)
    opt.set_xtol_rel(XTOL_REL)
    opt.set_maxeval(int(maxeval))
    opt.set_initial_step(np.maximum(0.25 * np.abs(theta0), 0.05))
    try:
        opt.optimize(np.asarray(theta0, dtype=float))
    except nlopt.RoundoffLimited:  # roundoff stopped it: the best point seen is the answer
        pass
    if tracked.best_x is None:
        return np.asarray(theta0, dtype=float), float(f(theta0)), 1
    return tracked.best_x, tracked.best_f, tracked.n


def _scalar(f, theta0, maxeval=MAXEVAL):
    """One θ ≥ 0: bracket the minimum by doubling, then Brent's bounded method."""
    tracked = _Tracked(f)

    def g(t):
        return tracked(np.array([t]))

    hi = max(2.0 * float(theta0[0]), 1.0)
    f_hi, f_mid = g(hi), g(hi / 2)
    while f_hi < f_mid and hi < 1e8:  # still falling at the upper end: widen
        hi, f_mid, f_hi = 2 * hi, f_hi, g(2 * hi)
    minimize_scalar(g, bounds=(0.0, hi), method="bounded",
                    options={"xatol": 1e-9, "maxiter": int(maxeval)})
    return tracked.best_x, tracked.best_f, tracked.n


def minimize_theta(f, theta0, lower, *, maxeval=MAXEVAL, snap=True):
    """(θ̂, f(θ̂), number of evaluations): BOBYQA, or Brent for one θ, then the bound probe.

    The probe sets every bounded θ below ``SNAP`` to exactly its bound and keeps that point
    when the criterion is no worse (lme4's BOBYQA lands exactly on θ = 0; an interior method
    stops where the criterion is flat in θ, near but not at 0).
    """
    theta0 = np.asarray(theta0, dtype=float)
    lower = np.asarray(lower, dtype=float)
    if len(theta0) == 1:
        theta, value, n = _scalar(f, theta0, maxeval)
    else:
        theta, value, n = _bobyqa(f, theta0, lower, maxeval)
    small = np.isfinite(lower) & (theta - lower < SNAP) & (theta != lower)
    if snap and small.any():
        probe = np.where(small, lower, theta)
        f_probe = f(probe)
        n += 1
        if f_probe <= value + 1e-12 * max(1.0, abs(value)):
            theta, value = probe, f_probe
            if len(theta0) > 1 and not small.all():  # re-optimise the others
                polished, f_pol, m = _bobyqa(f, theta, lower, maxeval)
                n += m
                if f_pol < value:
                    theta, value = polished, f_pol
    return theta, value, n


def check_convergence(f, theta, lower, tol=GRAD_TOL, step=FD_STEP):
    """lme4's ``checkConv`` statistic at θ̂, and the verdict.

    Returns
    -------
    dict
        ``grad_norm`` (max_i min(|g_i|, |(R⁻¹g)_i|) over the interior coordinates, and the
        inward slopes at the bound), ``at_bound`` (mask), ``inward_slope`` (the most negative
        one-sided slope into the interior, or 0), ``converged`` (bool), ``hessian_ok``.
    """
    theta = np.asarray(theta, dtype=float)
    k = len(theta)
    f0 = f(theta)
    at_bound = np.isfinite(lower) & (theta <= lower)
    e = np.eye(k) * step
    up = np.array([f(theta + e[i]) for i in range(k)])
    down = np.array([f(theta - e[i]) if not at_bound[i] else np.nan for i in range(k)])
    inward = np.where(at_bound, (up - f0) / step, 0.0)
    free = np.flatnonzero(~at_bound)
    g = (up[free] - down[free]) / (2 * step)
    H = np.empty((len(free), len(free)))
    for a, i in enumerate(free):
        H[a, a] = (up[i] - 2 * f0 + down[i]) / step**2
        for b in range(a):
            j = free[b]
            pp = f(theta + e[i] + e[j])
            pm = f(theta + e[i] - e[j])
            mp = f(theta - e[i] + e[j])
            mm = f(theta - e[i] - e[j])
            H[a, b] = H[b, a] = (pp - pm - mp + mm) / (4 * step**2)
    hessian_ok = True
    stat = 0.0
    if free.size:
        try:
            R = np.linalg.cholesky(H).T  # RᵀR = H, as R's chol()
            scaled = np.linalg.solve(R, g)
        except np.linalg.LinAlgError:
            scaled, hessian_ok = g, False
        stat = float(np.max(np.minimum(np.abs(scaled), np.abs(g))))
    slope = float(min(inward.min(initial=0.0), 0.0))
    stat = max(stat, -slope)
    return {
        "grad_norm": stat,
        "at_bound": at_bound,
        "inward_slope": slope,
        "converged": bool(np.isfinite(stat) and stat <= tol),
        "hessian_ok": hessian_ok,
    }
