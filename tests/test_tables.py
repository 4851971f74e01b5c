"""The public tables: columns, end-to-end agreement with R, input validation, properties."""

import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from reference import CASES, column_map, load, to_statsmodels_L
from scipy import stats
from statsmodels.tools.sm_exceptions import ConvergenceWarning

import lmmhelpers
from lmmhelpers import (
    anova_table,
    coef_table,
    contrast_test,
    fit_mixedlm,
)
from lmmhelpers.covariance import CovarianceStructure
from lmmhelpers.parameters import VarianceParameters
from lmmhelpers.tables import t_test

# The issue's tolerances for results after our own fit (the optimum differs from lme4's by
# the optimisers' tolerance); tighter where the fits agree tighter.
DF_RTOL, SE_RTOL, P_ATOL = 5e-3, 1e-3, 1e-3


def _group_data(seed=0, n_groups=8, per=5):
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(n_groups), per)
    df = pd.DataFrame({"g": g, "trt": g % 2, "x": rng.normal(size=len(g))})
    df["y"] = rng.normal(size=n_groups)[g] + 0.3 * df["x"] + rng.normal(size=len(g))
    return df


@pytest.fixture(scope="module")
def fitted():
    """Each fixture case fitted once by fit_mixedlm (REML)."""
    out = {}
    for case in CASES:
        ref, data, model = load(case)
        out[case] = (ref, model, fit_mixedlm(model))
    return out


# -- end to end against R --------------------------------------------------------------------
@pytest.mark.parametrize("case", CASES)
def test_fit_reaches_lme4_optimum(case, fitted):
    ref, _, result = fitted[case]
    assert -2 * result.llf == pytest.approx(ref["reml_criterion"], abs=1e-5)


@pytest.mark.parametrize("ddf", ["satterthwaite", "kenward-roger"])
@pytest.mark.parametrize("case", CASES)
def test_coef_table_matches_R(case, ddf, fitted):
    ref, model, result = fitted[case]
    table = coef_table(result, ddf=ddf)
    assert list(table.index) == list(model.exog_names)
    suffix = "satterthwaite" if ddf == "satterthwaite" else "kr"
    se_key = "se" if ddf == "satterthwaite" else "se_kr"
    for c in ref["coef"]:
        row = table.loc[c["statsmodels_name"]]
        assert row["Coef."] == pytest.approx(c["estimate"], rel=1e-4, abs=1e-6)
        assert row["Std.Err."] == pytest.approx(c[se_key], rel=SE_RTOL)
        assert row["df"] == pytest.approx(c[f"df_{suffix}"], rel=DF_RTOL)
        assert row["P>|t|"] == pytest.approx(c[f"p_{suffix}"], abs=P_ATOL)
        half = stats.t.ppf(0.975, row["df"]) * row["Std.Err."]
        assert row["[0.025"] == pytest.approx(row["Coef."] - half)
        assert row["0.975]"] == pytest.approx(row["Coef."] + half)


@pytest.mark.parametrize("ddf", ["satterthwaite", "kenward-roger"])
@pytest.mark.parametrize("case", [c for c in CASES if load(c)[0].get("anova_type3")])
def test_anova_table_matches_R(case, ddf, fitted):
    ref, _, result = fitted[case]
    table = anova_table(result, ddf=ddf)
    assert list(table.columns) == ["Num DF", "Den DF", "F Value", "Pr > F"]
    assert list(table.index) == [a["statsmodels_term"] for a in ref["anova_type3"]]
    key = "satterthwaite" if ddf == "satterthwaite" else "kr"
    for a in ref["anova_type3"]:
        row = table.loc[a["statsmodels_term"]]
        assert row["Num DF"] == a["num_df"]
        assert row["Den DF"] == pytest.approx(a[f"den_df_{key}"], rel=DF_RTOL)
        assert row["F Value"] == pytest.approx(a[f"F_{key}"], rel=2 * SE_RTOL)
        assert row["Pr > F"] == pytest.approx(a[f"p_{key}"], abs=P_ATOL)


