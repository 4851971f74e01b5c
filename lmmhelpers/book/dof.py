"""The degrees-of-freedom chapter's computations that are not the reader's own analysis.

- :func:`r_validation`: every committed R case fitted with :func:`lmmhelpers.fit_mixedlm`,
  every coefficient's t test and type III F test compared with lmerTest and pbkrtest;
- :func:`df_by_groups`: Satterthwaite's and Kenward-Roger's df of a between-group effect in
  simulated data sets, over the number of groups, balanced and unbalanced;
- :func:`boundary_path`: one data set moved step by step from a singular fit to an interior
  one, with the df of both methods at every step;
- :func:`dof_table` and :func:`dof_rates`: a stored study of
  :func:`lmmhelpers.book.dof_studies` with its between-within rows and the singular-fit flag
  on every row, and its rejection rates, overall or by fit type.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import statsmodels.formula.api as smf

from lmmhelpers.book.repository import fit_reference, reference, reference_cases
from lmmhelpers.book.scenarios import between_within_rows
from lmmhelpers.book.studies import between_within_df_of
from lmmhelpers.covariance import structure
from lmmhelpers.fitting import fit_mixedlm
from lmmhelpers.satterthwaite import satterthwaite_df_expected
from lmmhelpers.simulate import two_input_design
from lmmhelpers.summaries import rejection_rate
from lmmhelpers.tables import anova_table, coef_table

__all__ = ["DOF_METHODS", "boundary_path", "df_by_groups", "dof_rates", "dof_table",
           "r_validation"]

#: The methods of the chapter, in the order its tables show them.
DOF_METHODS = ("normal", "satterthwaite", "kenward-roger", "between-within", "group-means-t")


def r_validation(cases=None):
    """Every coefficient t test and type III F test of the R cases, beside lmerTest/pbkrtest.

    Parameters
    ----------
    cases : sequence of str, optional
        Committed reference cases (default: all of :func:`lmmhelpers.book.reference_cases`).

    Returns
    -------
    pandas.DataFrame
        One row per case, test and method ("satterthwaite" against lmerTest,
        "kenward-roger" against pbkrtest): ``df``, ``stat``, ``p`` and R's ``R df``,
        ``R stat``, ``R p``, the relative differences ``df rel. diff``, ``stat rel. diff``,
        the absolute ``p diff``, and ``singular`` (lme4's ``isSingular``).

    Examples
    --------
    >>> v = r_validation(["few_groups_between"])
    >>> sorted(set(v["method"]))
    ['kenward-roger', 'satterthwaite']
    >>> bool(v["df rel. diff"].max() < 1e-3)
    True
    """
    records = []
    for case in reference_cases() if cases is None else cases:
        ref, fit = fit_reference(case)
        for ddf, key in (("satterthwaite", "satterthwaite"), ("kenward-roger", "kr")):
            table = coef_table(fit, ddf=ddf)
            for c in ref["coef"]:
                row = table.loc[c["statsmodels_name"]]
                records.append({"case": case, "test": c["statsmodels_name"], "method": ddf,
                                "df": row["df"], "R df": c[f"df_{key}"], "stat": row["t"],
                                "R stat": c[f"t_{key}"], "p": row["P>|t|"],
                                "R p": c[f"p_{key}"], "singular": bool(ref["singular"])})
            terms = anova_table(fit, ddf=ddf) if "anova_type3" in ref else None
            for a in ref.get("anova_type3", []):
                row = terms.loc[a["statsmodels_term"]]
                records.append({"case": case, "test": "F: " + a["statsmodels_term"],
                                "method": ddf, "df": row["Den DF"], "R df": a[f"den_df_{key}"],
                                "stat": row["F Value"], "R stat": a[f"F_{key}"],
                                "p": row["Pr > F"], "R p": a[f"p_{key}"],
                                "singular": bool(ref["singular"])})
    out = pd.DataFrame(records)
    out["df rel. diff"] = (out["df"] - out["R df"]).abs() / out["R df"]
    out["stat rel. diff"] = ((out["stat"] - out["R stat"]).abs()
                             / out["R stat"].abs().clip(lower=1e-12))
    out["p diff"] = (out["p"] - out["R p"]).abs()
    return out


def _between_df(data):
    """Satterthwaite's and Kenward-Roger's df of the input effect, and the boundary flag."""
    fit = fit_mixedlm(smf.mixedlm("output ~ input", data, groups="group"))
    return {"satterthwaite": float(coef_table(fit, ddf="satterthwaite").iloc[1]["df"]),
            "kenward-roger": float(coef_table(fit, ddf="kenward-roger").iloc[1]["df"]),
            "boundary": bool(fit.boundary)}


def df_by_groups(group_counts, *, n_data_sets=5, sizes=(2, 3, 6, 12), seed=0):
    """The df of a between-group effect over the number of groups, in simulated data sets.

    For every G in ``group_counts`` (groups per input) and each of ``n_data_sets`` seeded
    data sets of :func:`lmmhelpers.two_input_design` (group and residual variance 1), two
    designs: *balanced*, 5 rows per group, and *unbalanced*, group sizes cycling through
    ``sizes`` (as many rows in all as the balanced one, when ``sizes`` averages 5).

    Parameters
    ----------
    group_counts : sequence of int
    n_data_sets : int, default 5
    sizes : sequence of int, default (2, 3, 6, 12)
    seed : int, default 0
        Data set k of G groups uses seed ``seed + 1000 G + k``.

    Returns
    -------
    pandas.DataFrame
        Columns ``design``, ``n_groups`` (per input), ``data_set``, ``boundary``,
        ``satterthwaite``, ``kenward-roger`` and ``between-within`` (2G − 2).

    Examples
    --------
    >>> d = df_by_groups([3], n_data_sets=1, seed=1)
    >>> d[["design", "n_groups", "between-within"]].values.tolist()
    [['balanced', 3, 4], ['unbalanced', 3, 4]]
    """
    rows = []
    for G in group_counts:
        for design, n_per_group in (("balanced", 5), ("unbalanced", list(np.resize(sizes, G)))):
            for k in range(n_data_sets):
                data = two_input_design(G, n_per_group, seed=seed + 1000 * G + k)
                rows.append({"design": design, "n_groups": G, "data_set": k,
                             **_between_df(data), "between-within": 2 * G - 2})
    return pd.DataFrame(rows)


def boundary_path(case="few_groups_boundary", steps=None):
    """Move a singular fit's data to an interior fit, and follow the df of the treatment.

    The response of a committed R case with model ``y ~ trt + (1 | g)`` is changed to
    y + s·u, u the group means' deviations from their treatment's mean: s = 0 is the case's
    own data (a singular fit), and as s grows the groups spread apart until the group
    variance is estimated above zero. At every step: the estimated group variance, the
    boundary flag, lmerTest's Satterthwaite df (in (θ, σ), observed information),
    Kenward-Roger's df and Satterthwaite's df on the variance scale with expected
    information (:func:`lmmhelpers.satterthwaite.satterthwaite_df_expected`).

    Parameters
    ----------
    case : str, default "few_groups_boundary"
    steps : array_like, optional
        The values of s (default: 25 steps from 0 to 3).

    Returns
    -------
    pandas.DataFrame
        Columns ``step``, ``group_var``, ``boundary``, ``satterthwaite``, ``kenward-roger``,
        ``expected``.

    Examples
    --------
    >>> p = boundary_path(steps=[0.0, 3.0])
    >>> p["boundary"].tolist(), p["kenward-roger"].round(6).tolist()
    ([True, False], [2.0, 2.0])
    """
    steps = np.linspace(0.0, 3.0, 25) if steps is None else steps
    _, data = reference(case)
    u = data.groupby("g")["y"].transform("mean") - data.groupby("trt")["y"].transform("mean")
    rows = []
    for s in np.asarray(steps, dtype=float):
        fit = fit_mixedlm(smf.mixedlm("y ~ C(trt)", data.assign(y=data["y"] + s * u),
                                      groups="g"))
        rows.append({"step": float(s), "group_var": float(fit.cov_re.iloc[0, 0]),
                     "boundary": bool(fit.boundary),
                     "satterthwaite": float(coef_table(fit, ddf="satterthwaite").iloc[1]["df"]),
                     "kenward-roger": float(coef_table(fit, ddf="kenward-roger").iloc[1]["df"]),
                     "expected": satterthwaite_df_expected(structure(fit), [0.0, 1.0])})
    return pd.DataFrame(rows)


def dof_table(study, table=None):
    """A :func:`lmmhelpers.book.dof_studies` study's table, ready for rates.

    Adds the between-within rows (:func:`lmmhelpers.book.between_within_rows` with the
    design's df) and gives every row, the group-means t test's included, the singular-fit
    flag of its replicate's mixed-model fit (column ``singular``).

    Parameters
    ----------
    study : lmmhelpers.book.StoredStudy
    table : pandas.DataFrame, optional
        The study's table (default: ``study.load()``), or some of its replicates run live.

    Returns
    -------
    pandas.DataFrame

    Examples
    --------
    >>> from lmmhelpers.book import dof_studies
    >>> study = dof_studies()["nested"]
    >>> t = dof_table(study, study.run(replicates=range(2)))
    >>> sorted(set(t["method"]))[:2], int(t["singular"].isna().sum())
    (['between-within', 'group-means-t'], 0)
    """
    table = study.load() if table is None else table
    full = pd.concat([table, between_within_rows(table, between_within_df_of(study))],
                     ignore_index=True)
    mixed = full[full["method"] == "normal"].set_index("replicate")["boundary"]
    return full.assign(singular=full["replicate"].map(mixed.astype(bool)))


def dof_rates(table, *, alpha=0.05, by_fit=False):
    """Rejection rates with 95 % Wilson intervals, per method (and per fit type).

    Parameters
    ----------
    table : pandas.DataFrame
        From :func:`dof_table`.
    alpha : float, default 0.05
    by_fit : bool, default False
        Also split by ``fit`` ("singular" or "interior"): the rates within a subset that
        the data select, to be read against the exact test on the same subset.

    Returns
    -------
    pandas.DataFrame
        :func:`lmmhelpers.rejection_rate`'s columns, in the order of :data:`DOF_METHODS`.

    Examples
    --------
    >>> from lmmhelpers.book import dof_studies
    >>> study = dof_studies()["nested"]
    >>> r = dof_rates(dof_table(study, study.run(replicates=range(3))), by_fit=True)
    >>> sorted(set(r["fit"]))[-1], int(r["n_used"].sum()) == 3 * 5
    ('interior', True)
    """
    frame = table.assign(fit=np.where(table["singular"], "singular", "interior"))
    by = ["fit", "method"] if by_fit else ["method"]
    rates = rejection_rate(frame, alpha=alpha, by=by)
    order = {m: k for k, m in enumerate(DOF_METHODS)}
    return rates.sort_values(by, key=lambda c: c.map(order) if c.name == "method" else c,
                             ignore_index=True)
