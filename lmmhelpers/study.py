"""Monte Carlo studies of p-values: reproducible, parallel, honest about failed fits.

A study draws ``n_sim`` data sets from a design generator (:mod:`lmmhelpers.simulate`) and
runs a set of analyses on each. The result is a long DataFrame, one row per replicate,
analysis method and tested term, with the p-value, the estimate and what happened to the fit.

Reproducibility
    Replicate ``i`` draws its data from ``numpy.random.SeedSequence(seed).spawn(n_sim)[i]``, so
    the table is identical for any ``n_jobs``, any execution order and any subset of
    replicates (``replicates=``).
Sharing
    Within a replicate each distinct model is fitted once: all the methods of one
    :class:`MixedLMTest` (z, Satterthwaite, Kenward-Roger) read the same fit, and two
    :class:`MixedLMTest` with the same model (say, for two terms) share it too.
Honesty
    Exceptions, non-convergence and boundary (singular) fits are recorded per row
    (``status``, ``converged``, ``boundary``, ``message``) and never dropped; warnings raised
    while fitting (statsmodels' ConvergenceWarning among them) are captured into the
    ``warnings`` column instead of being printed.
Parallelism
    Replicates run through joblib, in worker processes by default. For a cluster, use joblib's
    dask backend::

        from dask.distributed import Client
        import joblib
        client = Client("scheduler-address:8786")   # or Client() for a local cluster
        with joblib.parallel_config(backend="dask"):
            results = run_study(design, analyses, n_sim=10_000, seed=1, n_jobs=-1)

    The results do not depend on the backend or on the number of workers.
Caching
    ``cache_dir=`` saves a study to CSV (with a JSON description beside it) under a key made
    of its full description and ``lmmhelpers.__version__``, and loads it back on the next call.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import math
import numbers
import os
import sys
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from lmmhelpers.fitting import fit_mixedlm
from lmmhelpers.simulate import two_input_design
from lmmhelpers.tables import coef_table

__all__ = [
    "COLUMNS",
    "FixedEffectsTest",
    "GEETest",
    "GroupMeansTTest",
    "LikelihoodRatioTest",
    "MixedLMTest",
    "load_study",
    "null_pvalue_study",
    "pvalue_study",
    "run_study",
    "save_study",
    "study_description",
    "study_key",
    "two_input_analyses",
]

#: Columns of a study's table, in order.
COLUMNS = (
    "replicate",
    "method",
    "term",
    "estimate",
    "std_err",
    "statistic",
    "df",
    "p_value",
    "converged",
    "boundary",
    "status",
    "message",
    "warnings",
)

#: The ``ddf`` methods of :func:`lmmhelpers.coef_table` a :class:`MixedLMTest` can run.
MIXED_METHODS = ("normal", "satterthwaite", "kenward-roger")


# --------------------------------------------------------------------------------------------
# helpers: capturing warnings and errors, rows
# --------------------------------------------------------------------------------------------


def _capture(fn, *args, **kwargs):
    """Call ``fn``; return (value, exception or None, list of warning texts)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            value, error = fn(*args, **kwargs), None
        except Exception as exc:  # noqa: BLE001 - every failure is recorded, none is fatal
            value, error = None, exc
    texts = [f"{w.category.__name__}: {w.message}" for w in caught]
    return value, error, texts


def _join(texts):
    return "; ".join(dict.fromkeys(texts))  # unique, in order


def _error_text(exc):
    return f"{type(exc).__name__}: {exc}"


def _row(method, term, **values):
    row = {
        "method": method,
        "term": term,
        "estimate": np.nan,
        "std_err": np.nan,
        "statistic": np.nan,
        "df": np.nan,
        "p_value": np.nan,
        "converged": pd.NA,
        "boundary": pd.NA,
        "status": "ok",
        "message": "",
        "warnings": "",
    }
    row.update(values)
    return row


def _check_str(name, value):
    if not isinstance(value, str) or not value:
        raise TypeError(f"{name} must be a non-empty str, got {value!r}")
    return value


def _freeze_vc(vc_formula):
    if vc_formula is None:
        return None
    if isinstance(vc_formula, Mapping):
        items = vc_formula.items()
    else:
        items = vc_formula
    try:
        return tuple(sorted((str(k), str(v)) for k, v in items))
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"vc_formula must be a mapping of names to formulas, got {vc_formula!r}"
        ) from exc


class _Replicate:
    """The fits of one replicate, each computed once and shared by the analyses using it."""

    def __init__(self, data):
        self.data = data
        self._fits = {}

    def mixed_fit(self, formula, groups, re_formula=None, vc_formula=None, reml=True):
        """(result, converged, boundary, error, warnings) of a MixedLM fit, memoised."""
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

        value, error, texts = _capture(fit)
        if error is not None:
            return None, pd.NA, pd.NA, error, texts
        result, converged, boundary = value
        return result, converged, boundary, None, texts


