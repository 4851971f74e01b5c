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
