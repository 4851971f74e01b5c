r"""The covariance structure of a fitted MixedLM, and the REML quantities built from it.

A statsmodels ``MixedLM`` with ``groups``, ``re_formula`` and ``vc_formula`` has, in group i,

.. math::

    V_i = \sigma^2 I + Z_i D Z_i^\top, \qquad
    D = \operatorname{blockdiag}(\Psi, \tau_1^2 I, \dots, \tau_K^2 I),

where :math:`Z_i = [Z^{re}_i, Z^{vc_1}_i, \dots]` stacks the ``re_formula`` columns and the
columns of every variance component. Written as a *linear* covariance model,

.. math::

    V = \sum_r \gamma_r G_r, \qquad G_r = Z E_r Z^\top \text{ (random effects)}, \quad
    G_{\sigma^2} = I,

with γ the lower-triangle elements of Ψ, the τ²_j and σ², as in Kenward & Roger (1997) and
pbkrtest. Everything the Satterthwaite and Kenward-Roger methods need is a sum over groups of
bilinear forms :math:`W_i^\top V_i^{-k} W_i` (k = 1, 2, 3) in :math:`W_i = [X_i, Z_i, y_i]`.
These follow from the cross-product :math:`S_i = W_i^\top W_i` alone, through the identity
(valid for singular D)

.. math::

    V_i^{-1} = \sigma^{-2}\bigl(I - Z_i M_i Z_i^\top\bigr), \qquad
    M_i = D\,(\sigma^2 I + Z_i^\top Z_i D)^{-1},

so no n × n matrix is ever formed: the cost is :math:`O(n\,m^2 + G\,q^3)` for n rows, G groups,
q random effects per group and m = p + q + 1. The nested case (many small groups) and the
one-group crossed construction (one group, q = levels of all crossed factors) are the same code.

The public entry point is :func:`structure`, which caches a :class:`CovarianceStructure` on
the result so that every table and contrast computed from one fit shares one pass over the data.
"""

from __future__ import annotations

import weakref
from functools import cached_property

import numpy as np
import scipy.sparse as sp

from lmmhelpers import _statsmodels
from lmmhelpers.parameters import (
    BOUNDARY_TOL,
    conditioned_parameters,
    random_effects_basis,
)

#: The structures of fits, keyed by the (bare) statsmodels result; an entry goes with its result.
_STRUCTURES = weakref.WeakKeyDictionary()


def _dense(a):
    return a.toarray() if sp.issparse(a) else np.asarray(a, dtype=float)


