"""The one module that touches statsmodels' private attributes of ``MixedLM``.

Three jobs: set up a *copy* of a model for fitting (what ``MixedLM.fit`` sets before it
optimizes: ``reml``, penalties, ``_freepat``, ``_cov_sing``), read a model's designs for the
engine, and build a ``MixedLMResults`` at given parameters (what the tail of ``MixedLM.fit``
does, which statsmodels 0.15 does not offer without optimizing).  The caller's model is never
changed: statsmodels computes ``llf`` and AIC lazily from ``model.reml``, so fitting one model
object by ML and then by REML would otherwise change the first result.
"""

from __future__ import annotations

import copy

import numpy as np
from statsmodels.regression.mixed_linear_model import (
    MixedLMParams,
    MixedLMResults,
    MixedLMResultsWrapper,
)

#: Smallest relative variance (eigenvalue of Ψ/σ², or τ²/σ²) handed to statsmodels' own
#: computations on a result.  Below 1e-10 ``get_fe_params`` zeroes the precision of that
#: direction (statsmodels issue #10239), the D → ∞ limit instead of D → 0; 2e-10 (θ ≈ 1.4e-5,
#: below lme4's boundary tolerance 1e-4) keeps clear of it.
VARIANCE_FLOOR = 2e-10


def prepared_copy(model, reml):
    """A shallow copy of ``model`` with the attributes ``MixedLM.fit`` sets before optimizing."""
    work = copy.copy(model)
    work.reml = bool(reml)
    work.cov_pen = None
    work.fe_pen = None
    work._freepat = None
    work._cov_sing = 0
    return work


def with_response(model, y):
    """A shallow copy of a fitted model's copy with the response replaced by ``y``."""
    y = np.asarray(y, dtype=float).ravel()
    if y.shape != model.endog.shape:
        raise ValueError(f"y must have {model.endog.shape[0]} values, got {y.shape[0]}")
    work = copy.copy(model)
    work.endog = y
    work.endog_li = model.group_list(y)
    return work


def conditioned_copy(model, basis):
    """A shallow copy of a prepared model whose random-effect columns are those of ``basis``.

    Z_re → Z_re A and each variance component's matrices → Z_j / s_j
    (:class:`lmmhelpers.parameters.RandomEffectsBasis`), with statsmodels' per-group caches
    (``exog_re_li``, ``exog_re2_li``, ``_aex_r``, ``_aex_r2``) rebuilt, so that statsmodels'
    optimizers work where a covariate's units and origin do not matter. Its variance
    parameters are Ψ̃ and τ̃²; fixed effects, σ² and the likelihood are the model's.
    """
    from statsmodels.regression.mixed_linear_model import VCSpec

    work = copy.copy(model)
    if model.k_re:
        A = basis.A
        work.exog_re = np.asarray(model.exog_re, dtype=float) @ A
        work.exog_re_li = [np.asarray(x, dtype=float) @ A for x in model.exog_re_li]
        work.exog_re2_li = [x.T @ x for x in work.exog_re_li]
    if model.k_vc:
        spec = model.exog_vc
        work.exog_vc = VCSpec(list(spec.names), spec.colnames,
                              [[m * (1.0 / s) for m in mats]
                               for mats, s in zip(spec.mats, basis.vc_scale, strict=True)])
    work._aex_r = [work._augment_exog(i) for i in range(work.n_groups)]
    work._aex_r2 = [a.T @ a for a in work._aex_r]
    return work


def design_of(model):
    """The designs the engine reads: X, y, group codes, the re columns, the vc matrices.

    Returns a dict with ``X`` (n × p), ``names``, ``y``, ``codes`` (group index of each row, in
    the order of ``model.group_labels``), ``n_groups``, ``Z_re`` (n × k_re) and ``vc``: for each
    ``vc_formula`` component, a list over groups of ``(rows, matrix)``.
    """
    n = len(model.endog)
    codes = np.empty(n, dtype=np.intp)
    rows_of = []
    for i, label in enumerate(model.group_labels):
        rows = np.asarray(model.row_indices[label], dtype=np.intp)
        codes[rows] = i
        rows_of.append(rows)
    Z_re = np.asarray(model.exog_re, dtype=float) if model.k_re else np.zeros((n, 0))
    vc = [
        [(rows_of[i], model.exog_vc.mats[j][i]) for i in range(len(rows_of))]
        for j in range(len(model.exog_vc.names))
    ]
    return {
        "X": np.asarray(model.exog, dtype=float),
        "names": list(model.exog_names),
        "y": np.asarray(model.endog, dtype=float),
        "codes": codes,
        "n_groups": len(rows_of),
        "Z_re": Z_re,
        "vc": vc,
    }


def lifted(cov_re_rel, vcomp_rel, k_re):
    """(Ψ/σ², τ²/σ²) with eigenvalues of Ψ/σ² and the τ²/σ² raised to ``VARIANCE_FLOOR``."""
    cov_re = np.atleast_2d(np.asarray(cov_re_rel, dtype=float)).reshape(k_re, k_re)
    if k_re > 0:
        cov_re = (cov_re + cov_re.T) / 2
        w, v = np.linalg.eigh(cov_re)
        if w.min() < VARIANCE_FLOOR:
            cov_re = (v * np.maximum(w, VARIANCE_FLOOR)) @ v.T
            cov_re = (cov_re + cov_re.T) / 2
    vcomp = np.maximum(np.abs(np.asarray(vcomp_rel, dtype=float)), VARIANCE_FLOOR)
    return cov_re, vcomp


