"""The book's own scenarios: the seed's two-input design and its analyses, the crossed
subjects × items model with statsmodels' one-group construction, the nested random-slopes
design of the timings, and the small computations the chapters and scripts share.

Each is defined once here; the chapters and ``scripts/`` import them.
"""

from __future__ import annotations

import functools
import warnings

import numpy as np
import pandas as pd
import statsmodels.formula.api as smf
from scipy import stats

from lmmhelpers._validation import DDF_METHODS
from lmmhelpers.between_within import between_within_df
from lmmhelpers.fitting import fit_mixedlm
from lmmhelpers.simulate import crossed_design, two_input_design
from lmmhelpers.study import (
    FixedEffectsTest,
    GEETest,
    GroupMeansTTest,
    LikelihoodRatioTest,
    MixedLMTest,
    run_study,
)

__all__ = [
    "CROSSED_SLOPE_VC",
    "CROSSED_VC",
    "INPUT_TERM",
    "TWO_INPUT_METHODS",
    "between_within_rows",
    "crossed_lrt",
    "crossed_model",
    "crossed_one_group",
    "design_between_within_df",
    "nested_slopes",
    "null_pvalue_study",
    "pvalue_study",
    "square_crossed",
    "two_input_analyses",
]

#: The tested coefficient of the seed's design, the effect of ``input_1`` against ``input_0``.
INPUT_TERM = "input[T.input_1]"
#: The analyses :func:`two_input_analyses` knows, by name.
TWO_INPUT_METHODS = DDF_METHODS + ("lrt", "group-means-t", "gee-bias-reduced",
                                   "fixed-effects")
#: Crossed random intercepts of subjects and items as variance components of one group.
CROSSED_VC = {"subj": "0 + C(subj_id)", "item": "0 + C(item_id)"}
#: The crossed model with a by-subject slope of the category ``X_i`` as a third variance
#: component, uncorrelated with the intercepts (lme4's ``(1 + X_i || subj_id)``).
CROSSED_SLOPE_VC = {**CROSSED_VC, "slope": "0 + C(subj_id):X_i"}


# --------------------------------------------------------------------------------------------
# the seed's two-input design
# --------------------------------------------------------------------------------------------


def two_input_analyses(methods):
    """The analyses of the input effect in :func:`lmmhelpers.two_input_design` data.

    Parameters
    ----------
    methods : str or sequence of str
        Among "normal" (statsmodels' z-test), "satterthwaite", "kenward-roger" (one REML fit
        shared by the three), "lrt" (ML fits, chi-square with 1 df), "group-means-t" (t test on
        the group means), "gee-bias-reduced" (GEE, exchangeable, Mancl-DeRouen covariance) and
        "fixed-effects" (OLS with group dummies: not applicable to this between-group effect,
        recorded as such).

    Returns
    -------
    list
        Analyses for :func:`lmmhelpers.run_study` (the mixed-model methods share one
        analysis, so one fit).

    Examples
    --------
    >>> [type(a).__name__ for a in two_input_analyses(("normal", "kenward-roger", "lrt"))]
    ['MixedLMTest', 'LikelihoodRatioTest']
    """
    if isinstance(methods, str):
        methods = (methods,)
    methods = tuple(methods)
    unknown = [m for m in methods if m not in TWO_INPUT_METHODS]
    if unknown or not methods:
        raise ValueError(
            f"methods must be a non-empty selection of {TWO_INPUT_METHODS}, got {methods}"
        )
    mixed = tuple(m for m in methods if m in DDF_METHODS)
    analyses = []
    for m in methods:
        if m in DDF_METHODS:
            if m == mixed[0]:
                analyses.append(MixedLMTest("output ~ input", "group", INPUT_TERM, methods=mixed))
        elif m == "lrt":
            analyses.append(
                LikelihoodRatioTest("output ~ input", "output ~ 1", "group", INPUT_TERM)
            )
        elif m == "group-means-t":
            analyses.append(GroupMeansTTest("output", "group", "input", term=INPUT_TERM))
        elif m == "gee-bias-reduced":
            analyses.append(GEETest("output ~ input", "group", INPUT_TERM))
        else:
            analyses.append(FixedEffectsTest("output ~ input", "group", INPUT_TERM))
    return analyses