class _Design:
    """What the structure needs from a model's designs, none of it depending on the response.

    Built once per design and shared by every model with the same arrays (a refit to a new
    response reuses it): the conditioned basis X̃ = X T⁻¹ (XᵀX = TᵀT, T from the QR
    decomposition of X, so X̃ has orthonormal columns), the per-group cross-products of
    [X̃_i, Z_i], the rows of [X̃, Z] stacked group by group, and the E_r patterns.

    The response enters as ỹ = y − X b0, b0 the least-squares coefficients: neither the basis
    change nor the shift changes the REML residuals r = y − Xβ̂ or V, and β̂ = b0 + T⁻¹β̃,
    Φ = T⁻¹Φ̃T⁻ᵀ transform back exactly. Without them a response around 1e8 or a covariate
    around 1e6 loses every digit of yᵀV⁻¹y or XᵀV⁻¹X to cancellation, and the degrees of
    freedom move with the units.

    The random-effect columns are those of the conditioned basis
    (:class:`lmmhelpers.parameters.RandomEffectsBasis`): Z̃ = Z_re A and Z_j / s_j, for the
    same reason (a random slope on calendar years makes ZᵀZ D lose every digit).
    """

    def __init__(self, model):
        self.basis = random_effects_basis(model)
        A = self.basis.A
        X = np.asarray(model.exog, dtype=float)
        Q, T = np.linalg.qr(X)
        signs = np.where(np.diag(T) < 0, -1.0, 1.0)  # a unique T: positive diagonal
        self.T, self.Q = signs[:, None] * T, Q * signs[None, :]
        self.T_inv = np.linalg.solve(self.T, np.eye(self.T.shape[0]))
        p, k_re = model.k_fe, model.k_re
        vc_names = list(model.exog_vc.names)
        n_groups = len(model.group_labels)
        vc_width = [
            max(_dense(model.exog_vc.mats[j][i]).shape[1] for i in range(n_groups))
            for j in range(len(vc_names))
        ]
        q = k_re + sum(vc_width)
        blocks, S0 = [], np.empty((n_groups, p + q, p + q))
        for i in range(n_groups):
            X_i = np.asarray(model.exog_li[i], dtype=float)
            W = np.zeros((X_i.shape[0], p + q))
            W[:, :p] = X_i @ self.T_inv
            if k_re:
                W[:, p : p + k_re] = np.asarray(model.exog_re_li[i], dtype=float) @ A
            col = p + k_re
            for j, width in enumerate(vc_width):
                Zj = _dense(model.exog_vc.mats[j][i]) / self.basis.vc_scale[j]
                W[:, col : col + Zj.shape[1]] = Zj
                col += width
            blocks.append(W)
            S0[i] = W.T @ W
        self.S0, self.W = S0, np.vstack(blocks)
        self.n = np.array([len(b) for b in blocks], dtype=float)
        self.starts = np.concatenate([[0], np.cumsum(self.n)[:-1]]).astype(np.intp)
        self.rows = np.concatenate([np.asarray(model.row_indices[g]) for g in model.group_labels])
        self.p, self.q = p, q
        self.patterns = _patterns(model, k_re, vc_names, vc_width, q)

    def cross_products(self, y):
        """S (G, m, m) = [X̃_i, Z_i, ỹ_i]ᵀ[X̃_i, Z_i, ỹ_i] for response ``y``, and b0."""
        y = np.asarray(y, dtype=float)
        b0 = self.T_inv @ (self.Q.T @ y)
        b0 += self.T_inv @ (self.Q.T @ (y - self.Q @ (self.T @ b0)))  # one refinement step
        y_t = (y - (self.Q @ (self.T @ b0)))[self.rows]
        m = self.p + self.q + 1
        S = np.empty((len(self.n), m, m))
        S[:, :-1, :-1] = self.S0
        cross = np.add.reduceat(self.W * y_t[:, None], self.starts, axis=0)
        S[:, :-1, -1] = S[:, -1, :-1] = cross
        S[:, -1, -1] = np.add.reduceat(y_t * y_t, self.starts)
        return S, b0


def _patterns(model, k_re, vc_names, vc_width, q):
    """(name, E_r) for every random-effect parameter: Ψ's lower triangle, then each τ²_j."""
    patterns = []
    re_names = list(model.data.exog_re_names) if k_re else []
    for a in range(k_re):
        for b in range(a + 1):
            E = np.zeros((q, q))
            E[a, b] = E[b, a] = 1.0
            name = f"{re_names[a]} Var" if a == b else f"{re_names[b]} x {re_names[a]} Cov"
            patterns.append((name, E))
    col = k_re
    for name, width in zip(vc_names, vc_width, strict=True):
        E = np.zeros((q, q))
        E[col : col + width, col : col + width] = np.eye(width)
        patterns.append((f"{name} Var", E))
        col += width
    return patterns


#: Designs by the identity of their fixed-effects array (weakly held): a model refitted to a
#: new response shares its arrays with the original, so its structure reuses the design.
_DESIGNS = {}


def _design(model, refresh=False):
    exog = model.exog
    key = (id(exog), id(getattr(model, "exog_re", None)), id(model.exog_vc.mats))
    entry = _DESIGNS.get(key)
    if not refresh and entry is not None and entry[0]() is exog:
        return entry[1]
    design = _Design(model)
    if isinstance(exog, np.ndarray):
        _DESIGNS[key] = (weakref.ref(exog, lambda _, key=key: _DESIGNS.pop(key, None)), design)
    return design


