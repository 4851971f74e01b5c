"""Power curves by simulation: how often each test rejects, over a grid of designs.

For every combination of the grid's values, :func:`power_curve` runs a study
(:func:`lmmhelpers.run_study`) of ``design`` with those values and reports each method's
rejection rate with its Wilson interval. Under an effect the rejection rate is the power;
at an effect of 0 it is the type I error, which is why the book reads both together: a test
whose "power" at effect 0 is 0.12 is not more powerful, it is miscalibrated.

Every grid cell uses the same root seed (common random numbers, as simr and DeBruine & Barr's
simulations do): cells differ only by the design's parameters, which makes curves smooth and
differences between neighbouring cells more precise than independent runs would.
"""

from __future__ import annotations

import functools
import inspect
import itertools

import pandas as pd

from lmmhelpers._validation import check_int, check_n_jobs, check_probability, check_seed
from lmmhelpers.summaries import rejection_rate

__all__ = ["power_curve"]


def _accepted(design):
    """The keyword names ``design`` accepts, or None when it takes ``**kwargs``."""
    try:
        sig = inspect.signature(design)
    except (TypeError, ValueError):
        return None
    if any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values()):
        return None
    return {name for name, p in sig.parameters.items()
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}


def _check_grid(grid, design):
    if not isinstance(grid, dict) or not grid:
        raise TypeError(f"grid must be a non-empty dict of parameter name -> list of values, "
                        f"got {grid!r}")
    accepted = _accepted(design)
    cells = {}
    for key, values in grid.items():
        if accepted is not None and key not in accepted:
            raise ValueError(f"grid: the design does not take the parameter {key!r} "
                             f"(it takes {sorted(accepted - {'seed'})})")
        if key == "seed":
            raise ValueError("grid must not set 'seed': the study seeds every replicate")
        values = [values] if isinstance(values, (str, bytes)) or not hasattr(
            values, "__iter__") else list(values)
        if not values:
            raise ValueError(f"grid[{key!r}] has no values")
        cells[key] = values
    return cells


def power_curve(design, analyses, grid, n_sim, seed, *, n_jobs=1, alpha=0.05,
                progress=False):
    """Rejection rates of each method over a grid of design parameters.

    Parameters
    ----------
    design : callable
        A design generator taking ``seed=`` and the grid's parameters as keywords, such as a
        ``functools.partial`` of :func:`lmmhelpers.two_input_design`.
    analyses : sequence of analyses
        As for :func:`lmmhelpers.run_study` (e.g. :class:`lmmhelpers.MixedLMTest`).
    grid : dict of str to list
        Values of the design's parameters, e.g. ``{"n_groups": [4, 8, 16], "effect": [0.5]}``;
        every combination is a cell.
    n_sim : int
        Replicates per cell.
    seed : int
        Root seed, the same in every cell (common random numbers).
    n_jobs : int, default 1
        Worker processes (joblib; ``None`` defers to an enclosing ``joblib.parallel_config``,
        for example the dask backend on a cluster).
    alpha : float, default 0.05
    progress : bool, default False
        A progress bar per cell on stderr.

    Returns
    -------
    pandas.DataFrame
        One row per cell, method and term: the grid's columns, ``method``, ``term``,
        ``power`` with its Wilson 95% interval ``lower``–``upper``, ``n_used`` replicates with a
        p-value, ``n_failed`` (errors: counted, never dropped), ``n_not_converged`` and
        ``n_boundary``.

    Examples
    --------
    >>> from functools import partial
    >>> from lmmhelpers import GroupMeansTTest, two_input_design
    >>> design = partial(two_input_design, n_per_group=5, group_var=1.0, resid_var=1.0)
    >>> test = GroupMeansTTest("output", "group", "input", term="input")
    >>> curve = power_curve(design, [test], {"n_groups": [3, 6], "effect": [2.0]},
    ...                     n_sim=20, seed=1)
    >>> curve[["n_groups", "method", "n_used"]].values.tolist()
    [[3, 'group-means-t', 20], [6, 'group-means-t', 20]]
    """
    from lmmhelpers.study import run_study

    if not callable(design):
        raise TypeError(f"design must be callable as design(seed=rng, **params), got {design!r}")
    cells = _check_grid(grid, design)
    n_sim = check_int("n_sim", n_sim, minimum=1)
    seed = check_seed(seed)
    n_jobs = check_n_jobs(n_jobs)
    alpha = check_probability("alpha", alpha)
    keys = list(cells)
    tables = []
    for values in itertools.product(*(cells[k] for k in keys)):
        params = dict(zip(keys, values, strict=True))
        cell_design = functools.partial(design, **params)
        results = run_study(cell_design, analyses, n_sim, seed, n_jobs=n_jobs,
                            progress=progress)
        rates = rejection_rate(results, alpha=alpha, by=["method", "term"])
        for k, v in params.items():
            rates.insert(keys.index(k), k, [v] * len(rates))
        tables.append(rates)
    table = pd.concat(tables, ignore_index=True)
    table = table.rename(columns={"rate": "power", "n_error": "n_failed"})
    columns = keys + ["method", "term", "alpha", "power", "lower", "upper", "n_used",
                      "n_failed", "n_not_converged", "n_boundary"]
    return table[columns]
