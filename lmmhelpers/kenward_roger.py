r"""The Kenward-Roger (1997) adjusted covariance and F test, as pbkrtest computes them.

With the linear covariance V = Σ_r γ_r G_r of :mod:`lmmhelpers.covariance`, Kenward & Roger
(1997, Biometrics 53:983) correct the plug-in Φ = (XᵀV̂⁻¹X)⁻¹ for the bias that comes from
estimating γ, and scale the Wald F so that its first two moments match an F(ℓ, m):

.. math::

    \Phi_A = \Phi + 2\Phi\Bigl[\sum_{ij} W_{ij}\,(Q_{ij} - P_i \Phi P_j)\Bigr]\Phi
    \qquad \text{(eq. 5, with } R_{ij} = 0 \text{ for a linear covariance)},

where W = I_E⁻¹, I_E,ij = ½ tr(ΠG_iΠG_j) is the expected REML information (pbkrtest takes a
pseudo-inverse when its smallest eigenvalue is below 1e-10). For L (ℓ × p, rank ℓ) and
Θ = Lᵀ(LΦLᵀ)⁻¹L,

.. math::

    A_1 = \sum_{ij} W_{ij}\,\mathrm{tr}(\Theta\Phi P_i\Phi)\,\mathrm{tr}(\Theta\Phi P_j\Phi),
    \qquad
    A_2 = \sum_{ij} W_{ij}\,\mathrm{tr}(\Theta\Phi P_i\Phi\Theta\Phi P_j\Phi),

and the moment matching of section 3 gives the denominator df m and the scale λ; the test
statistic is F* = λ F, F = (Lβ̂ − r)ᵀ(LΦ_ALᵀ)⁻¹(Lβ̂ − r)/ℓ ~ F(ℓ, m). For ℓ = 1, λ = 1
exactly and the t test uses SE = √(lᵀΦ_Al) with m df.

These are the first-order formulas with the expected information, as in pbkrtest; SAS's
default uses the observed information and differs slightly on unbalanced data. A variance
parameter at zero is kept at zero (no special treatment), so at a boundary the KR df stays
small where Satterthwaite's jumps to the residual df.
"""

from __future__ import annotations

import numpy as np

#: pbkrtest's threshold on the smallest |eigenvalue| of the information before it uses ginv.
INFORMATION_TOL = 1e-10


def W_matrix(cs):
    """W = I_E⁻¹, the asymptotic covariance of γ̂ from the expected REML information.

    In the original parameters γ (Ψ's lower triangle, τ², σ²): W = G⁻¹W̃G⁻ᵀ from W̃ in the
    conditioned γ̃ = Gγ (:class:`lmmhelpers.covariance.CovarianceStructure`), where it is
    computed and where Kenward-Roger's formulas use it (they do not depend on a linear
    reparameterisation of γ). Computed once per structure (cached on ``cs``).
    """
    def compute(cs):
        G_inv = np.linalg.inv(cs.gamma_map)
        return G_inv @ W_matrix_conditioned(cs) @ G_inv.T

    return cs.cached("kenward_roger.W", compute)


def W_matrix_conditioned(cs):
    """W̃ = Ĩ_E⁻¹ in the conditioned parameters γ̃; cached on ``cs``.

    pbkrtest's rule (a pseudo-inverse when the smallest |eigenvalue| of 2I_E is below
    :data:`INFORMATION_TOL`) applies here, where I_E does not depend on the units or origin
    of a random-slope covariate.
    """
    return cs.cached("kenward_roger.W_c", _W)


def _W(cs):
    I_E = cs.expected_information_c
    if np.min(np.abs(np.linalg.eigvalsh(2 * I_E))) > INFORMATION_TOL:
        return np.linalg.inv(I_E)
    return np.linalg.pinv(I_E)


def Phi_A(cs):
    r"""Kenward-Roger's adjusted covariance Φ_A of β̂ (1997, eq. 5); cached on ``cs``.

    Parameters
    ----------
    cs : lmmhelpers.covariance.CovarianceStructure

    Returns
    -------
    ndarray, shape (p, p)
    """
    return cs.cached("kenward_roger.Phi_A", lambda cs: cs.to_original(Phi_A_conditioned(cs)))