@pytest.mark.parametrize("case", [c for c in CASES if load(c)[0].get("contrasts")])
def test_contrast_test_matches_R(case, fitted):
    ref, model, result = fitted[case]
    perm = column_map(ref, model)
    for h in ref["contrasts"]:
        L = to_statsmodels_L(h["L"], perm)
        for ddf, key in [("satterthwaite", "satterthwaite"), ("kenward-roger", "kr")]:
            out = contrast_test(result, L, ddf=ddf).iloc[0]
            df = out["df"] if L.shape[0] == 1 else out["Den DF"]
            p = out["P>|t|"] if L.shape[0] == 1 else out["Pr > F"]
            assert df == pytest.approx(h[f"df_{key}"], rel=DF_RTOL)
            assert p == pytest.approx(h[f"p_{key}"], abs=P_ATOL)


def test_standard_errors_are_lme4s_not_bse_fe(fitted):
    """Std.Err. is √diag((XᵀV̂⁻¹X)⁻¹), lme4's, which differs from statsmodels' bse_fe."""
    ref, model, result = fitted["unbalanced_factorial"]
    table = coef_table(result, ddf="normal")
    for c in ref["coef"]:
        assert table.loc[c["statsmodels_name"], "Std.Err."] == pytest.approx(c["se"], rel=1e-4)
    bse = np.asarray(result.bse_fe)
    assert not np.allclose(bse, table["Std.Err."].to_numpy(), rtol=1e-5, atol=0)


# -- normal reference ---------------------------------------------------------------------------
def test_normal_is_the_wald_z_test():
    result = fit_mixedlm(smf.mixedlm("y ~ trt + x", _group_data(), groups="g"))
    table = coef_table(result, ddf="normal")
    assert np.all(np.isinf(table["df"]))
    z = table["Coef."] / table["Std.Err."]
    np.testing.assert_allclose(table["P>|t|"], 2 * stats.norm.sf(np.abs(z)))
    F = anova_table(result, ddf="normal")
    np.testing.assert_allclose(F.loc["trt", "F Value"], z["trt"] ** 2)


# -- input validation ---------------------------------------------------------------------------
def test_kenward_roger_refuses_ml_fit():
    result = fit_mixedlm(smf.mixedlm("y ~ trt", _group_data(), groups="g"), reml=False)
    with pytest.raises(ValueError, match="REML"):
        coef_table(result, ddf="kenward-roger")
    with pytest.raises(ValueError, match="REML"):
        anova_table(result, ddf="satterthwaite")
    assert np.all(np.isinf(coef_table(result, ddf="normal")["df"]))


def test_refuses_other_results_and_unknown_ddf():
    import statsmodels.api as sm

    df = _group_data()
    ols = sm.OLS(df["y"], np.ones(len(df))).fit()
    with pytest.raises(TypeError, match="MixedLM"):
        coef_table(ols)
    result = fit_mixedlm(smf.mixedlm("y ~ trt", df, groups="g"))
    with pytest.raises(ValueError, match="ddf must be one of"):
        coef_table(result, ddf="containment")
    with pytest.raises(ValueError, match="typ must be 3"):
        anova_table(result, typ=2)
    with pytest.raises(ValueError, match="alpha"):
        coef_table(result, alpha=1.5)