class CovarianceStructure:
    r"""V = Σ γ_r G_r of a MixedLM at given variance parameters, and its REML quantities.

    Names follow Kenward & Roger (1997) and pbkrtest: Φ = (XᵀV⁻¹X)⁻¹,
    P_r = −XᵀV⁻¹G_rV⁻¹X, Q_rs = XᵀV⁻¹G_rV⁻¹G_sV⁻¹X, Π = V⁻¹ − V⁻¹XΦXᵀV⁻¹.

    Everything is computed in conditioned bases, where the arithmetic does not depend on the
    units or origin of the data: X̃ = XT⁻¹ for the fixed effects and Z̃ = Z_re A, Z_j/s_j for
    the random effects (:class:`lmmhelpers.parameters.RandomEffectsBasis`), with the linear
    parameters γ̃ = Gγ (Ψ̃ = A⁻¹ΨA⁻ᵀ, τ̃² = s²τ², σ²). The inference modules use the
    conditioned quantities (``Phi_c``, ``P_c``, ``Q_c``, ``dPhi_c()``,
    ``expected_information_c``, ...: X̃ and γ̃); the public ones (``Phi``, ``P``, ``Q``,
    ``expected_information``, ...) are the same tensors transformed to X and γ exactly.

    Parameters
    ----------
    model : statsmodels.regression.mixed_linear_model.MixedLM
        The model (its data and random-effects design).
    params : VarianceParameters
        Ψ, τ² and σ² at which to evaluate V.
    params_c : VarianceParameters, optional
        The same parameters in the conditioned basis, when known more accurately than
        ``basis.to_conditioned(params)`` (a fit by the engine carries them).

    Attributes
    ----------
    gamma : ndarray, shape (R,)
        The linear covariance parameters: lower triangle of Ψ (row by row), τ², then σ².
    gamma_c : ndarray, shape (R,)
        γ̃ = Gγ, the same in the conditioned basis.
    gamma_map : ndarray, shape (R, R)
        G.
    names : list of str
        A name for each γ_r, in statsmodels' style ("Group Var", "subj Var", "Scale").
    """

    def __init__(self, model, params, *, refresh=False, params_c=None):
        if not (np.isfinite(params.scale) and params.scale > 0):
            raise ValueError(
                f"the residual variance is {params.scale!r}: a zero within-group residual "
                "(the model fits the response exactly) leaves no degrees of freedom or "
                "p-values to compute. Check the response, or simplify the random effects."
            )
        self.model = model
        self.params = params
        self._memo = {}
        design = _design(model, refresh=refresh)
        self.basis = design.basis
        self.params_c = design.basis.to_conditioned(params) if params_c is None else params_c
        self.gamma_map = design.basis.gamma_map()
        S, self._b0 = design.cross_products(model.endog)
        self._T, self._T_inv = design.T, design.T_inv
        n, p, q, patterns = design.n, design.p, design.q, design.patterns
        self.p, self.q = p, q
        self.n_obs = float(n.sum())
        self.E = np.array([E for _, E in patterns]).reshape(len(patterns), q, q)
        self.names = [name for name, _ in patterns] + ["Scale"]
        k_re = model.k_re
        low = np.tril_indices(k_re)
        self.gamma = np.concatenate(
            [params.cov_re[low[0], low[1]], params.vcomp, [params.scale]]
        ).astype(float)
        pc = self.params_c
        self.gamma_c = np.concatenate(
            [pc.cov_re[low[0], low[1]], pc.vcomp, [pc.scale]]
        ).astype(float)
        D = (np.tensordot(self.gamma_c[:-1], self.E, axes=1) if len(patterns)
             else np.zeros((q, q)))
        self._compute(S, n, D, params.scale)

    # -- the pass over the groups -------------------------------------------------------------
    def _compute(self, S, n, D, s2):
        p, q = self.p, self.q
        x, z = slice(0, p), slice(p, p + q)
        S_ZZ = S[:, z, z]
        S_WZ = S[:, :, z]
        K = s2 * np.eye(q) + S_ZZ @ D  # σ²I + ZᵀZ D, invertible even for singular D
        M = D @ np.linalg.inv(K) if q else np.zeros_like(K)  # symmetric
        MS = M @ S_ZZ
        R1 = S_WZ @ M @ S_WZ.transpose(0, 2, 1)
        R2 = S_WZ @ MS @ M @ S_WZ.transpose(0, 2, 1)
        R3 = S_WZ @ MS @ MS @ M @ S_WZ.transpose(0, 2, 1)
        # W' V^-k W for k = 1, 2, 3, group by group
        self._A1 = (S - R1) / s2
        self._A2 = (S - 2 * R1 + R2) / s2**2
        self._A3 = (S - 3 * R1 + 3 * R2 - R3) / s2**3
        trMS = np.trace(MS, axis1=1, axis2=2)
        self.trace_Vinv = float(np.sum(n - trMS)) / s2
        self.trace_Vinv2 = float(np.sum(n - 2 * trMS + np.einsum("gij,gji->g", MS, MS))) / s2**2
        sign, logdet_K = np.linalg.slogdet(K)
        self.logdet_V = float(np.sum(logdet_K) + (self.n_obs - q * len(n)) * np.log(s2))
        self._x, self._z = x, z

        # Φ̃, β̃ in the conditioned basis (X̃ = X T⁻¹, ỹ = y − X b0); public Φ, β transform back
        XVX_t = self._A1[:, x, x].sum(0)
        Phi_t = np.linalg.inv(XVX_t)
        self._Phi_t = (Phi_t + Phi_t.T) / 2
        self._beta_t = self._Phi_t @ self._A1[:, x, -1].sum(0)
        self._logdet_XVX_t = float(np.linalg.slogdet(XVX_t)[1])
        # residual r = ỹ − X̃β̃ = W c
        self._c = np.concatenate([-self._beta_t, np.zeros(q), [1.0]])

    # -- the original basis of the fixed effects ---------------------------------------------
    def _to_original(self, M):
        """T⁻¹ M T⁻ᵀ for a (…, p, p) array in the conditioned basis (covariances of β)."""
        return self._T_inv @ M @ self._T_inv.T

    def _to_original_info(self, M):
        """Tᵀ M T for a (…, p, p) array in the conditioned basis (forms in X, like XᵀV⁻¹X)."""
        return self._T.T @ M @ self._T

    @cached_property
    def Phi(self):
        """Φ = (XᵀV⁻¹X)⁻¹, the covariance of β̂ at the given variance parameters; (p, p)."""
        Phi = self._to_original(self._Phi_t)
        return (Phi + Phi.T) / 2

    @cached_property
    def beta(self):
        """β̂, the generalised least-squares fixed effects; shape (p,)."""
        return self._b0 + self._T_inv @ self._beta_t

    @cached_property
    def XVX(self):
        """XᵀV⁻¹X; shape (p, p)."""
        return self._to_original_info(self._A1[:, self._x, self._x].sum(0))

    # -- the conditioned basis: where the inference modules compute ----------------------------
    def conditioned(self, L):
        """A contrast in the conditioned basis: L̃ = L T⁻¹, so that Lβ = L̃β̃ and LΦLᵀ = L̃Φ̃L̃ᵀ.

        Φ is badly conditioned when a covariate has a large offset (the intercept sits far
        from the data); every formula of Satterthwaite and Kenward-Roger is a congruence in Φ,
        P_r and Q_rs, so it gives the same value from (L̃, Φ̃, P̃, Q̃), without the
        cancellation.
        """
        return np.asarray(L, dtype=float) @ self._T_inv

    @property
    def Phi_c(self):
        """Φ̃ = (X̃ᵀV⁻¹X̃)⁻¹ in the conditioned basis; (p, p)."""
        return self._Phi_t

    @property
    def P_c(self):
        """P̃_r = −X̃ᵀV⁻¹G̃_rV⁻¹X̃ in the conditioned bases (X̃, γ̃); (R, p, p)."""
        return -self._F_t

    @property
    def Q_c(self):
        """Q̃_rs in the conditioned bases (X̃, γ̃); (R, R, p, p)."""
        return self._Q_t

    def dPhi_c(self):
        """∂Φ̃/∂γ̃_r = Φ̃ F̃_r Φ̃ in the conditioned bases (X̃, γ̃); (R, p, p)."""
        return self._dPhi_t

    # -- the original parameters γ (γ̃ = Gγ): G_r = Σ_s G_sr G̃_s -------------------------------
    def _to_gamma(self, v):
        """Σ_s G_sr v_s: a quantity linear in the G̃_s (first axis) as one in the G_r."""
        return np.tensordot(self.gamma_map, v, axes=(0, 0))

    def _to_gamma2(self, M):
        """Gᵀ M G on the first two axes: a quantity bilinear in the G̃_s as one in the G_r."""
        return np.moveaxis(self._to_gamma(np.moveaxis(self._to_gamma(M), 1, 0)), 0, 1)

    def to_original(self, M):
        """T⁻¹ M T⁻ᵀ: a covariance of β̃ (conditioned basis) as a covariance of β."""
        return self._to_original(M)

    def cached(self, name, compute):
        """The value of ``compute(self)``, computed once per structure and kept under ``name``.

        The one cache of a structure: the inference modules keep what they derive from it
        (W = I_E⁻¹, Φ_A, lmerTest's A) here rather than as attributes of their own.
        """
        if name not in self._memo:
            self._memo[name] = compute(self)
        return self._memo[name]

    # -- building blocks -----------------------------------------------------------------------
    @property
    def n_params(self):
        """R, the number of linear covariance parameters γ (σ² included)."""
        return len(self.gamma)

    def _ZVX(self, k=1):
        A = {1: self._A1, 2: self._A2, 3: self._A3}[k]
        return A[:, self._z, self._x]

    def _ZVr(self, k=1):
        A = {1: self._A1, 2: self._A2}[k]
        return A[:, self._z, :] @ self._c

    @cached_property
    def F(self):
        """F_r = XᵀV⁻¹G_rV⁻¹X for every r (so P_r = −F_r); shape (R, p, p)."""
        return self._to_original_info(self._to_gamma(self._F_t))

    @cached_property
    def _F_t(self):
        ZVX = self._ZVX(1)
        out = [np.einsum("gia,ij,gjb->ab", ZVX, E, ZVX) for E in self.E]
        out.append(self._A2[:, self._x, self._x].sum(0))
        return np.array(out)

    @property
    def P(self):
        """P_r = −XᵀV⁻¹G_rV⁻¹X (Kenward & Roger 1997, eq. 3); shape (R, p, p)."""
        return -self.F

    @cached_property
    def Q(self):
        """Q_rs = XᵀV⁻¹G_rV⁻¹G_sV⁻¹X; shape (R, R, p, p), Q_sr = Q_rsᵀ."""
        return self._to_original_info(self._to_gamma2(self._Q_t))

    @cached_property
    def _Q_t(self):
        R = self.n_params
        ZVX, ZVZ = self._ZVX(1), self._A1[:, self._z, self._z]
        ZV2X = self._ZVX(2)
        EX = [np.einsum("ij,gjb->gib", E, ZVX) for E in self.E]  # E_r ZᵀV⁻¹X per group
        Q = np.empty((R, R, self.p, self.p))
        for r in range(R - 1):
            for s in range(r, R - 1):
                Q[r, s] = np.einsum("gia,gij,gjb->ab", EX[r], ZVZ, EX[s])
                Q[s, r] = Q[r, s].T
            Q[r, R - 1] = np.einsum("gia,gib->ab", EX[r], ZV2X)
            Q[R - 1, r] = Q[r, R - 1].T
        Q[R - 1, R - 1] = self._A3[:, self._x, self._x].sum(0)
        return Q

    @cached_property
    def Ktrace(self):
        """tr(V⁻¹G_rV⁻¹G_s); shape (R, R)."""
        return self._to_gamma2(self._Ktrace_c)

    @cached_property
    def _Ktrace_c(self):
        R = self.n_params
        ZVZ, ZV2Z = self._A1[:, self._z, self._z], self._A2[:, self._z, self._z]
        EZ = [np.einsum("ij,gjk->gik", E, ZVZ) for E in self.E]
        T = np.empty((R, R))
        for r in range(R - 1):
            for s in range(r, R - 1):
                T[r, s] = T[s, r] = np.einsum("gij,gji->", EZ[r], EZ[s])
            T[r, R - 1] = T[R - 1, r] = np.einsum("ij,gji->", self.E[r], ZV2Z)
        T[R - 1, R - 1] = self.trace_Vinv2
        return T

    @cached_property
    def trace_PiG(self):
        """tr(ΠG_r) = tr(V⁻¹G_r) − tr(Φ F_r); shape (R,)."""
        return self._to_gamma(self._trace_PiG_c)

    @cached_property
    def _trace_PiG_c(self):
        ZVZ = self._A1[:, self._z, self._z]
        trVG = [np.einsum("ij,gji->", E, ZVZ) for E in self.E] + [self.trace_Vinv]
        return np.array(trVG) - np.einsum("ab,rba->r", self._Phi_t, self._F_t)

    @cached_property
    def trace_PiGPiG(self):
        """tr(ΠG_rΠG_s) = tr(V⁻¹G_rV⁻¹G_s) − 2 tr(ΦQ_rs) + tr(ΦP_rΦP_s); shape (R, R)."""
        return self._to_gamma2(self._trace_PiGPiG_c)

    @cached_property
    def _trace_PiGPiG_c(self):
        PhiF = np.einsum("ab,rbc->rac", self._Phi_t, self._F_t)
        T = self._Ktrace_c - 2 * np.einsum("ab,rsba->rs", self._Phi_t, self._Q_t)
        T += np.einsum("rab,sba->rs", PhiF, PhiF)
        return (T + T.T) / 2

    @cached_property
    def _residual_forms(self):
        """y'ΠG_rΠy (R,) and y'ΠG_rΠG_sΠy (R, R), with Πy = V⁻¹r̂."""
        R = self.n_params
        a = self._ZVr(1)  # ZᵀV⁻¹r̂ per group, (G, q)
        ZVZ, ZVX = self._A1[:, self._z, self._z], self._ZVX(1)
        Ea = [a @ E for E in self.E]  # (E_r ZᵀV⁻¹r̂)ᵀ per group (E symmetric)
        c = self._c
        h = np.empty(R)
        for r in range(R - 1):
            h[r] = np.einsum("gi,gi->", a, Ea[r])
        h[R - 1] = float(np.einsum("i,gij,j->", c, self._A2, c))
        # w_r = G_r Π y; w_r'V⁻¹w_s and XᵀV⁻¹w_r
        ZV2r = self._ZVr(2)
        XVw = [np.einsum("gia,gi->a", ZVX, Ea[r]) for r in range(R - 1)]
        XVw.append((self._A2[:, self._x, :] @ c).sum(0))
        wVw = np.empty((R, R))
        for r in range(R - 1):
            for s in range(r, R - 1):
                wVw[r, s] = wVw[s, r] = np.einsum("gi,gij,gj->", Ea[r], ZVZ, Ea[s])
            wVw[r, R - 1] = wVw[R - 1, r] = np.einsum("gi,gi->", Ea[r], ZV2r)
        wVw[R - 1, R - 1] = float(np.einsum("i,gij,j->", c, self._A3, c))
        XVw = np.array(XVw)
        hh = wVw - XVw @ self._Phi_t @ XVw.T
        return h, (hh + hh.T) / 2

    # -- REML likelihood ---------------------------------------------------------------------
    @cached_property
    def reml_deviance(self):
        """−2 × REML log-likelihood, on lme4's scale (its ``REMLcrit``)."""
        rVr = float(self._c @ self._A1.sum(0) @ self._c)
        logdet_XVX = self._logdet_XVX_t + 2 * float(np.sum(np.log(np.abs(np.diag(self._T)))))
        return self.logdet_V + logdet_XVX + rVr + (self.n_obs - self.p) * np.log(2 * np.pi)

    @cached_property
    def deviance_gradient(self):
        """∂(−2ℓ_R)/∂γ_r = tr(ΠG_r) − yᵀΠG_rΠy; shape (R,). Zero at an interior optimum."""
        return self._to_gamma(self.deviance_gradient_c)

    @cached_property
    def expected_information(self):
        """Expected REML information in γ: I_E,rs = ½ tr(ΠG_rΠG_s); shape (R, R)."""
        return self._to_gamma2(self.expected_information_c)

    @cached_property
    def observed_information(self):
        """Observed REML information in γ: −½ tr(ΠG_rΠG_s) + yᵀΠG_rΠG_sΠy; shape (R, R)."""
        return self._to_gamma2(self.observed_information_c)

    @cached_property
    def deviance_gradient_c(self):
        """:attr:`deviance_gradient` in γ̃ (the conditioned basis); shape (R,)."""
        h, _ = self._residual_forms
        return self._trace_PiG_c - h

    @cached_property
    def expected_information_c(self):
        """:attr:`expected_information` in γ̃ (the conditioned basis); shape (R, R)."""
        return self._trace_PiGPiG_c / 2

    @cached_property
    def observed_information_c(self):
        """:attr:`observed_information` in γ̃ (the conditioned basis); shape (R, R)."""
        _, hh = self._residual_forms
        return -self._trace_PiGPiG_c / 2 + hh

    @cached_property
    def _dPhi_t(self):
        return np.einsum("ab,rbc,cd->rad", self._Phi_t, self._F_t, self._Phi_t)

    @cached_property
    def _dPhi(self):
        return self._to_original(self._to_gamma(self._dPhi_t))

    def dPhi(self):
        """∂Φ/∂γ_r = Φ F_r Φ for every r; shape (R, p, p). Computed once per structure."""
        return self._dPhi


