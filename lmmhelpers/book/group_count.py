"""The stored group-count sweeps: an index of cells and their p-values, stored compactly.

The full study tables are too big to commit for 26 cells, so ``scripts/make_sweeps_group_count.py``
writes two files under ``data/sweeps/``:

``group_count_index.csv``
    One row per cell (:func:`lmmhelpers.book.group_count_cells`), with the lmmhelpers version
    and the study key of the cell's description.
``group_count_pvalues.csv.gz``
    One row per cell, replicate, method and term: ``p_value`` and ``df`` rounded to 4
    significant digits, and ``converged``, ``boundary``, ``status`` as in the study table.

:func:`load_group_count` reads them and checks that every stored cell is the cell that
:func:`lmmhelpers.book.group_count_cells` specifies, so a chapter cannot read data made from
another specification.
"""

from __future__ import annotations

import pandas as pd

from lmmhelpers.book.repository import repository_root
from lmmhelpers.book.studies import group_count_cells, group_count_study

__all__ = ["GROUP_COUNT_COLUMNS", "compact", "group_count_index", "load_group_count"]

#: The columns of a study table that the compact file keeps.
GROUP_COUNT_COLUMNS = ("replicate", "method", "term", "p_value", "df", "converged", "boundary",
                       "status")
INDEX_FILE, PVALUES_FILE = "group_count_index.csv", "group_count_pvalues.csv.gz"


def directory():
    """``data/sweeps/`` of the repository."""
    return repository_root() / "data" / "sweeps"


def group_count_index():
    """The index the script writes: the cells with the lmmhelpers version and study keys.

    Examples
    --------
    >>> index = group_count_index()
    >>> list(index.columns[:3]), len(index)
    (['cell', 'sweep', 'design'], 26)
    """
    import lmmhelpers

    rows = []
    for entry in group_count_cells():
        rows.append({**entry, "lmmhelpers_version": lmmhelpers.__version__,
                     "study_key": group_count_study(entry).key()})
    return pd.DataFrame(rows)


def compact(results, cell):
    """The stored columns of one cell's study table (rounded when written).

    Examples
    --------
    >>> from lmmhelpers.book import null_pvalue_study
    >>> table = null_pvalue_study(3, 4, 1.0, 1.0, n_sim=2, seed=1, progress=False)
    >>> list(compact(table, 7).columns[:3])
    ['cell', 'replicate', 'method']
    """
    out = results[list(GROUP_COUNT_COLUMNS)].copy()
    out.insert(0, "cell", int(cell))
    return out


def _as_text(frame):
    return frame.astype(object).where(frame.notna(), "").map(str)


def load_group_count():
    """The stored index and p-values, checked against the cells' specification.

    Returns
    -------
    index : pandas.DataFrame
        One row per cell, as :func:`group_count_index`.
    pvalues : pandas.DataFrame
        One row per cell, replicate, method and term.

    Raises
    ------
    FileNotFoundError
        When a file is missing (naming it and the script that writes it).
    ValueError
        When a stored cell differs from its specification in :func:`group_count_cells`, or
        was stored under another study key.

    Examples
    --------
    >>> index, pvalues = load_group_count()
    >>> int(index.loc[0, "n_sim"]) == int((pvalues["cell"] == 0).sum() / 4)
    True
    """
    here = directory()
    for name in (INDEX_FILE, PVALUES_FILE):
        if not (here / name).is_file():
            raise FileNotFoundError(
                f"{here / name} is missing; regenerate it with "
                "scripts/make_sweeps_group_count.py.")
    index = pd.read_csv(here / INDEX_FILE)
    expected = group_count_index()
    columns = [c for c in expected.columns if c not in ("lmmhelpers_version",)]
    stored, wanted = _as_text(index.reindex(columns=columns)), _as_text(expected[columns])
    if stored.shape != wanted.shape or not (stored.to_numpy() == wanted.to_numpy()).all():
        raise ValueError(
            f"{here / INDEX_FILE} does not list the cells of lmmhelpers.book.group_count_cells "
            "(or their study keys changed): regenerate it with "
            "scripts/make_sweeps_group_count.py (--index-only rewrites the index alone).")
    pvalues = pd.read_csv(here / PVALUES_FILE)
    return index, pvalues
