r"""Satterthwaite's denominator degrees of freedom, as lmerTest computes them.

For one contrast l with v = lᵀΦl, Satterthwaite (1946) matches a scaled χ² to v̂ and gives

.. math::

    \nu = \frac{2 v^2}{g^\top A\, g}, \qquad
    g_k = l^\top \frac{\partial \Phi}{\partial \varphi_k} l,

where A is the asymptotic covariance of the variance parameters φ (Kuznetsova, Brockhoff &
Christensen 2017, JSS 82(13), eq. 5 and appendix A). For q contrasts the F statistic and its
df follow lmerTest's ``contestMD``: eigen-decompose LΦLᵀ and combine the q one-df pieces
(Fai & Cornelius 1996).

**Parameterisation and the boundary.** lmerTest takes φ = (θ, σ), lme4's relative Cholesky
factor and the residual SD, and A = 2H⁺, H the Hessian of the REML deviance in φ, with a
pseudo-inverse that keeps eigenvalues above 1e-8. At an interior optimum the result does not
depend on the parameterisation. At a boundary (a θ at zero, after the snapping of
:func:`lmmhelpers.covariance.structure`) it does: ∂Φ/∂θ vanishes in the zero direction, so that
variance parameter drops out and ν jumps to what it would be without it (for a lone random
intercept, the residual df n − p). We reproduce lmerTest exactly by working in φ, reaching it
from the linear parameters γ of :mod:`lmmhelpers.covariance` through the chain rule:

.. math::

    g_\varphi = J^\top g_\gamma, \qquad
    H_\varphi = J^\top H_\gamma J + \sum_k \frac{\partial\,\mathrm{dev}}{\partial \gamma_k}
                \frac{\partial^2 \gamma_k}{\partial \varphi\,\partial \varphi^\top},
    \qquad J = \partial\gamma/\partial\varphi,

with H_γ = 2 × the observed REML information. lmerTest differentiates numerically; we use the
analytic derivatives.

**The random-effects basis.** φ's θ is the relative Cholesky factor in the conditioned basis
of the random effects (:class:`lmmhelpers.parameters.RandomEffectsBasis`: orthogonal
random-effect columns of RMS 1). For random intercepts and variance components it is lme4's θ
up to a constant factor per coordinate, which changes no df; for a random slope it is lme4's θ
of the model with the covariate centred at its mean. At an interior optimum this changes
nothing (the df do not depend on the parameterisation); at a boundary it makes the df of a
random-slope model independent of the covariate's origin, which lmerTest's are not.

**Units.** lmerTest's cut-off 1e-8 is absolute, while H's σ entry scales as 1/σ²: fitted to
``y * 1e6`` a perfectly determined σ direction falls under it and the df change. Here H is
first scaled to unit diagonal (S H S, S = diag(H_kk^-½)), which changes no result when nothing
is dropped (A = 2 S (SHS)⁻¹ S = 2H⁻¹), and the cut-off applies to the scaled matrix, so the df
do not depend on the units of y or of the covariates. When a direction is dropped a
:class:`HessianWarning` says so, as lmerTest warns.
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.linalg

from lmmhelpers.kenward_roger import W_matrix_conditioned  # W̃ = Ĩ_E⁻¹, shared with KR

#: lmerTest's tolerance for the eigenvalues of the deviance Hessian (``as_lmerModLmerTest``),
#: applied here to the Hessian scaled to unit diagonal.
HESSIAN_TOL = 1e-8


class HessianWarning(UserWarning):
    """The REML deviance Hessian is (nearly) singular: directions were dropped from A = 2H⁺."""


def varpar_derivatives(params):
    r"""∂γ/∂φ and ∂²γ/∂φ∂φᵀ for γ(φ), φ = (Λ's lower triangle, θ_vc, σ).

    γ holds Ψ's lower triangle (row by row), τ² and σ², with Ψ = σ²ΛΛᵀ, τ²_j = σ²θ²_j.

    Parameters
    ----------
    params : lmmhelpers.parameters.VarianceParameters

    Returns
    -------
    J : ndarray, shape (R, R)
        J[k, l] = ∂γ_k/∂φ_l.
    T : ndarray, shape (R, R, R)
        T[k] = ∂²γ_k/∂φ∂φᵀ.
    """
    Lam, theta, s = params.Lambda, params.theta_vc, np.sqrt(params.scale)
    k = Lam.shape[0]
    low = list(zip(*np.tril_indices(k), strict=True))  # (a, b) with a >= b, row by row
    n_re, n_vc = len(low), len(theta)
    R = n_re + n_vc + 1
    J = np.zeros((R, R))
    T = np.zeros((R, R, R))
    LLt = Lam @ Lam.T
    i_s = R - 1
    for kk, (a, b) in enumerate(low):  # γ = Ψ_ab = s² Σ_c Λ_ac Λ_bc
        for ll, (i, j) in enumerate(low):
            d = (a == i) * Lam[b, j] + (b == i) * Lam[a, j]
            J[kk, ll] = s**2 * d
            T[kk, ll, i_s] = T[kk, i_s, ll] = 2 * s * d
            for mm, (i2, j2) in enumerate(low):
                T[kk, ll, mm] = s**2 * ((a == i) * (b == i2) + (b == i) * (a == i2)) * (j == j2)
        J[kk, i_s] = 2 * s * LLt[a, b]
        T[kk, i_s, i_s] = 2 * LLt[a, b]
    for j in range(n_vc):  # γ = τ²_j = s² θ_j²
        kk = n_re + j
        J[kk, kk] = 2 * s**2 * theta[j]
        J[kk, i_s] = 2 * s * theta[j] ** 2
        T[kk, kk, kk] = 2 * s**2
        T[kk, kk, i_s] = T[kk, i_s, kk] = 4 * s * theta[j]
        T[kk, i_s, i_s] = 2 * theta[j] ** 2
    J[i_s, i_s] = 2 * s  # γ = σ² = s²
    T[i_s, i_s, i_s] = 2.0
    return J, T


def vcov_varpar(cs):
    """A = 2H⁺, the asymptotic covariance of φ = (θ, σ), and the Jacobian J = ∂γ/∂φ.

    H is the Hessian of the REML deviance in φ, θ in the conditioned basis of the random
    effects (see the module's notes); the pseudo-inverse keeps the eigenvalues of H scaled to
    unit diagonal above :data:`HESSIAN_TOL` (lmerTest's rule, made scale-free) and warns with
    :class:`HessianWarning` when it drops one. γ are the original linear parameters (Ψ's
    lower triangle, τ², σ²), so ``g = lᵀ(∂Φ/∂γ)l @ J`` (with ``cs.dPhi()``) is ∂(lᵀΦl)/∂φ.
    Computed once per structure.

    Parameters
    ----------
    cs : lmmhelpers.covariance.CovarianceStructure

    Returns
    -------
    A : ndarray, shape (R, R)
    J : ndarray, shape (R, R)
    """
    A, J_c, dropped = cs.cached("satterthwaite.A", _vcov_varpar)
    if dropped:
        warnings.warn(
            f"Satterthwaite: the REML deviance Hessian has {dropped} eigenvalue(s) close to "
            "zero; those directions were dropped (as lmerTest does). The model may be "
            "overparameterised or the fit not converged: check result.converged and "
            "simplify the random effects if needed.",
            HessianWarning,
            stacklevel=3,
        )
    return A, np.linalg.solve(cs.gamma_map, J_c)


def deviance_hessian(cs):
    """H, the Hessian of the REML deviance in lmerTest's φ = (θ, σ), and J = ∂γ/∂φ.

    By the chain rule from the variance scale: H = J̃ᵀ(2Ĩ_O)J̃ + Σ_r (∂dev/∂γ̃_r) ∂²γ̃_r/∂φ²,
    with Ĩ_O the observed REML information in the conditioned γ̃ and J̃ = ∂γ̃/∂φ
    (Kuznetsova et al. 2017, section 3.1, where lmerTest takes H numerically); θ is in the
    conditioned basis of the random effects (see the module's notes). Its eigenvalues, scaled
    to unit diagonal, are what :func:`vcov_varpar` compares with :data:`HESSIAN_TOL`.

    Parameters
    ----------
    cs : lmmhelpers.covariance.CovarianceStructure

    Returns
    -------
    H : ndarray, shape (R, R)
    J : ndarray, shape (R, R)
        ∂γ/∂φ, γ the original linear parameters (Ψ's lower triangle, τ², σ²).
    """
    H, J_c = _deviance_hessian_c(cs)
    return H, np.linalg.solve(cs.gamma_map, J_c)


def _deviance_hessian_c(cs):
    J, T = varpar_derivatives(cs.params_c)
    H = J.T @ (2 * cs.observed_information_c) @ J
    H += np.tensordot(cs.deviance_gradient_c, T, axes=1)
    return (H + H.T) / 2, J


def _vcov_varpar(cs):
    H, J = _deviance_hessian_c(cs)
    diag = np.abs(np.diag(H))
    scale = np.where(diag > 0, 1 / np.sqrt(np.where(diag > 0, diag, 1.0)), 1.0)
    evals, evecs = np.linalg.eigh(scale[:, None] * H * scale[None, :])
    keep = evals > HESSIAN_TOL
    A = 2 * (evecs[:, keep] / evals[keep]) @ evecs[:, keep].T
    A = scale[:, None] * A * scale[None, :]
    return A, J, int(np.sum(~keep))


def _gradients(cs, L):
    """g_m = ∂(l_mᵀΦl_m)/∂φ for each row of L; shape (rows, R)."""
    A, _ = vcov_varpar(cs)  # warns once per call when directions were dropped
    _, J_c, _ = cs.cached("satterthwaite.A", _vcov_varpar)
    Lc = cs.conditioned(L)  # lᵀ(∂Φ/∂γ̃)l = l̃ᵀ(∂Φ̃/∂γ̃)l̃, without the cancellation
    g_gamma = np.einsum("ma,rab,mb->mr", Lc, cs.dPhi_c(), Lc)
    return g_gamma @ J_c, A


def satterthwaite_df(cs, l):
    r"""ν = 2(lᵀΦl)² / (gᵀAg) for one contrast (Kuznetsova et al. 2017, eq. 5).

    Parameters
    ----------
    cs : lmmhelpers.covariance.CovarianceStructure
    l : array_like, shape (p,)

    Returns
    -------
    float
    """
    l = np.asarray(l, dtype=float).reshape(1, -1)
    g, A = _gradients(cs, l)
    lc = cs.conditioned(l[0])
    v = float(lc @ cs.Phi_c @ lc)
    return 2 * v**2 / float(g[0] @ A @ g[0])


def satterthwaite_df_expected(cs, l):
    r"""Satterthwaite's ν for one contrast on the variance scale γ, with expected information.

    The same moment matching as :func:`satterthwaite_df`, ν = 2v²/(gᵀAg) with v = lᵀΦl, but
    with the gradient taken in the linear covariance parameters γ of
    :mod:`lmmhelpers.covariance` (the variances and covariances themselves, not lmerTest's
    (θ, σ)) and A = W = I_E⁻¹, the inverse expected REML information, as Kenward & Roger
    (1997) use it:

    .. math::

        \nu_E = \frac{2 v^2}{g_\gamma^\top W g_\gamma}, \qquad
        (g_\gamma)_r = l^\top \frac{\partial \Phi}{\partial \gamma_r} l .

    On this scale ∂Φ/∂γ does not vanish when a variance is estimated at zero, so a singular fit
    keeps the uncertainty of that variance in ν. For one contrast ν_E equals Kenward-Roger's
    denominator df: with ℓ = 1, A₁ = A₂ = g_γᵀWg_γ/v² in their section 3, and their m
    reduces to 2/A₁. Not lmerTest's method: use it to see *why* lmerTest's ν and
    Kenward-Roger's differ (parameterisation, and observed against expected information).

    Parameters
    ----------
    cs : lmmhelpers.covariance.CovarianceStructure
    l : array_like, shape (p,)

    Returns
    -------
    float

    Examples
    --------
    >>> import numpy as np, pandas as pd, statsmodels.formula.api as smf
    >>> from lmmhelpers import kenward_roger
    >>> from lmmhelpers.covariance import structure
    >>> rng = np.random.default_rng(1)
    >>> g = np.repeat(np.arange(6), [2, 3, 4, 5, 6, 7])
    >>> x = (g % 2).astype(float)
    >>> y = rng.normal(size=6)[g] + rng.normal(size=g.size)
    >>> data = pd.DataFrame({"g": g, "x": x, "y": y})
    >>> cs = structure(smf.mixedlm("y ~ x", data, groups="g").fit(reml=True))
    >>> nu_e = satterthwaite_df_expected(cs, [0.0, 1.0])
    >>> m, _ = kenward_roger.ddf_and_scale(cs, [[0.0, 1.0]])
    >>> bool(np.isclose(nu_e, m, rtol=1e-10))
    True
    """
    lc = cs.conditioned(np.asarray(l, dtype=float).reshape(-1))
    g = np.einsum("a,rab,b->r", lc, cs.dPhi_c(), lc)
    v = float(lc @ cs.Phi_c @ lc)
    return 2 * v**2 / float(g @ W_matrix_conditioned(cs) @ g)


class HypothesisRankWarning(UserWarning):
    """Rows of a hypothesis L that are combinations of earlier rows were dropped."""


#: A row of L is dropped when the part of l_iᵀβ̂ not explained by the rows kept before it has
#: a standard deviation below this share of its own: lmerTest's √ε cut-off, made scale-free
#: (on the correlation scale of Lβ̂) and applied to standard deviations, which a square root
#: of Φ gives to working precision (a repeated row comes out near 1e-16, a real direction of a
#: raw cubic in a covariate far from 0 near 1e-6).
RANK_TOL = 1e-8


def independent_rows(cs, L, *, names=None, warn=True):
    """The rows of L kept for an F test: a scale-free rank, dependent rows dropped and named.

    Each row is scaled to unit variance (Var(l_iᵀβ̂) = 1), so that neither the units of a
    covariate nor the scale of a row decide the rank. In order, a row is kept when the
    standard deviation of its part not explained by the rows kept before it (computed from a
    square root of Φ, so to working precision) exceeds :data:`RANK_TOL`. All-zero rows are
    dropped too. A :class:`HypothesisRankWarning` names the dropped rows.

    Parameters
    ----------
    cs : lmmhelpers.covariance.CovarianceStructure
    L : ndarray, shape (q, p)
    names : sequence of str, optional
        Row names for the warning (default: "row 0", "row 1", ...).
    warn : bool, default True

    Returns
    -------
    ndarray of int
        Indices of the rows kept, in order.

    Examples
    --------
    >>> import numpy as np, pandas as pd, statsmodels.formula.api as smf
    >>> from lmmhelpers import fit_mixedlm
    >>> from lmmhelpers.covariance import structure
    >>> rng = np.random.default_rng(0)
    >>> g = np.repeat(np.arange(8), 6)
    >>> df = pd.DataFrame({"g": g, "x": rng.normal(size=48), "z": 1e5 * rng.normal(size=48)})
    >>> df["y"] = rng.normal(size=8)[g] + df["x"] + rng.normal(size=48)
    >>> cs = structure(fit_mixedlm(smf.mixedlm("y ~ x + z", df, groups="g")))
    >>> independent_rows(cs, [[0, 1, 0], [0, 0, 1]]).tolist()  # z's SD is 1e5: both kept
    [0, 1]
    >>> independent_rows(cs, [[0, 1, 0], [0, 2, 0]], warn=False).tolist()
    [0]
    """
    L = np.atleast_2d(np.asarray(L, dtype=float))
    Lc = cs.conditioned(L)
    Phi = (cs.Phi_c + cs.Phi_c.T) / 2
    w, V = np.linalg.eigh(Phi)  # Φ̃ = RRᵀ, R = V√w: rows of B = LR have the covariance LΦLᵀ
    B = Lc @ (V * np.sqrt(np.clip(w, 0.0, None)))
    norms = np.linalg.norm(B, axis=1)
    basis, kept = [], []
    for i in range(len(L)):
        if not (np.any(L[i] != 0) and np.isfinite(norms[i]) and norms[i] > 0):
            continue
        r = B[i] / norms[i]
        for _ in range(2):  # Gram-Schmidt twice: orthogonal to working precision
            for u in basis:
                r = r - (u @ r) * u
        size = np.linalg.norm(r)
        if size > RANK_TOL:
            basis.append(r / size)
            kept.append(i)
    dropped = [i for i in range(len(L)) if i not in kept]
    if dropped and warn:
        label = [f"row {i}" for i in range(len(L))] if names is None else list(names)
        which = ", ".join(str(label[i]) for i in dropped)
        warnings.warn(
            f"The hypothesis has {len(L)} rows but rank {len(kept)}: {which} "
            f"{'is' if len(dropped) == 1 else 'are'} zero or a linear combination of the "
            "rows before it (judged on the correlation scale of Lβ̂, whatever the units) and "
            f"dropped, as lmerTest drops such directions; the test has {len(kept)} numerator "
            "df. Remove the redundant rows to silence this warning.",
            HypothesisRankWarning,
            stacklevel=4,
        )
    return np.array(kept, dtype=int)


def wald_f(cs, L, rhs):
    """(Lβ̂ − rhs)ᵀ(LΦLᵀ)⁻¹(Lβ̂ − rhs)/q on the correlation scale of Lβ̂, rows independent.

    With B = S L̃ R (S = diag(LΦLᵀ)^-½, Φ̃ = RRᵀ) and Bᵀ = QU, the quadratic form is
    ‖U⁻ᵀ S(Lβ̂ − rhs)‖²: its accuracy depends on the square root of the condition number of
    the correlation matrix, not on the units of the rows.
    """
    L = np.atleast_2d(np.asarray(L, dtype=float))
    Phi = (cs.Phi_c + cs.Phi_c.T) / 2
    w, V = np.linalg.eigh(Phi)
    B = cs.conditioned(L) @ (V * np.sqrt(np.clip(w, 0.0, None)))
    s = 1 / np.linalg.norm(B, axis=1)
    U = np.linalg.qr((s[:, None] * B).T, mode="r")
    z = scipy.linalg.solve_triangular(U.T, s * (L @ cs.beta - rhs), lower=True)
    return float(z @ z / L.shape[0])


def f_statistic(cs, L, rhs=None, *, names=None):
    r"""Satterthwaite's F statistic and df for Lβ = rhs, q ≥ 1 rows (lmerTest's ``contestMD``).

    LΦLᵀ = PDPᵀ; the rotated contrasts L̃ = PᵀL are independent with variances d_m, each with
    its own ν_m = 2d_m²/(g_mᵀAg_m). F = Σ_m (L̃_mβ̂)²/d_m / q, and with E = Σ ν_m/(ν_m − 2)
    the denominator df is 2E/(E − q) (Fai & Cornelius 1996). As lmerTest: any ν_m ≤ 2 gives
    ν = 2; all ν_m equal give their common value.

    **The rank, scale-free.** lmerTest keeps the d_m above √ε·d_1, which depends on the units
    of the covariates: with x of SD 1 and z of SD 1e5 the variance of ẑ's coefficient is
    1e-10 of x's and the joint test of both lost z's direction (1 numerator df). Here the rank
    is decided by :func:`independent_rows` on the correlation scale of Lβ̂, which no rescaling
    of a covariate or of a row changes; dependent rows are dropped with a
    :class:`HypothesisRankWarning` naming them, and lmerTest's eigen-decomposition then runs
    on the rows kept (its basis, so its df on lmerTest's fixtures), with each d_m recomputed
    as a Rayleigh quotient (accurate however small) and F computed by :func:`wald_f`.

    The denominator df of a multi-df test depend, in lmerTest as here, on the eigenbasis of
    LΦLᵀ, which turns when rows of L have different scales: a change of units of one
    covariate moves them slightly (0.02% in the test suite's examples), never the numerator
    df or F.

    Parameters
    ----------
    cs : lmmhelpers.covariance.CovarianceStructure
    L : array_like, shape (q, p)
    rhs : array_like, shape (q,), optional
    names : sequence of str, optional
        Names of L's rows, for the warning.

    Returns
    -------
    F : float
    num_df : int
        The rank q of L.
    den_df : float
    """
    L = np.atleast_2d(np.asarray(L, dtype=float))
    rhs = np.zeros(L.shape[0]) if rhs is None else np.asarray(rhs, dtype=float).reshape(-1)
    keep = independent_rows(cs, L, names=names)
    if len(keep) == 0:
        raise ValueError("the hypothesis L has no non-zero row: nothing to test")
    Ls, rs = L[keep], rhs[keep]
    Lc = cs.conditioned(Ls)
    d, P = np.linalg.eigh(Lc @ cs.Phi_c @ Lc.T)
    d, P = d[::-1], P[:, ::-1]
    q = len(d)
    Lt = P.T @ Ls
    Ltc = cs.conditioned(Lt)
    d = np.einsum("ma,ab,mb->m", Ltc, cs.Phi_c, Ltc)  # Rayleigh quotients: accurate when tiny
    F = wald_f(cs, Ls, rs)  # = Σ (L̃_mβ̂ − r̃_m)²/d_m / q, computed without the eigenvalues
    g, A = _gradients(cs, Lt)
    nu = 2 * d**2 / np.einsum("mr,rs,ms->m", g, A, g)
    if q == 1:
        den = float(nu[0])
    elif np.any(nu <= 2):
        den = 2.0
    elif np.allclose(nu, nu.mean(), rtol=0, atol=1e-8):
        den = float(nu.mean())
    else:
        E = float(np.sum(nu / (nu - 2)))
        den = 2 * E / (E - q)
    return F, q, den
