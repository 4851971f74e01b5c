"""One seeded runner for the book's replicate loops that are not :func:`lmmhelpers.run_study`.

Replicate ``i`` of a task gets ``numpy.random.default_rng(SeedSequence(seed).spawn(n)[i])``,
as in :func:`lmmhelpers.run_study`, so its rows do not depend on ``n_jobs`` or on which
replicates run together.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lmmhelpers._validation import check_int, check_n_jobs, check_seed

__all__ = ["replicate_rng", "run_seeded"]


def replicate_rng(seed, n, i):
    """The generator of replicate ``i`` of ``n`` under root ``seed``.

    Examples
    --------
    >>> a = replicate_rng(4200, 10, 3).normal()
    >>> b = np.random.default_rng(np.random.SeedSequence(4200).spawn(10)[3]).normal()
    >>> a == b
    True
    """
    return np.random.default_rng(np.random.SeedSequence(int(seed)).spawn(int(n))[int(i)])


def _batch(task, seed, n, replicates, kwargs):
    return [(i, task(i, replicate_rng(seed, n, i), **kwargs)) for i in replicates]


def run_seeded(task, n, seed, *, n_jobs=1, replicates=None, **kwargs):
    """Run ``task(i, rng, **kwargs)`` for replicates ``i`` of ``n``; its rows as one table.

    Parameters
    ----------
    task : callable
        A module-level function (so that worker processes can import it) returning a list
        of dict rows for replicate ``i`` with generator ``rng``.
    n : int
        Number of replicates (the seeds are ``SeedSequence(seed).spawn(n)``).
    seed : int
        Root seed.
    n_jobs : int, default 1
        Worker processes (joblib; ``-1`` for all cores). The table does not depend on it.
    replicates : sequence of int, optional
        A subset of ``range(n)``.
    **kwargs
        Passed to ``task``.

    Returns
    -------
    pandas.DataFrame
        The rows in replicate order.

    Examples
    --------
    >>> from lmmhelpers.book.runner import replicate_rng
    >>> def draw(i, rng):
    ...     return [{"replicate": i, "x": rng.normal()}]
    >>> table = run_seeded(draw, 5, seed=1, replicates=[3])
    >>> bool(table["x"].iloc[0] == replicate_rng(1, 5, 3).normal())
    True
    """
    n = check_int("n", n, minimum=1)
    seed = check_seed(seed)
    n_jobs = check_n_jobs(n_jobs)
    todo = list(range(n)) if replicates is None else sorted({int(i) for i in replicates})
    if todo and (todo[0] < 0 or todo[-1] >= n):
        raise ValueError(f"replicates must lie in range(n) = range({n})")
    workers = 1 if n_jobs is None else n_jobs
    if workers == 1 or len(todo) < 2:
        done = [_batch(task, seed, n, todo, kwargs)]
    else:
        from joblib import Parallel, delayed

        parts = max(2, 4 * (workers if workers > 0 else 2))
        batches = [todo[j::parts] for j in range(parts) if todo[j::parts]]
        done = Parallel(n_jobs=workers)(
            delayed(_batch)(task, seed, n, b, kwargs) for b in batches)
    by_replicate = sorted((pair for part in done for pair in part), key=lambda pair: pair[0])
    return pd.DataFrame([row for _, rows in by_replicate for row in rows])
