"""Designs that cannot be estimated get an error that names the cause (issue 11, classes 2, 3).

Each case is what a user would type; before these checks every one of them ended in
"fit_mixedlm: every optimizer failed (Singular matrix ...)", or in a converged fit with
arbitrary numbers.
"""

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from statsmodels.regression.mixed_linear_model import MixedLM

from lmmhelpers._model_checks import check_model


def _data(seed=0, G=6, m=5):
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"g": np.repeat(np.arange(G), m), "x": rng.normal(size=G * m)})
    df["y"] = rng.normal(size=G)[df["g"]] + df["x"] + rng.normal(size=G * m)
    df["a"] = np.tile(["p", "q", "r"], G * m // 3)
    return df


@pytest.mark.parametrize(
    "formula, change, pattern",
    [
        ("y ~ x + x_copy", lambda d: d.assign(x_copy=d["x"]), "'x_copy' duplicates 'x'"),
        ("y ~ x + x2", lambda d: d.assign(x2=3 * d["x"] - 1),
         r"'x2' is a linear combination of \['Intercept', 'x'\]"),
        ("y ~ x + C(a) + b", lambda d: d.assign(b=(d["a"] == "p").astype(float)),
         "'b' is a linear combination"),
        ("y ~ x + a", lambda d: d.assign(a=pd.Categorical(d["a"], ["p", "q", "r", "s"])),
         r"\['a\[T.s\]'\] are zero in every row.*remove_unused_categories"),
        ("y ~ xs", lambda d: d.assign(xs=d["x"].round(6).astype(str)),
         "30 fixed effects for 30 observations.*'xs'.*numbers stored as strings"),
    ],
)
def test_fixed_effects_that_cannot_be_estimated_are_named(formula, change, pattern):
    model = smf.mixedlm(formula, change(_data()), groups="g")
    with pytest.raises(ValueError, match=pattern):
        check_model(model)


def test_random_effects_that_cannot_be_separated_from_the_residual():
    df = _data()
    df["row"] = np.arange(len(df))
    with pytest.raises(ValueError, match="every group has a single observation"):
        check_model(smf.mixedlm("y ~ x", df, groups="row"))
    few = df[df["g"] < 2].copy()  # 2 groups of 5, random intercept and slope: 4 effects, 10 rows
    few = pd.concat([few.iloc[:2], few.iloc[5:7]])  # 2 groups of 2: 4 effects for 4 rows
    with pytest.raises(ValueError, match="4 random effects .* for 4 observations"):
        check_model(smf.mixedlm("y ~ x", few, groups="g", re_formula="~x"))
    one = df.assign(one=1, c="only")
    with pytest.raises(ValueError, match="'c' has a single level"):
        check_model(smf.mixedlm("y ~ x", one, groups="one", re_formula="0",
                                vc_formula={"c": "0 + C(c)", "g": "0 + C(g)"}))
    with pytest.raises(ValueError, match="'row' has a level for every observation"):
        check_model(smf.mixedlm("y ~ x", df.assign(one=1), groups="one", re_formula="0",
                                vc_formula={"row": "0 + C(row)", "g": "0 + C(g)"}))
    with pytest.raises(ValueError, match="single group but a random effect per group"):
        check_model(smf.mixedlm("y ~ x", df.assign(one=1), groups="one"))


def test_missing_values_in_an_array_built_model_are_named():
    df = _data()
    X = np.column_stack([np.ones(len(df)), df["x"]])
    y = df["y"].to_numpy().copy()
    y[[4, 7]] = np.nan
    model = MixedLM(y, X, groups=df["g"].to_numpy())
    with pytest.raises(ValueError, match=r"response has 2 missing or infinite.*\[4, 7\]"):
        check_model(model)


def test_good_models_pass():
    df = _data()
    for kw in ({}, {"re_formula": "~x"}):
        check_model(smf.mixedlm("y ~ x + C(a)", df, groups="g", **kw))
    crossed = df.assign(one=1)
    check_model(smf.mixedlm("y ~ x", crossed, groups="one", re_formula="0",
                            vc_formula={"g": "0 + C(g)", "a": "0 + C(a)"}))


def test_fit_mixedlm_refuses_what_cannot_be_estimated_before_any_optimizer_runs():
    """Issue 11, classes 2 and 3, from the user's side: each used to end in "every optimizer
    failed (Singular matrix ...)" or in converged=True with arbitrary numbers."""
    from lmmhelpers import fit_mixedlm

    df = _data()
    cases = [
        (smf.mixedlm("y ~ x + x_copy", df.assign(x_copy=df["x"]), groups="g"),
         "'x_copy' duplicates 'x'"),
        (smf.mixedlm("y ~ x + a", df.assign(a=pd.Categorical(df["a"], ["p", "q", "r", "s"])),
                     groups="g"), "zero in every row"),
        (smf.mixedlm("y ~ x", df.assign(row=np.arange(len(df))), groups="row"),
         "every group has a single observation"),
        (smf.mixedlm("y ~ x", df.assign(one=1, c="only"), groups="one", re_formula="0",
                     vc_formula={"c": "0 + C(c)", "g": "0 + C(g)"}), "'c' has a single level"),
    ]
    for model, pattern in cases:
        with pytest.raises(ValueError, match=pattern):
            fit_mixedlm(model)


# --------------------------------------------------------------------------------------------
# Issue 21, class 4: random-effects designs that cannot be estimated, responses with nothing
# left to estimate, and arguments that make no sense. Each must be an error that names the
# cause, never a converged fit with an arbitrary Ψ or df made of rounding noise.

def _slope_data(seed=0, G=8, m=6):
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(G), m)
    df = pd.DataFrame({"g": g, "t": np.tile(np.arange(m, dtype=float), G) + rng.normal(
        scale=0.1, size=G * m)})
    df["y"] = (rng.normal(size=G)[g] + (0.3 + 0.4 * rng.normal(size=G)[g]) * df["t"]
               + rng.normal(size=G * m))
    return df


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize(
    "re_formula, change, pattern",
    [
        ("~c", lambda d: d.assign(c=1.0), "column 'c' duplicates 'g'"),
        ("~c", lambda d: d.assign(c=-2.5), r"column 'c' is a linear combination of \['g'\]"),
        ("~z", lambda d: d.assign(z=0.0), r"\['z'\] \(re_formula\) are zero in every row"),
        ("~t + t2", lambda d: d.assign(t2=2 * d["t"] + 1),
         r"'t2' is a linear combination of \['g', 't'\]"),
        ("~t + t_copy", lambda d: d.assign(t_copy=d["t"]), "'t_copy' duplicates 't'"),
        ("0 + t + u", lambda d: d.assign(u=-3 * d["t"]), "'u' is a linear combination"),
        # a slope on a covariate constant within every group: Z's columns are fine, Ψ is not
        ("~w", lambda d: d.assign(w=(d["g"] % 2).astype(float)), "'w Var' cannot be estimated"),
        ("~w", lambda d: d.assign(w=2000.0 + 0.5 * (d["g"] % 2)), "cannot be estimated"),
        ("~w", lambda d: d.assign(w=np.where(d["g"] < 3, -1e-3, 2e-3)), "cannot be estimated"),
    ],
)
def test_random_effects_that_cannot_be_estimated_are_named(seed, re_formula, change, pattern):
    from lmmhelpers import fit_mixedlm

    model = smf.mixedlm("y ~ t", change(_slope_data(seed)), groups="g", re_formula=re_formula)
    with pytest.raises(ValueError, match=pattern):
        check_model(model)
    with pytest.raises(ValueError, match=pattern):
        fit_mixedlm(model)