def params_object(model, cov_re_rel, vcomp_rel, fe_params=None):
    """statsmodels' ``MixedLMParams`` (relative to σ²); β̂ by statsmodels' GLS unless given."""
    params = MixedLMParams(model.k_fe, model.k_re, model.k_vc)
    params.cov_re = cov_re_rel
    params.vcomp = vcomp_rel
    if fe_params is None:
        fe_params, _ = model.get_fe_params(cov_re_rel, vcomp_rel)
    params.fe_params = np.asarray(fe_params, dtype=float)
    return params


class _Results(MixedLMResults):
    """MixedLMResults whose covariance of the parameters is computed when first asked for.

    statsmodels' ``MixedLM.hessian`` costs about as much as a whole fit at small n (9 ms at
    400 rows); coef_table, anova_table and the inference of this package never read it, so it
    waits until ``bse``, ``cov_params()`` or ``summary()`` need it.
    """

    @property
    def normalized_cov_params(self):
        if self._ncp is None:
            hess, _ = self.model.hessian(self.params_object)
            try:
                pcov = np.linalg.inv(-hess)
            except np.linalg.LinAlgError:
                pcov = np.linalg.pinv(-hess)
            self._ncp = pcov / self.scale
        return self._ncp

    @normalized_cov_params.setter
    def normalized_cov_params(self, value):
        self._ncp = value

    def __getattr__(self, name):
        """Attributes set with :func:`set_lazy` are computed on first access (then stored)."""
        lazy = self.__dict__.get("_lazy")
        if lazy is not None and name in lazy:
            value = lazy.pop(name)()
            setattr(self, name, value)
            return value
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")


def unwrap(result):
    """The MixedLMResults inside a statsmodels results wrapper (or ``result`` itself)."""
    return getattr(result, "_results", result)


def set_lazy(result, name, factory):
    """Let ``result.<name>`` be ``factory()``, computed when first read (e.g. a DataFrame)."""
    unwrap(result).__dict__.setdefault("_lazy", {})[name] = factory


def build_results(model, reml, cov_re_rel, vcomp_rel, *, fe_params=None, scale=None, llf=None,
                  basis=None):
    """A MixedLMResults(Wrapper) at the given parameters, as ``MixedLM.fit`` builds it.

    Parameters
    ----------
    model : MixedLM
        A model prepared by :func:`prepared_copy` (its ``reml`` is the fit's).
    reml : bool
    cov_re_rel, vcomp_rel : array_like
        Ψ/σ² and τ²/σ², lifted to ``VARIANCE_FLOOR`` before statsmodels sees them.
    fe_params, scale : optional
        β̂ and σ̂² when known (the engine's); else statsmodels' GLS and ``get_scale``.
    llf : float, optional
        The log-likelihood when known (the engine's criterion / −2); else statsmodels computes
        it when first asked for.
    basis : lmmhelpers.parameters.RandomEffectsBasis, optional
        When given, ``cov_re_rel`` and ``vcomp_rel`` are Ψ̃/σ² and τ̃²/σ² in this conditioned
        basis (the engine's): they are lifted there, mapped to the user's scale for
        statsmodels, and kept on the result as they are (``parameters.CONDITIONED_ATTR``),
        since Ψ = AΨ̃Aᵀ loses digits when A is badly conditioned.
    """
    conditioned = None
    if basis is not None:
        from lmmhelpers.parameters import CONDITIONED_ATTR, VarianceParameters

        cov_c, vcomp_c = lifted(cov_re_rel, vcomp_rel, model.k_re)
        conditioned = VarianceParameters(cov_re=cov_c, vcomp=vcomp_c, scale=1.0)
        original = basis.to_original(conditioned)
        cov_re, vcomp = original.cov_re, original.vcomp
    else:
        cov_re, vcomp = lifted(cov_re_rel, vcomp_rel, model.k_re)
    params = params_object(model, cov_re, vcomp, fe_params)
    if scale is None:
        scale = float(model.get_scale(params.fe_params, cov_re, vcomp))
    packed = params.get_packed(use_sqrt=False, has_fe=True)
    results = _Results(model, packed, None)
    results.params_object = params
    results.fe_params = params.fe_params
    results.cov_re = scale * cov_re
    results.vcomp = scale * vcomp
    results.scale = float(scale)
    results.cov_re_unscaled = cov_re
    results.method = "REML" if reml else "ML"
    results.converged = True
    results.hist = None
    results.reml = bool(reml)
    results.cov_pen = None
    results.k_fe = model.k_fe
    results.k_re = model.k_re
    results.k_re2 = model.k_re2
    results.k_vc = model.k_vc
    results.use_sqrt = model.use_sqrt
    results.freepat = None
    if conditioned is not None:
        setattr(results, CONDITIONED_ATTR, VarianceParameters(
            cov_re=scale * conditioned.cov_re, vcomp=scale * conditioned.vcomp,
            scale=float(scale)))
    if llf is not None:  # statsmodels' cache_readonly reads (and creates) ``_cache``
        if getattr(results, "_cache", None) is None:
            results._cache = {}
        results._cache["llf"] = float(llf)
    return MixedLMResultsWrapper(results)
