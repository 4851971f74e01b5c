r"""What every profiled criterion shares: the fixed-effects design, the response, the last step.

Bates, Mächler, Bolker & Walker (2015), "Fitting linear mixed-effects models using lme4", JSS
67(1), section 3.  With the relative covariance factor Λ_θ, the sparse Cholesky factor

.. math:: L_\theta L_\theta^\top = \Lambda_\theta^\top Z^\top Z \Lambda_\theta + I
   \quad\text{(eq. 18)}

and the blocked system of the penalized least squares problem (eqs. 16-17, 33-34), the
profiled deviance (eq. 34) and REML criterion (eq. 41) are

.. math::

    -2\tilde\ell(\theta) = \log|L_\theta|^2 + n\Bigl[1 + \log\frac{2\pi r^2_\theta}{n}\Bigr],
    \qquad
    -2\tilde\ell_R(\theta) = \log|L_\theta|^2 + \log|R_X|^2
        + (n-p)\Bigl[1 + \log\frac{2\pi r^2_\theta}{n-p}\Bigr].

As in MixedModels.jl, the response is the last column of the system, so once the random-effect
blocks are eliminated what remains is T = [X y]ᵀ[X y] − (eliminated part), a (p+1) × (p+1)
matrix whose Cholesky factor holds R_X (its first p × p block), R_X β̂ (the last row) and
r_θ (the last diagonal element).

Two changes of variables that leave θ̂ unchanged keep the arithmetic well conditioned whatever
the units and offsets of the data: X is replaced by the Q of its thin QR decomposition X = QR₀
(log|R_X|² changes by the constant 2 log|det R₀|), and y by its residual from least squares
on X, divided by its root mean square s (r²_θ changes by the factor s²). Both constants are
added back, so the criterion is the one of the original data.
"""

from __future__ import annotations

import math

import numpy as np

from lmmhelpers._model_checks import EXACT_FIT_TOL, exact_fit_error

#: Relative tolerance on the diagonal of R₀ (X = QR₀) below which X is rank deficient.
RANK_TOL = 1e-10


class FixedEffectsDesign:
    """X = QR₀ and the response in the coordinates the criterion uses.

    Parameters
    ----------
    X : ndarray, shape (n, p)
    names : sequence of str
        Column names, for the error message of a rank-deficient X.
    """

    def __init__(self, X, names):
        X = np.asarray(X, dtype=float)
        self.n, self.p = X.shape
        Q, R0 = np.linalg.qr(X)
        diag = np.abs(np.diag(R0))
        norms = np.linalg.norm(X, axis=0)
        bad = np.flatnonzero(diag <= RANK_TOL * np.maximum(norms, np.finfo(float).tiny))
        if bad.size:
            raise ValueError(
                "the fixed-effects design is rank deficient: column "
                f"{list(names)[bad[0]]!r} is a linear combination of the columns before it "
                "(drop it or recode the factor)"
            )
        self.Q, self.R0 = Q, R0
        self.logdet_R0 = 2.0 * float(np.sum(np.log(diag)))

    def response(self, y):
        """(y*, s, β₀): y* = (y − Qβ₀)/s with β₀ = Qᵀy, s the root mean square of y − Qβ₀."""
        y = np.asarray(y, dtype=float)
        b0 = self.Q.T @ y
        resid = y - self.Q @ b0
        s = float(np.sqrt(np.mean(resid**2)))
        if not np.isfinite(s):
            raise ValueError("the response has non-finite values")
        if s <= EXACT_FIT_TOL * float(np.sqrt(np.mean(y**2))):
            raise exact_fit_error(y)  # y lies in the column space of X: no variance left
        return resid / s, s, b0


def profiled(logdet_L, T, design, s, reml):
    """Criterion and the pieces of the solution from the (p+1) × (p+1) matrix T.

    Returns ``(deviance, C)`` with C the lower Cholesky factor of T, or ``(inf, None)``
    when T is not positive definite (rounding at an extreme θ).
    """
    try:
        C = np.linalg.cholesky(T)
    except np.linalg.LinAlgError:
        return np.inf, None
    d = C.diagonal().tolist()
    n, p = design.n, design.p
    r2 = d[-1] ** 2 * s * s
    if r2 <= 0.0:
        return np.inf, None
    if reml:
        logdet_RX = 2.0 * sum(math.log(x) for x in d[:-1]) + design.logdet_R0
        dof = n - p
        dev = logdet_L + logdet_RX + dof * (1.0 + math.log(2.0 * math.pi * r2 / dof))
    else:
        dev = logdet_L + n * (1.0 + math.log(2.0 * math.pi * r2 / n))
    return float(dev), C


def solution(C, design, s, b0, reml):
    """(β̂, σ̂², (XᵀV⁻¹X)⁻¹σ² / σ̂² i.e. R_X⁻¹R_X⁻ᵀ) on the original scale, from C."""
    p, n = design.p, design.n
    Cxx = C[:p, :p]
    beta_q = np.linalg.solve(Cxx.T, C[p, :p])  # R_X β̂ = c_β  (coordinates of Q)
    beta = np.linalg.solve(design.R0, s * beta_q + b0)
    r2 = C[-1, -1] ** 2 * s**2
    sigma2 = r2 / (n - p if reml else n)
    Rinv = np.linalg.solve(design.R0, np.linalg.inv(Cxx).T)  # R₀⁻¹ C_xx⁻ᵀ
    return beta, float(sigma2), Rinv @ Rinv.T