@pytest.mark.parametrize(
    "kw",
    [
        {"re_formula": "1", "vc_formula": {"gg": "0 + C(g)"}},  # the group intercept twice
        {"re_formula": "~t", "vc_formula": {"tt": "0 + t"}},  # the slope twice
        {"re_formula": "~t", "vc_formula": {"tt": "0 + t2"}},  # the slope twice, in other units
        {"re_formula": "1", "vc_formula": {"a": "0 + C(h)", "b": "0 + C(h2)"}},  # h twice
    ],
)
def test_variance_components_that_repeat_a_random_effect_are_refused(kw):
    df = _slope_data().assign(t2=lambda d: 1e5 * d["t"], h=lambda d: np.arange(len(d)) % 3)
    df["h2"] = df["h"].map({0: "x", 1: "y", 2: "z"})
    with pytest.raises(ValueError, match="cannot be estimated.*Simplify re_formula"):
        check_model(smf.mixedlm("y ~ t", df, groups="g", **kw))


@pytest.mark.parametrize("offset", [0.0, 2000.0, 1e5])
@pytest.mark.parametrize("scale", [1e-6, 1.0, 1e8])
def test_random_slopes_in_any_units_pass(offset, scale):
    """No false alarm: a random slope on calendar years or in any units is estimable, and so
    is one on a covariate constant within groups that takes three or more values (the group
    variance is then a quadratic in it: identified, if weakly)."""
    df = _slope_data(3).assign(t=lambda d: scale * (d["t"] + offset),
                               w=lambda d: scale * (np.sqrt(d["g"] + 1.0) + offset))
    check_model(smf.mixedlm("y ~ t", df, groups="g", re_formula="~t"))
    check_model(smf.mixedlm("y ~ t", df, groups="g", vc_formula={"t": "0 + t"}))
    check_model(smf.mixedlm("y ~ t", df, groups="g", re_formula="~w"))


@pytest.mark.parametrize(
    "make_y, pattern",
    [
        (lambda d: np.full(len(d), 5.0), "response is constant"),
        (lambda d: np.zeros(len(d)), "response is constant"),
        (lambda d: np.full(len(d), -1.234e8), "response is constant"),
        (lambda d: 1 + 2 * d["t"], "exact linear function of the fixed-effect columns"),
        (lambda d: 1e6 * (d["t"] - 3) + 2e9, "exact linear function"),
    ],
)
def test_a_response_the_fixed_effects_fit_exactly_is_refused(make_y, pattern):
    from lmmhelpers import fit_mixedlm, refit

    df = _slope_data()
    with pytest.raises(ValueError, match=pattern):
        fit_mixedlm(smf.mixedlm("y ~ t", df.assign(y=make_y(df)), groups="g"))
    fit = fit_mixedlm(smf.mixedlm("y ~ t", df, groups="g"))
    with pytest.raises(ValueError, match=pattern):
        refit(fit, np.asarray(make_y(df), dtype=float))


