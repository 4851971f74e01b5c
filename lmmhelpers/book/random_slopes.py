"""The random-slopes chapter: intercept-only and random-slope models on the same data sets.

Barr, Levy, Scheepers & Tily (2013) showed that a mixed model without the by-subject random
slopes of a within-subject factor tests that factor against too small a standard error;
Matuschek, Kliegl, Vasishth, Baayen & Bates (2017) that the maximal model pays for its
protection with power when the slopes are truly absent. This module holds the chapter's
stored studies, each replicate analysed by both models:

- :class:`ModelTests`: one model's tests of one coefficient, its rows labelled
  ``"<model>:<method>"`` so that two models of the same data set share one table;
- :class:`SlopeVarianceLRT`: the REML likelihood-ratio test of the slope variance (the two
  models' fits, shared with :class:`ModelTests`), referred to the ``½χ²₀ + ½χ²₁`` mixture;
- :class:`AggregateTests`: the by-subject and by-item analyses of variance (F1, F2, min-F′)
  that preceded crossed mixed models;
- :func:`slope_studies`: the stored studies (``data/sweeps/random_slopes/``,
  ``scripts/make_random_slopes.py``);
- :func:`intercept_only_z_rate`: the rough type I error of the intercept-only z test;
- :func:`split_model`, :func:`selected_tests`: read a study's table by model, and the test of
  the model chosen by the slope LRT.

In the crossed design the by-subject slope enters statsmodels' one-group construction as a
variance component ``0 + C(subj_id):X_i``, uncorrelated with the subject intercepts (lme4's
``(1 | subj) + (0 + X | subj)``, the ``||`` model); in the nested design it is
``re_formula="~condition"``, correlated with the group intercept (lme4's
``(1 + condition | group)``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from lmmhelpers._validation import DDF_METHODS, check_probability
from lmmhelpers.book.planning import crossed_se
from lmmhelpers.book.scenarios import CROSSED_SLOPE_VC, CROSSED_VC, crossed_one_group
from lmmhelpers.book.studies import StoredStudy
from lmmhelpers.simulate import two_input_within_design
from lmmhelpers.study import Analysis, MixedLMTest

__all__ = [
    "AggregateTests",
    "MODELS",
    "ModelTests",
    "SlopeVarianceLRT",
    "TAU_1_GRID",
    "crossed_slope_analyses",
    "intercept_only_z_rate",
    "nested_slope_analyses",
    "selected_tests",
    "slope_studies",
    "split_model",
]

#: Crossed intercepts of subjects and items plus the by-subject slope of ``X_i``.
#: The models' names in a study's ``method`` column.
MODELS = ("intercepts", "slopes")
#: The by-subject slope SDs (ms) of the null studies.
TAU_1_GRID = (0.0, 100.0, 200.0)
_TWO = ("normal", "satterthwaite")
_DIR = "sweeps/random_slopes"
_SCRIPT = "scripts/make_random_slopes.py"


@dataclass(frozen=True)
class ModelTests(MixedLMTest):
    """A :class:`lmmhelpers.MixedLMTest` whose rows carry the model's name.

    The ``method`` column reads ``"<model>:<method>"`` (``"slopes:satterthwaite"``), so that
    several models of the same replicate stand in one table; :func:`split_model` splits it.

    Parameters
    ----------
    model : str
        The model's name.
    formula, groups, term, methods, re_formula, vc_formula, reml
        As for :class:`lmmhelpers.MixedLMTest`.

    Examples
    --------
    >>> a = ModelTests("RT ~ X_i", "one", "X_i", methods=("normal",), re_formula="0",
    ...                vc_formula=CROSSED_VC, model="intercepts")
    >>> a.labels()
    [('intercepts:normal', 'X_i')]
    """

    model: str = "model"

    def labels(self):
        return [(f"{self.model}:{method}", self.term) for method in self.methods]

    def compute(self, replicate, fits, label):
        method = label[0].split(":", 1)[1]
        return MixedLMTest.compute(self, replicate, fits, (method, label[1]))


@dataclass(frozen=True)
class SlopeVarianceLRT(Analysis):
    """REML likelihood-ratio test of one random-slope variance, from two models' fits.

    Both models have the same fixed effects, so their REML log-likelihoods compare; the
    statistic ``2 (ℓ_slopes − ℓ_intercepts)`` (clipped at 0) is referred to the mixture
    ``½χ²₀ + ½χ²₁`` of a variance on its boundary (Self & Liang 1987; Stram & Lee 1994). With a
    correlated slope (``re_formula="~condition"``) the null adds a covariance too and the
    mixture is ``½χ²₁ + ½χ²₂``.

    Parameters
    ----------
    slopes, intercepts : ModelTests
        The two models (their fits are shared with their own rows).
    extra : int, default 0
        Covariance parameters the slope adds besides its variance (1 for a correlated slope).

    Examples
    --------
    >>> s, i = crossed_slope_analyses(methods=("normal",))
    >>> SlopeVarianceLRT(s, i).labels()
    [('slope-lrt', 'slope variance')]
    """

    slopes: ModelTests
    intercepts: ModelTests
    extra: int = 0

    def labels(self):
        return [("slope-lrt", "slope variance")]

    def fits(self, replicate):
        return self.slopes.fits(replicate) + self.intercepts.fits(replicate)

    def compute(self, replicate, fits, label):
        statistic = max(2.0 * (float(fits[0].result.llf) - float(fits[1].result.llf)), 0.0)
        k = self.extra
        p = 0.5 * stats.chi2.sf(statistic, k + 1) + (
            0.5 * stats.chi2.sf(statistic, k) if k else 0.5 * (statistic <= 0.0))
        return {"statistic": statistic, "df": float(k + 1), "p_value": float(min(p, 1.0))}


@dataclass(frozen=True)
class AggregateTests(Analysis):
    """By-subject (F1), by-item (F2) and min-F′ tests of a between-item, within-subject factor.

    The analyses that preceded crossed mixed models (Clark 1973): average over items and test
    the category effect across subjects (F1: a paired t test of the subjects'
    high-minus-low differences, ``S − 1`` df), average over subjects and test it across items
    (F2: a two-sample t test of the item means, ``I − 2`` df), and combine the two into
    ``min-F′ = F1 F2 / (F1 + F2)`` with ``df = (F1 + F2)² / (F1² / df2 + F2² / df1)``
    (Clark 1973, eq. 6). ``"F1xF2"`` rejects when both F1 and F2 do (its p-value is the
    larger of the two).

    Parameters
    ----------
    response, subject, item, factor : str
        Columns of the data (default those of :func:`lmmhelpers.crossed_design`); ``factor``
        has two values, constant within each item.

    Examples
    --------
    >>> from lmmhelpers.study import run_study
    >>> design = functools.partial(crossed_one_group, n_subj=6, n_ingroup=3, n_outgroup=3)
    >>> t = run_study(design, [AggregateTests()], n_sim=1, seed=0, progress=False)
    >>> t["method"].tolist(), t["df"].round(1).tolist()[:2]
    (['F1', 'F2', "min-F'", 'F1xF2'], [5.0, 4.0])
    """

    response: str = "RT"
    subject: str = "subj_id"
    item: str = "item_id"
    factor: str = "X_i"

    def labels(self):
        return [(m, self.factor) for m in ("F1", "F2", "min-F'", "F1xF2")]

    def compute(self, replicate, fits, label):
        d = replicate.data
        y = d[self.response].to_numpy(dtype=float)
        x = d[self.factor].to_numpy(dtype=float)
        high = (x > x.min()).astype(float)
        subj = pd.factorize(d[self.subject])[0]
        item = pd.factorize(d[self.item])[0]

        def means(codes, weights):
            return (np.bincount(codes, weights=y * weights)
                    / np.bincount(codes, weights=weights))

        diff = means(subj, high) - means(subj, 1.0 - high)  # each subject's effect
        t1 = diff.mean() / (diff.std(ddof=1) / np.sqrt(diff.size))
        item_mean = means(item, np.ones_like(y))
        item_high = np.bincount(item, weights=high) > 0
        t2 = stats.ttest_ind(item_mean[item_high], item_mean[~item_high]).statistic
        df1, df2 = diff.size - 1.0, item_mean.size - 2.0
        f1, f2 = t1 * t1, t2 * t2
        p1, p2 = stats.f.sf(f1, 1, df1), stats.f.sf(f2, 1, df2)
        min_f = f1 * f2 / (f1 + f2)
        df_min = (f1 + f2) ** 2 / (f1**2 / df2 + f2**2 / df1)
        rows = {"F1": (f1, df1, p1), "F2": (f2, df2, p2),
                "min-F'": (min_f, df_min, stats.f.sf(min_f, 1, df_min)),
                "F1xF2": (min(f1, f2), min(df1, df2), max(p1, p2))}
        statistic, df, p = rows[label[0]]
        return {"estimate": float(diff.mean()), "statistic": float(statistic),
                "df": float(df), "p_value": float(p)}


def crossed_slope_analyses(methods=DDF_METHODS):
    """The crossed design's two models of ``X_i``: intercepts only, and with subject slopes.

    Returns
    -------
    slopes, intercepts : ModelTests

    Examples
    --------
    >>> s, i = crossed_slope_analyses()
    >>> [name for name, _ in s.vc_formula], [name for name, _ in i.vc_formula]
    (['item', 'slope', 'subj'], ['item', 'subj'])
    """
    common = dict(methods=methods, re_formula="0")
    return (ModelTests("RT ~ X_i", "one", "X_i", vc_formula=CROSSED_SLOPE_VC, model="slopes",
                       **common),
            ModelTests("RT ~ X_i", "one", "X_i", vc_formula=CROSSED_VC, model="intercepts",
                       **common))


def nested_slope_analyses(methods=DDF_METHODS):
    """The nested design's two models of ``condition``: group intercepts, and with slopes.

    Returns
    -------
    slopes, intercepts : ModelTests

    Examples
    --------
    >>> s, i = nested_slope_analyses()
    >>> s.re_formula, i.re_formula
    ('~condition', None)
    """
    formula, term = "output ~ input + condition", "condition[T.b]"
    return (ModelTests(formula, "group", term, methods=methods, re_formula="~condition",
                       model="slopes"),
            ModelTests(formula, "group", term, methods=methods, model="intercepts"))


def _crossed(n_subj, n_items, tau_1, beta_1):
    return functools.partial(crossed_one_group, n_subj=n_subj, n_ingroup=n_items // 2,
                             n_outgroup=n_items // 2, beta_1=beta_1, tau_1=tau_1, rho=0.0)


def slope_studies():
    """The chapter's stored studies, by name; every replicate analysed by both models.

    ``null-<tau_1>``: 24 subjects × 24 items (12 per category, DeBruine & Barr's other
    parameters, ``rho = 0``), no category effect, by-subject slope SD ``tau_1`` of 0, 100
    or 200 ms (:data:`TAU_1_GRID`); z and Satterthwaite. ``small``: 8 subjects × 8 items,
    ``tau_1 = 100``, no effect; z, Satterthwaite and Kenward-Roger. ``power``: the 24 × 24
    design with ``tau_1 = 0`` and an effect ``beta_1 = 80``. ``nested-0.5``:
    :func:`lmmhelpers.two_input_within_design` with 5 groups per input, 5 rows per group and
    condition, slope variance 0.5, no effect; z, Satterthwaite and Kenward-Roger. 2,000
    replicates each; every replicate is analysed by both models and the slope LRT.
    ``aggregate-200``: :class:`AggregateTests` (F1, F2, min-F′) on the data sets of
    ``null-200``.

    Returns
    -------
    dict of StoredStudy
        ``info`` holds the condition's values (``design``, sizes, ``tau_1`` or
        ``slope_var``, ``beta_1``).

    Examples
    --------
    >>> studies = slope_studies()
    >>> list(studies)[:2], studies["small"].n_sim
    (['null-0', 'null-100'], 2000)
    >>> table = studies["small"].run(replicates=range(1))
    >>> sorted(set(table["method"]))[:2]
    ['intercepts:kenward-roger', 'intercepts:normal']
    """
    specs = [(f"null-{t:g}", 24, 24, t, 0.0, _TWO) for t in TAU_1_GRID]
    specs += [("small", 8, 8, 100.0, 0.0, DDF_METHODS), ("power", 24, 24, 0.0, 80.0, _TWO)]
    studies = {}
    for k, (name, n_subj, n_items, tau_1, beta_1, methods) in enumerate(specs):
        slopes, intercepts = crossed_slope_analyses(methods)
        crossed = (slopes, intercepts, SlopeVarianceLRT(slopes, intercepts))
        studies[name] = StoredStudy(
            name, _crossed(n_subj, n_items, tau_1, beta_1), crossed, 2000, 5100 + k, _DIR,
            {"design": "crossed", "n_subj": n_subj, "n_items": n_items, "tau_1": tau_1,
             "beta_1": beta_1, "script": _SCRIPT})
    n_slopes, n_intercepts = nested_slope_analyses()
    nested = (n_slopes, n_intercepts, SlopeVarianceLRT(n_slopes, n_intercepts, extra=1))
    for k, slope_var in enumerate((0.5,)):
        design = functools.partial(two_input_within_design, n_groups=5, n_per_cell=5,
                                   group_var=1.0, resid_var=1.0, slope_var=slope_var)
        studies[f"nested-{slope_var:g}"] = StoredStudy(
            f"nested-{slope_var:g}", design, nested, 2000, 5200 + k, _DIR,
            {"design": "nested", "n_groups": 5, "n_per_cell": 5, "slope_var": slope_var,
             "beta_1": 0.0, "script": _SCRIPT})
    # F1, F2 and min-F' on the very data sets of null-200 (same design and seed)
    ref = studies["null-200"]
    studies["aggregate-200"] = StoredStudy(
        "aggregate-200", ref.design, (AggregateTests(),), ref.n_sim, ref.seed, _DIR,
        {**ref.info, "design": "crossed-aggregated"})
    return studies


def intercept_only_z_rate(n_subj, n_items, tau_1, *, omega_0=80.0, sigma=200.0, alpha=0.05):
    """Rough type I error of the intercept-only model's z test of the category effect.

    In the complete, balanced design of :func:`lmmhelpers.crossed_design` the estimate's
    true variance is ``tau_1² / S + 4 omega_0² / I + 4 sigma² / (S I)``
    (:func:`lmmhelpers.book.crossed_se`). A model without by-subject slopes puts their
    variation into the residual, about ``sigma² + tau_1² / 4`` (``X_i² = 1/4``), and reports
    the variance with ``tau_1 = 0`` and that residual. Its z statistic is then about
    ``N(0, r²)`` with ``r`` the ratio of the true to the reported standard error, and rejects
    with probability ``2 Φ(−z_{1−α/2} / r)``. A large-sample guide (estimated variances
    taken as exact), not a replacement for the simulation.

    Parameters
    ----------
    n_subj, n_items : int or array_like
        Subjects and items.
    tau_1 : float or array_like
        SD of the by-subject slopes.
    omega_0, sigma : float
        SDs of the item intercepts and of the residuals.
    alpha : float, default 0.05

    Returns
    -------
    float or ndarray

    Examples
    --------
    >>> round(float(intercept_only_z_rate(24, 24, 0.0)), 3)  # no slopes: the level
    0.05
    >>> intercept_only_z_rate(24, [24, 96], 200.0).round(2).tolist()  # more items: worse
    [0.18, 0.41]
    """
    alpha = check_probability("alpha", alpha)
    tau_1 = np.asarray(tau_1, dtype=float)
    true = crossed_se(n_subj, n_items, omega_0=omega_0, tau_1=tau_1, sigma=sigma)
    reported = crossed_se(n_subj, n_items, omega_0=omega_0, tau_1=0.0,
                          sigma=np.sqrt(sigma**2 + tau_1**2 / 4))
    rate = 2 * stats.norm.sf(stats.norm.isf(alpha / 2) * reported / true)
    return float(rate) if np.ndim(rate) == 0 else rate


def split_model(table):
    """A study's table with its ``method`` column split into ``model`` and ``method``.

    Rows of :class:`SlopeVarianceLRT` get the model ``"slope-lrt"``.

    Examples
    --------
    >>> t = pd.DataFrame({"method": ["slopes:normal", "slope-lrt"], "p_value": [0.1, 0.5]})
    >>> split_model(t)[["model", "method"]].values.tolist()
    [['slopes', 'normal'], ['slope-lrt', 'lrt']]
    """
    out = table.copy()
    parts = out["method"].str.split(":", n=1, expand=True)
    if parts.shape[1] == 1:
        parts[1] = None
    out["model"] = parts[0]
    out["method"] = parts[1].fillna("lrt")
    return out


def selected_tests(table, *, alpha_lrt=0.2):
    """The test of the model the slope LRT selects, per replicate and method.

    The slope model is kept when the LRT of its slope variance (:class:`SlopeVarianceLRT`)
    rejects at ``alpha_lrt``, the intercept model otherwise (Matuschek et al. 2017 select
    with the LRT at 0.2).

    Parameters
    ----------
    table : pandas.DataFrame
        A :func:`slope_studies` table (as stored, or through :func:`split_model`).
    alpha_lrt : float, default 0.2

    Returns
    -------
    pandas.DataFrame
        The selected model's rows (``model`` names it), one per replicate and method.

    Examples
    --------
    >>> t = pd.DataFrame({"replicate": [0, 0, 0, 1, 1, 1], "method": [
    ...     "slopes:normal", "intercepts:normal", "slope-lrt"] * 2,
    ...     "p_value": [0.3, 0.01, 0.05, 0.3, 0.01, 0.5]})
    >>> selected_tests(t)[["replicate", "model", "p_value"]].values.tolist()
    [[0, 'slopes', 0.3], [1, 'intercepts', 0.01]]
    """
    alpha_lrt = check_probability("alpha_lrt", alpha_lrt)
    t = table if "model" in table else split_model(table)
    lrt = t[t["model"] == "slope-lrt"].set_index("replicate")["p_value"]
    keep = pd.Series(np.where(lrt < alpha_lrt, "slopes", "intercepts"), index=lrt.index)
    tests = t[t["model"].isin(MODELS)]
    chosen = tests["replicate"].map(keep)
    return tests[tests["model"] == chosen].reset_index(drop=True)
