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

from lmmhelpers._validation import (
    check_int,
    check_n_jobs,
    check_probability,
    check_seed,
    check_share,
)
from lmmhelpers.summaries import TooFewUsableDraws, rejection_rate

__all__ = ["PowerCurveInterrupted", "power_curve"]

#: The columns power_curve adds after the grid's; a grid parameter with one of these names
#: is reported as ``design_<name>``.
RESULT_COLUMNS = ("method", "term", "alpha", "power", "lower", "upper", "n_used", "n_failed",
                  "n_not_converged", "n_boundary")


class PowerCurveInterrupted(KeyboardInterrupt):
    """A power curve stopped by the user: ``results`` holds every finished cell's rows.

    ``cell`` is the grid cell that was running and ``cell_results`` its finished replicates
    (:class:`lmmhelpers.study.StudyInterrupted`'s ``results``); with ``cache_dir`` the
    finished cells and replicates are stored there and the next call resumes.

    Examples
    --------
    >>> from lmmhelpers import GroupMeansTTest, two_input_design
    >>> def design(seed, n_groups, effect):  # Ctrl-C during the second cell
    ...     if n_groups == 6:
    ...         raise KeyboardInterrupt
    ...     return two_input_design(n_groups, 5, effect=effect, seed=seed)
    >>> test = GroupMeansTTest("output", "group", "input", term="input")
    >>> try:
    ...     power_curve(design, [test], {"n_groups": [3, 6], "effect": [1.0]}, 10, seed=1)
    ... except PowerCurveInterrupted as stop:
    ...     finished = stop.results
    >>> finished[["n_groups", "method", "n_used"]].values.tolist()
    [[3, 'group-means-t', 10]]
    """

    def __init__(self, results, cell, cell_results, path=None):
        n_cells = 0 if results is None else len(results.attrs.get("cells", []))
        where = ("; the finished cells and replicates are stored in the cache_dir: rerun the "
                 "same call to resume" if path is not None else
                 "; they are in this exception's .results (and .cell_results)")
        super().__init__(f"power_curve interrupted in cell {cell} after {n_cells} finished "
                         f"cells{where}")
        self.results, self.cell, self.cell_results, self.path = results, cell, cell_results, path


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


def _check_analyses(analyses):
    """The analyses, an exact repeat dropped; two analyses reporting one label refused."""
    from lmmhelpers.study.base import Analysis, analysis_labels

    if isinstance(analyses, str) or not hasattr(analyses, "__iter__"):
        raise TypeError("analyses must be a non-empty sequence of analyses")
    unique = []
    for a in analyses:
        if not any(a is b or _equal(a, b) for b in unique):
            unique.append(a)
    seen = {}
    for k, a in enumerate(unique):
        if not isinstance(a, Analysis):
            continue  # its labels are known only from its rows: checked after the study
        for label in analysis_labels(a):
            if label in seen:
                raise ValueError(
                    f"analyses {seen[label]} and {k} both report method {label[0]!r} for term "
                    f"{label[1]!r}: each replicate would be counted twice. Drop the repeat, "
                    "or give the analyses distinct methods or terms.")
            seen[label] = k
    return unique


def _equal(a, b):
    try:
        return bool(a == b)
    except Exception:  # noqa: BLE001 - an object that cannot be compared is not a repeat
        return False


def _check_one_row_per_label(results, cell):
    counts = results.groupby(["replicate", "method", "term"], dropna=False).size()
    if (counts > 1).any():
        method, term = counts[counts > 1].index[0][1:]
        raise ValueError(
            f"power_curve: in cell {cell} the analyses give several rows per replicate for "
            f"method {method!r}, term {term!r}: each replicate would be counted more than "
            "once. Give the analyses distinct methods or terms.")


