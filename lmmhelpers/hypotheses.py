r"""Contrast matrices for the hypotheses of a formula's terms.

**Type III, independent of the coding.** SAS and lmerTest test a term of a factorial model
with the hypothesis on *unweighted* cell means: for a main effect, that its marginal means,
averaged with equal weights over the levels of the other factors, are equal; for an
interaction, that its interaction contrasts vanish. The hypothesis is a statement about cell
means, so it cannot depend on how the factors are coded (treatment, sum, Helmert, ...).

We build it on patsy's reference grid. For a term T with categorical factors F_T and numerical
factors N_T, take the terms whose numerical factors are exactly N_T (the others vanish when
the numerical factors outside T are set to 0 and those in T are differentiated), evaluate
their columns on every combination of levels of their categorical factors (with each
numerical factor in T set to 1), and apply across that grid

* a contrast (k − 1 rows of differences) for every factor in F_T, and
* an equal-weight average for every other factor,

as a Kronecker product. The rows that remain span the term's type III hypothesis. For models
with numerical covariates this tests a factor at covariate value 0 and a covariate by its
slope averaged over the factor levels, which is also what SAS and lmerTest test.

The F statistic depends only on the row space, but the multi-df Satterthwaite df
(lmerTest's ``contestMD``) also depend on the basis. The contrasts here are differences from
the first level in cell-mean space, the basis lmerTest uses (its treatment-coding type III
contrasts, mapped to other codings), and the same rows whatever the coding: so the F and its
df are both independent of the coding, and they match lmerTest. They are not independent of
the *order of the levels*: which level is first changes the basis, and with it the multi-df
Satterthwaite df (by 1–8% on small designs in tests/test_invariance.py), exactly as in
lmerTest 3.1-3. F, Kenward-Roger's df and every one-df test do not change.
"""

from __future__ import annotations

import itertools
from functools import reduce

import numpy as np


def _design_info(model):
    # statsmodels 0.15 keeps patsy's DesignInfo as ``model_spec`` (earlier: ``design_info``)
    info = getattr(model.data, "model_spec", None) or getattr(model.data, "design_info", None)
    if info is None or not hasattr(info, "term_codings"):
        raise ValueError(
            "anova_table needs a model built from a formula (smf.mixedlm or "
            "MixedLM.from_formula, with patsy formulas); for a model built from arrays, "
            "test each hypothesis with contrast_test(result, L)."
        )
    return info


def _independent_rows(L, tol=1e-10):
    """The rows of L, in order, that add to the rank of the rows kept before them.

    Which rows are dependent is a property of the hypothesis on cell means, so the same rows
    are kept under every coding of the factors.
    """
    kept = []
    for row in L:
        trial = np.vstack(kept + [row])
        if np.linalg.matrix_rank(trial, tol=tol * max(1.0, np.abs(L).max())) == len(trial):
            kept.append(row)
    return np.array(kept).reshape(len(kept), L.shape[1])


def type3_contrasts(model):
    """Type III contrast matrices for every term of a formula, independent of the coding.

    Parameters
    ----------
    model : statsmodels.regression.mixed_linear_model.MixedLM
        A model built from a formula (patsy design information is used).

    Returns
    -------
    dict of str to ndarray
        Term name (as patsy spells it, formula order, intercept excluded) to a contrast
        matrix of shape (num_df, k_fe) in β, one row per difference from the first level.

    Examples
    --------
    >>> import numpy as np, pandas as pd, statsmodels.formula.api as smf
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame({"g": np.repeat(np.arange(6), 6), "a": np.tile(list("xyz"), 12),
    ...                    "b": np.repeat(list("uv"), 18), "y": rng.normal(size=36)})
    >>> L = type3_contrasts(smf.mixedlm("y ~ C(a) * C(b)", df, groups="g"))
    >>> {term: contrast.shape for term, contrast in L.items()}
    {'C(a)': (2, 6), 'C(b)': (1, 6), 'C(a):C(b)': (2, 6)}
    """
    info = _design_info(model)
    factor_info = info.factor_infos
    terms = list(info.terms)
    slices = info.term_slices
    p = len(info.column_names)

    def split(term):
        cat = [f for f in term.factors if factor_info[f].type == "categorical"]
        num = [f for f in term.factors if factor_info[f].type == "numerical"]
        return cat, num

    out = {}
    for term in terms:
        if not term.factors:
            continue  # the intercept
        cat_T, num_T = split(term)
        relevant = [S for S in terms if set(split(S)[1]) == set(num_T)]
        grid = []
        for S in relevant:
            for f in split(S)[0]:
                if f not in grid:
                    grid.append(f)
        for S in relevant:
            for f in split(S)[1]:
                if factor_info[f].num_columns != 1:
                    raise ValueError(
                        f"type III hypotheses for term {term.name()!r} involve the "
                        f"multi-column numerical factor {f.name()!r}; test it with "
                        "contrast_test(result, L) and an explicit L instead."
                    )
        levels = [range(len(factor_info[f].categories)) for f in grid]
        cells = list(itertools.product(*levels))  # first grid factor varies slowest
        rows = np.zeros((len(cells), p))
        for c, cell in enumerate(cells):
            level = dict(zip(grid, cell, strict=True))
            for S in relevant:
                cols = []
                for sub in info.term_codings[S]:
                    per_factor = []
                    for f in sub.factors:
                        if factor_info[f].type == "categorical":
                            per_factor.append(sub.contrast_matrices[f].matrix[level[f]])
                        else:
                            per_factor.append(np.ones(1))
                    # patsy's column order: the left-most factor varies fastest
                    cols.append(reduce(lambda a, b: np.kron(b, a), per_factor, np.ones(1)))
                rows[c, slices[S]] = np.concatenate(cols)
        ops = []
        for f in grid:
            k = len(factor_info[f].categories)
            if f in cat_T:  # level j − level 1, j = 2..k: lmerTest's (treatment) basis
                ops.append(np.hstack([-np.ones((k - 1, 1)), np.eye(k - 1)]))
            else:
                ops.append(np.full((1, k), 1.0 / k))
        K = reduce(np.kron, ops, np.ones((1, 1)))
        out[term.name()] = _independent_rows(K @ rows)
    return {name: out[name] for name in _formula_order(model, list(out))}


def _formula_order(model, names):
    """Term names in R's order: as the formula lists them, main effects before interactions.

    patsy's design puts terms without numerical factors first (``y ~ x + C(a)`` has columns
    for ``C(a)`` before ``x``); R's ``terms()``, and so lmerTest's anova, keep the formula's
    order within each degree of interaction. We follow R.
    """
    formula = getattr(model, "formula", None)
    if not isinstance(formula, str):
        return names
    try:
        from patsy import ModelDesc

        termlist = ModelDesc.from_formula(formula).rhs_termlist
        # R's terms(): by degree (main effects, then two-way interactions, ...), stably
        expanded = [t.name() for t in sorted(termlist, key=lambda t: len(t.factors))]
    except Exception:  # a formula patsy cannot re-read: keep the design's order
        return names
    if sorted(expanded_names := [n for n in expanded if n in names]) != sorted(names):
        return names
    return expanded_names


def coefficient_contrasts(model):
    """One row per fixed-effect coefficient: the identity matrix, with the names."""
    return np.eye(model.k_fe), list(model.exog_names)