@pytest.mark.parametrize("offset", [0.0, 1e8])
def test_a_response_with_a_large_offset_is_not_mistaken_for_an_exact_fit(offset):
    from lmmhelpers import fit_mixedlm

    df = _slope_data()
    fit = fit_mixedlm(smf.mixedlm("y ~ t", df.assign(y=offset + df["y"]), groups="g"))
    assert fit.converged


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize(
    "formula, re_formula, make_y",
    [
        ("y ~ 1", None, lambda d, b: b[d["g"]]),
        ("y ~ t", None, lambda d, b: b[d["g"]] + 0.5 * d["t"]),
        ("y ~ t", None, lambda d, b: 2000.0 + b[d["g"]] - 3 * d["t"]),
        ("y ~ t", "~t", lambda d, b: b[d["g"]] + b[::-1][d["g"]] * d["t"]),
    ],
)
def test_zero_within_group_residual_is_a_named_error(seed, formula, re_formula, make_y):
    """y fitted exactly by fixed plus random effects: σ² = 0, the REML optimum does not
    exist. A ValueError naming it, not ZeroDivisionError, LinAlgError or rounding-noise df."""
    from lmmhelpers import coef_table, fit_mixedlm, refit

    df = _slope_data(seed)
    b = np.random.default_rng(seed + 10).normal(size=df["g"].nunique())
    y = np.asarray(make_y(df, b), dtype=float)
    with pytest.raises(ValueError, match="residual variance is zero up to rounding"):
        fit_mixedlm(smf.mixedlm(formula, df.assign(y=y), groups="g", re_formula=re_formula))
    with pytest.raises(ValueError, match="residual variance is zero up to rounding"):
        fit_mixedlm(smf.mixedlm(formula, df.assign(y=y), groups="g", re_formula=re_formula),
                    engine="statsmodels")
    fit = fit_mixedlm(smf.mixedlm(formula, df, groups="g", re_formula=re_formula))
    with pytest.raises(ValueError, match="residual variance is zero up to rounding"):
        refit(fit, y)
    coef_table(fit, ddf="kenward-roger")  # the fit of ordinary data is unaffected


def test_a_model_without_fixed_effects_is_refused():
    from lmmhelpers import fit_mixedlm

    for formula in ("y ~ 0", "y ~ -1"):
        with pytest.raises(ValueError, match=r"no fixed effects.*'y ~ 1'"):
            fit_mixedlm(smf.mixedlm(formula, _slope_data(), groups="g"))


@pytest.mark.parametrize("where", ["fixed", "random"])
def test_a_date_column_is_refused_with_what_to_do(where):
    df = _slope_data().assign(
        d=lambda d: pd.Timestamp("2021-03-01") + pd.to_timedelta(d["t"].round(), unit="D"))
    formula, re_formula = ("y ~ d", None) if where == "fixed" else ("y ~ t", "~d")
    with pytest.raises(ValueError, match=r"'d' holds dates.*\.dt\.days.*C\(d\)"):
        check_model(smf.mixedlm(formula, df, groups="g", re_formula=re_formula))
    check_model(smf.mixedlm("y ~ C(d)", df, groups="g"))  # a factor asked for explicitly


@pytest.mark.parametrize(
    "start, pattern",
    [
        ([1.0, 2.0], "start_params must have 3 variance parameters"),
        ([1.0, np.nan, 1.0], "start_params must be finite"),
        ([1.0, np.inf, 1.0], "start_params must be finite"),
        ([1e200, 0.0, 1e200], "start_params.*overflow|start_params must hold finite"),
        ("abc", "start_params"),
        ("cov_re", "start_params: the random-effects covariance .* negative eigenvalue"),
        ("vcomp", "start_params: a variance component .* negative"),
    ],
)
def test_absurd_start_params_are_named(start, pattern):
    from statsmodels.regression.mixed_linear_model import MixedLMParams

    from lmmhelpers import fit_mixedlm

    df = _slope_data()
    if start == "vcomp":
        model = smf.mixedlm("y ~ t", df, groups="g", vc_formula={"t": "0 + t"})
        start = MixedLMParams.from_components(np.zeros(2), vcomp=np.array([-1.0]))
    else:
        model = smf.mixedlm("y ~ t", df, groups="g", re_formula="~t")
        if start == "cov_re":
            start = MixedLMParams.from_components(np.zeros(2),
                                                  cov_re=np.array([[-1.0, 0], [0, 1]]))
    with pytest.raises(ValueError, match=pattern):
        fit_mixedlm(model, start_params=start)
