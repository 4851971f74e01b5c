"""Variance parameters of a MixedLM fit, in the three parameterisations the package uses.

statsmodels reports the variance parameters on the data's scale: ``cov_re`` (the covariance
matrix Ψ of the random effects given by ``re_formula``), ``vcomp`` (the variances τ²_j of the
``vc_formula`` components) and ``scale`` (the residual variance σ²). lme4 and lmerTest work with
the *relative Cholesky factor* θ instead: Ψ = σ² Λ Λᵀ with Λ lower triangular, and τ_j = σ θ_j.
A fit is *singular*, or *on the boundary*, when a diagonal element of Λ (or a θ_j) is zero;
lme4's ``isSingular`` uses the scale-free tolerance 1e-4 on θ, and so does this package.

This module converts between the parameterisations and applies that boundary rule, so that
the fitting code, Satterthwaite and Kenward-Roger all agree on what "on the boundary" means.
It is also the one place where θ is packed into a vector and unpacked (:func:`pack_theta`,
:func:`unpack_theta`, :func:`theta_lower_bounds`): Λ's lower triangle row by row (statsmodels'
order of ``cov_re``), then the θ_j = τ_j/σ of the variance components.

θ depends on the units and the origin of a random-slope covariate (a slope on calendar years
makes the intercept's variance that of year 0). The engine, the boundary rule and the
inference therefore work with θ̃, the same factor in a conditioned basis of the random effects
(:class:`RandomEffectsBasis`, :func:`random_effects_basis`), and report Ψ on the user's scale.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lmmhelpers import _statsmodels

#: lme4's ``isSingular`` tolerance on the relative Cholesky factor θ.
BOUNDARY_TOL = 1e-4


def relative_cholesky(cov_re, scale):
    """Lower Cholesky factor Λ of Ψ/σ², valid for singular Ψ.

    A plain Cholesky factorisation fails when Ψ is singular (a variance at zero or a
    correlation of ±1). This one computes the factor column by column and sets a column to
    zero when its pivot is not positive, which is the factor lme4 reports at the boundary.

    Parameters
    ----------
    cov_re : array_like, shape (k, k)
        Covariance matrix Ψ of the random effects, on the data's scale.
    scale : float
        Residual variance σ².

    Returns
    -------
    ndarray, shape (k, k)
        Lower triangular Λ with non-negative diagonal and Λ Λᵀ = Ψ/σ² (up to rounding).

    Examples
    --------
    >>> import numpy as np
    >>> relative_cholesky(np.array([[4.0, 2.0], [2.0, 1.0]]), 1.0)  # correlation +1
    array([[2., 0.],
           [1., 0.]])
    """
    R = np.atleast_2d(np.asarray(cov_re, dtype=float)) / float(scale)
    k = R.shape[0]
    Lam = np.zeros_like(R)
    for j in range(k):
        pivot = R[j, j] - Lam[j, :j] @ Lam[j, :j]
        if pivot <= 1e-14 * max(1.0, abs(R[j, j])):
            continue  # a zero column: this direction is on the boundary
        Lam[j, j] = np.sqrt(pivot)
        Lam[j + 1 :, j] = (R[j + 1 :, j] - Lam[j + 1 :, :j] @ Lam[j, :j]) / Lam[j, j]
    return Lam


def pack_theta(Lambda, theta_vc):
    """θ as one vector: Λ's lower triangle row by row, then the θ_j of the variance components.

    Parameters
    ----------
    Lambda : array_like, shape (k_re, k_re)
        Relative Cholesky factor of Ψ/σ² (lower triangular).
    theta_vc : array_like, shape (k_vc,)
        Relative standard deviations τ_j/σ.

    Returns
    -------
    ndarray, shape (k_re (k_re + 1) / 2 + k_vc,)

    Examples
    --------
    >>> pack_theta([[1.0, 0.0], [0.5, 2.0]], [3.0])
    array([1. , 0.5, 2. , 3. ])
    """
    Lam = np.atleast_2d(np.asarray(Lambda, dtype=float))
    rows, cols = np.tril_indices(Lam.shape[0]) if Lam.size else (np.array([], int),) * 2
    return np.concatenate((Lam[rows, cols], np.asarray(theta_vc, dtype=float).ravel()))


def unpack_theta(theta, k_re):
    """(Λ, θ_vc) from the vector of :func:`pack_theta`.

    Examples
    --------
    >>> Lam, theta_vc = unpack_theta([1.0, 0.5, 2.0, 3.0], k_re=2)
    >>> Lam
    array([[1. , 0. ],
           [0.5, 2. ]])
    >>> theta_vc
    array([3.])
    """
    theta = np.asarray(theta, dtype=float).ravel()
    n_re = k_re * (k_re + 1) // 2
    Lam = np.zeros((k_re, k_re))
    Lam[np.tril_indices(k_re)] = theta[:n_re]
    return Lam, theta[n_re:].copy()


def theta_lower_bounds(k_re, k_vc):
    """lme4's bounds on θ: 0 for a diagonal element of Λ and for each θ_j, −∞ otherwise.

    Examples
    --------
    >>> theta_lower_bounds(2, 1)
    array([  0., -inf,   0.,   0.])
    """
    rows, cols = np.tril_indices(k_re)
    return np.concatenate((np.where(rows == cols, 0.0, -np.inf), np.zeros(k_vc)))


def theta_of(cov_re_rel, vcomp_rel):
    """Packed θ of relative variance parameters (Ψ/σ², τ²/σ²); valid for singular Ψ/σ².

    Examples
    --------
    >>> theta_of([[4.0]], [0.25])
    array([2. , 0.5])
    """
    Lam = relative_cholesky(np.atleast_2d(np.asarray(cov_re_rel, dtype=float)), 1.0)
    return pack_theta(Lam, np.sqrt(np.clip(np.asarray(vcomp_rel, dtype=float), 0.0, None)))


def column_scales(model):
    """Root mean square of each random-effect column: (re columns (k_re,), vc components).

    lme4's θ is in the units of the random-effect columns: a random slope on ``x`` measured
    in millimetres has a θ a thousand times smaller than the same slope in metres. For an
    intercept (and any indicator column) the RMS is 1. The variance components are
    conditioned by these scales in :func:`random_effects_basis`.

    Examples
    --------
    >>> import numpy as np, pandas as pd, statsmodels.formula.api as smf
    >>> df = pd.DataFrame({"g": np.repeat([0, 1, 2], 2), "x": [1.0, -1, 2, -2, 3, -3],
    ...                    "y": np.arange(6.0)})
    >>> re, vc = column_scales(smf.mixedlm("y ~ x", df, groups="g", re_formula="~x"))
    >>> re.round(4).tolist(), vc.tolist()
    ([1.0, 2.1602], [])
    """
    import scipy.sparse as sp

    if model.k_re:
        Z = np.asarray(model.exog_re, dtype=float)
        re = np.sqrt(np.mean(Z**2, axis=0))
    else:
        re = np.zeros(0)
    vc = []
    for j in range(len(model.exog_vc.names)):
        total, count = 0.0, 0
        for m in model.exog_vc.mats[j]:
            if sp.issparse(m):  # no dense copy: crossed designs have thousands of columns
                m = sp.csr_matrix(m, dtype=float)
                m.eliminate_zeros()
                total += float(m.multiply(m).sum())
                count += int(np.sum(np.diff(m.indptr) > 0))
                continue
            m = np.asarray(m, dtype=float)
            total += float(np.sum(m**2))
            count += int(np.sum(np.any(m != 0, axis=1)))
        vc.append(np.sqrt(total / count) if count else 1.0)
    re = np.where(re > 0, re, 1.0)
    return re, np.asarray(vc, dtype=float)


@dataclass(frozen=True)
class RandomEffectsBasis:
    r"""A conditioned basis of the random effects: Z̃ = Z_re A and Z̃_j = Z_j / s_j.

    The model y = Xβ + Z_re b + Σ_j Z_j u_j + ε, b ~ N(0, Ψ), u_j ~ N(0, τ²_j I), is the
    same model as y = Xβ + Z̃ b̃ + Σ_j Z̃_j ũ_j + ε with

    .. math::

        \tilde Z = Z_{re} A, \quad \tilde\Psi = A^{-1}\Psi A^{-\top}, \qquad
        \tilde Z_j = Z_j / s_j, \quad \tilde\tau^2_j = s_j^2 \tau^2_j,

    for any invertible A (Ψ is unstructured) and any s_j > 0 (each component has one
    variance). With Z_re = QR (thin QR, diag R > 0) and A = √n R⁻¹, Z̃ = √n Q has orthogonal
    columns of root mean square 1, and s_j is the RMS of component j's columns
    (:func:`column_scales`). Z̃, and so everything computed in this basis, does not depend on
    the units or the origin of a random-slope covariate (nor on the units of a variance
    component's covariate): for t → a t + c, Z_re → Z_re B (B upper triangular) and Z̃
    is unchanged up to the sign of a column. For a random intercept A = 1 and for indicator
    columns A and s_j are the column scales, so there θ̃ is lme4's θ in units of RMS-1 columns.

    The fitting engine optimises θ̃ (the relative Cholesky factor of Ψ̃/σ²), the boundary rule
    (:func:`lmmhelpers.is_boundary`) and the Satterthwaite and Kenward-Roger computations
    (:mod:`lmmhelpers.covariance`) work here; results are reported on the user's scale
    (Ψ = A Ψ̃ Aᵀ).

    ``A_inv`` is R/√n, upper triangular with a positive diagonal, shape (k_re, k_re), and
    A = ``A_inv``⁻¹; ``vc_scale`` holds the s_j, shape (k_vc,).
    """

    A_inv: np.ndarray
    vc_scale: np.ndarray

    @property
    def A(self):
        """A = √n R⁻¹, so that Z̃ = Z_re A; shape (k_re, k_re)."""
        k = self.A_inv.shape[0]
        return np.linalg.solve(self.A_inv, np.eye(k)) if k else np.zeros((0, 0))

    def to_conditioned(self, params):
        """Ψ̃ = A⁻¹ΨA⁻ᵀ and τ̃² = s²τ² (σ² unchanged) from :class:`VarianceParameters`."""
        Ai = self.A_inv
        cov = Ai @ params.cov_re @ Ai.T
        return VarianceParameters(cov_re=(cov + cov.T) / 2,
                                  vcomp=params.vcomp * self.vc_scale**2, scale=params.scale)

    def to_original(self, params):
        """Ψ = AΨ̃Aᵀ and τ² = τ̃²/s² from parameters in the conditioned basis."""
        A = self.A
        cov = A @ params.cov_re @ A.T
        return VarianceParameters(cov_re=(cov + cov.T) / 2,
                                  vcomp=params.vcomp / self.vc_scale**2, scale=params.scale)

    def gamma_map(self):
        """G with γ̃ = Gγ for the linear covariance parameters of :mod:`lmmhelpers.covariance`.

        γ holds Ψ's lower triangle (row by row), the τ²_j and σ²; γ̃ the same of Ψ̃, τ̃², σ².
        """
        k = self.A_inv.shape[0]
        rows, cols = np.tril_indices(k)
        n_re, n_vc = len(rows), len(self.vc_scale)
        G = np.zeros((n_re + n_vc + 1,) * 2)
        for r, (a, b) in enumerate(zip(rows, cols, strict=True)):
            E = np.zeros((k, k))
            E[a, b] = E[b, a] = 1.0
            G[:n_re, r] = (self.A_inv @ E @ self.A_inv.T)[rows, cols]
        G[n_re + np.arange(n_vc), n_re + np.arange(n_vc)] = self.vc_scale**2
        G[-1, -1] = 1.0
        return G


def random_effects_basis(model):
    """The :class:`RandomEffectsBasis` of a MixedLM (from its random-effects designs).

    Raises
    ------
    ValueError
        If the ``re_formula`` columns are linearly dependent (a slope on a constant or
        all-zero column, a duplicated column): the covariance Ψ is then not identified.

    Examples
    --------
    >>> import numpy as np, pandas as pd, statsmodels.formula.api as smf
    >>> df = pd.DataFrame({"g": np.repeat([0, 1, 2], 2), "t": [2000.0, 2001] * 3,
    ...                    "y": np.arange(6.0)})
    >>> basis = random_effects_basis(smf.mixedlm("y ~ t", df, groups="g", re_formula="~t"))
    >>> basis.A.round(1).tolist()  # Z̃ = [1, (t - 2000.5)/0.5]
    [[1.0, -4001.0], [0.0, 2.0]]
    """
    from lmmhelpers._model_checks import check_random_columns

    re_names, _ = check_random_columns(model)
    if model.k_re:
        Z = np.asarray(model.exog_re, dtype=float)
        R = np.linalg.qr(Z, mode="r")
        R = np.where(np.diag(R)[:, None] < 0, -R, R)  # positive diagonal: a unique R
        A_inv = R / np.sqrt(Z.shape[0])
    else:
        A_inv = np.zeros((0, 0))
    _, vc = column_scales(model)
    return RandomEffectsBasis(A_inv=A_inv, vc_scale=vc)


def conditioned_parameters(result):
    """The variance parameters of a fit in its :class:`RandomEffectsBasis` (Ψ̃, τ̃², σ²).

    A fit by the engine carries them as optimised (Ψ = AΨ̃Aᵀ loses digits when A is badly
    conditioned, e.g. a slope on calendar years); for other fits they are computed from the
    reported Ψ and τ².

    Examples
    --------
    >>> import numpy as np, pandas as pd, statsmodels.formula.api as smf
    >>> from lmmhelpers import fit_mixedlm
    >>> rng = np.random.default_rng(11)
    >>> g, t = np.repeat(np.arange(15), 8), np.tile(np.arange(8.0), 15)
    >>> y = rng.normal(size=15)[g] + (0.3 + 0.5 * rng.normal(size=15)[g]) * t
    >>> df = pd.DataFrame({"g": g, "t": t, "y": y + rng.normal(size=120)})
    >>> psi = [conditioned_parameters(fit_mixedlm(smf.mixedlm(
    ...     "y ~ t", df.assign(t=c + s * df.t), groups="g", re_formula="~t"))).cov_re
    ...     for c, s in ((0, 1), (2000, 1), (1e5, 1e-3))]
    >>> bool(np.allclose(psi[0], psi[1], rtol=1e-4) and np.allclose(psi[0], psi[2], rtol=1e-4))
    True
    """
    bare = _statsmodels.unwrap(result)
    stored = getattr(bare, CONDITIONED_ATTR, None)
    if stored is not None:
        return stored
    return random_effects_basis(bare.model).to_conditioned(VarianceParameters.from_result(bare))


#: Attribute of a result holding its variance parameters in the conditioned basis.
CONDITIONED_ATTR = "_lmmhelpers_conditioned"


@dataclass(frozen=True)
class VarianceParameters:
    """The variance parameters of a fit, on the data's scale.

    Attributes
    ----------
    cov_re : ndarray, shape (k_re, k_re)
        Ψ, the covariance matrix of the random effects of ``re_formula``.
    vcomp : ndarray, shape (k_vc,)
        τ², the variances of the ``vc_formula`` components.
    scale : float
        σ², the residual variance.
    """

    cov_re: np.ndarray
    vcomp: np.ndarray
    scale: float

    @classmethod
    def from_result(cls, result):
        """Read Ψ, τ² and σ² from a statsmodels ``MixedLMResults``."""
        k_re = result.model.k_re
        cov_re = np.asarray(result.cov_re, dtype=float).reshape(k_re, k_re)
        vcomp = np.asarray(result.vcomp, dtype=float).reshape(-1)
        return cls(cov_re=cov_re, vcomp=vcomp, scale=float(result.scale))

    @property
    def Lambda(self):
        """Relative Cholesky factor Λ of Ψ/σ² (lme4's θ for the ``re_formula`` block)."""
        return relative_cholesky(self.cov_re, self.scale)

    @classmethod
    def from_theta(cls, theta, k_re, scale):
        """Ψ = σ²ΛΛᵀ and τ² = σ²θ_j² from a packed θ (:func:`pack_theta`) and σ²."""
        Lam, theta_vc = unpack_theta(theta, k_re)
        scale = float(scale)
        return cls(cov_re=scale * Lam @ Lam.T, vcomp=scale * theta_vc**2, scale=scale)

    @property
    def theta(self):
        """The packed θ (:func:`pack_theta`)."""
        return pack_theta(self.Lambda, self.theta_vc)

    @property
    def theta_vc(self):
        """Relative standard deviations θ_j = τ_j/σ of the variance components."""
        return np.sqrt(np.clip(self.vcomp, 0.0, None) / self.scale)

    def boundary_mask(self, tol=BOUNDARY_TOL, scales=None):
        """Which diagonal θ are on the boundary: (mask for Λ's diagonal, mask for θ_vc).

        ``scales`` (from :func:`column_scales`) measures θ in units where each random-effect
        column has RMS 1, so that the rule does not depend on a covariate's units; without
        it, θ is compared as it is (lme4's ``isSingular``).
        """
        re_scale, vc_scale = (1.0, 1.0) if scales is None else scales
        return (np.diag(self.Lambda) * re_scale < tol), (self.theta_vc * vc_scale < tol)

    def on_boundary(self, tol=BOUNDARY_TOL, scales=None):
        """True when any diagonal θ is below ``tol`` (lme4's ``isSingular``)."""
        re_mask, vc_mask = self.boundary_mask(tol, scales)
        return bool(re_mask.any() or vc_mask.any())

    def snapped(self, tol=BOUNDARY_TOL, scales=None):
        """The same parameters with every direction below ``tol`` set exactly to zero.

        lme4's bounded optimiser lands exactly on θ = 0 where statsmodels stops at a tiny
        positive value; inference treats both alike by snapping to zero (the convention of
        lmerTest and pbkrtest, which see lme4's exact zeros).
        """
        re_mask, vc_mask = self.boundary_mask(tol, scales)
        Lam = self.Lambda
        Lam[:, re_mask] = 0.0
        theta_vc = np.where(vc_mask, 0.0, self.theta_vc)
        return VarianceParameters(
            cov_re=self.scale * Lam @ Lam.T,
            vcomp=self.scale * theta_vc**2,
            scale=self.scale,
        )


def is_boundary(result, tol=BOUNDARY_TOL):
    """Whether a MixedLM fit is singular: some θ below ``tol`` (lme4's ``isSingular``), with θ
    the relative Cholesky factor in the conditioned basis of the random effects
    (:class:`RandomEffectsBasis`: orthogonal random-effect columns of RMS 1), so that the
    verdict does not depend on the units of y, nor on the units or origin of a covariate.

    Parameters
    ----------
    result : statsmodels.regression.mixed_linear_model.MixedLMResults
        A fitted mixed model.
    tol : float, default 1e-4
        Tolerance on the relative Cholesky factor θ, as lme4's ``isSingular``.

    Returns
    -------
    bool

    Examples
    --------
    >>> import numpy as np, pandas as pd, statsmodels.formula.api as smf
    >>> from lmmhelpers import fit_mixedlm
    >>> rng = np.random.default_rng(2)
    >>> df = pd.DataFrame({"g": np.repeat(np.arange(8), 5), "y": rng.normal(size=40)})
    >>> result = fit_mixedlm(smf.mixedlm("y ~ 1", df, groups="g"))
    >>> float(result.cov_re.iloc[0, 0]) < 1e-8  # no group variance in these data
    True
    >>> is_boundary(result)
    True
    """
    return conditioned_parameters(result).on_boundary(tol)
