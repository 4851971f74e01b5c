"""The dietox data (pig weights by week) and their R reference, for "A complete analysis".

dietox is the growth experiment of Lauridsen, Højsgaard & Sørensen (1999, Journal of Animal
Science 77:906): 72 pigs from the 21 litters that the data file codes, weighed weekly for
12 weeks, each pig on one of three doses of vitamin E (``Evit``) and one of three doses of
copper (``Cu``) in its feed.
The data ship with the R package geepack (GPL) and, as a copy, in statsmodels' test data
(``statsmodels/regression/tests/results/dietox.csv``); statsmodels' MixedLM documentation
uses these data. The book does not copy the file: :func:`load_dietox` reads it from the
installed statsmodels, and :func:`dietox_reference` reads what ``scripts/r_dietox.R``
computed from the same file with lme4, lmerTest and pbkrtest
(``tests/fixtures/dietox.json``, with the file's md5).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import statsmodels
import statsmodels.formula.api as smf

from lmmhelpers.book.repository import repository_root
from lmmhelpers.fitting import fit_mixedlm
from lmmhelpers.tables import anova_table, coef_table, contrast_test

__all__ = [
    "DIETOX_ANSWER_FORMULA",
    "DIETOX_FORMULA",
    "DOSES",
    "dietox_answer_calibration",
    "dietox_answer_null_draws",
    "dietox_answer_model",
    "dietox_agreement",
    "dietox_model",
    "dietox_path",
    "dietox_reference",
    "load_dietox",
]

#: The fixed effects of the chapter's model (both diets as factors, a common slope in week).
DIETOX_FORMULA = "Weight ~ C(Evit) + C(Cu) + Time"

#: The fixed effects of the chapter's answer, for weeks 2 to 12, adjusted for the start
#: weight (week 1), with a common quadratic curve in week.
DIETOX_ANSWER_FORMULA = "Weight ~ Start + C(Evit) + C(Cu) + Time + I(Time**2)"

#: The random effects of the answer: a correlated intercept, slope and quadratic per pig.
DIETOX_ANSWER_RE_FORMULA = "~Time + I(Time**2)"

#: Where ``scripts/make_dietox_calibration.py`` stores its null draws.
DIETOX_ANSWER_CALIBRATION = Path("data") / "calibration" / "dietox_answer"

#: The doses behind the levels 1, 2, 3 of ``Evit`` (mg dl-α-tocopheryl acetate per kg feed) and
#: ``Cu`` (mg copper per kg feed), from geepack's documentation of dietox.
DOSES = {"Evit": (0, 100, 200), "Cu": (0, 35, 175)}

#: Random-effects structures by name: ``re_formula`` of ``statsmodels.formula.api.mixedlm``.
RANDOM_EFFECTS = {"intercept": None, "slope": "~Time"}


def dietox_path():
    """Where the installed statsmodels keeps its copy of dietox.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    FileNotFoundError
        When the file is not there (statsmodels installed without its test data), with a
        message that says where it was looked for and where else the data are published.

    Examples
    --------
    >>> dietox_path().name
    'dietox.csv'
    """
    path = (Path(statsmodels.__file__).parent / "regression" / "tests" / "results"
            / "dietox.csv")
    if not path.is_file():
        raise FileNotFoundError(
            f"dietox.csv is not at {path}: this statsmodels {statsmodels.__version__} was "
            "installed without its test data. Reinstall statsmodels from PyPI (its wheels "
            "include them), or take dietox from the R package geepack "
            "(data(dietox, package = 'geepack')).")
    return path


def load_dietox():
    """The dietox data: 861 weighings of 72 pigs, one row per pig and week.

    Returns
    -------
    pandas.DataFrame
        Columns ``Weight`` (kg), ``Feed`` (cumulated feed intake, kg; missing in week 1),
        ``Time`` (week, 1–12), ``Pig``, ``Evit`` and ``Cu`` (dose levels 1–3 of vitamin E and
        copper, coded as integers) and ``Litter``.

    Raises
    ------
    FileNotFoundError
        As :func:`dietox_path`.

    Examples
    --------
    >>> data = load_dietox()
    >>> data.shape, data["Pig"].nunique()
    ((861, 7), 72)
    """
    data = pd.read_csv(dietox_path(), index_col=0)
    return data.reset_index(drop=True)


def dietox_model(random="slope", data=None):
    """The chapter's MixedLM on dietox: ``DIETOX_FORMULA`` with pigs as groups.

    Parameters
    ----------
    random : {"slope", "intercept"}, default "slope"
        A random intercept and a random slope for ``Time`` per pig (correlated, lme4's
        ``(Time | Pig)``), or a random intercept only (``(1 | Pig)``).
    data : pandas.DataFrame, optional
        Default :func:`load_dietox`.

    Returns
    -------
    statsmodels.regression.mixed_linear_model.MixedLM

    Examples
    --------
    >>> dietox_model("slope").k_re, dietox_model("intercept").k_re
    (2, 1)
    """
    if random not in RANDOM_EFFECTS:
        raise ValueError(f"random must be one of {sorted(RANDOM_EFFECTS)}, got {random!r}.")
    data = load_dietox() if data is None else data
    return smf.mixedlm(DIETOX_FORMULA, data, groups="Pig", re_formula=RANDOM_EFFECTS[random])


def dietox_answer_model(data=None):
    """The chapter's answer: weeks 2 to 12 of dietox, with the week-1 weight as ``Start``.

    Parameters
    ----------
    data : pandas.DataFrame, optional
        Default :func:`load_dietox`; ``Start`` is added from its week-1 weights.

    Returns
    -------
    statsmodels.regression.mixed_linear_model.MixedLM
        ``DIETOX_ANSWER_FORMULA`` with a correlated random intercept, slope and quadratic in
        week per pig (lme4's ``(Time + I(Time^2) | Pig)``).

    Examples
    --------
    >>> model = dietox_answer_model()
    >>> model.k_re, model.k_fe, int(model.endog.shape[0])
    (3, 8, 789)
    """
    data = load_dietox() if data is None else data.copy()
    data["Start"] = data["Pig"].map(data[data["Time"] == 1].set_index("Pig")["Weight"])
    trial = data[data["Time"] > 1]
    return smf.mixedlm(DIETOX_ANSWER_FORMULA, trial, groups="Pig",
                       re_formula=DIETOX_ANSWER_RE_FORMULA)


def _answer_null_draw(fit, replicate, seed):
    import warnings

    from scipy import stats

    from lmmhelpers.draws import draw_response
    from lmmhelpers.fitting import refit

    row = {"replicate": replicate, "status": "ok", "message": ""}
    y = draw_response(fit, beta=np.zeros(len(fit.fe_params)), seed=seed)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            new = refit(fit, y)
            kr = anova_table(new, "kenward-roger")
            sat = anova_table(new, "satterthwaite")
            t_kr = coef_table(new, "kenward-roger").loc["C(Cu)[T.3]", "P>|t|"]
    except Exception as exc:  # noqa: BLE001 - a failed draw is a counted row
        return {**row, "status": "error", "message": f"{type(exc).__name__}: {exc}"}
    wald = sat.loc["C(Cu)", "F Value"] * sat.loc["C(Cu)", "Num DF"]
    return {**row, "converged": bool(new.converged), "boundary": bool(new.boundary),
            "p_cu_F_kr": kr.loc["C(Cu)", "Pr > F"], "p_cu_F_s": sat.loc["C(Cu)", "Pr > F"],
            "p_cu_chi2": stats.chi2.sf(wald, sat.loc["C(Cu)", "Num DF"]),
            "p_evit_F_kr": kr.loc["C(Evit)", "Pr > F"], "p_cu3_t_kr": t_kr,
            "F_cu_kr": kr.loc["C(Cu)", "F Value"]}


def dietox_answer_null_draws(n_sim, seed, n_jobs=1):
    """Null draws of the answer's diet tests: what ``scripts/make_dietox_calibration.py`` stores.

    Data sets are drawn from the REML fit of :func:`dietox_answer_model` with every fixed effect
    0 (variances as fitted); each is refitted and its diets tested.

    Parameters
    ----------
    n_sim : int
        Number of draws; draw ``i`` uses ``numpy.random.SeedSequence(seed).spawn(n_sim)[i]``.
    seed : int
        Root seed.
    n_jobs : int, default 1
        Worker processes (joblib).

    Returns
    -------
    draws : pandas.DataFrame
        The columns :func:`dietox_answer_calibration` describes.
    reml_criterion : float
        The REML criterion of the fit the draws came from.

    Examples
    --------
    >>> draws, criterion = dietox_answer_null_draws(1, seed=1)
    >>> list(draws["status"]), round(criterion, 1)
    (['ok'], 3622.8)
    """
    from joblib import Parallel, delayed

    fit = fit_mixedlm(dietox_answer_model())
    seeds = np.random.SeedSequence(seed).spawn(n_sim)
    rows = Parallel(n_jobs=n_jobs)(delayed(_answer_null_draw)(fit, i, s)
                                   for i, s in enumerate(seeds))
    return pd.DataFrame(rows), -2 * float(fit.llf)


def dietox_answer_calibration():
    """The stored null draws of the answer's tests (``scripts/make_dietox_calibration.py``).

    Data sets were drawn from the answer's REML fit with every fixed effect 0 (variances as
    fitted), and the fit was repeated on each; the tests of the diets are then tests of true
    null hypotheses.

    Returns
    -------
    draws : pandas.DataFrame
        One row per draw: ``replicate``, ``status`` ("ok" or "error"), ``converged``,
        ``boundary``, and the p-values ``p_cu_F_kr`` and ``p_cu_F_s`` (the type III F test of
        copper, Kenward-Roger and Satterthwaite), ``p_cu_chi2`` (its Wald chi-square test),
        ``p_evit_F_kr`` and ``p_cu3_t_kr`` (the t test of ``C(Cu)[T.3]``, Kenward-Roger).
    measured : dict
        The seed, the number of draws, the REML criterion of the fit the draws came from, the
        date and the versions.

    Examples
    --------
    >>> draws, measured = dietox_answer_calibration()
    >>> len(draws) == measured["n_sim"], "p_cu_F_kr" in draws
    (True, True)
    """
    folder = repository_root() / DIETOX_ANSWER_CALIBRATION
    if not folder.with_suffix(".csv").exists():
        raise FileNotFoundError(f"{folder.with_suffix('.csv')} is missing: run "
                                "python scripts/make_dietox_calibration.py")
    draws = pd.read_csv(folder.with_suffix(".csv"))
    measured = json.loads(folder.with_suffix(".json").read_text(encoding="utf-8"))
    return draws, measured


def dietox_reference():
    """What lme4 / lmerTest / pbkrtest computed on dietox (``tests/fixtures/dietox.json``).

    Returns
    -------
    dict
        ``slope`` and ``intercept`` (REML criterion, variance parameters), ``fixed_effects``
        (estimate, SE, Satterthwaite and Kenward-Roger df, t, p per coefficient, with its
        statsmodels name), ``anova_type3``, ``contrasts`` (each with its row ``L``),
        ``lrt_slope`` (ML likelihood-ratio test of the random slope), ``data_md5``.

    Raises
    ------
    ValueError
        When the installed statsmodels' dietox.csv is not the file R read (another md5).

    Examples
    --------
    >>> ref = dietox_reference()
    >>> ref["n_pigs"], ref["lrt_slope"]["df"]
    (72, 2)
    """
    path = repository_root() / "tests" / "fixtures" / "dietox.json"
    ref = json.loads(path.read_text())
    md5 = hashlib.md5(dietox_path().read_bytes()).hexdigest()
    if md5 != ref["data_md5"]:
        raise ValueError(f"{dietox_path()} (md5 {md5}) is not the file scripts/r_dietox.R "
                         f"read (md5 {ref['data_md5']}); rerun the script.")
    return ref


def _relative(a, b):
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b)) / np.abs(np.asarray(b))))


def _absolute(a, b):
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b))))


def dietox_agreement(slope, intercept):
    """Our numbers against R's on dietox: the largest difference of each kind.

    Parameters
    ----------
    slope, intercept : statsmodels MixedLMResults
        REML fits by :func:`lmmhelpers.fit_mixedlm` of ``dietox_model("slope")`` and
        ``dietox_model("intercept")``. The likelihood-ratio test refits both by ML.

    Returns
    -------
    pandas.DataFrame
        One row per quantity (REML criteria, estimates, SE, df, p of coefficients, type III
        terms and contrasts, the LRT), columns ``quantity``, ``scale`` ("relative" or
        "absolute"), ``difference`` (the largest) and ``tolerance`` (those of
        ``tests/test_book_dietox.py``: df 1e-3 relative, SE 1e-4, p 1e-3 absolute).

    Examples
    --------
    >>> fits = [fit_mixedlm(dietox_model(r)) for r in ("slope", "intercept")]
    >>> table = dietox_agreement(*fits)
    >>> bool((table["difference"] <= table["tolerance"]).all())
    True
    """
    ref = dietox_reference()
    rows = []

    def add(quantity, scale, difference, tolerance):
        rows.append((quantity, scale, difference, tolerance))

    for name, res in (("slope", slope), ("intercept", intercept)):
        add(f"REML criterion ({name})", "absolute",
            _absolute(-2 * res.llf, ref[name]["reml_criterion"]), 1e-4)
    fe = pd.DataFrame(ref["fixed_effects"]).set_index("name")
    for ddf, suffix, se_col in (("satterthwaite", "satterthwaite", "se"),
                                ("kenward-roger", "kr", "se_kr")):
        ours = coef_table(slope, ddf).loc[fe.index]
        add(f"estimates ({ddf})", "absolute", _absolute(ours["Coef."], fe["estimate"]), 1e-4)
        add(f"SE ({ddf})", "absolute", _absolute(ours["Std.Err."], fe[se_col]), 1e-4)
        add(f"df ({ddf})", "relative", _relative(ours["df"], fe[f"df_{suffix}"]), 1e-3)
        add(f"p ({ddf})", "absolute", _absolute(ours["P>|t|"], fe[f"p_{suffix}"]), 1e-3)
        a3 = pd.DataFrame(ref["anova_type3"]).set_index("term")
        ours3 = anova_table(slope, ddf, typ=3).loc[a3.index]
        add(f"type III den df ({ddf})", "relative",
            _relative(ours3["Den DF"], a3[f"den_df_{suffix}"]), 1e-3)
        add(f"type III F ({ddf})", "relative", _relative(ours3["F Value"], a3[f"F_{suffix}"]),
            1e-3)
        add(f"type III p ({ddf})", "absolute", _absolute(ours3["Pr > F"], a3[f"p_{suffix}"]),
            1e-3)
        for c in ref["contrasts"]:
            row = contrast_test(slope, c["L"], ddf).iloc[0]
            add(f"contrast {c['name']} SE ({ddf})", "absolute",
                abs(row["Std.Err."] - c[se_col]), 1e-4)
            add(f"contrast {c['name']} df ({ddf})", "relative",
                abs(row["df"] - c[f"df_{suffix}"]) / c[f"df_{suffix}"], 1e-3)
    full_ml = fit_mixedlm(slope.model, reml=False)
    reduced_ml = fit_mixedlm(intercept.model, reml=False)
    lrt = 2 * (full_ml.llf - reduced_ml.llf)
    add("LRT of the random slope", "absolute", abs(lrt - ref["lrt_slope"]["LRT"]), 1e-4)
    return pd.DataFrame(rows, columns=["quantity", "scale", "difference", "tolerance"])