def structure(result, tol=BOUNDARY_TOL, *, refresh=False):
    """The :class:`CovarianceStructure` of a fit, computed once and cached on the result.

    This is the one way to get the structure of a fit, or to renew it (``refresh=True``, for
    instance to time its construction from scratch).

    Variance parameters whose relative Cholesky factor θ̃ (in the conditioned basis of the
    random effects, as :func:`lmmhelpers.is_boundary`) is below ``tol`` (lme4's
    ``isSingular`` rule) are set exactly to zero first, the convention of lme4, lmerTest and
    pbkrtest (see :meth:`VarianceParameters.snapped`).

    Parameters
    ----------
    result : statsmodels.regression.mixed_linear_model.MixedLMResults
        A fitted mixed model.
    tol : float, default 1e-4
        The boundary tolerance on θ.
    refresh : bool, default False
        Build the structure anew, from scratch (the response-free part of the design pass
        too), even when one is cached, and cache the new one.

    Returns
    -------
    CovarianceStructure

    Examples
    --------
    >>> import numpy as np, pandas as pd, statsmodels.formula.api as smf
    >>> rng = np.random.default_rng(0)
    >>> g = np.repeat(np.arange(10), 4)
    >>> df = pd.DataFrame({"g": g, "y": rng.normal(size=10)[g] + rng.normal(size=40)})
    >>> result = smf.mixedlm("y ~ 1", df, groups="g").fit()
    >>> cs = structure(result)
    >>> cs.names
    ['g Var', 'Scale']
    >>> bool(np.allclose(cs.Phi, result.cov_params().iloc[:1, :1]))  # (XᵀV⁻¹X)⁻¹
    True
    >>> structure(result) is cs  # cached on the result
    True
    >>> structure(result, refresh=True) is cs  # built anew
    False
    """
    bare = _statsmodels.unwrap(result)
    cached = _STRUCTURES.get(bare)
    if not refresh and cached is not None and cached[0] == tol:
        return cached[1]
    params_c = conditioned_parameters(bare).snapped(tol)
    params = _design(bare.model).basis.to_original(params_c)
    cs = CovarianceStructure(bare.model, params, refresh=refresh, params_c=params_c)
    _STRUCTURES[bare] = (tol, cs)
    return cs