def _fit_model(model, reml):
    """(result, converged, boundary) from :func:`lmmhelpers.fit_mixedlm`."""
    result = fit_mixedlm(model, reml=reml)
    return result, bool(result.converged), bool(result.boundary)


# --------------------------------------------------------------------------------------------
# analyses
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MixedLMTest:
    """Test one fixed-effect coefficient of a MixedLM fit by one or more methods.

    Parameters
    ----------
    formula : str
        Fixed-effects formula, as for ``statsmodels.formula.api.mixedlm``.
    groups : str
        Column holding the grouping factor.
    term : str
        The coefficient to test, a name in ``result.fe_params`` (e.g. ``"input[T.input_1]"``).
    methods : sequence of {"normal", "satterthwaite", "kenward-roger"}
        Reference distributions, as ``ddf`` of :func:`lmmhelpers.coef_table`. "normal" is the
        z-test statsmodels' summary prints.
    re_formula, vc_formula : optional
        Random-effects structure, as for ``mixedlm``.
    reml : bool, default True
        REML or ML fit.

    Notes
    -----
    All methods read one fit per replicate (:func:`lmmhelpers.fit_mixedlm`) and its cached
    covariance structure, through :func:`lmmhelpers.coef_table`.

    Examples
    --------
    >>> from functools import partial
    >>> from lmmhelpers.simulate import two_input_design
    >>> test = MixedLMTest("output ~ input", "group", "input[T.input_1]",
    ...                    methods=("normal", "satterthwaite"))
    >>> design = partial(two_input_design, n_groups=4, n_per_group=5)
    >>> res = run_study(design, [test], n_sim=2, seed=0, progress=False)
    >>> res[["replicate", "method", "df"]].round(1).values.tolist()
    [[0, 'normal', inf], [0, 'satterthwaite', 6.0], [1, 'normal', inf], [1, 'satterthwaite', 6.0]]
    """

    formula: str
    groups: str
    term: str
    methods: tuple = ("normal",)
    re_formula: str | None = None
    vc_formula: tuple | None = None
    reml: bool = True

    def __post_init__(self):
        _check_str("formula", self.formula)
        _check_str("groups", self.groups)
        _check_str("term", self.term)
        methods = (self.methods,) if isinstance(self.methods, str) else tuple(self.methods)
        if not methods:
            raise ValueError("methods must name at least one method")
        for m in methods:
            if m not in MIXED_METHODS:
                raise ValueError(f"methods must be among {MIXED_METHODS}, got {m!r}")
        object.__setattr__(self, "methods", methods)
        object.__setattr__(self, "vc_formula", _freeze_vc(self.vc_formula))

    def run(self, rep):
        result, converged, boundary, error, texts = rep.mixed_fit(
            self.formula, self.groups, self.re_formula, self.vc_formula, self.reml
        )
        fit_warnings = _join(texts)
        if error is not None:
            return [
                _row(m, self.term, status="error", message=_error_text(error),
                     warnings=fit_warnings)
                for m in self.methods
            ]
        rows = []
        for method in self.methods:
            value, err, more = _capture(_from_coef_table, result, self.term, method)
            common = {"converged": converged, "boundary": boundary,
                      "warnings": _join(texts + more)}
            if err is not None:
                rows.append(_row(method, self.term, status="error", message=_error_text(err),
                                 **common))
            else:
                rows.append(_row(method, self.term, **value, **common))
        return rows


def _from_coef_table(result, term, method):
    table = coef_table(result, ddf=method)
    if term not in table.index:
        raise KeyError(f"term {term!r} is not a coefficient of the model: {list(table.index)}")
    row = table.loc[term]
    return {"estimate": float(row["Coef."]), "std_err": float(row["Std.Err."]),
            "statistic": float(row["t"]), "df": float(row["df"]),
            "p_value": float(row["P>|t|"])}


