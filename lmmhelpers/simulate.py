"""Design generators for Monte Carlo studies: every parameter named, seeded, a tidy DataFrame out.

Each generator draws one data set from a linear mixed model and returns it as a long
DataFrame, one row per observation. The column names follow the source of each design, so
that a chapter can paste the model formula of that source:

* :func:`two_input_design` — the design of the question behind the book's null-p-value
  chapter (two inputs, ``n_groups`` groups per input, ``n_per_group`` samples per group):
  columns ``input``, ``group``, ``true_group``, ``output``.
* :func:`two_input_within_design` — the same with a within-group factor ``condition``.
* :func:`crossed_design` — subjects crossed with items, parameterised as in DeBruine & Barr
  (2021): columns ``subj_id``, ``item_id``, ``category``, ``X_i``, ``RT``.
* :func:`repeated_measures_design` — a within-participant factor crossed with a
  between-participant factor, as in the repeated-measures question: columns
  ``participant_ID``, ``Condition_1`` (within), ``Condition_2`` (between), ``dependent_var``.

Every generator takes ``seed``: an int, a :class:`numpy.random.SeedSequence`, a
:class:`numpy.random.Generator` (used as is, so successive calls continue its stream) or
``None`` (fresh entropy). Unequal group sizes and missing observations are options: ``missing``
drops each observation independently with that probability (missing completely at random).

References
----------
DeBruine, L. M. & Barr, D. J. (2021). Understanding mixed-effects models through data
simulation. *Advances in Methods and Practices in Psychological Science* 4(1).
"""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd

from lmmhelpers._validation import check_int, check_real

__all__ = [
    "as_generator",
    "crossed_design",
    "repeated_measures_design",
    "two_input_design",
    "two_input_within_design",
]


# --------------------------------------------------------------------------------------------
# validation helpers
# --------------------------------------------------------------------------------------------


def as_generator(seed):
    """A :class:`numpy.random.Generator` from an int, a SeedSequence, a Generator or None.

    Parameters
    ----------
    seed : None, int, numpy.random.SeedSequence or numpy.random.Generator
        A Generator is returned unchanged (its stream continues); anything else seeds a new
        PCG64 generator.

    Returns
    -------
    numpy.random.Generator

    Examples
    --------
    >>> rng = as_generator(42)
    >>> as_generator(rng) is rng
    True
    >>> bool(as_generator(42).normal() == as_generator(42).normal())
    True
    """
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or isinstance(seed, np.random.SeedSequence):
        return np.random.default_rng(seed)
    if isinstance(seed, numbers.Integral) and not isinstance(seed, bool):
        if seed < 0:
            raise ValueError(f"seed must be a non-negative int, got {seed}")
        return np.random.default_rng(int(seed))
    raise TypeError(
        "seed must be None, an int, a numpy SeedSequence or a numpy Generator, "
        f"got {type(seed).__name__}"
    )


def _check_count(name, value, minimum=1):
    return check_int(name, value, minimum=minimum)


def _check_variance(name, value):
    return check_real(name, value, minimum=0.0)


def _check_real(name, value):
    return check_real(name, value)


def _check_missing(missing):
    missing = _check_real("missing", missing)
    if not 0.0 <= missing < 1.0:
        raise ValueError(f"missing must be a probability in [0, 1), got {missing}")
    return missing


def _group_sizes(n_per_group, n_groups, n_inputs):
    """Sizes of every group as an (n_inputs, n_groups) int array, from an int or a sequence."""
    if isinstance(n_per_group, numbers.Integral) and not isinstance(n_per_group, bool):
        _check_count("n_per_group", n_per_group)
        return np.full((n_inputs, n_groups), int(n_per_group)), True
    sizes = np.asarray(n_per_group)
    if sizes.dtype.kind not in "iu" or sizes.ndim != 1:
        raise TypeError(
            "n_per_group must be an int or a 1-d sequence of ints (one size per group), "
            f"got {n_per_group!r}"
        )
    if sizes.size == n_groups:
        sizes = np.tile(sizes, (n_inputs, 1))
    elif sizes.size == n_inputs * n_groups:
        sizes = sizes.reshape(n_inputs, n_groups)
    else:
        raise ValueError(
            f"n_per_group as a sequence must have n_groups ({n_groups}) or "
            f"{n_inputs} * n_groups ({n_inputs * n_groups}) entries, got {sizes.size}"
        )
    if (sizes < 1).any():
        raise ValueError(f"every entry of n_per_group must be at least 1, got {sizes.min()}")
    balanced = bool((sizes == sizes.flat[0]).all())
    return sizes.astype(int), balanced


