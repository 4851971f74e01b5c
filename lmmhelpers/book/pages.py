"""Helpers of the book's pages: glue many values at once, and time a computation.

Glue (myst-nb) puts computed numbers into the prose: ``{glue:text}`name:.3f```. The chapters
glue plain Python values (``display=False``), never numpy scalars, so that the text of a glued
number does not depend on numpy's printing.
"""

from __future__ import annotations

import time

import numpy as np

from lmmhelpers.covariance import structure
from lmmhelpers.tables import anova_table, coef_table

__all__ = ["ClaimError", "best_time", "claim", "glue_value", "glue_values", "plain",
           "time_corrections"]


class ClaimError(AssertionError):
    """A sentence of the book that its own data no longer support."""


def claim(holds, text):
    """Check a claim the prose makes; fail the build with the claim's words when it is false.

    Every qualitative sentence of a chapter ("z rejects more often than Satterthwaite", "the
    interval contains 0.05") sits next to a hidden cell that calls this with the condition
    the data must satisfy, so that a change of code or data that contradicts the text stops
    the build instead of publishing a wrong sentence.

    Parameters
    ----------
    holds : bool
        The condition, computed from the chapter's own numbers.
    text : str
        The claim as the prose states it.

    Returns
    -------
    str
        ``text`` (so a cell can show what was checked, if it wants).

    Raises
    ------
    ClaimError
        When ``holds`` is false: "the book claims: <text>, but its data do not support it".

    Examples
    --------
    >>> claim(0.061 < 0.083, "Satterthwaite rejects less often than z")
    'Satterthwaite rejects less often than z'
    >>> claim(0.09 < 0.05, "z holds its level")
    Traceback (most recent call last):
    ...
    lmmhelpers.book.pages.ClaimError: the book claims: z holds its level; its data do not support it
    """
    if not isinstance(text, str) or not text:
        raise TypeError(f"text must be the claim as a non-empty str, got {text!r}")
    if not bool(holds):
        raise ClaimError(f"the book claims: {text}; its data do not support it")
    return text


def plain(value):
    """A numpy scalar as the Python value it holds; anything else unchanged.

    Examples
    --------
    >>> type(plain(np.float64(0.5))).__name__, plain("text")
    ('float', 'text')
    """
    return value.item() if isinstance(value, np.generic) else value


def glue_value(name, value):
    """Glue one value for the prose (``display=False``, as a plain Python value).

    Examples
    --------
    >>> glue_value("level", np.float64(0.05))
    0.05
    """
    from myst_nb import glue

    value = plain(value)
    glue(name, value, display=False)
    return value


def glue_values(values=None, /, **named):
    """Glue several values for the prose at once (``display=False``, plain Python values).

    Parameters
    ----------
    values : dict, optional
        Names and values.
    **named
        More names and values.

    Returns
    -------
    dict
        What was glued, by name.

    Examples
    --------
    >>> glue_values({"n_groups": np.int64(6)}, level=0.05)
    {'n_groups': 6, 'level': 0.05}
    """
    return {name: glue_value(name, v) for name, v in {**(values or {}), **named}.items()}


def best_time(f, reps=3):
    """The shortest wall-clock time of ``reps`` calls of ``f()``, in seconds.

    Examples
    --------
    >>> best_time(lambda: sum(range(100)), reps=2) < 1.0
    True
    """
    out = []
    for _ in range(reps):
        t0 = time.perf_counter()
        f()
        out.append(time.perf_counter() - t0)
    return min(out)


def time_corrections(result, reps=3, ddfs=("satterthwaite", "kenward-roger")):
    """Seconds for a coefficient table and a type III table from an existing fit, per method.

    The covariance structure is renewed before every call
    (:func:`lmmhelpers.covariance.structure` with ``refresh=True``), so each time includes it.

    Parameters
    ----------
    result : statsmodels MixedLMResults
    reps : int, default 3
        Repeats; the best is kept.
    ddfs : sequence of str
        The methods timed.

    Returns
    -------
    dict
        Seconds by method.

    Examples
    --------
    >>> from lmmhelpers import fit_mixedlm
    >>> from lmmhelpers.book import nested_slopes
    >>> fit = fit_mixedlm(nested_slopes(200)[1])
    >>> sorted(time_corrections(fit, reps=1))
    ['kenward-roger', 'satterthwaite']
    """
    out = {}
    for ddf in ddfs:
        def both(ddf=ddf):
            structure(result, refresh=True)  # from scratch, the structure included
            coef_table(result, ddf=ddf)
            anova_table(result, ddf=ddf)

        out[ddf] = best_time(both, reps)
    return out