@dataclass(frozen=True)
class LikelihoodRatioTest:
    """Likelihood-ratio test of nested fixed effects: ML fits, chi-square reference.

    Parameters
    ----------
    formula, null_formula : str
        Fixed effects of the full and the null model (same random effects).
    groups : str
        Column holding the grouping factor.
    term : str
        Coefficient reported as ``estimate`` (from the full ML fit) and used as the row's term.
    re_formula, vc_formula : optional
        Random-effects structure of both models.

    Notes
    -----
    The degrees of freedom are the difference in the number of fixed effects. Both fits must
    converge for ``converged`` to be True; ``boundary`` is the full model's.

    Examples
    --------
    >>> from functools import partial
    >>> from lmmhelpers.simulate import two_input_design
    >>> test = LikelihoodRatioTest("output ~ input", "output ~ 1", "group", "input[T.input_1]")
    >>> design = partial(two_input_design, n_groups=4, n_per_group=5)
    >>> res = run_study(design, [test], n_sim=2, seed=0, progress=False)
    >>> res[["method", "df", "status"]].values.tolist()
    [['lrt', 1.0, 'ok'], ['lrt', 1.0, 'ok']]
    """

    formula: str
    null_formula: str
    groups: str
    term: str
    re_formula: str | None = None
    vc_formula: tuple | None = None

    def __post_init__(self):
        for name in ("formula", "null_formula", "groups", "term"):
            _check_str(name, getattr(self, name))
        object.__setattr__(self, "vc_formula", _freeze_vc(self.vc_formula))

    def run(self, rep):
        full = rep.mixed_fit(self.formula, self.groups, self.re_formula, self.vc_formula, False)
        null = rep.mixed_fit(self.null_formula, self.groups, self.re_formula, self.vc_formula,
                             False)
        texts = _join(full[4] + null[4])
        for fit in (full, null):
            if fit[3] is not None:
                return [_row("lrt", self.term, status="error", message=_error_text(fit[3]),
                             warnings=texts)]
        r1, r0 = full[0], null[0]
        q = len(r1.fe_params) - len(r0.fe_params)
        if q < 1:
            return [_row("lrt", self.term, status="error",
                         message="ValueError: null_formula has no fewer fixed effects than "
                                 "formula", warnings=texts)]
        stat = max(2.0 * (float(r1.llf) - float(r0.llf)), 0.0)
        est = float(r1.fe_params[self.term]) if self.term in r1.fe_params.index else np.nan
        return [_row("lrt", self.term, estimate=est, statistic=stat, df=float(q),
                     p_value=float(stats.chi2.sf(stat, q)),
                     converged=bool(full[1] and null[1]), boundary=full[2], warnings=texts)]


@dataclass(frozen=True)
class GroupMeansTTest:
    """Two-sample t test on group means: the exact test of a between-group effect when balanced.

    Parameters
    ----------
    response : str
        Response column.
    groups : str
        Grouping column; the data are averaged within each group.
    between : str
        Two-level column, constant within each group.
    term : str, optional
        Name written in the ``term`` column (default: ``between``), to line the rows up with
        the other analyses of the same effect.

    Notes
    -----
    Student's pooled-variance t test, estimate = mean of the second level's group means minus
    the first's (levels in sorted order), df = number of groups − 2.

    Examples
    --------
    >>> from functools import partial
    >>> from lmmhelpers.simulate import two_input_design
    >>> test = GroupMeansTTest("output", "group", "input", term="input[T.input_1]")
    >>> design = partial(two_input_design, n_groups=4, n_per_group=5)
    >>> res = run_study(design, [test], n_sim=2, seed=0, progress=False)
    >>> res["df"].tolist()  # 8 groups, 2 means
    [6.0, 6.0]
    """

    response: str
    groups: str
    between: str
    term: str | None = None

    def __post_init__(self):
        for name in ("response", "groups", "between"):
            _check_str(name, getattr(self, name))
        if self.term is None:
            object.__setattr__(self, "term", self.between)

    def run(self, rep):
        value, err, texts = _capture(self._test, rep.data)
        if err is not None:
            return [_row("group-means-t", self.term, status="error", message=_error_text(err),
                         warnings=_join(texts))]
        return [_row("group-means-t", self.term, converged=True, warnings=_join(texts),
                     **value)]

    def _test(self, data):
        levels_per_group = data.groupby(self.groups)[self.between].nunique()
        if (levels_per_group > 1).any():
            raise ValueError(f"between column {self.between!r} varies within groups")
        means = data.groupby(self.groups).agg(
            y=(self.response, "mean"), level=(self.between, "first")
        )
        levels = sorted(means["level"].unique())
        if len(levels) != 2:
            raise ValueError(f"between column {self.between!r} must have 2 levels, got {levels}")
        a = means.loc[means["level"] == levels[0], "y"].to_numpy()
        b = means.loc[means["level"] == levels[1], "y"].to_numpy()
        res = stats.ttest_ind(b, a, equal_var=True)
        df = a.size + b.size - 2
        diff = float(b.mean() - a.mean())
        se = diff / float(res.statistic) if res.statistic != 0 else np.nan
        return {"estimate": diff, "std_err": se, "statistic": float(res.statistic),
                "df": float(df), "p_value": float(res.pvalue)}