def _drop_missing(frame, missing, rng):
    """Drop each row with probability ``missing`` (MCAR); draws nothing when missing == 0."""
    if missing == 0.0:
        return frame
    keep = rng.random(len(frame)) >= missing
    return frame.loc[keep].reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# the design of the null-p-value question
# --------------------------------------------------------------------------------------------


def two_input_design(
    n_groups=10,
    n_per_group=20,
    *,
    group_var=1.0,
    resid_var=1.0,
    effect=0.0,
    labels="correct",
    missing=0.0,
    seed=None,
):
    """Two inputs, each with ``n_groups`` groups of ``n_per_group`` samples (the seed's design).

    The response is ``output = effect * [input == "input_1"] + b_group + e`` with
    ``b_group ~ N(0, group_var)`` independently for each of the ``2 * n_groups`` groups and
    ``e ~ N(0, resid_var)``. The model to fit is
    ``smf.mixedlm("output ~ input", data, groups="group")``; the input effect is a
    between-group effect.

    Parameters
    ----------
    n_groups : int, default 10
        Number of groups per input.
    n_per_group : int or sequence of int, default 20
        Samples per group. A sequence gives unequal group sizes: ``n_groups`` entries (the same
        sizes for both inputs) or ``2 * n_groups`` entries (input 0's groups, then input 1's).
    group_var : float, default 1.0
        Variance of the group effects.
    resid_var : float, default 1.0
        Residual variance.
    effect : float, default 0.0
        Difference of means of input 1 over input 0 (0 for null data).
    labels : {"correct", "seed"}, default "correct"
        ``"correct"`` labels each row by the group whose effect it carries. ``"seed"``
        reproduces the question's code exactly: it labels row ``i`` of each input
        ``input_k_group_{i % n_per_group}`` while the effects come out of a ``reshape`` of an
        ``(n_per_group, n_groups)`` array, where row ``i`` carries group ``i % n_groups``'s
        effect. Each true group is then split over several labels and each label mixes true
        groups (when ``n_per_group`` is a multiple of ``n_groups``, as in the question, a
        label holds one true group but each true group is split over
        ``n_per_group / n_groups`` labels). Needs equal group sizes.
    missing : float, default 0.0
        Probability that an observation is missing (dropped), independently per row.
    seed : None, int, SeedSequence or Generator
        Source of randomness.

    Returns
    -------
    pandas.DataFrame
        Columns ``input`` (``"input_0"``/``"input_1"``), ``group`` (the label the model
        sees), ``true_group`` (the group whose effect the row carries) and ``output``.

    Notes
    -----
    With equal group sizes the random numbers are drawn in the question's order (the group
    effects of input 0, of input 1, then an ``(n_per_group, n_groups)`` array of residuals per
    input), so the two labellings give the same ``output`` column from the same seed and
    differ only in ``group``. With unequal sizes the residuals are drawn group by group.

    Examples
    --------
    >>> df = two_input_design(n_groups=3, n_per_group=2, seed=1)
    >>> df.shape
    (12, 4)
    >>> df.groupby("group")["output"].size().tolist()
    [2, 2, 2, 2, 2, 2]
    >>> seed_df = two_input_design(n_groups=3, n_per_group=2, labels="seed", seed=1)
    >>> bool((seed_df["output"] == df["output"]).all())
    True
    >>> sorted(seed_df["group"].unique())  # only n_per_group labels per input
    ['input_0_group_0', 'input_0_group_1', 'input_1_group_0', 'input_1_group_1']
    """
    n_groups = _check_count("n_groups", n_groups)
    sizes, balanced = _group_sizes(n_per_group, n_groups, 2)
    group_var = _check_variance("group_var", group_var)
    resid_var = _check_variance("resid_var", resid_var)
    effect = _check_real("effect", effect)
    missing = _check_missing(missing)
    if labels not in ("correct", "seed"):
        raise ValueError(f"labels must be 'correct' or 'seed', got {labels!r}")
    if labels == "seed" and not balanced:
        raise ValueError("labels='seed' needs equal group sizes: n_per_group must be an int")
    rng = as_generator(seed)

    group_sd, resid_sd = np.sqrt(group_var), np.sqrt(resid_var)
    inputs, groups, true_groups, outputs = [], [], [], []
    group_effects = [rng.normal(0.0, group_sd, n_groups) for _ in range(2)]
    if balanced:
        m = int(sizes[0, 0])
        residuals = [rng.normal(0.0, resid_sd, (m, n_groups)) for _ in range(2)]
        row = np.arange(m * n_groups)
        true_index = row % n_groups  # the column of the (m, n_groups) array after reshape
        label_index = row % m if labels == "seed" else true_index
        for k in range(2):
            values = (group_effects[k] + residuals[k]).reshape(m * n_groups)
            inputs.append(np.full(row.size, f"input_{k}"))
            groups.append(np.char.add(f"input_{k}_group_", label_index.astype(str)))
            true_groups.append(np.char.add(f"input_{k}_group_", true_index.astype(str)))
            outputs.append(values + effect * k)
    else:
        for k in range(2):
            true_index = np.repeat(np.arange(n_groups), sizes[k])
            values = group_effects[k][true_index] + rng.normal(0.0, resid_sd, true_index.size)
            labels_k = np.char.add(f"input_{k}_group_", true_index.astype(str))
            inputs.append(np.full(true_index.size, f"input_{k}"))
            groups.append(labels_k)
            true_groups.append(labels_k)
            outputs.append(values + effect * k)
    frame = pd.DataFrame(
        {
            "input": np.concatenate(inputs).astype(object),
            "group": np.concatenate(groups).astype(object),
            "true_group": np.concatenate(true_groups).astype(object),
            "output": np.concatenate(outputs),
        }
    )
    return _drop_missing(frame, missing, rng)


