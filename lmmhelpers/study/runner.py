"""The replicate runner: seeds, batches, workers, failures as rows, interruption, cache.

Replicate ``i`` draws its data from ``numpy.random.SeedSequence(seed).spawn(n_sim)[i]``, so a
study's table does not depend on ``n_jobs``, the joblib backend, the batches or the order in
which they finish. The runner knows no particular design or analysis.

Failures
    Nothing that happens in one replicate stops the study. An exception in the design gives
    every label (method, term) of every analysis an error row whose message starts with
    ``"design failed:"``; an exception in an analysis's ``run``, or a run returning no rows,
    gives that analysis's labels error rows naming it; a row that fails the checks of
    :func:`lmmhelpers.study._rows.invalid_reason` (unknown columns, a p-value outside [0, 1],
    ...) is replaced by an error row giving the reason. Each replicate thus keeps one row per
    label, and :func:`lmmhelpers.rejection_rate` counts the failures in ``n_error``.
Interruption
    On ``KeyboardInterrupt`` the runner raises :class:`StudyInterrupted` (a
    ``KeyboardInterrupt``) whose ``results`` hold the replicates finished so far
    (``attrs["partial"]`` is True); with ``cache_dir`` they are also saved as a partial study
    and the next call with the same arguments runs only the missing replicates. Any other
    exception escaping the workers (a killed worker process) saves the partial study the same
    way before it propagates. While a study runs with ``cache_dir``, its finished replicates
    are saved as a partial study every :data:`CHECKPOINT_SECONDS`, so that even a crash of
    the main process loses little.
A cache that cannot be written
    A ``cache_dir`` that is read-only, a file, or on a full disk never costs the results: it
    is probed before the study runs (a :class:`~lmmhelpers.study.StudyCacheWarning` names
    the path and the reason at once), the study runs and is returned, and a failed save
    warns instead of raising. The results are kept in the process, and the next call with
    the same arguments returns them and stores them if it can, without recomputing.
"""

from __future__ import annotations

import math
import os
import sys
import tempfile
import time
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from lmmhelpers._validation import check_int, check_n_jobs, check_seed
from lmmhelpers.study import cache
from lmmhelpers.study._rows import as_frame, error_text, invalid_reason, make_row
from lmmhelpers.study.base import analysis_labels, failure_rows
from lmmhelpers.study.identity import study_description
from lmmhelpers.study.replicate import Replicate

__all__ = ["StudyInterrupted", "run_study"]


class StudyInterrupted(KeyboardInterrupt):
    """A study stopped by the user; ``results`` holds the replicates finished so far."""

    def __init__(self, results, path=None):
        done = results["replicate"].nunique()
        where = (f"; they are saved in {path}: rerun with the same cache_dir to resume"
                 if path is not None else "; they are in this exception's .results")
        super().__init__(f"study interrupted after {done} finished replicates{where}")
        self.results = results
        self.path = path


def _rows_of(analysis, replicate, design_error):
    """The validated rows of one analysis on one replicate (never raises, never empty)."""
    name = type(analysis).__name__
    if design_error is not None:
        return failure_rows(analysis, f"design failed: {error_text(design_error)}")
    try:
        rows = analysis.run(replicate)
        rows = list(rows) if rows is not None else []
    except Exception as exc:  # noqa: BLE001 - recorded as the analysis's error rows
        return failure_rows(analysis, f"{name}.run failed: {error_text(exc)}")
    if not rows:
        return failure_rows(analysis, f"{name}.run returned no rows for this replicate")
    checked = []
    labels = analysis_labels(analysis)
    for k, row in enumerate(rows):
        reason = invalid_reason(row)
        if reason is None:  # the columns it leaves out take their defaults (NaN, NA, "ok")
            values = {c: v for c, v in row.items() if c not in ("method", "term")}
            checked.append(make_row(row["method"], row.get("term", ""), **values))
            continue
        method, term = labels[min(k, len(labels) - 1)]
        if isinstance(row, dict) and isinstance(row.get("method"), str) and row["method"]:
            method, term = row["method"], row.get("term", term)
        checked.append(make_row(method, term if isinstance(term, str) else "", status="error",
                                message=f"{name}.run returned an invalid row: {reason}"))
    return checked


