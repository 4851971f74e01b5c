"""One replicate of a study: its data, and the one place where its models are fitted.

Every analysis of a replicate reads its mixed-model fits through :meth:`Replicate.mixed_fit`,
which fits each distinct model once and shares the result: the z, Satterthwaite and
Kenward-Roger rows of a :class:`~lmmhelpers.study.MixedLMTest` read one REML fit, and two
analyses of the same model (say, for two terms) read the same fit too.

The seam
    :func:`_fit_model` is the only call into the fitting engine. To fit a replicate by
    refitting a template model to the new response (the engine's ``refit``), change that
    function (or :meth:`Replicate._fit_mixed`, which builds the statsmodels model); the
    analyses, the runner and the cache do not change. A fit never raises: its exception and
    the warnings it emitted are recorded in the :class:`Fit` and reported by every row that
    reads it.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import pandas as pd

from lmmhelpers.fitting import fit_mixedlm
from lmmhelpers.study._rows import capture


class Fit(NamedTuple):
    """A memoised fit: the result (None on error), its verdict, its error and warnings."""

    result: Any
    converged: Any
    boundary: Any
    error: Exception | None
    warnings: list


class Replicate:
    """The data of one replicate and its fits, each computed once.

    Parameters
    ----------
    data : pandas.DataFrame
        The replicate's data set, as the design returned it.

    Examples
    --------
    >>> import numpy as np
    >>> from lmmhelpers.simulate import two_input_design
    >>> rep = Replicate(two_input_design(4, 5, seed=np.random.default_rng(1)))
    >>> fit = rep.mixed_fit("output ~ input", "group")
    >>> fit is rep.mixed_fit("output ~ input", "group"), fit.error is None
    (True, True)
    """

    def __init__(self, data):
        self.data = data
        self._fits = {}

    def mixed_fit(self, formula, groups, re_formula=None, vc_formula=None, reml=True):
        """The :class:`Fit` of a MixedLM (``vc_formula`` as sorted (name, formula) pairs)."""
        key = ("mixedlm", formula, groups, re_formula, vc_formula, reml)
        if key not in self._fits:
            self._fits[key] = self._fit_mixed(formula, groups, re_formula, vc_formula, reml)
        return self._fits[key]

    def _fit_mixed(self, formula, groups, re_formula, vc_formula, reml):
        import statsmodels.formula.api as smf

        def fit():
            model = smf.mixedlm(
                formula,
                self.data,
                groups=groups,
                re_formula=re_formula,
                vc_formula=None if vc_formula is None else dict(vc_formula),
            )
            return _fit_model(model, reml)

        value, error, texts = capture(fit)
        if error is not None:
            return Fit(None, pd.NA, pd.NA, error, texts)
        result, converged, boundary = value
        return Fit(result, converged, boundary, None, texts)


def _fit_model(model, reml):
    """(result, converged, boundary) from :func:`lmmhelpers.fit_mixedlm`: the engine seam."""
    result = fit_mixedlm(model, reml=reml)
    return result, bool(result.converged), bool(result.boundary)