def two_input_within_design(
    n_groups=10,
    n_per_cell=10,
    *,
    group_var=1.0,
    resid_var=1.0,
    slope_var=0.0,
    between_effect=0.0,
    within_effect=0.0,
    missing=0.0,
    seed=None,
):
    """The two-input design with a within-group factor ``condition`` (levels ``"a"``, ``"b"``).

    Every group is observed ``n_per_cell`` times under each condition. The response is
    ``output = between_effect * [input_1] + within_effect * [b] + u_g + v_g * [b] + e`` with
    group intercepts ``u_g ~ N(0, group_var)``, group slopes ``v_g ~ N(0, slope_var)``
    (independent of ``u_g``) and ``e ~ N(0, resid_var)``. The number of groups limits the
    between-group effect (its information comes from ``2 * n_groups`` group means) and the
    within-group effect only through ``slope_var``: fit
    ``smf.mixedlm("output ~ input + condition", data, groups="group",
    re_formula="~condition")`` when ``slope_var > 0``.

    Parameters
    ----------
    n_groups : int, default 10
        Number of groups per input.
    n_per_cell : int, default 10
        Observations per group and condition.
    group_var, resid_var, slope_var : float
        Variances of the group intercepts, the residuals and the group slopes of condition.
    between_effect, within_effect : float, default 0.0
        The input effect (between groups) and the condition effect (within groups).
    missing : float, default 0.0
        Probability that an observation is missing (dropped).
    seed : None, int, SeedSequence or Generator
        Source of randomness.

    Returns
    -------
    pandas.DataFrame
        Columns ``input``, ``group``, ``condition``, ``output``.

    Examples
    --------
    >>> df = two_input_within_design(n_groups=2, n_per_cell=3, seed=0)
    >>> df.shape
    (24, 4)
    >>> df.groupby(["group", "condition"]).size().unique().tolist()
    [3]
    """
    n_groups = _check_count("n_groups", n_groups)
    n_per_cell = _check_count("n_per_cell", n_per_cell)
    group_var = _check_variance("group_var", group_var)
    resid_var = _check_variance("resid_var", resid_var)
    slope_var = _check_variance("slope_var", slope_var)
    between_effect = _check_real("between_effect", between_effect)
    within_effect = _check_real("within_effect", within_effect)
    missing = _check_missing(missing)
    rng = as_generator(seed)

    n_all = 2 * n_groups
    u = rng.normal(0.0, np.sqrt(group_var), n_all)
    v = rng.normal(0.0, np.sqrt(slope_var), n_all)
    g = np.repeat(np.arange(n_all), 2 * n_per_cell)
    b = np.tile(np.repeat([0, 1], n_per_cell), n_all)
    k = (g >= n_groups).astype(int)
    e = rng.normal(0.0, np.sqrt(resid_var), g.size)
    output = between_effect * k + within_effect * b + u[g] + v[g] * b + e
    label = np.char.add(np.char.add(np.char.add("input_", k.astype(str)), "_group_"),
                        (g % n_groups).astype(str))
    frame = pd.DataFrame(
        {
            "input": np.char.add("input_", k.astype(str)).astype(object),
            "group": label.astype(object),
            "condition": np.where(b == 1, "b", "a").astype(object),
            "output": output,
        }
    )
    return _drop_missing(frame, missing, rng)


