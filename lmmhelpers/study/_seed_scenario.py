"""The book's seed scenario: the two-input design's analyses and its p-value studies.

This file exists for the book only (its term ``"input[T.input_1]"`` is hard-coded); it is being
re-created in :mod:`lmmhelpers.book` and will be deleted from the library when that lands. The
three functions are moved here unchanged from the former ``lmmhelpers/study.py``.
"""

from __future__ import annotations

import functools

from lmmhelpers._validation import DDF_METHODS as MIXED_METHODS
from lmmhelpers.simulate import two_input_design
from lmmhelpers.study.analyses import (
    FixedEffectsTest,
    GEETest,
    GroupMeansTTest,
    LikelihoodRatioTest,
    MixedLMTest,
)
from lmmhelpers.study.runner import run_study

__all__ = ["null_pvalue_study", "pvalue_study", "two_input_analyses"]

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
