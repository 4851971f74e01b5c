"""Checks of a MixedLM's design before it is fitted or tested: a clear error, never a wrong number.

statsmodels builds a ``MixedLM`` from almost anything and fails later, inside an optimizer,
with "Singular matrix", or worse, returns ``converged=True`` for a model whose parameters are
not identified. :func:`check_model` looks at the design first and names the cause:

* missing or infinite values in the response, the fixed-effects design or a random-effects
  design (possible for models built from arrays; formulas drop or refuse them);
* fixed-effect columns that are all zero (an empty factor level), duplicated, or a linear
  combination of other columns, by name; with a hint when a numeric column stored as strings
  became a factor with a level per value;
* random effects that cannot be separated from the residual (lme4's ``check.nobs.vs.nlev`` and
  ``check.nobs.vs.nRE`` rules: every group of size one, or at least as many random effects as
  observations) and a variance component with a single level (lme4's ``check.nlev.gtr.1``).
"""

from __future__ import annotations

import weakref

import numpy as np
import scipy.linalg
import scipy.sparse as sp

__all__ = ["check_model"]

#: Designs already checked, keyed by the fixed-effects array: a model refitted to a new response
#: (:func:`lmmhelpers.refit`) shares its designs, so only its response is checked again.
_CHECKED = {}

#: Relative size of the part of a column outside the span of the others below which it is
#: treated as a linear combination of them.
COLLINEARITY_TOL = 1e-9


def _dense(a):
    return a.toarray() if sp.issparse(a) else np.asarray(a, dtype=float)


def _finite(name, values, columns=None):
    values = np.asarray(values, dtype=float)
    bad = ~np.isfinite(values)
    if not bad.any():
        return
    rows = np.flatnonzero(bad.reshape(values.shape[0], -1).any(axis=1))
    where = ""
    if columns is not None and values.ndim == 2:
        cols = [columns[j] for j in np.flatnonzero(bad.any(axis=0))]
        where = f" in column(s) {cols}"
    raise ValueError(
        f"the model's {name} has {int(bad.sum())} missing or infinite value(s){where} "
        f"(first rows: {rows[:5].tolist()}). Drop those rows before building the model, e.g. "
        "data.dropna(subset=[...]) or smf.mixedlm(..., missing='drop')."
    )


_NUMBER = r"\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*"


def _string_number_hint(model):
    """A hint when a formula term is a data column of numbers stored as strings."""
    frame = getattr(model.data, "frame", None)
    if frame is None:
        return ""
    names = list(model.exog_names)
    found = []
    for name in frame.columns:
        col = frame[name]
        if not (col.dtype == object or str(col.dtype).startswith(("string", "str"))):
            continue
        if not any(x.startswith((f"{name}[", f"C({name})[")) for x in names):
            continue
        values = col.dropna().astype(str)
        if len(values) and bool(values.str.fullmatch(_NUMBER).all()):
            found.append(str(name))
    if not found:
        return ""
    return (f" The data column(s) {found} hold numbers stored as strings, so the formula "
            "treats them as factors with one level per value; convert them with "
            "pd.to_numeric.")


def _check_fixed_effects(model):
    X = np.asarray(model.exog, dtype=float)
    names = list(model.exog_names)
    zero = [names[j] for j in range(X.shape[1]) if not np.any(X[:, j])]
    if zero:
        raise ValueError(
            f"fixed-effect column(s) {zero} are zero in every row: a factor level with no "
            "observations? Remove unused levels (e.g. data[col] = "
            "data[col].cat.remove_unused_categories()) or drop the term."
        )
    n, p = X.shape
    if p >= n:
        raise ValueError(
            f"the model has {p} fixed effects for {n} observations: nothing is left to "
            f"estimate the variances.{_string_number_hint(model)}"
        )
    # One pivoted QR says whether X has full rank; only then look for the culprit by name.
    R = scipy.linalg.qr(X / np.linalg.norm(X, axis=0), mode="r", pivoting=True)[0]
    diag = np.abs(np.diag(R))
    if diag.min() > COLLINEARITY_TOL * diag.max() * np.sqrt(n):
        return
    # Column by column: is column j (nearly) in the span of the columns before it?
    kept = []
    for j in range(X.shape[1]):
        col = X[:, j]
        if kept:
            basis = X[:, kept]
            coef, *_ = np.linalg.lstsq(basis, col, rcond=None)
            resid = col - basis @ coef
            if np.linalg.norm(resid) <= COLLINEARITY_TOL * np.linalg.norm(col) * np.sqrt(n):
                used = [names[kept[i]] for i in np.flatnonzero(np.abs(coef) > 1e-8)]
                duplicate = [names[k] for k in kept if np.allclose(X[:, k], col)]
                what = (f"duplicates {duplicate[0]!r}" if duplicate
                        else f"is a linear combination of {used}")
                raise ValueError(
                    f"the fixed-effects design is rank deficient: column {names[j]!r} {what}, "
                    "so the coefficients are not identified. Drop or recode one of these "
                    f"terms.{_string_number_hint(model)}"
                )
        kept.append(j)