# --------------------------------------------------------------------------------------------
# crossed subjects x items (DeBruine & Barr 2021)
# --------------------------------------------------------------------------------------------


def crossed_design(
    n_subj=100,
    n_ingroup=25,
    *,
    n_outgroup=25,
    beta_0=800.0,
    beta_1=50.0,
    omega_0=80.0,
    tau_0=100.0,
    tau_1=40.0,
    rho=0.2,
    sigma=200.0,
    missing=0.0,
    seed=None,
):
    """Subjects crossed with items, parameterised as in DeBruine & Barr (2021).

    Every subject responds to every item once. Items belong to one of two categories
    (``"ingroup"``/``"outgroup"``, a between-item, within-subject factor coded
    ``X_i = -0.5 / +0.5``). The response is

    ``RT = beta_0 + T_0s + O_0i + (beta_1 + T_1s) * X_i + e``

    with by-item intercepts ``O_0i ~ N(0, omega_0²)``, by-subject intercepts and slopes
    ``(T_0s, T_1s)`` bivariate normal with SDs ``tau_0``, ``tau_1`` and correlation ``rho``,
    and residuals ``e ~ N(0, sigma²)``. Defaults are the paper's example values. As in the
    paper, the variance components are given as standard deviations, each a named parameter.

    Parameters
    ----------
    n_subj : int, default 100
        Number of subjects.
    n_ingroup, n_outgroup : int, default 25
        Number of items in each category.
    beta_0, beta_1 : float
        Grand intercept and category effect.
    omega_0 : float
        SD of the by-item random intercepts.
    tau_0, tau_1 : float
        SDs of the by-subject random intercepts and category slopes.
    rho : float
        Correlation of the by-subject intercepts and slopes, in [-1, 1].
    sigma : float
        Residual SD.
    missing : float, default 0.0
        Probability that a trial is missing (dropped).
    seed : None, int, SeedSequence or Generator
        Source of randomness.

    Returns
    -------
    pandas.DataFrame
        Columns ``subj_id``, ``item_id``, ``category``, ``X_i``, ``RT``.

    Examples
    --------
    >>> df = crossed_design(n_subj=4, n_ingroup=2, n_outgroup=3, seed=0)
    >>> df.shape
    (20, 5)
    >>> df.groupby("category")["item_id"].nunique().to_dict()
    {'ingroup': 2, 'outgroup': 3}
    """
    n_subj = _check_count("n_subj", n_subj)
    n_ingroup = _check_count("n_ingroup", n_ingroup)
    n_outgroup = _check_count("n_outgroup", n_outgroup)
    beta_0 = _check_real("beta_0", beta_0)
    beta_1 = _check_real("beta_1", beta_1)
    omega_0 = _check_variance("omega_0", omega_0)
    tau_0 = _check_variance("tau_0", tau_0)
    tau_1 = _check_variance("tau_1", tau_1)
    sigma = _check_variance("sigma", sigma)
    rho = _check_real("rho", rho)
    if not -1.0 <= rho <= 1.0:
        raise ValueError(f"rho must be a correlation in [-1, 1], got {rho}")
    missing = _check_missing(missing)
    rng = as_generator(seed)

    n_items = n_ingroup + n_outgroup
    item_x = np.r_[np.full(n_ingroup, -0.5), np.full(n_outgroup, 0.5)]
    item_o = rng.normal(0.0, omega_0, n_items)
    # correlated subject effects from two independent normals (valid for |rho| = 1 too)
    z = rng.standard_normal((n_subj, 2))
    t0 = tau_0 * z[:, 0]
    t1 = tau_1 * (rho * z[:, 0] + np.sqrt(1.0 - rho**2) * z[:, 1])
    s = np.repeat(np.arange(n_subj), n_items)
    i = np.tile(np.arange(n_items), n_subj)
    x = item_x[i]
    e = rng.normal(0.0, sigma, s.size)
    rt = beta_0 + t0[s] + item_o[i] + (beta_1 + t1[s]) * x + e
    frame = pd.DataFrame(
        {
            "subj_id": s + 1,
            "item_id": i + 1,
            "category": np.where(x < 0, "ingroup", "outgroup").astype(object),
            "X_i": x,
            "RT": rt,
        }
    )
    return _drop_missing(frame, missing, rng)


