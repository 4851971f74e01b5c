r"""The profiled criterion of the one-group crossed construction: a blocked Cholesky factor.

statsmodels fits crossed random effects as one group for all rows with ``vc_formula`` factors
(``{"subj": "0 + C(subj)", "item": "0 + C(item)"}``).  Each term j has columns Z_j (n × m_j)
and one θ_j: Λ_θ = diag(θ_j I_{m_j}).  As in MixedModels.jl's blocked Cholesky, the term with
the most levels whose Z_jᵀZ_j is diagonal (a factor's indicator columns) is the first block,
the other terms the second (Bates et al. 2015, JSS 67(1), section 3.1 and eq. 18):

.. math::

    L_\theta = \begin{bmatrix} L_{11} & 0 \\ L_{21} & L_{22} \end{bmatrix}, \quad
    L_{11} = (\theta_1^2 D_1 + I)^{1/2} \text{ (diagonal)}, \quad
    L_{21} = \Lambda_2 Z_2^\top Z_1 \theta_1 L_{11}^{-1},

    L_{22}L_{22}^\top = \Lambda_2 Z_2^\top Z_2 \Lambda_2 + I - L_{21}L_{21}^\top
    \quad\text{(a dense Schur complement of size } m_2 = \textstyle\sum_{j>1} m_j).

For two crossed intercept factors (subjects × items) the first block is diagonal and the second
a dense k × k block.  The response enters as the last column of [X y] (see ``_profile``).
The optional ``re_formula`` column of the single group is one more term, with one level.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp

from lmmhelpers.engine._profile import FixedEffectsDesign, profiled, solution

#: Largest dense second block the crossed criterion accepts (its size m₂).
MAX_DENSE = 3000


class CrossedCriterion:
    """Profiled REML / ML criterion in θ for one group with crossed ``vc_formula`` terms.

    Parameters
    ----------
    design : dict
        From :func:`lmmhelpers._statsmodels.design_of`, with a single group.
    """

    def __init__(self, design):
        n = len(design["y"])
        terms = []
        Z_re = np.asarray(design["Z_re"], dtype=float)
        if Z_re.shape[1] > 1:
            raise NotImplementedError("one group with several re_formula columns")
        if Z_re.shape[1] == 1:
            terms.append(sp.csc_matrix(Z_re))
        for comp in design["vc"]:
            ((rows, mat),) = comp
            mat = sp.coo_matrix(mat)  # the group's rows → rows of the data
            rows = np.asarray(rows)[mat.row]
            terms.append(sp.csc_matrix((mat.data, (rows, mat.col)), shape=(n, mat.shape[1])))
        if not terms:
            raise NotImplementedError("the model has no random effects")
        self.k_re = Z_re.shape[1]
        self.k_vc = len(design["vc"])
        self.n_theta = len(terms)
        self.lower = np.zeros(self.n_theta)
        self.fe = FixedEffectsDesign(design["X"], design["names"])

        diagonal = [j for j, Z in enumerate(terms) if _is_diagonal((Z.T @ Z).tocoo())]
        first = max(diagonal, key=lambda j: terms[j].shape[1]) if diagonal else None
        rest = [j for j in range(len(terms)) if j != first]
        self.first = first
        self.rest_index = np.repeat(rest, [terms[j].shape[1] for j in rest]).astype(int)
        if len(self.rest_index) > MAX_DENSE:
            raise NotImplementedError(f"a dense block of {len(self.rest_index)} random effects")
        Z1 = terms[first] if first is not None else sp.csc_matrix((n, 0))
        Z2 = sp.hstack([terms[j] for j in rest], format="csc") if rest else sp.csc_matrix((n, 0))
        self._Z1, self._Z2 = Z1, Z2
        self.D1 = np.asarray(Z1.multiply(Z1).sum(axis=0)).ravel()
        self.C = (Z1.T @ Z2).toarray().T  # Z₂ᵀZ₁, (m₂, m₁)
        self.Z2Z2 = (Z2.T @ Z2).toarray()
        Q = self.fe.Q
        self._Z1Q, self._Z2Q = np.asarray(Z1.T @ Q), np.asarray(Z2.T @ Q)
        self.set_response(design["y"])

    def set_response(self, y):
        """Use a new response (the design is unchanged): Zᵀy, Xᵀy and yᵀy are recomputed."""
        self.y_star, self.s, self.b0 = self.fe.response(y)
        ys = self.y_star
        Q = self.fe.Q
        self.Z1W = np.column_stack([self._Z1Q, self._Z1.T @ ys])
        self.Z2W = np.column_stack([self._Z2Q, self._Z2.T @ ys])
        W = np.column_stack([Q, ys])
        self.WW = W.T @ W

    def _factor(self, theta):
        """(log|L_θ|², T)."""
        theta = np.asarray(theta, dtype=float)
        t1 = theta[self.first] if self.first is not None else 0.0
        lam2 = theta[self.rest_index]
        l1 = np.sqrt(t1 * t1 * self.D1 + 1.0)
        B1 = (t1 / l1)[:, None] * self.Z1W
        T = self.WW - B1.T @ B1
        logdet = 2.0 * float(np.sum(np.log(l1)))
        if lam2.size:
            L21 = lam2[:, None] * self.C * (t1 / l1)[None, :]
            M22 = lam2[:, None] * self.Z2Z2 * lam2[None, :] - L21 @ L21.T
            M22[np.diag_indices_from(M22)] += 1.0
            L22 = np.linalg.cholesky(M22)
            B2 = sla.solve_triangular(L22, lam2[:, None] * self.Z2W - L21 @ B1, lower=True)
            T -= B2.T @ B2
            logdet += 2.0 * float(np.sum(np.log(np.diag(L22))))
        return logdet, T

    def deviance(self, theta, reml=True):
        """−2 × the profiled REML (or ML) log-likelihood at θ."""
        try:
            logdet, T = self._factor(theta)
        except np.linalg.LinAlgError:
            return np.inf
        return profiled(logdet, T, self.fe, self.s, reml)[0]

    def solve(self, theta, reml=True):
        """(deviance, β̂, σ̂², R_X⁻¹R_X⁻ᵀ) at θ."""
        logdet, T = self._factor(theta)
        dev, C = profiled(logdet, T, self.fe, self.s, reml)
        if C is None:
            raise np.linalg.LinAlgError("the criterion is not finite at this θ")
        beta, sigma2, cov_unscaled = solution(C, self.fe, self.s, self.b0, reml)
        return dev, beta, sigma2, cov_unscaled


def _is_diagonal(coo):
    return bool(np.all((coo.row == coo.col) | (coo.data == 0)))
