"""The analyses a study runs on each replicate, one class per test.

Each is a frozen dataclass (so that it can be described for the cache and sent to worker
processes) deriving from :class:`~lmmhelpers.study.base.Analysis`: it names its rows
(``labels``), the fits it reads (``fits``) and computes one row's values (``compute``); the
shared ``run`` template records failures and warnings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from lmmhelpers._validation import check_ddf, check_str
from lmmhelpers.study.base import Analysis
from lmmhelpers.tables import coefficient_test

__all__ = ["FixedEffectsTest", "GEETest", "GroupMeansTTest", "LikelihoodRatioTest", "MixedLMTest"]


def _freeze_vc(vc_formula):
    """``vc_formula`` as sorted (name, formula) pairs: hashable, comparable, describable."""
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


@dataclass(frozen=True)
class MixedLMTest(Analysis):
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
        Reference distributions, as ``ddf`` of :func:`lmmhelpers.coef_table` (the names of
        :data:`lmmhelpers._validation.DDF_METHODS`, aliases accepted). "normal" is the
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
    >>> from lmmhelpers.study import run_study
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
        check_str("formula", self.formula)
        check_str("groups", self.groups)
        check_str("term", self.term)
        methods = (self.methods,) if isinstance(self.methods, str) else tuple(self.methods)
        if not methods:
            raise ValueError("methods must name at least one method")
        methods = tuple(check_ddf(m, name="methods") for m in methods)
        object.__setattr__(self, "methods", methods)
        object.__setattr__(self, "vc_formula", _freeze_vc(self.vc_formula))

    def labels(self):
        return [(method, self.term) for method in self.methods]

    def fits(self, replicate):
        return [replicate.mixed_fit(self.formula, self.groups, self.re_formula, self.vc_formula,
                                    self.reml)]

    def compute(self, replicate, fits, label):
        return _from_coef_table(fits[0].result, self.term, label[0])


def _from_coef_table(result, term, method):
    """The row of :func:`lmmhelpers.coef_table` for ``term`` (without building the table)."""
    res = coefficient_test(result, term, ddf=method)
    return {"estimate": res["estimate"], "std_err": res["se"], "statistic": res["t"],
            "df": res["df"], "p_value": res["p"]}


@dataclass(frozen=True)
class LikelihoodRatioTest(Analysis):
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
    >>> from lmmhelpers.study import run_study
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
            check_str(name, getattr(self, name))
        object.__setattr__(self, "vc_formula", _freeze_vc(self.vc_formula))

    def labels(self):
        return [("lrt", self.term)]

    def fits(self, replicate):
        """The full and the null ML fits, in this order."""
        return [replicate.mixed_fit(f, self.groups, self.re_formula, self.vc_formula, False)
                for f in (self.formula, self.null_formula)]

    def compute(self, replicate, fits, label):
        r1, r0 = fits[0].result, fits[1].result
        q = len(r1.fe_params) - len(r0.fe_params)
        if q < 1:  # a misspecified pair, not a failed fit: no verdict on the fits
            return {"status": "error", "converged": pd.NA, "boundary": pd.NA,
                    "message": "ValueError: null_formula has no fewer fixed effects than "
                               "formula"}
        stat = max(2.0 * (float(r1.llf) - float(r0.llf)), 0.0)
        est = float(r1.fe_params[self.term]) if self.term in r1.fe_params.index else np.nan
        return {"estimate": est, "statistic": stat, "df": float(q),
                "p_value": float(stats.chi2.sf(stat, q))}


@dataclass(frozen=True)
class GroupMeansTTest(Analysis):
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
    >>> from lmmhelpers.study import run_study
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
            check_str(name, getattr(self, name))
        if self.term is None:
            object.__setattr__(self, "term", self.between)

    def labels(self):
        return [("group-means-t", self.term)]

    def compute(self, replicate, fits, label):
        return {"converged": True, **self._test(replicate.data)}

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
class GEETest(Analysis):
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
    >>> from lmmhelpers.study import run_study
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
            check_str(name, getattr(self, name))
        if self.cov_type not in ("bias_reduced", "robust", "naive"):
            raise ValueError(
                f"cov_type must be 'bias_reduced', 'robust' or 'naive', got {self.cov_type!r}"
            )

    @property
    def method(self):
        return "gee-" + self.cov_type.replace("_", "-")

    def labels(self):
        return [(self.method, self.term)]

    def compute(self, replicate, fits, label):
        return self._fit(replicate.data)

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
class FixedEffectsTest(Analysis):
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
    >>> from lmmhelpers.study import run_study
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
            check_str(name, getattr(self, name))

    def labels(self):
        return [("fixed-effects", self.term)]

    def compute(self, replicate, fits, label):
        return self._fit(replicate.data)

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