# --------------------------------------------------------------------------------------------
# the repeated-measures design (a within x a between factor)
# --------------------------------------------------------------------------------------------


def repeated_measures_design(
    n_per_between=4,
    n_reps=1,
    *,
    subject_var=1.0,
    resid_var=1.0,
    within_effect=0.0,
    between_effect=0.0,
    interaction_effect=0.0,
    missing=0.0,
    seed=None,
):
    """A two-level within-participant factor crossed with a two-level between factor.

    The design of the repeated-measures question: participants belong to one level of
    ``Condition_2`` (between) and are measured ``n_reps`` times under each level of
    ``Condition_1`` (within); levels are coded 1 and 2 as in the question. The response is
    ``dependent_var = within_effect * [C1 = 2] + between_effect * [C2 = 2]
    + interaction_effect * [C1 = 2][C2 = 2] + u_participant + e`` with
    ``u ~ N(0, subject_var)`` and ``e ~ N(0, resid_var)``. The model is
    ``smf.mixedlm("dependent_var ~ C(Condition_1) * C(Condition_2)", data,
    groups="participant_ID")``.

    Parameters
    ----------
    n_per_between : int, default 4
        Participants per level of the between factor (the question has 4).
    n_reps : int, default 1
        Measurements per participant and within level.
    subject_var, resid_var : float, default 1.0
        Variances of the participant intercepts and of the residuals.
    within_effect, between_effect, interaction_effect : float, default 0.0
        Fixed effects in treatment coding (level 1 the reference).
    missing : float, default 0.0
        Probability that a measurement is missing (dropped).
    seed : None, int, SeedSequence or Generator
        Source of randomness.

    Returns
    -------
    pandas.DataFrame
        Columns ``participant_ID``, ``Condition_1``, ``Condition_2``, ``dependent_var``.

    Examples
    --------
    >>> df = repeated_measures_design(seed=3)
    >>> df.shape
    (16, 4)
    >>> df.groupby("participant_ID")["Condition_2"].nunique().max()  # between participants
    np.int64(1)
    """
    n_per_between = _check_count("n_per_between", n_per_between)
    n_reps = _check_count("n_reps", n_reps)
    subject_var = _check_variance("subject_var", subject_var)
    resid_var = _check_variance("resid_var", resid_var)
    within_effect = _check_real("within_effect", within_effect)
    between_effect = _check_real("between_effect", between_effect)
    interaction_effect = _check_real("interaction_effect", interaction_effect)
    missing = _check_missing(missing)
    rng = as_generator(seed)

    n_part = 2 * n_per_between
    u = rng.normal(0.0, np.sqrt(subject_var), n_part)
    p = np.repeat(np.arange(n_part), 2 * n_reps)
    c1 = np.tile(np.repeat([1, 2], n_reps), n_part)
    c2 = np.where(p < n_per_between, 1, 2)
    e = rng.normal(0.0, np.sqrt(resid_var), p.size)
    y = (
        within_effect * (c1 == 2)
        + between_effect * (c2 == 2)
        + interaction_effect * ((c1 == 2) & (c2 == 2))
        + u[p]
        + e
    )
    frame = pd.DataFrame(
        {"participant_ID": p + 1, "Condition_1": c1, "Condition_2": c2, "dependent_var": y}
    )
    return _drop_missing(frame, missing, rng)
