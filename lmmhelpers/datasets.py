"""Small data sets the book uses, and the committed R reference results.

The R reference results (``tests/fixtures/*.json``, written by ``scripts/r_reference.R`` with
lme4, lmerTest and pbkrtest) travel with the repository, not with the installed package:
:func:`reference` finds them from the checkout that ``lmmhelpers`` is imported from, so a
chapter finds them whether it runs from the repository root, from ``chapters/`` or from a
temporary build directory.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd


def repository_root():
    """The checkout that lmmhelpers is imported from (an editable install, as in the README).

    Raises
    ------
    FileNotFoundError
        When lmmhelpers is installed without its repository (a plain ``pip install``).
    """
    root = Path(__file__).resolve().parents[1]
    if not (root / "tests" / "fixtures").is_dir():
        raise FileNotFoundError(
            "the repository's tests/fixtures/ was not found next to lmmhelpers; install it "
            "from a checkout with `pip install -e .` (as requirements.txt does)."
        )
    return root


def seed003_table():
    """The 16-row repeated-measures table of the seed question (seed 003).

    ``Condition_1`` varies within participants, ``Condition_2`` between them.

    Returns
    -------
    pandas.DataFrame
        Columns ``participant_ID``, ``Condition_1``, ``Condition_2``, ``dependent_var``.

    Examples
    --------
    >>> table = seed003_table()
    >>> table.shape
    (16, 4)
    >>> table.groupby("participant_ID")["Condition_2"].nunique().max()  # between participants
    np.int64(1)
    """
    rows = [
        (1, 1, 1, 0.71), (1, 2, 1, 0.43), (2, 1, 1, 0.77), (2, 2, 1, 0.37),
        (3, 1, 1, 0.58), (3, 2, 1, 0.69), (4, 2, 1, 0.72), (4, 1, 1, 0.12),
        (26, 2, 2, 0.91), (26, 1, 2, 0.53), (27, 1, 2, 0.29), (27, 2, 2, 0.39),
        (28, 2, 2, 0.75), (28, 1, 2, 0.51), (29, 1, 2, 0.42), (29, 2, 2, 0.31),
    ]  # fmt: skip
    return pd.DataFrame(
        rows, columns=["participant_ID", "Condition_1", "Condition_2", "dependent_var"]
    )


def reference_cases():
    """Names of the committed R reference cases (see ``tests/fixtures/README.md``).

    Examples
    --------
    >>> "penicillin" in reference_cases()
    True
    """
    fixtures = repository_root() / "tests" / "fixtures"
    return sorted(
        p.stem for p in fixtures.glob("*.json") if "coef" in json.loads(p.read_text())
    )


def reference(case):
    """A committed R reference case: lme4 / lmerTest / pbkrtest results and the data.

    Parameters
    ----------
    case : str
        One of :func:`reference_cases`, e.g. ``"sleepstudy_slopes"``.

    Returns
    -------
    results : dict
        The JSON record: the lme4 formula, the matching statsmodels specification
        (``results["statsmodels"]``), lme4's REML criterion and variance parameters, and per
        coefficient, type III term and contrast the Satterthwaite and Kenward-Roger numbers.
    data : pandas.DataFrame
        The data exactly as R fitted them.

    Examples
    --------
    >>> results, data = reference("sleepstudy_slopes")
    >>> results["lme4_formula"]
    'Reaction ~ Days + (Days | Subject)'
    >>> len(data)
    180
    """
    fixtures = repository_root() / "tests" / "fixtures"
    path = fixtures / f"{case}.json"
    if not path.is_file():
        raise ValueError(f"case must be one of {reference_cases()}, got {case!r}.")
    results = json.loads(path.read_text())
    return results, pd.read_csv(fixtures / results["data"])
