"""A profiled REML / ML engine for statsmodels' MixedLM, as lme4 and MixedModels.jl compute it.

Modules: ``_profile`` (the fixed effects, the response and the last step of the criterion),
``nested`` (one grouping factor: batched q × q blocks), ``crossed`` (the one-group crossed
construction: a blocked Cholesky factor), ``optimize`` (the bounded optimizer and lme4's
convergence check).  :func:`criterion_for` picks the criterion for a model.
"""

from __future__ import annotations

from lmmhelpers._statsmodels import design_of
from lmmhelpers.engine.crossed import CrossedCriterion
from lmmhelpers.engine.nested import NestedCriterion
from lmmhelpers.parameters import random_effects_basis

__all__ = ["criterion_for", "CrossedCriterion", "NestedCriterion"]


def criterion_for(model):
    """The profiled criterion of a MixedLM, or raise NotImplementedError saying why not.

    One group → :class:`CrossedCriterion`; several groups → :class:`NestedCriterion`.

    The criterion works in the conditioned basis of the random effects
    (:class:`lmmhelpers.parameters.RandomEffectsBasis`, kept as ``criterion.basis``): the
    ``re_formula`` columns Z_re A (orthogonal, RMS 1) and each variance component's columns
    divided by their RMS. Its θ is θ̃, the relative Cholesky factor of Ψ̃/σ² = A⁻¹ΨA⁻ᵀ/σ²
    (and s_j τ_j/σ), so the optimizer's path, its start θ̃ = 1, the convergence check and the
    boundary rule do not depend on the units or origin of a random-slope covariate.
    """
    if model.k_fe == 0:
        raise NotImplementedError("a model without fixed effects")
    basis = random_effects_basis(model)
    design = design_of(model)
    design["Z_re"] = design["Z_re"] @ basis.A
    design["vc"] = [[(rows, mat * (1.0 / s)) for rows, mat in comp]
                    for comp, s in zip(design["vc"], basis.vc_scale, strict=True)]
    crit = CrossedCriterion(design) if design["n_groups"] == 1 else NestedCriterion(design)
    crit.basis = basis
    return crit