def pvalue_study(n_groups, n_per_group, group_var, resid_var, n_sim, seed, *, n_jobs=1,
                 methods=DDF_METHODS, progress=True, effect=0.0, labels="correct",
                 missing=0.0, cache_dir=None):
    """p-values of the input effect in the seed's two-input design, at any effect size.

    The design is :func:`lmmhelpers.two_input_design`; the model ``output ~ input`` with a
    random intercept per ``group``.

    Parameters
    ----------
    n_groups : int
        Groups per input.
    n_per_group : int or sequence of int
        Samples per group (a sequence for unequal sizes).
    group_var, resid_var : float
        Variances of the group effects and of the residuals.
    n_sim : int
        Number of replicates.
    seed : int
        Root seed; results are identical for any ``n_jobs``.
    n_jobs : int, default 1
        Worker processes (``-1`` for all cores).
    methods : sequence of str
        See :func:`two_input_analyses`.
    progress : bool, default True
        Progress bar on stderr; pass False in a book.
    effect : float, default 0.0
        The true input effect (0 for null data, nonzero for power).
    labels : {"correct", "seed"}, default "correct"
        "seed" reproduces the question's mislabelled groups.
    missing : float, default 0.0
        Probability that an observation is missing.
    cache_dir : str or Path, optional
        Load from / save to this directory (see :func:`lmmhelpers.run_study`).

    Returns
    -------
    pandas.DataFrame
        As :func:`lmmhelpers.run_study`.

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


def null_pvalue_study(n_groups, n_per_group, group_var, resid_var, n_sim, seed, *, n_jobs=1,
                      methods=DDF_METHODS, progress=True, labels="correct", missing=0.0,
                      cache_dir=None):
    """Null p-values of the input effect in the seed's design: :func:`pvalue_study` at 0.

    Parameters are those of :func:`pvalue_study` without ``effect``.

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
    return pvalue_study(n_groups, n_per_group, group_var, resid_var, n_sim, seed,
                        n_jobs=n_jobs, methods=methods, progress=progress, effect=0.0,
                        labels=labels, missing=missing, cache_dir=cache_dir)


# --------------------------------------------------------------------------------------------
# crossed subjects x items: statsmodels' one-group construction
# --------------------------------------------------------------------------------------------


def crossed_one_group(**kwargs):
    """:func:`lmmhelpers.crossed_design` with a constant column ``one``: statsmodels' one group.

    Crossed random effects enter statsmodels' MixedLM as variance components
    (``vc_formula``, ``CROSSED_VC``) of a single group that holds every row.

    Parameters
    ----------
    **kwargs
        Passed to :func:`lmmhelpers.crossed_design` (``seed`` included).

    Returns
    -------
    pandas.DataFrame

    Examples
    --------
    >>> d = crossed_one_group(n_subj=4, n_ingroup=2, n_outgroup=2, seed=1)
    >>> int(d["one"].nunique()), len(d)
    (1, 16)
    """
    return crossed_design(**kwargs).assign(one=1)


def crossed_model(data, vc=None, formula="RT ~ X_i"):
    """The crossed model of :func:`crossed_one_group` data: subjects and items, one group.

    Parameters
    ----------
    data : pandas.DataFrame
        Crossed data (a column ``one`` is added when missing).
    vc : dict, optional
        Variance components; default ``CROSSED_VC`` (subjects and items).
    formula : str, default "RT ~ X_i"
        The fixed effects.

    Returns
    -------
    statsmodels MixedLM

    Examples
    --------
    >>> m = crossed_model(crossed_one_group(n_subj=4, n_ingroup=2, n_outgroup=2, seed=1))
    >>> m.exog_vc.names
    ['item', 'subj']
    """
    if "one" not in data:
        data = data.assign(one=1)
    return smf.mixedlm(formula, data, groups="one", re_formula="0",
                       vc_formula=CROSSED_VC if vc is None else vc)