@dataclass(frozen=True)
class GEETest:
    """GEE with an exchangeable working correlation and a sandwich covariance.

    Parameters
    ----------
    formula : str
        Mean model, as for ``statsmodels.formula.api.gee``.
    groups : str
        Cluster column.
    term : str
        Coefficient to test.
    cov_type : {"bias_reduced", "robust", "naive"}, default "bias_reduced"
        statsmodels' covariance: "bias_reduced" is Mancl & DeRouen's (2001) small-sample
        correction of the robust sandwich.

    Notes
    -----
    The p-value is statsmodels' (normal reference). Method name in the table:
    ``"gee-" + cov_type`` with underscores as hyphens (``"gee-bias-reduced"``).

    Examples
    --------
    >>> from functools import partial
    >>> from lmmhelpers.simulate import two_input_design
    >>> test = GEETest("output ~ input", "group", "input[T.input_1]")
    >>> design = partial(two_input_design, n_groups=4, n_per_group=5)
    >>> res = run_study(design, [test], n_sim=2, seed=0, progress=False)
    >>> res[["method", "status"]].values.tolist()
    [['gee-bias-reduced', 'ok'], ['gee-bias-reduced', 'ok']]
    """

    formula: str
    groups: str
    term: str
    cov_type: str = "bias_reduced"

    def __post_init__(self):
        for name in ("formula", "groups", "term"):
            _check_str(name, getattr(self, name))
        if self.cov_type not in ("bias_reduced", "robust", "naive"):
            raise ValueError(
                f"cov_type must be 'bias_reduced', 'robust' or 'naive', got {self.cov_type!r}"
            )

    @property
    def method(self):
        return "gee-" + self.cov_type.replace("_", "-")

    def run(self, rep):
        value, err, texts = _capture(self._fit, rep.data)
        if err is not None:
            return [_row(self.method, self.term, status="error", message=_error_text(err),
                         warnings=_join(texts))]
        return [_row(self.method, self.term, warnings=_join(texts), **value)]

    def _fit(self, data):
        import statsmodels.api as sm
        import statsmodels.formula.api as smf

        res = smf.gee(self.formula, self.groups, data,
                      cov_struct=sm.cov_struct.Exchangeable()).fit(cov_type=self.cov_type)
        est, se = float(res.params[self.term]), float(res.bse[self.term])
        return {"estimate": est, "std_err": se, "statistic": est / se, "df": np.inf,
                "p_value": float(res.pvalues[self.term]),
                "converged": bool(getattr(res, "converged", True))}


@dataclass(frozen=True)
class FixedEffectsTest:
    """OLS with a dummy for every group; tests ``term`` where it is estimable.

    Parameters
    ----------
    formula : str
        Fixed-effects formula; ``+ C(groups)`` is added to it.
    groups : str
        Grouping column.
    term : str
        Coefficient to test.

    Notes
    -----
    A between-group effect is aliased with the group dummies: the row then has status
    ``"not applicable"`` and no p-value, rather than a number from an arbitrary
    generalised inverse.

    Examples
    --------
    >>> from functools import partial
    >>> from lmmhelpers.simulate import two_input_within_design
    >>> tests = [FixedEffectsTest("output ~ input + condition", "group", "condition[T.b]"),
    ...          FixedEffectsTest("output ~ input + condition", "group", "input[T.input_1]")]
    >>> design = partial(two_input_within_design, n_groups=3, n_per_cell=4)
    >>> res = run_study(design, tests, n_sim=1, seed=0, progress=False)
    >>> res[["term", "status"]].values.tolist()  # the between-group effect is aliased
    [['condition[T.b]', 'ok'], ['input[T.input_1]', 'not applicable']]
    """

    formula: str
    groups: str
    term: str

    def __post_init__(self):
        for name in ("formula", "groups", "term"):
            _check_str(name, getattr(self, name))

    def run(self, rep):
        value, err, texts = _capture(self._fit, rep.data)
        if err is not None:
            return [_row("fixed-effects", self.term, status="error", message=_error_text(err),
                         warnings=_join(texts))]
        return [_row("fixed-effects", self.term, warnings=_join(texts), **value)]

    def _fit(self, data):
        import statsmodels.formula.api as smf

        model = smf.ols(f"{self.formula} + C({self.groups})", data)
        names = list(model.exog_names)
        if self.term not in names:
            raise KeyError(f"term {self.term!r} is not a coefficient of the model: {names}")
        j = names.index(self.term)
        X = np.asarray(model.exog, dtype=float)
        xj, others = X[:, j], np.delete(X, j, axis=1)
        coef, *_ = np.linalg.lstsq(others, xj, rcond=None)
        if np.linalg.norm(xj - others @ coef) <= 1e-8 * max(np.linalg.norm(xj), 1.0):
            return {"status": "not applicable",
                    "message": f"{self.term} is aliased with the group dummies "
                               "(a between-group effect has no fixed-effects estimate)"}
        res = model.fit()
        return {"estimate": float(res.params[self.term]), "std_err": float(res.bse[self.term]),
                "statistic": float(res.tvalues[self.term]), "df": float(res.df_resid),
                "p_value": float(res.pvalues[self.term]), "converged": True}