def _run_replicates(design, analyses, jobs):
    """Worker: run a batch of (replicate index, SeedSequence) pairs; rows out."""
    rows = []
    for i, seq in jobs:
        replicate, design_error = None, None
        try:
            data = design(seed=np.random.default_rng(seq))
            if not isinstance(data, pd.DataFrame):
                raise TypeError(f"design returned a {type(data).__name__}, not a DataFrame")
            replicate = Replicate(data)
        except Exception as exc:  # noqa: BLE001 - one replicate's failure, recorded
            design_error = exc
        for analysis in analyses:
            for row in _rows_of(analysis, replicate, design_error):
                row["replicate"] = i
                rows.append(row)
    return rows


def _progress_bar(total, enabled):
    """A tqdm bar on stderr (a widget in a notebook that has ipywidgets), or None.

    Nothing goes to stdout and no warning is emitted: ``tqdm.auto`` is used only when
    ipywidgets is importable (otherwise it would warn and fall back itself).
    """
    if not enabled:
        return None
    try:
        import ipywidgets  # noqa: F401
        from tqdm.auto import tqdm
    except ImportError:
        from tqdm.std import tqdm
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return tqdm(total=total, file=sys.stderr, unit="rep", desc="replicates")


def _table(rows, description):
    """Rows (dicts or frames) sorted by replicate, in the order of the analyses within one."""
    parts = [p if isinstance(p, pd.DataFrame) else as_frame(p) for p in rows]
    frame = as_frame(pd.concat(parts, ignore_index=True)) if parts else as_frame([])
    # stable sort by replicate keeps each replicate's rows in the order of the analyses
    frame = frame.sort_values("replicate", kind="stable").reset_index(drop=True)
    frame.attrs["study"] = description
    return frame


def _try_description(design, analyses, n_sim, seed, replicates):
    try:
        return study_description(design, analyses, n_sim, seed, replicates)
    except TypeError:
        return {"n_sim": int(n_sim), "seed": int(seed)}


def _check_arguments(design, analyses, n_sim, seed, n_jobs, replicates, batch_size):
    if not callable(design):
        raise TypeError(f"design must be callable as design(seed=rng), got {design!r}")
    if isinstance(analyses, str) or not isinstance(analyses, Sequence) or not analyses:
        raise TypeError("analyses must be a non-empty sequence of analyses")
    for a in analyses:
        if not callable(getattr(a, "run", None)):
            raise TypeError(f"every analysis needs a run(replicate) method, got {a!r}")
    n_sim = check_int("n_sim", n_sim, minimum=1)
    seed = check_seed(seed)
    n_jobs = check_n_jobs(n_jobs)
    if replicates is None:
        replicates = list(range(n_sim))
    else:
        replicates = sorted({int(i) for i in replicates})
        if replicates and (replicates[0] < 0 or replicates[-1] >= n_sim):
            raise ValueError(f"replicates must lie in range(n_sim) = range({n_sim})")
    if batch_size is not None:
        batch_size = check_int("batch_size", batch_size, minimum=1)
    return tuple(analyses), n_sim, seed, n_jobs, replicates, batch_size