def power_curve(design, analyses, grid, n_sim, seed, *, n_jobs=1, alpha=0.05,
                progress=False, cache_dir=None, min_usable=0.9):
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
    cache_dir : str or Path, optional
        Store every cell's study there as it finishes (:func:`lmmhelpers.run_study`'s
        cache): a repeated or interrupted call loads the finished cells and resumes the
        interrupted one from its finished replicates.
    min_usable : float, default 0.9
        The share of ``n_sim`` replicates that must give a p-value in every cell, method
        and term; below it :class:`lmmhelpers.TooFewUsableDraws` is raised with the whole
        table (a power over the replicates that happened to fit is not the method's power).
        0 turns the check off.

    Returns
    -------
    pandas.DataFrame
        One row per cell, method and term: the grid's columns, ``method``, ``term``,
        ``power`` with its Wilson 95% interval ``lower``–``upper``, ``n_used`` replicates with a
        p-value, ``n_failed`` (errors: counted, never dropped), ``n_not_converged`` and
        ``n_boundary``. A grid parameter named like one of these columns (``alpha``,
        ``method``, ``term``, ...) is reported as ``design_<name>``.

    Raises
    ------
    PowerCurveInterrupted
        On ``KeyboardInterrupt`` (it is one), with the finished cells in ``results``.
    lmmhelpers.TooFewUsableDraws
        If a cell's share of usable replicates is below ``min_usable``.
    ValueError
        If two analyses report the same method and term (each replicate would count twice;
        an exact repeat of an analysis is dropped instead).

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
    from lmmhelpers.study import StudyInterrupted, run_study

    if not callable(design):
        raise TypeError(f"design must be callable as design(seed=rng, **params), got {design!r}")
    cells = _check_grid(grid, design)
    analyses = _check_analyses(analyses)
    n_sim = check_int("n_sim", n_sim, minimum=1)
    seed = check_seed(seed)
    n_jobs = check_n_jobs(n_jobs)
    alpha = check_probability("alpha", alpha)
    min_usable = check_share("min_usable", min_usable)
    keys = list(cells)
    names = {k: (f"design_{k}" if k in RESULT_COLUMNS else k) for k in keys}
    clash = [k for k in keys if names[k] != k and names[k] in keys]
    if clash:
        raise ValueError(f"grid parameters {clash} and {[names[k] for k in clash]} would share "
                         "a column of the table; rename one of them")
    tables, failures, done = [], [], []
    for values in itertools.product(*(cells[k] for k in keys)):
        params = dict(zip(keys, values, strict=True))
        cell_design = functools.partial(design, **params)
        try:
            results = run_study(cell_design, analyses, n_sim, seed, n_jobs=n_jobs,
                                progress=progress, cache_dir=cache_dir)
        except StudyInterrupted as exc:
            finished = _assemble(tables, keys, names, done)
            raise PowerCurveInterrupted(finished, params, exc.results, exc.path) from exc
        except KeyboardInterrupt as exc:
            finished = _assemble(tables, keys, names, done)
            raise PowerCurveInterrupted(finished, params, None) from exc
        _check_one_row_per_label(results, params)
        rates = rejection_rate(results, alpha=alpha, by=["method", "term"])
        for k, v in params.items():
            rates.insert(keys.index(k), names[k], [v] * len(rates))
        tables.append(rates)
        done.append(params)
        failed = results[results["status"] == "error"]
        if len(failed):
            failures.append(failed)
    table = _assemble(tables, keys, names, done)
    draws = pd.concat(failures, ignore_index=True) if failures else None
    error = TooFewUsableDraws.check(table, n_sim, min_usable, "power_curve", draws,
                                    labels=[names[k] for k in keys] + ["method", "term"])
    if error is not None:
        raise error
    return table


def _assemble(tables, keys, names, done):
    """The finished cells' rows as power_curve's table (None when no cell finished)."""
    if not tables:
        return None
    table = pd.concat(tables, ignore_index=True)
    table = table.rename(columns={"rate": "power", "n_error": "n_failed"})
    table = table[[names[k] for k in keys] + list(RESULT_COLUMNS)]
    table.attrs["cells"] = [dict(c) for c in done]
    return table