def _check_random_effects(model):
    n = int(model.nobs)
    G = int(model.n_groups)
    if model.k_re > 0:
        if G < 2:
            raise ValueError(
                "the model has a single group but a random effect per group (re_formula); its "
                "variance cannot be estimated. For crossed random effects with one group for "
                "all rows, pass re_formula='0' and put every random factor in vc_formula."
            )
        if G >= n:
            raise ValueError(
                f"every group has a single observation ({G} groups, {n} rows): the group "
                "variance cannot be told apart from the residual variance (lme4 refuses this "
                "too). Check the groups argument, or fit a model without the random effect."
            )
        if G * model.k_re >= n:
            raise ValueError(
                f"the model has {G * model.k_re} random effects ({G} groups × {model.k_re} "
                f"per group) for {n} observations: their variances are not identified. "
                "Simplify re_formula (for instance drop the random slope)."
            )
    for j, name in enumerate(model.exog_vc.names):
        mats = [_dense(m) for m in model.exog_vc.mats[j]]
        levels = sum(int(np.sum(np.any(m != 0, axis=0))) for m in mats)
        if levels <= 1:
            raise ValueError(
                f"the variance component {name!r} has a single level: its variance cannot be "
                "estimated (lme4 needs at least 2 levels of a grouping factor). Drop it from "
                "vc_formula or treat it as a fixed effect."
            )
        if levels >= n:
            raise ValueError(
                f"the variance component {name!r} has a level for every observation ({levels} "
                f"levels, {n} rows): its variance cannot be told apart from the residual "
                "variance. Drop it from vc_formula."
            )


def check_model(model):
    """Raise a ValueError that names the cause when ``model`` cannot be estimated.

    Parameters
    ----------
    model : statsmodels.regression.mixed_linear_model.MixedLM

    Examples
    --------
    >>> import numpy as np, pandas as pd, statsmodels.formula.api as smf
    >>> df = pd.DataFrame({"g": np.repeat(np.arange(4), 3), "x": np.arange(12.0)})
    >>> df["x2"], df["y"] = 2 * df["x"], np.sin(df["x"])
    >>> check_model(smf.mixedlm("y ~ x + x2", df, groups="g"))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: the fixed-effects design is rank deficient: column 'x2' is a linear ...
    """
    _finite("response", model.endog)
    exog = model.exog if isinstance(model.exog, np.ndarray) else None
    if exog is not None:
        ref, signature = _CHECKED.get(id(exog), (None, None))
        if ref is not None and ref() is exog and signature == _signature(model):
            return
    _finite("fixed-effects design", model.exog, list(model.exog_names))
    if model.k_re:
        _finite("random-effects design (re_formula)", model.exog_re)
    for j, name in enumerate(model.exog_vc.names):
        for m in model.exog_vc.mats[j]:
            _finite(f"variance-component design {name!r}", _dense(m))
    _check_fixed_effects(model)
    _check_random_effects(model)
    if exog is not None:
        key = id(exog)
        _CHECKED[key] = (weakref.ref(exog, lambda _, key=key: _CHECKED.pop(key, None)),
                         _signature(model))


def _signature(model):
    """What else must be the same for a design checked with the same X to be the same."""
    exog_re = getattr(model, "exog_re", None)
    return (id(exog_re), tuple(model.exog_vc.names), id(model.exog_vc.mats),
            int(model.n_groups), int(model.nobs))