# --------------------------------------------------------------------------------------------
# the runner
# --------------------------------------------------------------------------------------------


def _run_replicates(design, analyses, jobs):
    """Worker: run a batch of (replicate index, SeedSequence) pairs; rows out."""
    rows = []
    for i, seq in jobs:
        data = design(seed=np.random.default_rng(seq))
        rep = _Replicate(data)
        for analysis in analyses:
            for row in analysis.run(rep):
                row["replicate"] = i
                rows.append(row)
    return rows


def _progress_bar(total, enabled):
    """A tqdm bar on stderr (a widget in a notebook that has ipywidgets), or None.

    Nothing goes to stdout and no warning is emitted: ``tqdm.auto`` is used only when
    ipywidgets is importable (otherwise it would warn and fall back itself).
    """
    if not enabled:
        return None
    try:
        import ipywidgets  # noqa: F401
        from tqdm.auto import tqdm
    except ImportError:
        from tqdm.std import tqdm
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return tqdm(total=total, file=sys.stderr, unit="rep", desc="replicates")


def _as_frame(rows):
    """The study table with its column types, from rows (dicts) or a DataFrame."""
    source = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(rows, columns=list(COLUMNS))
    extra = [c for c in source.columns if c not in COLUMNS]
    frame = source[list(COLUMNS) + extra].copy()
    frame["replicate"] = frame["replicate"].astype("int64")
    for col in ("estimate", "std_err", "statistic", "df", "p_value"):
        frame[col] = frame[col].astype(float)
    for col in ("converged", "boundary"):
        values = frame[col].map(_BOOL, na_action="ignore")
        frame[col] = values.astype("boolean")
    for col in ("method", "term", "status", "message", "warnings"):
        frame[col] = frame[col].fillna("").astype(str).astype(object)
    return frame.reset_index(drop=True)


_BOOL = {True: True, False: False, "True": True, "False": False}


def _check_n_jobs(n_jobs):
    if n_jobs is None:
        return None
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, numbers.Integral) or n_jobs == 0:
        raise ValueError(f"n_jobs must be a nonzero int or None, got {n_jobs!r}")
    return int(n_jobs)


