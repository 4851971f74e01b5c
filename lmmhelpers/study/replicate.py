"""One replicate of a study: its data, and the one place where its models are fitted.

Every analysis of a replicate reads its mixed-model fits through :meth:`Replicate.mixed_fit`,
which fits each distinct model once and shares the result: the z, Satterthwaite and
Kenward-Roger rows of a :class:`~lmmhelpers.study.MixedLMTest` read one REML fit, and two
analyses of the same model (say, for two terms) read the same fit too.

Refitting
    Most designs give every replicate the same predictors and groups; only the response
    changes. The first fit of a model in a worker process is kept as a *template*; a later
    replicate whose data equal the template's in every column but the response is fitted by
    :func:`lmmhelpers.refit` (every design structure reused, no formula parsing, no model
    construction) from lme4's default start, which gives exactly the numbers of a fresh fit,
    so a study's table does not depend on which replicate a worker saw first, nor on
    ``n_jobs``. Anything else (other rows, missing values, a transformed response, a model
    the engine does not support) is fitted afresh.

A fit never raises: its exception and the warnings it emitted are recorded in the
:class:`Fit` and reported by every row that reads it.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from lmmhelpers.fitting import can_refit, fit_mixedlm, refit
from lmmhelpers.study._rows import capture

#: Per process: the template fit of each model (key of :meth:`Replicate.mixed_fit`) and the
#: data it was fitted to. A handful of models at most are live in one study.
_TEMPLATES = {}
_MAX_TEMPLATES = 16


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
            self._fits[key] = self._fit_mixed(key, formula, groups, re_formula, vc_formula, reml)
        return self._fits[key]

    def _fit_mixed(self, key, formula, groups, re_formula, vc_formula, reml):
        import statsmodels.formula.api as smf

        response = formula.split("~", 1)[0].strip()

        def fit():
            template = _TEMPLATES.get(key)
            if template is not None and _same_design(template[1], self.data, response):
                result = refit(template[0], self.data[response].to_numpy(dtype=float),
                               start="default")
                return result, bool(result.converged), bool(result.boundary)
            model = smf.mixedlm(
                formula,
                self.data,
                groups=groups,
                re_formula=re_formula,
                vc_formula=None if vc_formula is None else dict(vc_formula),
            )
            value = _fit_model(model, reml)
            _keep_template(key, value[0], self.data, response)
            return value

        value, error, texts = capture(fit)
        if error is not None:
            return Fit(None, pd.NA, pd.NA, error, texts)
        result, converged, boundary = value
        return Fit(result, converged, boundary, None, texts)


def _same_design(template_columns, data, response):
    """Whether ``data`` equals the template's data in everything but the response column."""
    if response not in data.columns or list(data.columns) != list(template_columns):
        return False
    for name, values in template_columns.items():
        if name == response:
            continue
        column = data[name].to_numpy()
        if column.shape != values.shape or column.dtype != values.dtype:
            return False
        if not np.array_equal(column, values):
            return False
    return True


def _keep_template(key, result, data, response):
    """Keep a fit as the template of its model when refit can reproduce it."""
    if response not in data.columns or len(_TEMPLATES) >= _MAX_TEMPLATES and key not in _TEMPLATES:
        return
    endog = np.asarray(result.model.endog, dtype=float)
    y = data[response].to_numpy(dtype=float)
    # a fit by statsmodels' optimizers (a model the engine does not take) cannot be refitted
    if endog.shape == y.shape and np.array_equal(endog, y) and can_refit(result):
        _TEMPLATES[key] = (result, {name: data[name].to_numpy() for name in data.columns})


def _fit_model(model, reml):
    """(result, converged, boundary) from :func:`lmmhelpers.fit_mixedlm`: the engine seam."""
    result = fit_mixedlm(model, reml=reml)
    return result, bool(result.converged), bool(result.boundary)