def test_contrast_validation():
    result = fit_mixedlm(smf.mixedlm("y ~ trt + x", _group_data(), groups="g"))
    with pytest.raises(ValueError, match="one column per fixed effect"):
        contrast_test(result, [1, 0])
    with pytest.raises(ValueError, match="rank"):
        contrast_test(result, [[0, 1, 0], [0, 2, 0]])
    with pytest.raises(ValueError, match="missing or infinite"):
        contrast_test(result, [0, np.nan, 1])
    with pytest.raises(ValueError, match="rhs"):
        contrast_test(result, [[0, 1, 0], [0, 0, 1]], rhs=[1])
    with pytest.raises(ValueError, match="rhs must be finite"):
        contrast_test(result, [0, 1, 0], rhs=np.nan)
    for alpha in (0, 1, 1.5, -0.1):
        with pytest.raises(ValueError, match="alpha must be a number strictly between 0 and 1"):
            contrast_test(result, [0, 1, 0], alpha=alpha)
        with pytest.raises(ValueError, match="alpha"):
            coef_table(result, alpha=alpha)
    with pytest.raises(ValueError, match="row of zeros"):
        contrast_test(result, [[0, 1, 0], [0, 0, 0]])
    nearly_equal = [[0, 1, 0], [0, 1, 1e-12]]  # numpy's LinAlgError before
    for ddf in ("satterthwaite", "kenward-roger", "normal"):
        with pytest.raises(ValueError, match="linearly dependent"):
            contrast_test(result, nearly_equal, ddf=ddf)
    one = contrast_test(result, [0, 1, 0], rhs=0.5)
    table = coef_table(result)
    expected_t = (table.loc["trt", "Coef."] - 0.5) / table.loc["trt", "Std.Err."]
    assert one.loc["contrast", "t"] == pytest.approx(expected_t)


