"""Plots of Monte Carlo studies: p-value histograms, QQ plots, rejection-rate curves.

All plots use seaborn's colour-blind-safe "colorblind" palette with distinct markers and line
styles too (so they survive greyscale printing), label every axis, accept ``ax=`` and return
the Axes they drew on.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from lmmhelpers._validation import check_int, check_probability, check_real
from lmmhelpers.summaries import rejection_rate

__all__ = ["power_curve_plot", "pvalue_histogram", "pvalue_qq", "rejection_curve"]

_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
_LINESTYLES = ("-", "--", "-.", ":", (0, (5, 1)), (0, (3, 1, 1, 1, 1, 1)))


def _palette(n):
    import seaborn as sns

    return sns.color_palette("colorblind", n_colors=max(n, 1))


def _axes(ax):
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots()
    return ax


def _check_table(results, columns):
    if not isinstance(results, pd.DataFrame):
        raise TypeError(f"results must be a DataFrame, got {type(results).__name__}")
    absent = [c for c in columns if c not in results.columns]
    if absent:
        raise ValueError(f"results lacks the columns {absent}")


def _methods(results, methods):
    present = list(dict.fromkeys(results["method"]))
    if methods is None:
        return present
    methods = [methods] if isinstance(methods, str) else list(methods)
    absent = [m for m in methods if m not in present]
    if absent:
        raise ValueError(f"methods not in results: {absent} (present: {present})")
    return methods


def pvalue_histogram(results, method=None, *, bins=20, level=0.95, ax=None):
    """Histogram of one method's p-values with the uniform reference and its Monte Carlo band.

    Under uniform p-values each of ``bins`` equal bins holds a Binomial(n, 1/bins) count;
    the band is that distribution's central ``level`` interval, bin by bin.

    Parameters
    ----------
    results : pandas.DataFrame
        A study's table (columns ``method``, ``p_value``).
    method : str, optional
        The method to plot; may be omitted when the table holds one method.
    bins : int, default 20
        Number of equal bins on [0, 1].
    level : float, default 0.95
        Pointwise level of the band.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np, pandas as pd
    >>> res = pd.DataFrame({"method": "normal",
    ...                     "p_value": np.random.default_rng(0).uniform(size=200)})
    >>> ax = pvalue_histogram(res)
    >>> ax.get_xlabel()
    'p-value'
    """
    _check_table(results, ["method", "p_value"])
    level = check_probability("level", level)
    bins = check_int("bins", bins, minimum=1)
    present = list(dict.fromkeys(results["method"]))
    if method is None:
        if len(present) != 1:
            raise ValueError(f"method must name one of the methods in results: {present}")
        method = present[0]
    elif method not in present:
        raise ValueError(f"method {method!r} is not in results (present: {present})")
    p = results.loc[results["method"] == method, "p_value"].dropna().to_numpy(dtype=float)
    n = p.size
    ax = _axes(ax)
    colours = _palette(3)
    edges = np.linspace(0.0, 1.0, bins + 1)
    a = (1 - level) / 2
    lo, hi = stats.binom.ppf(a, n, 1 / bins), stats.binom.ppf(1 - a, n, 1 / bins)
    ax.hist(p, bins=edges, color=colours[0], edgecolor="white", label=f"{method} (n = {n})",
            zorder=1)
    ax.axhspan(lo, hi, color=colours[2], alpha=0.35, lw=0, zorder=2,
               label=f"{level:.0%} band under uniformity")
    ax.axhline(n / bins, color="black", ls="--", lw=1, label="uniform")
    ax.set_xlim(0, 1)
    ax.set_xlabel("p-value")
    ax.set_ylabel(f"count per bin (width {1 / bins:g})")
    ax.set_title(f"Null p-values: {method}")
    ax.legend(frameon=False, fontsize="small")
    return ax


def pvalue_qq(results, methods=None, *, level=0.95, ax=None):
    """QQ plot of p-values against the uniform on a −log10 scale, one line per method.

    The i-th smallest of n uniform p-values follows Beta(i, n + 1 − i); the shaded band is
    its pointwise central ``level`` interval (for the largest n among the methods). Points
    above the diagonal are p-values smaller than they should be (anti-conservative tests).

    Parameters
    ----------
    results : pandas.DataFrame
        A study's table (columns ``method``, ``p_value``).
    methods : str or sequence of str, optional
        Methods to plot (default: all, in order of appearance).
    level : float, default 0.95
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> res = pd.DataFrame({"method": np.repeat(["z", "t"], 100), "p_value": rng.uniform(size=200)})
    >>> ax = pvalue_qq(res)
    >>> [t.get_text() for t in ax.get_legend().get_texts()][:2]
    ['z', 't']
    """
    _check_table(results, ["method", "p_value"])
    level = check_probability("level", level)
    methods = _methods(results, methods)
    ax = _axes(ax)
    colours = _palette(len(methods))
    n_max, top = 0, 0.0
    for j, m in enumerate(methods):
        p = np.sort(results.loc[results["method"] == m, "p_value"].dropna().to_numpy(float))
        n = p.size
        if n == 0:
            continue
        n_max = max(n_max, n)
        expected = -np.log10(np.arange(1, n + 1) / (n + 1))
        observed = -np.log10(np.clip(p, 1e-300, 1.0))
        top = max(top, expected.max())
        ax.plot(expected, observed, ls="none", marker=_MARKERS[j % len(_MARKERS)], ms=3,
                color=colours[j], label=m)
    if n_max:
        i = np.arange(1, n_max + 1)
        a = (1 - level) / 2
        band_lo = -np.log10(stats.beta.ppf(1 - a, i, n_max + 1 - i))
        band_hi = -np.log10(stats.beta.ppf(a, i, n_max + 1 - i))
        ax.fill_between(-np.log10(i / (n_max + 1)), band_lo, band_hi, color="grey", alpha=0.25,
                        lw=0, label=f"{level:.0%} band (n = {n_max})")
    ax.plot([0, top], [0, top], color="black", ls="--", lw=1, label="uniform")
    ax.set_xlabel("expected −log10(p) under uniformity")
    ax.set_ylabel("observed −log10(p)")
    ax.set_title("p-values against the uniform")
    ax.legend(frameon=False, fontsize="small")
    return ax


def rejection_curve(results, x="n_groups", *, alpha=0.05, methods=None, level=0.95, dodge=0.01,
                    ax=None):
    """Rejection rate against a design parameter (e.g. number of groups), one line per method.

    Parameters
    ----------
    results : pandas.DataFrame
        Either a study table with a column ``x`` (several studies concatenated), or a table of
        :func:`lmmhelpers.rejection_rate` grouped by ``method`` and ``x`` (columns ``rate``,
        ``lower``, ``upper``).
    x : str, default "n_groups"
        Column on the horizontal axis.
    alpha : float, default 0.05
        Test level; drawn as a reference line (and used to compute the rates from a study
        table; a rate table is filtered to this ``alpha`` if it has several).
    methods : str or sequence of str, optional
        Methods to plot (default: all).
    level : float, default 0.95
        Level of the error bars (when computed here).
    dodge : float, default 0.01
        Horizontal offset between methods, as a fraction of the range of ``x``, so that
        error bars at the same ``x`` do not hide each other (0 for none).
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import pandas as pd
    >>> rates = pd.DataFrame({"method": ["z", "z", "t", "t"], "n_groups": [4, 10, 4, 10],
    ...                       "rate": [0.15, 0.08, 0.05, 0.05], "lower": [0.13, 0.07, 0.04, 0.04],
    ...                       "upper": [0.17, 0.09, 0.06, 0.06], "alpha": 0.05})
    >>> rejection_curve(rates).get_ylabel()
    'rejection rate at α = 0.05'
    """
    alpha = check_probability("alpha", alpha)
    if not isinstance(results, pd.DataFrame):
        raise TypeError(f"results must be a DataFrame, got {type(results).__name__}")
    if x not in results.columns:
        raise ValueError(f"x must name a column of results, got {x!r}")
    if "rate" in results.columns:
        _check_table(results, ["method", "rate", "lower", "upper"])
        table = results
        if "alpha" in table.columns:
            table = table[np.isclose(table["alpha"].to_numpy(float), alpha)]
            if table.empty:
                raise ValueError(f"the rate table has no rows at alpha = {alpha}")
    else:
        _check_table(results, ["method", "p_value"])
        table = rejection_rate(results, alpha=alpha, by=["method", x], level=level)
    methods = _methods(table, methods)
    dodge = check_real("dodge", dodge, minimum=0.0)
    ax = _axes(ax)
    ax.axhline(alpha, color="black", ls="--", lw=1, label=f"nominal {alpha:g}")
    _rate_lines(ax, table, x, "rate", methods, dodge)
    ax.set_xlabel(x.replace("_", " "))
    ax.set_ylabel(f"rejection rate at α = {alpha:g}")
    ax.set_ylim(bottom=0)
    ax.set_title("Type I error by number of groups" if x == "n_groups" else "Rejection rate")
    ax.legend(frameon=False, fontsize="small")
    return ax


def _rate_lines(ax, table, x, value, methods, dodge):
    """One line per method of ``value`` against ``x`` with its interval as error bars."""
    span = float(np.ptp(table[x].to_numpy(float))) if len(table) else 0.0
    colours = _palette(len(methods))
    for j, m in enumerate(methods):
        t = table[table["method"] == m].sort_values(x)
        xs = t[x].to_numpy(float) + (j - (len(methods) - 1) / 2) * dodge * span
        rate = t[value].to_numpy(float)
        err = np.vstack([rate - t["lower"].to_numpy(float), t["upper"].to_numpy(float) - rate])
        ax.errorbar(xs, rate, yerr=err, color=colours[j], marker=_MARKERS[j % len(_MARKERS)],
                    ls=_LINESTYLES[j % len(_LINESTYLES)], capsize=3, label=m)


def power_curve_plot(curve, x, *, methods=None, target=0.8, dodge=0.01, ax=None):
    """Power against one grid parameter, one line per method, from :func:`lmmhelpers.power_curve`.

    Parameters
    ----------
    curve : pandas.DataFrame
        The table of :func:`lmmhelpers.power_curve` (columns ``method``, ``power``, ``lower``,
        ``upper`` and the grid's); filter it to one value of the other grid parameters first.
    x : str
        The grid column on the horizontal axis.
    methods : str or sequence of str, optional
        Methods to plot (default: all).
    target : float or None, default 0.8
        A reference line at the power one plans for (None for none).
    dodge : float, default 0.01
        Horizontal offset between methods, as a fraction of the range of ``x``.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import pandas as pd
    >>> curve = pd.DataFrame({"n_groups": [4, 8, 4, 8], "method": ["z", "z", "t", "t"],
    ...                       "power": [0.4, 0.7, 0.3, 0.65], "lower": [0.35, 0.65, 0.25, 0.6],
    ...                       "upper": [0.45, 0.75, 0.35, 0.7]})
    >>> power_curve_plot(curve, "n_groups").get_ylabel()
    'power'
    """
    if not isinstance(curve, pd.DataFrame):
        raise TypeError(f"curve must be a DataFrame, got {type(curve).__name__}")
    _check_table(curve, ["method", "power", "lower", "upper"])
    if x not in curve.columns:
        raise ValueError(f"x must name a column of curve, got {x!r}")
    if curve.duplicated(["method", x]).any():
        raise ValueError(f"curve has several rows per method and {x}: filter it to one value "
                         "of the other grid parameters (and one term) first")
    methods = _methods(curve, methods)
    dodge = check_real("dodge", dodge, minimum=0.0)
    ax = _axes(ax)
    if target is not None:
        target = check_probability("target", target)
        ax.axhline(target, color="black", ls=":", lw=1, label=f"target {target:g}")
    _rate_lines(ax, curve, x, "power", methods, dodge)
    ax.set_xlabel(x.replace("_", " "))
    ax.set_ylabel("power")
    ax.set_ylim(0, 1)
    ax.legend(frameon=False, fontsize="small")
    return ax