def run_study(design, analyses, n_sim, seed, *, n_jobs=1, progress=True, replicates=None,
              cache_dir=None, batch_size=None):
    """Run ``analyses`` on ``n_sim`` data sets drawn from ``design``.

    Parameters
    ----------
    design : callable
        Called as ``design(seed=rng)`` with a numpy Generator; returns a DataFrame. Use
        ``functools.partial`` of a generator of :mod:`lmmhelpers.simulate` so that it can be
        sent to worker processes and described for the cache.
    analyses : sequence of analyses
        :class:`MixedLMTest`, :class:`LikelihoodRatioTest`, :class:`GroupMeansTTest`,
        :class:`GEETest`, :class:`FixedEffectsTest`, or any picklable object with a
        ``run(replicate)`` method returning rows.
    n_sim : int
        Number of replicates; replicate ``i`` is seeded by
        ``numpy.random.SeedSequence(seed).spawn(n_sim)[i]``.
    seed : int
        Root seed of the study.
    n_jobs : int or None, default 1
        Worker processes for joblib (``-1``: all cores). ``None`` leaves the choice to an
        enclosing ``joblib.parallel_config`` (e.g. the dask backend).
    progress : bool, default True
        Show a progress bar on stderr (never stdout); pass False in a book.
    replicates : sequence of int, optional
        Run only these replicates (indices in ``range(n_sim)``); their rows are identical to
        those of the full study.
    cache_dir : str or Path, optional
        Load the study from this directory if it was saved there under the same description
        and lmmhelpers version; otherwise run it and save it there.
    batch_size : int, optional
        Replicates per joblib task (default: about 4 tasks per worker, at most 50 replicates
        per task, so that the progress bar moves).

    Returns
    -------
    pandas.DataFrame
        One row per replicate, method and term, with columns :data:`COLUMNS`, sorted by
        replicate in the order of ``analyses``. ``status`` is "ok", "error" or
        "not applicable"; failed rows keep their place with NaN p-values. ``attrs["study"]``
        holds the study's description.

    Examples
    --------
    >>> from functools import partial
    >>> from lmmhelpers.simulate import two_input_design
    >>> design = partial(two_input_design, n_groups=4, n_per_group=5)
    >>> tests = [MixedLMTest("output ~ input", "group", "input[T.input_1]"),
    ...          GroupMeansTTest("output", "group", "input", term="input[T.input_1]")]
    >>> res = run_study(design, tests, n_sim=3, seed=1, progress=False)
    >>> res[["replicate", "method", "status"]].head(4)
       replicate         method status
    0          0         normal     ok
    1          0  group-means-t     ok
    2          1         normal     ok
    3          1  group-means-t     ok
    """
    if not callable(design):
        raise TypeError(f"design must be callable as design(seed=rng), got {design!r}")
    if isinstance(analyses, str) or not isinstance(analyses, Sequence) or not analyses:
        raise TypeError("analyses must be a non-empty sequence of analyses")
    for a in analyses:
        if not callable(getattr(a, "run", None)):
            raise TypeError(f"every analysis needs a run(replicate) method, got {a!r}")
    if isinstance(n_sim, bool) or not isinstance(n_sim, numbers.Integral) or n_sim < 1:
        raise ValueError(f"n_sim must be a positive int, got {n_sim!r}")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    n_jobs = _check_n_jobs(n_jobs)
    if replicates is None:
        replicates = list(range(n_sim))
    else:
        replicates = sorted({int(i) for i in replicates})
        if replicates and (replicates[0] < 0 or replicates[-1] >= n_sim):
            raise ValueError(f"replicates must lie in range(n_sim) = range({n_sim})")
    if batch_size is not None and (not isinstance(batch_size, numbers.Integral)
                                   or batch_size < 1):
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")

    description = None
    if cache_dir is not None:
        description = study_description(design, analyses, n_sim, seed, replicates)
        cached = load_study(description, cache_dir)
        if cached is not None:
            return cached

    from joblib import Parallel, delayed

    children = np.random.SeedSequence(int(seed)).spawn(int(n_sim))
    jobs = [(i, children[i]) for i in replicates]
    if n_jobs is None or n_jobs < 0:
        workers = os.cpu_count() or 1
    else:
        workers = n_jobs
    if batch_size is None:
        batch_size = max(1, min(50, math.ceil(len(jobs) / (4 * workers))))
    batches = [jobs[k : k + batch_size] for k in range(0, len(jobs), batch_size)]
    analyses = tuple(analyses)

    bar = _progress_bar(len(jobs), progress)
    rows = []
    try:
        kwargs = {} if n_jobs is None else {"n_jobs": n_jobs}
        parallel = Parallel(return_as="generator_unordered", **kwargs)
        for part in parallel(delayed(_run_replicates)(design, analyses, b) for b in batches):
            rows.extend(part)
            if bar is not None:
                bar.update(len({r["replicate"] for r in part}))
    finally:
        if bar is not None:
            bar.close()

    frame = _as_frame(rows)
    # stable sort by replicate keeps each replicate's rows in the order of the analyses
    frame = frame.sort_values("replicate", kind="stable").reset_index(drop=True)
    if description is None:
        description = _try_description(design, analyses, n_sim, seed, replicates)
    frame.attrs["study"] = description
    if cache_dir is not None:
        save_study(frame, description, cache_dir)
    return frame


# --------------------------------------------------------------------------------------------
# the seed's null design
# --------------------------------------------------------------------------------------------

_TERM = "input[T.input_1]"
_METHODS = MIXED_METHODS + ("lrt", "group-means-t", "gee-bias-reduced", "fixed-effects")


def two_input_analyses(methods):
    """The analyses of the input effect in :func:`two_input_design` data, by method name.

    Parameters
    ----------
    methods : sequence of str
        See :func:`null_pvalue_study`.

    Returns
    -------
    list
        Analyses for :func:`run_study` (the mixed-model methods share one analysis, so one fit).
    """
    if isinstance(methods, str):
        methods = (methods,)
    methods = tuple(methods)
    unknown = [m for m in methods if m not in _METHODS]
    if unknown or not methods:
        raise ValueError(f"methods must be a non-empty selection of {_METHODS}, got {methods}")
    analyses = []
    mixed = tuple(m for m in methods if m in MIXED_METHODS)
    for m in methods:
        if m in MIXED_METHODS:
            if m == mixed[0]:
                analyses.append(MixedLMTest("output ~ input", "group", _TERM, methods=mixed))
        elif m == "lrt":
            analyses.append(LikelihoodRatioTest("output ~ input", "output ~ 1", "group", _TERM))
        elif m == "group-means-t":
            analyses.append(GroupMeansTTest("output", "group", "input", term=_TERM))
        elif m == "gee-bias-reduced":
            analyses.append(GEETest("output ~ input", "group", _TERM))
        else:
            analyses.append(FixedEffectsTest("output ~ input", "group", _TERM))
    return analyses