def crossed_lrt(data, drop="item"):
    """REML likelihood-ratio statistic for "variance component ``drop`` = 0" in crossed data.

    Both models are fitted with :func:`lmmhelpers.fit_mixedlm` (same fixed effects, so the
    REML likelihoods are comparable); the statistic is clipped at 0.

    Parameters
    ----------
    data : pandas.DataFrame
        Crossed data as :func:`crossed_one_group` makes.
    drop : {"item", "subj"}, default "item"
        The variance component tested.

    Returns
    -------
    statistic : float
        ``max(2 (llf_full - llf_reduced), 0)``.
    boundary : bool
        Whether the full fit is singular.

    Examples
    --------
    >>> d = crossed_one_group(n_subj=8, n_ingroup=3, n_outgroup=3, omega_0=0.0, seed=2)
    >>> statistic, boundary = crossed_lrt(d)
    >>> statistic >= 0
    True
    """
    if drop not in CROSSED_VC:
        raise ValueError(f"drop must be one of {sorted(CROSSED_VC)}, got {drop!r}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        full = fit_mixedlm(crossed_model(data))
        reduced = fit_mixedlm(
            crossed_model(data, vc={k: v for k, v in CROSSED_VC.items() if k != drop}))
    return max(2 * (float(full.llf) - float(reduced.llf)), 0.0), bool(full.boundary)


def square_crossed(size, seed=0):
    """A square crossed design (``size`` subjects × ``size`` items) and its one-group model.

    The design of the crossed timings: :func:`crossed_one_group` without by-subject slopes.

    Parameters
    ----------
    size : int
        Subjects, and items (half of them in each category).
    seed : int, default 0

    Returns
    -------
    data : pandas.DataFrame
    model : statsmodels MixedLM
        :func:`crossed_model` of the data.
    lme4_formula : str
        The same model in lme4's notation.

    Examples
    --------
    >>> data, model, formula = square_crossed(6)
    >>> len(data), formula
    (36, 'RT ~ X_i + (1 | subj_id) + (1 | item_id)')
    """
    data = crossed_one_group(n_subj=size, n_ingroup=size // 2, n_outgroup=size - size // 2,
                             tau_1=0.0, rho=0.0, seed=seed)
    return data, crossed_model(data), "RT ~ X_i + (1 | subj_id) + (1 | item_id)"


# --------------------------------------------------------------------------------------------
# nested random slopes (the timings)
# --------------------------------------------------------------------------------------------


def nested_slopes(n_rows, per_group=20, seed=0):
    """Random intercept and slope per group: the nested design of the timings.

    Parameters
    ----------
    n_rows : int
        Rows in all (``n_rows // per_group`` groups).
    per_group : int, default 20
    seed : int, default 0

    Returns
    -------
    data : pandas.DataFrame
        Columns ``y``, ``x``, ``g``.
    model : statsmodels MixedLM
        ``y ~ x`` with a random intercept and slope of ``x`` per ``g``.
    lme4_formula : str
        The same model in lme4's notation, ``"y ~ x + (x | g)"``.

    Examples
    --------
    >>> data, model, formula = nested_slopes(100)
    >>> len(data), model.k_re, formula
    (100, 2, 'y ~ x + (x | g)')
    """
    rng = np.random.default_rng(seed)
    n_groups = n_rows // per_group
    g = np.repeat(np.arange(n_groups), per_group)
    x = np.tile(np.linspace(0, 1, per_group), n_groups)
    b = rng.multivariate_normal([0, 0], [[1.0, 0.2], [0.2, 0.5]], size=n_groups)
    y = 1 + b[g, 0] + (0.5 + b[g, 1]) * x + rng.normal(size=len(g))
    data = pd.DataFrame({"y": y, "x": x, "g": [f"g{i:05d}" for i in g]})
    model = smf.mixedlm("y ~ x", data, groups="g", re_formula="1 + x")
    return data, model, "y ~ x + (x | g)"


# --------------------------------------------------------------------------------------------
# the between-within rule applied to a study
# --------------------------------------------------------------------------------------------


def design_between_within_df(design, analysis, groups):
    """The between-within df of an analysis' tested coefficient, from one draw of a design.

    Parameters
    ----------
    design : callable
        ``design(seed=...)`` returns a DataFrame (as for :func:`lmmhelpers.run_study`).
    analysis : MixedLMTest
        Its formula, groups, ``re_formula``, ``vc_formula`` and ``term``.
    groups : str
        The column that defines the between-within strata (``"item_id"`` for an item-level
        effect in crossed data).

    Returns
    -------
    int

    Examples
    --------
    >>> from functools import partial
    >>> from lmmhelpers import MixedLMTest, two_input_design
    >>> test = MixedLMTest("output ~ input", "group", INPUT_TERM)
    >>> design_between_within_df(partial(two_input_design, n_groups=3, n_per_group=5),
    ...                          test, "group")
    4
    """
    kwargs = {"groups": analysis.groups}
    if analysis.re_formula is not None:
        kwargs["re_formula"] = analysis.re_formula
    if analysis.vc_formula is not None:
        kwargs["vc_formula"] = dict(analysis.vc_formula)
    model = smf.mixedlm(analysis.formula, design(seed=0), **kwargs)
    return int(between_within_df(model, groups=groups)[analysis.term])


def between_within_rows(results, df):
    """Rows of method "between-within" from a study's "normal" rows: the z statistic on t(df).

    The between-within test needs no fit of its own: its statistic is the Wald statistic,
    referred to Student's t with the design's between-within df.

    Parameters
    ----------
    results : pandas.DataFrame
        A study table with rows of method "normal".
    df : float
        The between-within df of the tested coefficient.

    Returns
    -------
    pandas.DataFrame
        The new rows only (``pd.concat`` them to the study).

    Examples
    --------
    >>> res = null_pvalue_study(3, 5, 1.0, 1.0, n_sim=3, seed=1, methods=("normal",),
    ...                         progress=False)
    >>> bw = between_within_rows(res, 4)
    >>> sorted(set(bw["method"])), bool((bw["p_value"] >= res["p_value"]).all())
    (['between-within'], True)
    """
    bw = results[results["method"] == "normal"].copy()
    bw["method"] = "between-within"
    bw["df"] = float(df)
    ok = bw["status"] == "ok"
    bw.loc[ok, "p_value"] = 2 * stats.t.sf(np.abs(bw.loc[ok, "statistic"]), df)
    return bw
