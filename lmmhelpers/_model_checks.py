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
  observations) and a variance component with a single level (lme4's ``check.nlev.gtr.1``);
* random-effect columns (``re_formula``) that are all zero or linearly dependent (a slope on a
  constant column), by name, and variance parameters that no data can tell apart (a slope on a
  covariate constant within every group, a ``vc_formula`` term repeating the intercept);
* a response that the fixed effects fit exactly (constant, or computed from the predictors),
  a model without fixed effects (``y ~ 0``) and a date column turned into a factor.
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
    found = _first_dependent_column(X)
    if found is not None:
        j, used, duplicate = found
        what = (f"duplicates {names[duplicate[0]]!r}" if duplicate
                else f"is a linear combination of {[names[i] for i in used]}")
        raise ValueError(
            f"the fixed-effects design is rank deficient: column {names[j]!r} {what}, "
            "so the coefficients are not identified. Drop or recode one of these "
            f"terms.{_string_number_hint(model)}"
        )


def _first_dependent_column(M):
    """(j, used, duplicates) for the first column of M in the span of the columns before it.

    ``used`` indexes the columns it is a combination of, ``duplicates`` those it equals;
    None when M has full column rank (relative tolerance :data:`COLLINEARITY_TOL`).
    """
    n = M.shape[0]
    norms = np.linalg.norm(M, axis=0)
    # One pivoted QR says whether M has full rank; only then look for the culprit.
    R = scipy.linalg.qr(M / np.where(norms > 0, norms, 1.0), mode="r", pivoting=True)[0]
    diag = np.abs(np.diag(R))
    if diag.size == 0 or diag.min() > COLLINEARITY_TOL * diag.max() * np.sqrt(n):
        return None
    # Column by column: is column j (nearly) in the span of the columns before it?
    kept = []
    for j in range(M.shape[1]):
        col = M[:, j]
        if kept:
            basis = M[:, kept]
            coef, *_ = np.linalg.lstsq(basis, col, rcond=None)
            resid = col - basis @ coef
            if np.linalg.norm(resid) <= COLLINEARITY_TOL * np.linalg.norm(col) * np.sqrt(n):
                used = [kept[i] for i in np.flatnonzero(np.abs(coef) > 1e-8)]
                duplicate = [k for k in kept if np.allclose(M[:, k], col)]
                return j, used, duplicate
        kept.append(j)
    return None


def re_names(model):
    """Names of the ``re_formula`` columns (statsmodels': the group name for an intercept)."""
    names = getattr(model.data, "exog_re_names", None)
    if names is None or len(names) != model.k_re:
        names = [f"re column {j}" for j in range(model.k_re)]
    return [str(x) for x in names]


def check_random_columns(model):
    """Raise a ValueError naming the column when the ``re_formula`` columns are all zero or
    linearly dependent (their covariance Ψ is then not identified); return their names."""
    names = re_names(model)
    if not model.k_re:
        return names, None
    Z = np.asarray(model.exog_re, dtype=float)
    zero = [names[j] for j in range(Z.shape[1]) if not np.any(Z[:, j])]
    if zero:
        raise ValueError(
            f"random-effects column(s) {zero} (re_formula) are zero in every row: a random "
            "slope on a covariate that is always 0 has no variance to estimate. Drop it from "
            "re_formula (or check the data column)."
        )
    found = _first_dependent_column(Z)
    if found is not None:
        j, used, duplicate = found
        what = (f"duplicates {names[duplicate[0]]!r}" if duplicate
                else f"is a linear combination of {[names[i] for i in used]}")
        raise ValueError(
            f"the random-effects design (re_formula) is rank deficient: column {names[j]!r} "
            f"{what}, so the covariance of the random effects is not identified (a random "
            "slope on a constant column repeats the random intercept). Drop the term from "
            "re_formula."
        )
    return names, Z


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


#: Number of random probe vectors in :func:`_check_covariance_identified`.
N_PROBES = 2


def _check_covariance_identified(model):
    r"""Raise when two variance parameters cannot be told apart by any data.

    V = Σ_r γ_r G_r + σ²I (G_r the pattern of Ψ's entry r or of component j's τ²_j, block
    diagonal over groups) identifies γ only when the G_r and I are linearly independent. A
    random slope on a covariate that is constant within every group, or a ``vc_formula``
    component that repeats the group's intercept, makes them dependent although every
    column of Z is fine. Independence is checked on the images G_r U of a fixed random
    U (n × 2): a linear dependence among the G_r is one among the G_r U, and with
    probability 1 no other.
    """
    n = int(model.nobs)
    codes = np.empty(n, dtype=np.intp)
    rows_of = []
    for i, label in enumerate(model.group_labels):
        rows = np.asarray(model.row_indices[label], dtype=np.intp)
        codes[rows] = i
        rows_of.append(rows)
    U = np.random.default_rng(20240521).standard_normal((n, N_PROBES))
    G = len(rows_of)
    images, labels = [U], ["the residual variance"]
    names = re_names(model)
    from lmmhelpers.parameters import random_effects_basis

    # in the conditioned basis (Z_re A, Z_j/s_j: the same span of patterns), so that a
    # slope on calendar years is not mistaken for a dependence by rounding
    basis = random_effects_basis(model)
    if model.k_re:
        Z = np.asarray(model.exog_re, dtype=float) @ basis.A
        # w[b] = Σ_{rows of the group} Z_b u, per group, at every row
        w = [np.stack([np.bincount(codes, weights=Z[:, b] * U[:, k], minlength=G)
                       for k in range(N_PROBES)], axis=1)[codes] for b in range(model.k_re)]
        for a in range(model.k_re):
            for b in range(a + 1):
                img = Z[:, [a]] * w[b]
                if a != b:
                    img = img + Z[:, [b]] * w[a]
                images.append(img)
                labels.append(f"{names[a]} Var" if a == b else f"{names[b]} x {names[a]} Cov")
    for j, name in enumerate(model.exog_vc.names):
        img = np.zeros((n, N_PROBES))
        for i, rows in enumerate(rows_of):
            m = model.exog_vc.mats[j][i] * (1.0 / basis.vc_scale[j])
            img[rows] = m @ (m.T @ U[rows])
        images.append(img)
        labels.append(f"{name} Var")
    if len(images) < 2:
        return
    M = np.column_stack([im.reshape(-1) for im in images])
    found = _first_dependent_column(M)
    if found is None:
        return
    j, used, _ = found
    raise ValueError(
        f"the variance parameter {labels[j]!r} cannot be estimated: its pattern in the "
        f"covariance of y is a combination of those of {[labels[i] for i in used]}, so no "
        "data can tell them apart (a random slope on a covariate that is constant within "
        "every group, or a vc_formula component that repeats another random effect?). "
        "Simplify re_formula or vc_formula."
    )


#: Relative size of the response's residual from least squares on X at or below which the
#: response counts as fitted exactly (rounding): nothing is left to estimate variances from.
EXACT_FIT_TOL = 1e-12


def check_response(y, X):
    """Raise a ValueError when y is (up to rounding) a linear combination of X's columns.

    Parameters
    ----------
    y : array_like, shape (n,)
    X : array_like, shape (n, p)
    """
    y = np.asarray(y, dtype=float)
    X = np.asarray(X, dtype=float)
    norms = np.linalg.norm(X, axis=0)
    Q, _ = np.linalg.qr(X / np.where(norms > 0, norms, 1.0))
    resid = y - Q @ (Q.T @ y)
    resid -= Q @ (Q.T @ resid)  # one refinement step
    if np.linalg.norm(resid) <= EXACT_FIT_TOL * np.linalg.norm(y):
        raise exact_fit_error(y)


def exact_fit_error(y):
    """The ValueError for a response that the fixed effects fit exactly."""
    y = np.asarray(y, dtype=float)
    what = ("constant" if np.ptp(y) <= EXACT_FIT_TOL * np.max(np.abs(y), initial=0.0)
            else "an exact linear function of the fixed-effect columns")
    return ValueError(
        f"the response is {what}: its residual from the fixed effects is zero up to "
        "rounding, so there is no variance to estimate (degrees of freedom and p-values "
        "would be rounding noise). Check the response column (e.g. the wrong column, or "
        "one computed from the predictors)."
    )


def _check_no_dates(model):
    """A datetime column in a formula becomes a factor with one level per date: refuse."""
    frame = getattr(model.data, "frame", None)
    if frame is None:
        return
    names = list(model.exog_names) + re_names(model)
    import pandas as pd

    for col in frame.columns:
        if not pd.api.types.is_datetime64_any_dtype(frame[col]):
            continue
        if any(x.startswith(f"{col}[") for x in names):
            raise ValueError(
                f"the data column {col!r} holds dates ({frame[col].dtype}); the formula "
                "treats it as a factor with one level per date. For a trend, use a number, "
                f"e.g. data['days'] = (data[{col!r}] - data[{col!r}].min()).dt.days; for a "
                f"factor, write C({col}) in the formula."
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
    if model.k_fe == 0:
        raise ValueError(
            "the model has no fixed effects (a formula like 'y ~ 0'): the REML criterion and "
            "the degrees-of-freedom methods need at least one column in X. Use 'y ~ 1' for an "
            "intercept."
        )
    exog = model.exog if isinstance(model.exog, np.ndarray) else None
    if exog is not None:
        ref, signature = _CHECKED.get(id(exog), (None, None))
        if ref is not None and ref() is exog and signature == _signature(model):
            check_response(model.endog, model.exog)  # the design is checked; y is new
            return
    _finite("fixed-effects design", model.exog, list(model.exog_names))
    if model.k_re:
        _finite("random-effects design (re_formula)", model.exog_re)
    for j, name in enumerate(model.exog_vc.names):
        for m in model.exog_vc.mats[j]:
            _finite(f"variance-component design {name!r}", _dense(m))
    _check_no_dates(model)
    _check_fixed_effects(model)
    check_random_columns(model)
    _check_random_effects(model)
    _check_covariance_identified(model)
    if exog is not None:
        key = id(exog)
        _CHECKED[key] = (weakref.ref(exog, lambda _, key=key: _CHECKED.pop(key, None)),
                         _signature(model))
    check_response(model.endog, model.exog)


def _signature(model):
    """What else must be the same for a design checked with the same X to be the same."""
    exog_re = getattr(model, "exog_re", None)
    return (id(exog_re), tuple(model.exog_vc.names), id(model.exog_vc.mats),
            int(model.n_groups), int(model.nobs))