def run_study(design, analyses, n_sim, seed, *, n_jobs=1, progress=True, replicates=None,
              cache_dir=None, batch_size=None):
    """Run ``analyses`` on ``n_sim`` data sets drawn from ``design``.

    Parameters
    ----------
    design : callable
        Called as ``design(seed=rng)`` with a numpy Generator; returns a DataFrame. Use
        ``functools.partial`` of a generator of :mod:`lmmhelpers.simulate` so that it can be
        sent to worker processes and described for the cache.
    analyses : sequence of analyses
        :class:`~lmmhelpers.study.MixedLMTest`, :class:`~lmmhelpers.study.LikelihoodRatioTest`,
        :class:`~lmmhelpers.study.GroupMeansTTest`, :class:`~lmmhelpers.study.GEETest`,
        :class:`~lmmhelpers.study.FixedEffectsTest`, any subclass of
        :class:`~lmmhelpers.study.Analysis`, or any picklable object with a
        ``run(replicate)`` method returning rows (dicts of :data:`COLUMNS`).
    n_sim : int
        Number of replicates; replicate ``i`` is seeded by
        ``numpy.random.SeedSequence(seed).spawn(n_sim)[i]``.
    seed : int
        Root seed of the study.
    n_jobs : int or None, default 1
        Worker processes for joblib (``-1``: all cores). ``None`` leaves the choice to an
        enclosing ``joblib.parallel_config`` (e.g. the dask backend).
    progress : bool, default True
        Show a progress bar on stderr (never stdout); pass False in a book.
    replicates : sequence of int, optional
        Run only these replicates (indices in ``range(n_sim)``); their rows are identical to
        those of the full study.
    cache_dir : str or Path, optional
        Load the study from this directory if it was saved there under the same description
        (code digests and lmmhelpers version included, see
        :mod:`lmmhelpers.study.identity`); otherwise run it (resuming from a partial study
        left by an interruption) and save it there. A directory that cannot be written is
        named by a warning before the study runs; the results are returned all the same
        (see "A cache that cannot be written" in :mod:`lmmhelpers.study.runner`).
    batch_size : int, optional
        Replicates per joblib task (default: about 4 tasks per worker, at most 50 replicates
        per task, so that the progress bar moves).

    Returns
    -------
    pandas.DataFrame
        One row per replicate, method and term, with columns :data:`COLUMNS`, sorted by
        replicate in the order of ``analyses``. ``status`` is "ok", "error" or
        "not applicable"; failed rows keep their place with NaN p-values (see
        :mod:`lmmhelpers.study.runner` for what becomes an error row). ``attrs["study"]``
        holds the study's description.

    Raises
    ------
    StudyInterrupted
        On ``KeyboardInterrupt``, with the finished replicates in its ``results``.

    Examples
    --------
    >>> from functools import partial
    >>> from lmmhelpers.simulate import two_input_design
    >>> from lmmhelpers.study import GroupMeansTTest, MixedLMTest
    >>> design = partial(two_input_design, n_groups=4, n_per_group=5)
    >>> tests = [MixedLMTest("output ~ input", "group", "input[T.input_1]"),
    ...          GroupMeansTTest("output", "group", "input", term="input[T.input_1]")]
    >>> res = run_study(design, tests, n_sim=3, seed=1, progress=False)
    >>> res[["replicate", "method", "status"]].head(4)
       replicate         method status
    0          0         normal     ok
    1          0  group-means-t     ok
    2          1         normal     ok
    3          1  group-means-t     ok
    """
    analyses, n_sim, seed, n_jobs, replicates, batch_size = _check_arguments(
        design, analyses, n_sim, seed, n_jobs, replicates, batch_size)

    done = []
    writable = True
    if cache_dir is not None:
        description = study_description(design, analyses, n_sim, seed, replicates)
        try:
            cached = cache.load_study(description, cache_dir)
        except OSError as exc:  # an unreadable directory: the study runs, and says so
            cache.warn_unwritable(Path(cache_dir), exc, "loading the study")
            cached = None
        if cached is not None:
            return cached
        pending = _PENDING.pop(_pending_key(cache_dir, description), None)
        if pending is not None:  # computed by an earlier call that could not store it
            if _store(pending, description, cache_dir) is None:
                _PENDING[_pending_key(cache_dir, description)] = pending
            else:
                cache.remove_partial(description, cache_dir)
            return pending.copy()
        try:
            previous = cache.load_partial(description, cache_dir)
        except OSError:
            previous = None
        if previous is not None:
            done = [previous]
        writable = _check_writable(cache_dir)
    else:
        description = _try_description(design, analyses, n_sim, seed, replicates)
    finished = set() if not done else set(done[0]["replicate"])

    from joblib import Parallel, delayed

    children = np.random.SeedSequence(seed).spawn(n_sim)
    jobs = [(i, children[i]) for i in replicates if i not in finished]
    workers = (os.cpu_count() or 1) if n_jobs is None or n_jobs < 0 else n_jobs
    if batch_size is None:
        batch_size = max(1, min(50, math.ceil(len(jobs) / (4 * workers))))
    batches = [jobs[k : k + batch_size] for k in range(0, len(jobs), batch_size)]

    bar = _progress_bar(len(jobs), progress)
    rows = []
    last_checkpoint = time.monotonic()
    try:
        kwargs = {} if n_jobs is None else {"n_jobs": n_jobs}
        parallel = Parallel(return_as="generator_unordered", **kwargs)
        for part in parallel(delayed(_run_replicates)(design, analyses, b) for b in batches):
            rows.extend(part)
            if bar is not None:
                bar.update(len({r["replicate"] for r in part}))
            if (cache_dir is not None and writable
                    and time.monotonic() - last_checkpoint > CHECKPOINT_SECONDS):
                # finished replicates reach the disk while the study runs: a crash of this
                # process (not only Ctrl-C) loses at most CHECKPOINT_SECONDS of work
                partial = _table(done + [rows], description)
                writable = _store(partial, description, cache_dir, partial=True) is not None
                last_checkpoint = time.monotonic()
    except BaseException as exc:
        partial = _table(done + ([rows] if rows else []), description)
        partial.attrs["partial"] = True
        path = None
        if cache_dir is not None and len(partial):
            path = _store(partial, description, cache_dir, partial=True)
        if isinstance(exc, KeyboardInterrupt):
            raise StudyInterrupted(partial, path) from exc
        if path is not None and hasattr(exc, "add_note"):  # Python >= 3.11
            exc.add_note(f"run_study: the finished replicates are saved in {path}; rerun "
                         "with the same cache_dir to resume")
        raise
    finally:
        if bar is not None:
            bar.close()

    frame = _table(done + ([rows] if rows else []), description)
    if cache_dir is not None:
        if _store(frame, description, cache_dir) is not None:
            cache.remove_partial(description, cache_dir)
        else:  # kept in this process, written by the next call that can
            _PENDING[_pending_key(cache_dir, description)] = frame.copy()
    return frame


#: Seconds between the saves of a running study's finished replicates (with ``cache_dir``).
CHECKPOINT_SECONDS = 30.0

#: Studies computed in this process whose cache could not be written, by (directory, key):
#: the next call for the same study returns them (and tries to write them) instead of
#: recomputing.
_PENDING = {}


def _pending_key(cache_dir, description):
    return (str(Path(cache_dir).expanduser().resolve()), cache.study_key(description))


def _check_writable(cache_dir):
    """Whether files can be created in ``cache_dir``; if not, warn now, before the work."""
    directory = Path(cache_dir)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=directory, prefix=".write-probe-")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        cache.warn_unwritable(directory, exc, "before running the study")
        return False
    return True


def _store(frame, description, cache_dir, partial=False):
    """Save (a partial) study; on an OS error (read-only, not a directory, disk full) warn,
    naming the path, and return None: the results are returned, never discarded."""
    try:
        return cache.save_study(frame, description, cache_dir, _partial=partial)
    except OSError as exc:
        cache.warn_unwritable(Path(cache_dir), exc,
                              "saving the finished replicates" if partial else
                              "saving the study")
        return None
