r"""The profiled criterion of a model with one grouping factor: batched q × q blocks.

With G groups and q random effects per group (the ``re_formula`` columns, then the columns of
every ``vc_formula`` component of the group, padded to a common width), Z is block diagonal,
and so are ZᵀZ and L_θ (Bates et al. 2015, JSS 67(1), section 3.1): group i contributes

.. math::

    L_i L_i^\top = \Lambda^\top Z_i^\top Z_i \Lambda + I_q, \qquad
    B_i = L_i^{-1} \Lambda^\top Z_i^\top [X_i\; y_i],

with one q × q factor Λ shared by all groups (the relative Cholesky factor of Ψ/σ² and θ_j I
for component j).  Then log|L_θ|² = Σ_i 2 log|L_i| and the remaining (p+1) × (p+1) matrix
is T = [X y]ᵀ[X y] − Σ_i B_iᵀB_i (eq. 33-34, the response as the last column).

The cross-products S_i = W_iᵀW_i of W_i = [Z_i, X_i, y_i] are formed once per model (y once
per response); one evaluation is a few numpy operations on stacked (G, q, ·) arrays, with no
Python loop over groups.  Zero padding columns add an identity row to L_i and nothing else.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from lmmhelpers.engine._profile import FixedEffectsDesign, profiled, solution
from lmmhelpers.parameters import theta_lower_bounds, unpack_theta

#: Largest G · q² (stacked block entries) the nested criterion accepts.
MAX_BLOCK_ENTRIES = 5e7
#: Up to this q the G blocks are factored by elementwise operations on length-G vectors
#: (a loop over the q² entries, not over groups); above it by numpy's batched LAPACK.
SMALL_Q = 8


def _dense(a):
    return a.toarray() if sp.issparse(a) else np.asarray(a, dtype=float)


class NestedCriterion:
    """Profiled REML / ML criterion in θ for one grouping factor (``groups`` with G > 1).

    Parameters
    ----------
    design : dict
        From :func:`lmmhelpers._statsmodels.design_of`: ``X``, ``names``, ``y``, ``codes``
        (group index of each row), ``n_groups``, ``Z_re`` (n × k_re), ``vc`` (per component,
        per group, the rows and the matrix).
    """

    def __init__(self, design):
        self.k_re = design["Z_re"].shape[1]
        self.k_vc = len(design["vc"])
        self.n_theta = self.k_re * (self.k_re + 1) // 2 + self.k_vc
        self.lower = theta_lower_bounds(self.k_re, self.k_vc)
        self.fe = FixedEffectsDesign(design["X"], design["names"])
        self.G = design["n_groups"]
        self.codes = np.asarray(design["codes"])
        self._Z = self._random_design(design)
        self.q = self._Z.shape[1]
        if self.G * self.q**2 > MAX_BLOCK_ENTRIES:
            raise NotImplementedError(f"{self.G} groups of {self.q} random effects: too large")
        W = np.hstack([self._Z, self.fe.Q])
        m = W.shape[1] + 1
        self.S = np.zeros((self.G, m, m))
        for a in range(m - 1):
            for b in range(a, m - 1):
                col = np.bincount(self.codes, weights=W[:, a] * W[:, b], minlength=self.G)
                self.S[:, a, b] = self.S[:, b, a] = col
        self._W = W
        self.set_response(design["y"])

    def _random_design(self, design):
        """Z as n × q: the re columns, then each component padded to its widest group."""
        blocks = [np.asarray(design["Z_re"], dtype=float)]
        n = len(self.codes)
        self.widths = []
        for comp in design["vc"]:
            width = max((_dense(mat).shape[1] for _, mat in comp), default=0)
            Zj = np.zeros((n, width))
            for rows, mat in comp:
                mat = _dense(mat)
                Zj[rows, : mat.shape[1]] = mat
            blocks.append(Zj)
            self.widths.append(width)
        Z = np.hstack(blocks)
        if Z.shape[1] == 0:
            raise NotImplementedError("the model has no random effects")
        return Z

    def set_response(self, y):
        """Use a new response (the design is unchanged): only Wᵀy and yᵀy are recomputed."""
        self.y_star, self.s, self.b0 = self.fe.response(y)
        ys = self.y_star
        for a in range(self._W.shape[1]):
            col = np.bincount(self.codes, weights=self._W[:, a] * ys, minlength=self.G)
            self.S[:, a, -1] = self.S[:, -1, a] = col
        self.S[:, -1, -1] = np.bincount(self.codes, weights=ys * ys, minlength=self.G)
        self.S_total = self.S.sum(axis=0)
        self._s00, self._s0w = self.S[:, 0, 0].copy(), self.S[:, 0, 1:].copy()
        self._SzT = np.ascontiguousarray(self.S[:, : self.q, :].transpose(1, 0, 2))

    def Lambda(self, theta):
        """The q × q block Λ of every group at θ."""
        Lam_re, theta_vc = unpack_theta(theta, self.k_re)
        diag = np.repeat(theta_vc, self.widths) if self.widths else np.zeros(0)
        Lam = np.zeros((self.q, self.q))
        Lam[: self.k_re, : self.k_re] = Lam_re
        idx = np.arange(self.k_re, self.q)
        Lam[idx, idx] = diag
        return Lam

    def _factor(self, theta):
        """(log|L_θ|², T)."""
        q, S = self.q, self.S
        if q == 1:  # a random intercept (or one slope): scalar blocks
            t2 = float(theta[0]) ** 2
            M = t2 * self._s00 + 1.0  # L_i², i.e. θ²ZᵢᵀZᵢ + 1
            T = self.S_total[1:, 1:] - (self._s0w.T * (t2 / M)) @ self._s0w
            return float(np.log(M).sum()), T
        Lam = self.Lambda(theta)
        G, m = self.G, S.shape[2]
        A = (Lam.T @ self._SzT.reshape(q, G * m)).reshape(q, G, m)  # ΛᵀZᵢᵀWᵢ, BLAS
        M = (A[:, :, :q].reshape(q * G, q) @ Lam).reshape(q, G, q)
        if q > SMALL_Q:
            M = M.transpose(1, 0, 2) + np.eye(q)
            L = np.linalg.cholesky(M)
            B = np.linalg.solve(L, A[:, :, q:].transpose(1, 0, 2)).reshape(-1, m - q)
            logdet = 2.0 * float(np.sum(np.log(np.diagonal(L, axis1=1, axis2=2))))
        else:
            logdet, B = _small_cholesky_solve(M, A[:, :, q:])
        T = self.S_total[q:, q:] - B.T @ B
        return logdet, T

    def deviance(self, theta, reml=True):
        """−2 × the profiled REML (or ML) log-likelihood at θ (lme4's ``REMLcrit``/deviance)."""
        try:
            logdet, T = self._factor(np.asarray(theta, dtype=float))
        except np.linalg.LinAlgError:
            return np.inf
        return profiled(logdet, T, self.fe, self.s, reml)[0]

    def solve(self, theta, reml=True):
        """(deviance, β̂, σ̂², R_X⁻¹R_X⁻ᵀ) at θ."""
        logdet, T = self._factor(np.asarray(theta, dtype=float))
        dev, C = profiled(logdet, T, self.fe, self.s, reml)
        if C is None:
            raise np.linalg.LinAlgError("the criterion is not finite at this θ")
        beta, sigma2, cov_unscaled = solution(C, self.fe, self.s, self.b0, reml)
        return dev, beta, sigma2, cov_unscaled


def _small_cholesky_solve(M, R):
    """Batched L_i L_iᵀ = M_i + I and B_i = L_i⁻¹R_i for q × q blocks, stored entry-major.

    ``M`` is (q, G, q) with M[a, i, b] the (a, b) entry of block i (without the identity),
    ``R`` is (q, G, k). Returns (Σ_i log|L_i|², B as a (q G, k) array). Cholesky-Banachiewicz
    and forward substitution, each step one numpy operation on all G blocks at once.
    """
    q = M.shape[0]
    L = [[None] * q for _ in range(q)]
    logdet = 0.0
    for j in range(q):
        d = M[j, :, j] + 1.0
        for k in range(j):
            d = d - L[j][k] ** 2
        if np.any(d <= 0.0):
            raise np.linalg.LinAlgError("a block is not positive definite")
        L[j][j] = np.sqrt(d)
        logdet += float(np.log(d).sum())
        for i in range(j + 1, q):
            v = M[i, :, j]
            for k in range(j):
                v = v - L[i][k] * L[j][k]
            L[i][j] = v / L[j][j]
    B = np.empty_like(R)
    for i in range(q):
        v = R[i]
        for k in range(i):
            v = v - L[i][k][:, None] * B[k]
        B[i] = v / L[i][i][:, None]
    return logdet, B.reshape(-1, R.shape[2])