def Phi_A_conditioned(cs):
    """Φ̃_A, eq. 5 in the conditioned basis of the structure (Φ_A = T⁻¹Φ̃_AT⁻ᵀ exactly)."""
    return cs.cached("kenward_roger.Phi_A_c", _Phi_A_c)


def _Phi_A_c(cs):
    W, P, Q, Phi = W_matrix_conditioned(cs), cs.P_c, cs.Q_c, cs.Phi_c
    PPhiP = np.einsum("iab,bc,jcd->ijad", P, Phi, P)
    U = np.einsum("ij,ijab->ab", W, Q - PPhiP)
    U = (U + U.T) / 2
    PhiA = Phi + 2 * Phi @ U @ Phi
    return (PhiA + PhiA.T) / 2


def ddf_and_scale(cs, L):
    r"""Kenward-Roger denominator df m and scale λ for Lβ (1997, section 3).

    Parameters
    ----------
    cs : lmmhelpers.covariance.CovarianceStructure
    L : array_like, shape (ℓ, p)
        Contrast matrix of full row rank.

    Returns
    -------
    m : float
    lam : float
    """
    L = cs.conditioned(np.atleast_2d(np.asarray(L, dtype=float)))  # invariant, well scaled
    ell = L.shape[0]
    Phi, W = cs.Phi_c, W_matrix_conditioned(cs)
    Theta = L.T @ np.linalg.solve(L @ Phi @ L.T, L)
    # ΘΦP_iΦ for each variance parameter i
    TPP = np.einsum("ab,bc,icd,de->iae", Theta, Phi, cs.P_c, Phi)
    tr = np.einsum("iaa->i", TPP)
    A1 = float(tr @ W @ tr)
    A2 = float(np.einsum("ij,iab,jba->", W, TPP, TPP))
    B = (A1 + 6 * A2) / (2 * ell)
    g = ((ell + 1) * A1 - (ell + 4) * A2) / ((ell + 2) * A2)
    denom = 3 * ell + 2 * (1 - g)
    c1, c2, c3 = g / denom, (ell - g) / denom, (ell + 2 - g) / denom
    # ρ = V*/(2E*²) with E* = 1/(1 − A2/ℓ), V* = (2/ℓ)(1 + c1B)/((1 − c2B)²(1 − c3B)),
    # written as pbkrtest does so that a balanced design, where A2/ℓ = 1 and 1 − c2B = 0
    # together, has the limit 0/0 = 1 instead of a division by zero.
    V0 = 1 + c1 * B
    V0 = 0.0 if abs(V0) < 1e-10 else V0
    V1, V2 = 1 - c2 * B, 1 - c3 * B
    ratio = 1.0 if abs(1 - A2 / ell) < 1e-14 and abs(V1) < 1e-14 else (1 - A2 / ell) / V1
    # V2 = 0 exactly when ℓ = 1 and the design is balanced with m = 4 (e.g. a between-group
    # effect with 6 groups): R's arithmetic gives ρ = Inf and m = 4; do the same, not raise.
    with np.errstate(divide="ignore", invalid="ignore"):
        rho = np.float64(ratio) ** 2 * V0 / np.float64(V2) / ell
        m = 4 + (ell + 2) / (ell * rho - 1)
    # λ = m / (E*(m − 2)); pbkrtest leaves F unscaled when m is within 0.01 of 2.
    lam = 1.0 if abs(m - 2) < 0.01 else m * (1 - A2 / ell) / (m - 2)
    return float(m), float(lam)


def f_statistic(cs, L, rhs=None):
    """Kenward-Roger's scaled F* = λ·Wald(Φ_A)/ℓ for Lβ = rhs and its df (ℓ, m).

    Returns
    -------
    F : float
        The scaled statistic F* (for ℓ = 1, λ = 1 and F* = t², t from Φ_A).
    num_df : int
    den_df : float
    """
    L = np.atleast_2d(np.asarray(L, dtype=float))
    ell = L.shape[0]
    rhs = np.zeros(ell) if rhs is None else np.asarray(rhs, dtype=float).reshape(-1)
    diff = L @ cs.beta - rhs
    Lc = cs.conditioned(L)
    F = float(diff @ np.linalg.solve(Lc @ Phi_A_conditioned(cs) @ Lc.T, diff)) / ell
    m, lam = ddf_and_scale(cs, L)
    return lam * F, ell, m
