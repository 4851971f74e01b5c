r"""The between-within denominator degrees of freedom (SAS PROC MIXED ``ddfm=betwithin``).

A rule from the design alone, no variance parameters: the residual degrees of freedom
n − rank(X) are split into a *between-subject* stratum and a *within-subject* stratum, and each
fixed effect gets the df of the stratum it lives in:

.. math::

    \nu_\text{between} = G - \operatorname{rank}(X_B), \qquad
    \nu_\text{within} = n - \operatorname{rank}(X) - \nu_\text{between},

where G is the number of subjects (groups) and X_B are the columns of X that are constant
within every subject (the intercept and the between-subject effects), evaluated once per
subject. A column that changes within any subject is *within*; a formula term is within when
any of its own columns is. On a balanced split-plot design these are the error df of the
classical repeated-measures ANOVA: G − a for the between-subject factor (a levels) and
(G − a)(b − 1) for a within-subject factor with b levels and its interaction with the
between factor.

SAS goes one step further when several within-subject effects contain classification
variables (it partitions the within df into subject × effect pieces); that refinement is not
implemented here. For crossed designs there is no single subject: pass ``groups`` to name the
factor an effect is nested in (for an item-level effect in a subjects × items design, the
items), which gives the by-items ("F2") df.

Reference: SAS/STAT User's Guide, PROC MIXED, MODEL statement, option ``DDFM=BETWITHIN``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["between_within_df", "between_within_strata", "between_within_term_df"]


def _labels(model, groups):
    if groups is None:
        labels = np.asarray(model.groups)
    elif isinstance(groups, str):
        frame = getattr(model.data, "frame", None)
        if frame is None or groups not in frame.columns:
            raise ValueError(f"groups={groups!r} is not a column of the model's data.")
        labels = np.asarray(frame[groups])
    else:
        labels = np.asarray(groups)
    if labels.shape[0] != model.exog.shape[0]:
        raise ValueError(
            f"groups must have one label per row ({model.exog.shape[0]}), got {labels.shape[0]}."
        )
    _, codes = np.unique(labels.astype(str), return_inverse=True)
    return codes


def _within_columns(X, codes, tol=1e-10):
    """Boolean per column: does it change within some group?"""
    n_groups = codes.max() + 1
    scale = np.maximum(np.abs(X).max(axis=0), 1.0)
    lo = np.full((n_groups, X.shape[1]), np.inf)
    hi = np.full((n_groups, X.shape[1]), -np.inf)
    np.minimum.at(lo, codes, X)
    np.maximum.at(hi, codes, X)
    return ((hi - lo) > tol * scale).any(axis=0)


def between_within_strata(model, groups=None):
    """The between- and within-subject residual df of a model's fixed-effects design.

    Parameters
    ----------
    model : statsmodels.regression.mixed_linear_model.MixedLM
        The model (only its fixed-effects design and grouping are used).
    groups : None, str or array_like, optional
        The subjects: by default the model's ``groups``; a column name of the model's data
        or one label per row otherwise (needed for the one-group crossed construction).

    Returns
    -------
    dict
        ``between`` and ``within`` (the two df), ``n_groups``, ``n_obs``, ``rank_X``,
        ``rank_between`` and ``within_columns`` (a boolean Series over the coefficients).

    Raises
    ------
    ValueError
        When a stratum has no degrees of freedom left (for example a single group).

    Examples
    --------
    >>> import statsmodels.formula.api as smf
    >>> from lmmhelpers.simulate import repeated_measures_design
    >>> df = repeated_measures_design(n_per_between=4, seed=0)  # 8 participants x 2
    >>> model = smf.mixedlm("dependent_var ~ C(Condition_1) * C(Condition_2)", df,
    ...                     groups="participant_ID")
    >>> s = between_within_strata(model)
    >>> s["between"], s["within"]
    (6, 6)
    """
    X = np.asarray(model.exog, dtype=float)
    codes = _labels(model, groups)
    n_groups = int(codes.max() + 1)
    within = _within_columns(X, codes)
    rank_X = int(np.linalg.matrix_rank(X))
    if (~within).any():
        first = np.zeros(n_groups, dtype=int)
        first[codes[::-1]] = np.arange(len(codes))[::-1]  # first row of every group
        rank_B = int(np.linalg.matrix_rank(X[first][:, ~within]))
    else:
        rank_B = 0
    between = n_groups - rank_B
    within_df = X.shape[0] - rank_X - between
    if between < 1 or within_df < 1:
        raise ValueError(
            f"no degrees of freedom left in a stratum (between {between}, within {within_df}): "
            f"{n_groups} groups, {X.shape[0]} rows, rank(X) = {rank_X}."
        )
    return {
        "between": int(between),
        "within": int(within_df),
        "n_groups": n_groups,
        "n_obs": int(X.shape[0]),
        "rank_X": rank_X,
        "rank_between": rank_B,
        "within_columns": pd.Series(within, index=list(model.exog_names)),
    }


def between_within_df(model, groups=None):
    """Between-within df for every fixed-effect coefficient.

    Parameters
    ----------
    model : statsmodels.regression.mixed_linear_model.MixedLM
    groups : None, str or array_like, optional
        See :func:`between_within_strata`.

    Returns
    -------
    pandas.Series
        Indexed like ``model.exog_names``: the within df for a column that changes within a
        subject, the between df otherwise.

    Examples
    --------
    >>> import statsmodels.formula.api as smf
    >>> from lmmhelpers.simulate import two_input_design
    >>> df = two_input_design(n_groups=3, n_per_group=5, seed=0)  # 6 groups of 5
    >>> between_within_df(smf.mixedlm("output ~ input", df, groups="group")).tolist()
    [4, 4]
    """
    s = between_within_strata(model, groups)
    return pd.Series(np.where(s["within_columns"], s["within"], s["between"]),
                     index=list(model.exog_names), name="df")


def between_within_term_df(model, groups=None):
    """Between-within df for every term of the fixed-effects formula (intercept excluded).

    A term is within-subject when any of its own design columns changes within a subject.

    Parameters
    ----------
    model : statsmodels.regression.mixed_linear_model.MixedLM
        Built from a formula.
    groups : None, str or array_like, optional
        See :func:`between_within_strata`.

    Returns
    -------
    pandas.Series
        Indexed by the term names of :func:`lmmhelpers.anova_table`.

    Examples
    --------
    >>> import statsmodels.formula.api as smf
    >>> from lmmhelpers.simulate import repeated_measures_design
    >>> df = repeated_measures_design(n_per_between=4, seed=0)
    >>> model = smf.mixedlm("dependent_var ~ C(Condition_1) * C(Condition_2)", df,
    ...                     groups="participant_ID")
    >>> between_within_term_df(model).to_dict()
    {'C(Condition_1)': 6, 'C(Condition_2)': 6, 'C(Condition_1):C(Condition_2)': 6}
    """
    from lmmhelpers.hypotheses import _design_info, type3_contrasts

    s = between_within_strata(model, groups)
    info = _design_info(model)
    slices = {term.name(): sl for term, sl in info.term_slices.items()}
    within = s["within_columns"].to_numpy()
    out = {}
    for name in type3_contrasts(model):
        out[name] = s["within"] if within[slices[name]].any() else s["between"]
    return pd.Series(out, name="df")
