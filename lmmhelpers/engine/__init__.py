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

__all__ = ["criterion_for", "CrossedCriterion", "NestedCriterion"]


def criterion_for(model):
    """The profiled criterion of a MixedLM, or raise NotImplementedError saying why not.

    One group → :class:`CrossedCriterion`; several groups → :class:`NestedCriterion`.
    """
    if model.k_fe == 0:
        raise NotImplementedError("a model without fixed effects")
    if getattr(model, "missing", "none") not in (None, "none") and model.nobs != len(model.endog):
        raise NotImplementedError("rows dropped for missing values")
    design = design_of(model)
    if design["n_groups"] == 1:
        return CrossedCriterion(design)
    return NestedCriterion(design)
