"""Helpers of the book's pages: glue many values at once, and time a computation.

Glue (myst-nb) puts computed numbers into the prose: ``{glue:text}`name:.3f```. The chapters
glue plain Python values (``display=False``), never numpy scalars, so that the text of a glued
number does not depend on numpy's printing.
"""

from __future__ import annotations

import time
from typing import NamedTuple

import numpy as np
from scipy import stats

from lmmhelpers.covariance import structure
from lmmhelpers.tables import anova_table, coef_table

__all__ = ["ClaimError", "PairedComparison", "best_time", "claim", "glue_value",
           "glue_values", "paired_rejections", "plain", "rate_text", "time_corrections"]


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


def rate_text(rate, lower, upper, digits=3):
    """A rate and its interval as one string, the form the prose shows: "0.083 (0.071–0.096)".

    Parameters
    ----------
    rate, lower, upper : float
        The rate and the bounds of its interval.
    digits : int, default 3
        Decimals of all three.

    Returns
    -------
    str

    Examples
    --------
    >>> rate_text(0.1006, 0.0881, 0.1144)
    '0.101 (0.088–0.114)'
    >>> rate_text(0.5, 0.45, 0.55, digits=2)
    '0.50 (0.45–0.55)'
    """
    if not lower <= rate <= upper:
        raise ValueError(f"the rate {rate!r} must lie in its interval ({lower!r}, {upper!r})")
    return f"{rate:.{digits}f} ({lower:.{digits}f}\u2013{upper:.{digits}f})"


class PairedComparison(NamedTuple):
    """Two tests on the same data sets: who rejected where, and the exact McNemar test."""

    a_only: int
    """Data sets that test ``a`` rejected and ``b`` did not."""
    b_only: int
    """Data sets that test ``b`` rejected and ``a`` did not."""
    both: int
    """Data sets both rejected."""
    n: int
    """Data sets with a p-value from both tests."""
    p_value: float
    """The exact McNemar p-value, the two-sided binomial test of ``a_only`` in
    ``a_only + b_only`` discordant data sets with probability 1/2 (1.0 when there are none)."""


def paired_rejections(p_a, p_b, alpha=0.05):
    """Compare two tests that ran on the same data sets: discordant counts and McNemar's test.

    Two rejection rates measured on the *same* simulated data sets are not independent, so
    their two intervals overlapping says little. The data sets on which both tests agree say
    nothing about which rejects more often; only the discordant ones do. Under the hypothesis
    that both tests reject equally often, each discordant data set is "``a`` only" or
    "``b`` only" with probability 1/2: McNemar's test, here in its exact form, a binomial
    test (``scipy.stats.binomtest``) on the discordant data sets.

    Parameters
    ----------
    p_a, p_b : array_like or pandas.Series
        The two tests' p-values, one per data set, aligned (Series are aligned by index).
        Data sets where either is missing are left out.
    alpha : float, default 0.05
        Each test rejects where its p-value is below ``alpha``.

    Returns
    -------
    PairedComparison

    Examples
    --------
    >>> a = [0.01, 0.02, 0.03, 0.20, 0.30, 0.04]
    >>> b = [0.01, 0.20, 0.30, 0.20, 0.03, 0.50]
    >>> r = paired_rejections(a, b)
    >>> r.a_only, r.b_only, r.both, r.n, round(r.p_value, 3)
    (3, 1, 1, 6, 0.625)
    """
    import pandas as pd

    if isinstance(p_a, pd.Series) and isinstance(p_b, pd.Series):
        p_a, p_b = p_a.align(p_b, join="inner")
    a, b = np.asarray(p_a, dtype=float), np.asarray(p_b, dtype=float)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"p_a and p_b must be 1-d and aligned, got shapes {a.shape}, {b.shape}")
    keep = ~(np.isnan(a) | np.isnan(b))
    ra, rb = a[keep] < alpha, b[keep] < alpha
    a_only, b_only = int((ra & ~rb).sum()), int((~ra & rb).sum())
    discordant = a_only + b_only
    p = float(stats.binomtest(a_only, discordant, 0.5).pvalue) if discordant else 1.0
    return PairedComparison(a_only, b_only, int((ra & rb).sum()), int(keep.sum()), p)


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
