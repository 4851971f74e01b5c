"""The book's data: the repository it is read from, the seed's table and the R reference cases.

The R reference results (``tests/fixtures/*.json``, written by ``scripts/r_reference.R`` with
lme4, lmerTest and pbkrtest) and the stored studies (``data/``) travel with the repository,
not with the installed package: :func:`repository_root` finds the checkout that
``lmmhelpers`` is imported from, so a chapter finds them whether it runs from the repository
root, from ``chapters/`` or from a temporary build directory.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import statsmodels.formula.api as smf

__all__ = [
    "fit_reference",
    "reference",
    "reference_cases",
    "reference_model",
    "repository_root",
    "seed003_table",
]

#: Environment variable naming the book's checkout when ``lmmhelpers`` is installed without it.
REPOSITORY_VARIABLE = "LMM_BOOK_REPO"


def _is_checkout(path):
    return (path / "tests" / "fixtures").is_dir() and (path / "data").is_dir()


def repository_root():
    """The book's checkout: the one ``lmmhelpers`` is imported from, or ``$LMM_BOOK_REPO``.

    With an editable install (``pip install -e .``, as ``requirements.txt`` does) the package
    sits in the checkout. With a plain install (the set-up cell of a chapter on Colab) the
    environment variable ``LMM_BOOK_REPO`` names the clone.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    FileNotFoundError
        When neither place holds the repository's ``tests/fixtures/`` and ``data/``.

    Examples
    --------
    >>> (repository_root() / "data" / "sweeps").is_dir()
    True
    """
    here = Path(__file__).resolve().parents[2]
    if _is_checkout(here):
        return here
    named = os.environ.get(REPOSITORY_VARIABLE)
    if named and _is_checkout(Path(named).expanduser()):
        return Path(named).expanduser().resolve()
    raise FileNotFoundError(
        "the book's repository (tests/fixtures/ and data/) was not found next to lmmhelpers "
        f"({here}) nor in ${REPOSITORY_VARIABLE} ({named!r}); install lmmhelpers from a "
        "checkout with `pip install -e .`, or set LMM_BOOK_REPO to the checkout."
    )


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


def _fixtures():
    return repository_root() / "tests" / "fixtures"


def reference_cases():
    """Names of the committed R reference cases (see ``tests/fixtures/README.md``).

    Examples
    --------
    >>> "penicillin" in reference_cases()
    True
    """
    return sorted(
        p.stem for p in _fixtures().glob("*.json") if "coef" in json.loads(p.read_text())
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

    Raises
    ------
    ValueError
        When ``case`` is not a committed case (the message lists them).

    Examples
    --------
    >>> results, data = reference("sleepstudy_slopes")
    >>> results["lme4_formula"]
    'Reaction ~ Days + (Days | Subject)'
    >>> len(data)
    180
    """
    path = _fixtures() / f"{case}.json"
    if not path.is_file():
        raise ValueError(f"case must be one of {reference_cases()}, got {case!r}.")
    results = json.loads(path.read_text())
    return results, pd.read_csv(_fixtures() / results["data"])


def reference_model(case):
    """The statsmodels model that matches the lme4 formula of a reference case.

    Parameters
    ----------
    case : str
        One of :func:`reference_cases`.

    Returns
    -------
    results : dict
        As :func:`reference`.
    model : statsmodels MixedLM
        Built from ``results["statsmodels"]`` (formula, groups, ``re_formula``,
        ``vc_formula``) on the case's data.

    Examples
    --------
    >>> results, model = reference_model("sleepstudy_slopes")
    >>> model.k_re
    2
    """
    results, data = reference(case)
    spec = results["statsmodels"]
    kwargs = {"groups": spec["groups"]}
    if spec.get("re_formula"):
        kwargs["re_formula"] = spec["re_formula"]
    if spec.get("vc_formula"):
        kwargs["vc_formula"] = spec["vc_formula"]
    return results, smf.mixedlm(spec["formula"], data, **kwargs)


def fit_reference(case):
    """A reference case's statsmodels model, fitted with :func:`lmmhelpers.fit_mixedlm`.

    Parameters
    ----------
    case : str
        One of :func:`reference_cases`.

    Returns
    -------
    results : dict
        As :func:`reference`.
    fit : statsmodels MixedLMResults

    Examples
    --------
    >>> results, fit = fit_reference("few_groups_unbalanced")
    >>> bool(abs(-2 * fit.llf - results["reml_criterion"]) < 1e-4)
    True
    """
    from lmmhelpers.fitting import fit_mixedlm

    results, model = reference_model(case)
    return results, fit_mixedlm(model)