def pvalue_study(n_groups, n_per_group, group_var, resid_var, n_sim, seed, n_jobs=1,
                 methods=MIXED_METHODS, progress=True, *, effect=0.0, labels="correct",
                 missing=0.0, cache_dir=None):
    """p-values of the input effect in the seed's two-input design, at any effect size.

    The design is :func:`lmmhelpers.simulate.two_input_design`; the model
    ``output ~ input`` with a random intercept per ``group``. See :func:`null_pvalue_study`
    for the parameters; ``effect`` is the true input effect (0 for null data, nonzero for
    power).

    Returns
    -------
    pandas.DataFrame
        As :func:`run_study`.

    Examples
    --------
    >>> res = pvalue_study(n_groups=4, n_per_group=5, group_var=1.0, resid_var=1.0, n_sim=4,
    ...                    seed=3, methods=("normal", "kenward-roger"), progress=False,
    ...                    effect=2.0)
    >>> res.groupby("method")["p_value"].count().to_dict()
    {'kenward-roger': 4, 'normal': 4}
    """
    design = functools.partial(
        two_input_design, n_groups=n_groups, n_per_group=n_per_group, group_var=group_var,
        resid_var=resid_var, effect=effect, labels=labels, missing=missing,
    )
    design(seed=0)  # validates the design's arguments here, with their names, not in a worker
    return run_study(design, two_input_analyses(methods), n_sim, seed, n_jobs=n_jobs,
                     progress=progress, cache_dir=cache_dir)


def null_pvalue_study(n_groups, n_per_group, group_var, resid_var, n_sim, seed, n_jobs=1,
                      methods=MIXED_METHODS, progress=True, *, labels="correct", missing=0.0,
                      cache_dir=None):
    """Null p-values of the input effect in the seed's design, by several methods.

    Parameters
    ----------
    n_groups : int
        Groups per input.
    n_per_group : int or sequence of int
        Samples per group (a sequence for unequal sizes, see
        :func:`lmmhelpers.simulate.two_input_design`).
    group_var, resid_var : float
        Variances of the group effects and of the residuals.
    n_sim : int
        Number of replicates.
    seed : int
        Root seed; results are identical for any ``n_jobs``.
    n_jobs : int, default 1
        Worker processes (``-1`` for all cores).
    methods : sequence of str
        Among "normal" (statsmodels' z-test), "satterthwaite", "kenward-roger" (one REML fit
        shared by the three), "lrt" (ML fits, chi-square with 1 df), "group-means-t" (t test on
        the group means), "gee-bias-reduced" (GEE, exchangeable, Mancl-DeRouen covariance) and
        "fixed-effects" (OLS with group dummies: not applicable to this between-group effect,
        recorded as such).
    progress : bool, default True
        Progress bar on stderr; pass False in a book.
    labels : {"correct", "seed"}, default "correct"
        "seed" reproduces the question's mislabelled groups.
    missing : float, default 0.0
        Probability that an observation is missing.
    cache_dir : str or Path, optional
        Load from / save to this directory (see :func:`run_study`).

    Returns
    -------
    pandas.DataFrame
        Columns ``replicate``, ``method``, ``term``, ``estimate``, ``std_err``,
        ``statistic``, ``df``, ``p_value``, ``converged``, ``boundary``, ``status``,
        ``message``, ``warnings``.

    Examples
    --------
    >>> res = null_pvalue_study(4, 5, 1.0, 1.0, n_sim=4, seed=3, methods=("normal", "lrt"),
    ...                         progress=False)
    >>> res.groupby("method")["replicate"].count().to_dict()
    {'lrt': 4, 'normal': 4}
    >>> bool(res["p_value"].between(0, 1).all())
    True
    """
    return pvalue_study(n_groups, n_per_group, group_var, resid_var, n_sim, seed, n_jobs=n_jobs,
                        methods=methods, progress=progress, effect=0.0, labels=labels,
                        missing=missing, cache_dir=cache_dir)


# --------------------------------------------------------------------------------------------
# caching
# --------------------------------------------------------------------------------------------


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"cannot describe {value!r} for the cache")


def _describe_design(design):
    if isinstance(design, functools.partial):
        func = design.func
        return {"function": f"{func.__module__}.{func.__qualname__}",
                "args": _jsonable(list(design.args)),
                "kwargs": _jsonable(dict(sorted(design.keywords.items())))}
    raise TypeError("design must be a functools.partial of a named function to be cached, "
                    f"got {design!r}")