def test_missing_values_and_single_group_are_refused():
    """Formulas refuse NaN already (patsy); a model built from arrays does not."""
    from statsmodels.regression.mixed_linear_model import MixedLM

    df = _group_data()
    y = df["y"].to_numpy().copy()
    y[3] = np.nan
    X = np.column_stack([np.ones(len(y)), df["trt"]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = MixedLM(y, X, groups=df["g"].to_numpy()).fit(method="nm", maxiter=20)
    with pytest.raises(ValueError, match="missing"):
        coef_table(result)
    df["one"] = 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = smf.mixedlm("y ~ trt", df, groups="one").fit(method="nm", maxiter=200)
    with pytest.raises(ValueError, match="single group"):
        coef_table(result)


def test_warns_on_a_result_that_did_not_converge():
    model = smf.mixedlm("y ~ trt", _group_data(), groups="g")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = model.fit(method="nm", maxiter=2)
    assert not result.converged
    with pytest.warns(ConvergenceWarning, match="fit_mixedlm"):
        coef_table(result)


def test_public_names():
    for name in ("coef_table", "anova_table", "contrast_test", "fit_mixedlm"):
        assert name in lmmhelpers.__all__


# -- properties -----------------------------------------------------------------------------------
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n_groups=st.integers(3, 9),
    per=st.integers(2, 6),
    seed=st.integers(0, 2**16),
    scale=st.floats(1e-3, 1e3),
)
def test_df_bounded_and_scale_invariant(n_groups, per, seed, scale):
    """1 ≤ ν ≤ n − p, and rescaling y (and the variances with it) changes no df and no t."""
    df = _group_data(seed, n_groups=2 * n_groups, per=per)
    rng = np.random.default_rng(seed)
    df = df.drop(index=rng.choice(len(df), size=len(df) // 10, replace=False))
    model = smf.mixedlm("y ~ trt + x", df, groups="g")
    result = fit_mixedlm(model)
    assume(result.converged)
    n_minus_p = model.nobs - model.k_fe
    for ddf in ("satterthwaite", "kenward-roger"):
        d = coef_table(result, ddf=ddf)["df"]
        assert np.all(d >= 1 - 1e-8) and np.all(d <= n_minus_p + 1e-6)
    params = VarianceParameters.from_result(result)
    scaled = df.assign(y=df["y"] * scale)
    model_c = smf.mixedlm("y ~ trt + x", scaled, groups="g")
    params_c = VarianceParameters(params.cov_re * scale**2, params.vcomp, params.scale * scale**2)
    cs, cs_c = CovarianceStructure(model, params), CovarianceStructure(model_c, params_c)
    for l in np.eye(model.k_fe):
        a, b = t_test(cs, l, ddf="satterthwaite"), t_test(cs_c, l, ddf="satterthwaite")
        assert b["df"] == pytest.approx(a["df"], rel=1e-6)
        assert b["t"] == pytest.approx(a["t"], rel=1e-6)
        a, b = t_test(cs, l, ddf="kenward-roger"), t_test(cs_c, l, ddf="kenward-roger")
        assert b["df"] == pytest.approx(a["df"], rel=1e-6)


@settings(max_examples=30, deadline=None)
@given(per_arm=st.integers(2, 8), per=st.integers(2, 8), seed=st.integers(0, 2**16))
def test_balanced_between_group_test_is_the_t_test_on_group_means(per_arm, per, seed):
    """Balanced nested design, positive group variance: Satterthwaite = t test on means (G − 2)."""
    G = 2 * per_arm
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(G), per)
    df = pd.DataFrame({"g": g, "trt": g % 2})
    df["y"] = rng.normal(size=G)[g] * 1.5 + rng.normal(size=G * per)
    # The REML estimates of this balanced design in closed form (ANOVA estimators):
    means = df.groupby("g")["y"].mean()
    within = float(((df["y"] - df["g"].map(means)) ** 2).sum() / (G * (per - 1)))
    arm = means.index % 2
    resid = means - means.groupby(arm).transform("mean")
    s2_means = float((resid**2).sum() / (G - 2))
    group_var = s2_means - within / per
    assume(group_var > 1e-3 * within)
    model = smf.mixedlm("y ~ trt", df, groups="g")
    params = VarianceParameters(np.array([[group_var]]), np.zeros(0), within)
    cs = CovarianceStructure(model, params)
    np.testing.assert_allclose(cs.deviance_gradient, 0, atol=1e-8 * G * per)  # REML optimum
    res = t_test(cs, [0, 1], ddf="satterthwaite")
    t_means = stats.ttest_ind(means[arm == 1], means[arm == 0])
    assert res["df"] == pytest.approx(G - 2, rel=1e-6)
    assert res["t"] == pytest.approx(t_means.statistic, rel=1e-6)
    assert res["p"] == pytest.approx(t_means.pvalue, rel=1e-6)


def test_anova_type_keyword_is_deprecated_not_broken():
    result = fit_mixedlm(smf.mixedlm("y ~ trt + x", _group_data(), groups="g"))
    with pytest.warns(DeprecationWarning, match="typ="):
        old = anova_table(result, type=3)
    pd.testing.assert_frame_equal(old, anova_table(result, typ=3))


@pytest.mark.parametrize("transform", ["y * 1e6", "y * 1e-6", "y + 1e8", "y - 1e8"])
def test_tests_do_not_depend_on_the_units_or_offset_of_y(transform):
    """The structure at the same (rescaled) variance parameters gives the same df, t and p.

    Before the conditioned basis and the scale-free Hessian cut-off, Satterthwaite's df of
    this within-group slope moved with the units (7.10 for y, 7.35 for y * 1e6, 7.14 for
    y + 1e8) while KR's did not.
    """
    rng = np.random.default_rng(3)
    G, m = 12, 6
    g = np.repeat(np.arange(G), m)
    df = pd.DataFrame({"g": g, "x": rng.normal(size=G * m)})
    df["y"] = (1 + rng.normal(size=G)[g] + (0.3 + 0.5 * rng.normal(size=G)[g]) * df["x"]
               + rng.normal(size=G * m))
    model = smf.mixedlm("y ~ x", df, groups="g", re_formula="~x")
    params = VarianceParameters.from_result(fit_mixedlm(model))
    factor = 1e6 if "* 1e6" in transform else 1e-6 if "* 1e-6" in transform else 1.0
    moved = df.assign(y=df.eval(transform))
    model_c = smf.mixedlm("y ~ x", moved, groups="g", re_formula="~x")
    params_c = VarianceParameters(params.cov_re * factor**2, params.vcomp,
                                  params.scale * factor**2)
    cs, cs_c = CovarianceStructure(model, params), CovarianceStructure(model_c, params_c)
    for ddf in ("satterthwaite", "kenward-roger"):
        a = t_test(cs, [0, 1], ddf=ddf)
        b = t_test(cs_c, [0, 1], ddf=ddf)
        assert b["df"] == pytest.approx(a["df"], rel=1e-6)
        assert b["t"] == pytest.approx(a["t"], rel=1e-6)
        assert b["p"] == pytest.approx(a["p"], rel=1e-6)
