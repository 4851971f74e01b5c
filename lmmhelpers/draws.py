r"""Responses drawn from a fitted mixed model: the parametric bootstrap's and calibration's data.

For a MixedLM with groups i, a draw is

.. math::

    y^*_i = X_i\beta + Z^{re}_i b_i + \sum_j Z^{vc_j}_i u_{ij} + \varepsilon_i, \qquad
    b_i \sim N(0, \Psi), \quad u_{ij} \sim N(0, \tau_j^2 I), \quad
    \varepsilon_i \sim N(0, \sigma^2 I),

at the fitted (or given) Ψ, τ², σ² and β, as lme4's ``simulate.merMod`` and MixedModels.jl's
``simulate!`` do. The draw is returned in the row order of the model's data, so that it can
replace the response of the same model (:func:`lmmhelpers.refit`).

**Same seed, same draw, whatever the row order or the labels.** The random numbers are not
handed out by row position or by sorted group label (either would make a calibration or a
bootstrap p-value depend on how the data were sorted or what the groups are called). They
go, in order, to the rows sorted by their content (the fitted response, then the columns of
X and Z), to the groups in the order of their first row in that sort, and to the columns of
each variance component in the order of their first row: so reordering the rows, relabelling
the groups or the levels of a variance component gives each observation the same random
numbers. (Rows that agree in every one of those values fall back to their position.)
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from lmmhelpers import _statsmodels
from lmmhelpers.parameters import VarianceParameters
from lmmhelpers.simulate import as_generator

__all__ = ["draw_response"]


def _dense(a):
    return a.toarray() if sp.issparse(a) else np.asarray(a, dtype=float)


def _row_positions(model):
    """For each group (in ``model.group_labels`` order), its rows in the model's data."""
    return [np.asarray(model.row_indices[label]) for label in model.group_labels]


def canonical_ranks(model):
    """Each row's rank in an order that depends on the data's content only.

    Rows are sorted by the response, then by the columns of X and of the re_formula design Z
    (``numpy.lexsort``, stable: rows equal in all of them keep their relative position).

    Examples
    --------
    >>> import pandas as pd, statsmodels.formula.api as smf
    >>> df = pd.DataFrame({"g": [1, 1, 2, 2], "y": [0.3, -1.0, 2.0, 0.1]})
    >>> canonical_ranks(smf.mixedlm("y ~ 1", df, groups="g")).tolist()
    [2, 0, 3, 1]
    """
    y = np.asarray(model.endog, dtype=float)
    columns = [y, *np.asarray(model.exog, dtype=float).T]
    if model.k_re:
        columns += list(np.asarray(model.exog_re, dtype=float).T)
    order = np.lexsort(columns[::-1])  # the last key is the primary one
    ranks = np.empty(y.size, dtype=int)
    ranks[order] = np.arange(y.size)
    return ranks


def draw_response(result, *, beta=None, params=None, seed=None, size=None):
    """Draw response vectors from a fitted MixedLM.

    Parameters
    ----------
    result : statsmodels MixedLMResults
        The fit whose model (X, Z, groups) and, by default, whose estimates are used.
    beta : array_like, shape (p,), optional
        Fixed effects of the draw (default: the fitted ``fe_params``). Pass zeros to draw
        under the null hypothesis that every coefficient is 0.
    params : lmmhelpers.parameters.VarianceParameters, optional
        Ψ, τ², σ² of the draw (default: the fitted ones).
    seed : int, numpy Generator or SeedSequence, optional
        Random state; the same seed gives the same draws.
    size : int, optional
        Number of draws; default one.

    Returns
    -------
    ndarray, shape (n,) or (size, n)
        Responses in the row order of ``result.model``'s data.

    Examples
    --------
    >>> import numpy as np, pandas as pd, statsmodels.formula.api as smf
    >>> from lmmhelpers import fit_mixedlm
    >>> rng = np.random.default_rng(0)
    >>> g = np.repeat(np.arange(10), 4)
    >>> df = pd.DataFrame({"g": g, "y": rng.normal(size=10)[g] + rng.normal(size=40)})
    >>> result = fit_mixedlm(smf.mixedlm("y ~ 1", df, groups="g"))
    >>> draw_response(result, seed=1, size=3).shape
    (3, 40)
    >>> bool(np.all(draw_response(result, seed=1) == draw_response(result, seed=1)))
    True
    """
    bare = _statsmodels.unwrap(result)
    model = bare.model
    rng = as_generator(seed)
    beta = (np.asarray(bare.fe_params, dtype=float) if beta is None
            else np.asarray(beta, dtype=float).reshape(-1))
    if beta.shape != (model.k_fe,):
        raise ValueError(f"beta must have one value per fixed effect ({model.k_fe}), "
                         f"got shape {beta.shape}")
    if params is None:
        params = VarianceParameters.from_result(bare)
    count = 1 if size is None else int(size)
    if count < 1:
        raise ValueError(f"size must be a positive int, got {size!r}")
    X = np.asarray(model.exog, dtype=float)
    n = X.shape[0]
    sigma = float(np.sqrt(params.scale))
    ranks = canonical_ranks(model)
    out = X @ beta
    noise = rng.standard_normal((count, n))  # the k-th number goes to the row of rank k
    out = out + sigma * noise[:, ranks]
    k_re = model.k_re
    root = _psd_root(np.atleast_2d(params.cov_re)) if k_re else None
    positions = _row_positions(model)
    first = [int(ranks[rows].min()) if len(rows) else n for rows in positions]
    for i in np.argsort(first, kind="stable"):  # groups in the order of their first row
        rows = positions[i]
        if k_re:
            b = rng.standard_normal((count, k_re)) @ root.T
            out[:, rows] += b @ np.asarray(model.exog_re_li[i], dtype=float).T
        for j in range(len(model.exog_vc.names)):
            Z = _dense(model.exog_vc.mats[j][i])
            m = Z.shape[1]
            # columns (levels) in the order of their first row, not of their labels
            key = np.where(Z != 0, ranks[rows][:, None], n).min(axis=0) if m else []
            u = np.empty((count, m))
            u[:, np.argsort(key, kind="stable")] = rng.standard_normal((count, m))
            out[:, rows] += np.sqrt(params.vcomp[j]) * u @ Z.T
    return out[0] if size is None else out


def _psd_root(S):
    """A square root R of a positive semi-definite S (R Rᵀ = S), for singular Ψ."""
    w, v = np.linalg.eigh((S + S.T) / 2)
    return v * np.sqrt(np.clip(w, 0.0, None))