def _describe_analysis(analysis):
    if dataclasses.is_dataclass(analysis):
        return {"type": type(analysis).__name__, **_jsonable(dataclasses.asdict(analysis))}
    raise TypeError(f"analysis {analysis!r} is not a dataclass and cannot be described")


def study_description(design, analyses, n_sim, seed, replicates=None):
    """A JSON-able description of a study: everything its results depend on.

    Parameters
    ----------
    design : functools.partial
        The design generator with its arguments.
    analyses : sequence of dataclass analyses
    n_sim, seed : int
    replicates : sequence of int, optional
        Subset of replicates (None or all of ``range(n_sim)`` for the full study).

    Returns
    -------
    dict
        Includes ``lmmhelpers_version``.
    """
    import lmmhelpers

    reps = None if replicates is None else sorted(int(i) for i in replicates)
    if reps == list(range(int(n_sim))):
        reps = None
    return {
        "design": _describe_design(design),
        "analyses": [_describe_analysis(a) for a in analyses],
        "n_sim": int(n_sim),
        "seed": int(seed),
        "replicates": reps,
        "lmmhelpers_version": lmmhelpers.__version__,
    }


def _try_description(design, analyses, n_sim, seed, replicates):
    try:
        return study_description(design, analyses, n_sim, seed, replicates)
    except TypeError:
        return {"n_sim": int(n_sim), "seed": int(seed)}


def study_key(description):
    """Short hash of a study's description (which includes the lmmhelpers version).

    Examples
    --------
    >>> study_key({"n_sim": 10, "seed": 1, "lmmhelpers_version": "0.1.0"})
    '0b26b7476a2f2d4d'
    """
    text = json.dumps(description, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _paths(description, directory):
    directory = Path(directory)
    key = study_key(description)
    return directory / f"study-{key}.csv.gz", directory / f"study-{key}.json"


def save_study(results, description, directory):
    """Save a study's table (gzipped CSV) and description (JSON) under its key.

    Parameters
    ----------
    results : pandas.DataFrame
        The study's table.
    description : dict
        From :func:`study_description`; its :func:`study_key` names the files.
    directory : str or Path
        Created if needed.

    Returns
    -------
    pathlib.Path
        The path of the CSV file, ``study-<key>.csv.gz``.

    Examples
    --------
    >>> import tempfile
    >>> from functools import partial
    >>> from lmmhelpers.simulate import two_input_design
    >>> design = partial(two_input_design, n_groups=4, n_per_group=5)
    >>> tests = [GroupMeansTTest("output", "group", "input")]
    >>> table = run_study(design, tests, n_sim=2, seed=1, progress=False)
    >>> description = study_description(design, tests, n_sim=2, seed=1)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = save_study(table, description, tmp)
    ...     again = load_study(description, tmp)
    >>> path.name == f"study-{study_key(description)}.csv.gz"
    True
    >>> bool((again["p_value"] == table["p_value"]).all())  # exactly, not rounded
    True
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    csv_path, json_path = _paths(description, directory)
    # gzip without a timestamp: the same results give the same bytes
    results.to_csv(csv_path, index=False, compression={"method": "gzip", "mtime": 0})
    json_path.write_text(json.dumps(description, indent=1, sort_keys=True) + "\n")
    return csv_path


def load_study(description, directory):
    """Load a study saved by :func:`save_study` under the same description, or None.

    Parameters
    ----------
    description : dict
        The description the study was saved under (its key names the files).
    directory : str or Path

    Returns
    -------
    pandas.DataFrame or None
        The table, with ``attrs["study"]`` holding the saved description; None when nothing
        was saved under this description (a different study, or another lmmhelpers version).

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     print(load_study({"n_sim": 5, "seed": 2, "lmmhelpers_version": "0.1.0"}, tmp))
    None
    """
    csv_path, json_path = _paths(description, directory)
    if not csv_path.exists():
        return None
    frame = read_study_csv(csv_path)
    frame.attrs["study"] = json.loads(json_path.read_text()) if json_path.exists() else {}
    return frame


def read_study_csv(path):
    """Read a study table written by :func:`save_study`, restoring the column types."""
    numeric = ("estimate", "std_err", "statistic", "df", "p_value", "converged", "boundary")
    options = {} if int(pd.__version__.split(".")[0]) >= 3 else {"float_precision": "round_trip"}
    frame = pd.read_csv(path, keep_default_na=False,
                        na_values={c: ["", "nan", "NaN"] for c in numeric}, **options)
    return _as_frame(frame)
