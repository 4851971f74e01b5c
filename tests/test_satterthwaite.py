"""Satterthwaite t and F tests against lmerTest 3.1-3, at lme4's REML estimates.

Evaluating at lme4's own variance parameters separates the inference from the optimiser:
what is left is lmerTest's numerical differentiation (relative error about 1e-5 in df).
The end-to-end comparison after our own fit is in test_tables.py.
"""

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from reference import CASES, structure_at_lme4, to_statsmodels_L

from lmmhelpers import contrast_test, fit_mixedlm
from lmmhelpers.satterthwaite import HypothesisRankWarning
from lmmhelpers.tables import f_test, t_test

DF_RTOL = 1e-4  # lmerTest's numDeriv Hessian and Jacobian


@pytest.mark.parametrize("case", CASES)
def test_coefficients(case):
    ref, model, cs, perm = structure_at_lme4(case)
    for j, c in enumerate(ref["coef"]):
        res = t_test(cs, np.eye(model.k_fe)[perm[j]], ddf="satterthwaite")
        assert res["estimate"] == pytest.approx(c["estimate"], rel=1e-7, abs=1e-9)
        assert res["se"] == pytest.approx(c["se"], rel=1e-7)
        assert res["df"] == pytest.approx(c["df_satterthwaite"], rel=DF_RTOL)
        assert res["t"] == pytest.approx(c["t_satterthwaite"], rel=1e-6)
        assert res["p"] == pytest.approx(c["p_satterthwaite"], rel=1e-3, abs=1e-9)


@pytest.mark.parametrize("case", CASES)
def test_F_tests_and_contrasts(case):
    ref, _, cs, perm = structure_at_lme4(case)
    hypotheses = ref.get("anova_type3", []) + ref.get("contrasts", [])
    for h in hypotheses:
        res = f_test(cs, to_statsmodels_L(h["L"], perm), ddf="satterthwaite")
        assert res["num_df"] == h["num_df"]
        assert res["F"] == pytest.approx(h["F_satterthwaite"], rel=1e-6)
        den = h.get("den_df_satterthwaite", h.get("df_satterthwaite"))
        assert res["den_df"] == pytest.approx(den, rel=DF_RTOL)
        assert res["p"] == pytest.approx(h["p_satterthwaite"], rel=1e-3, abs=1e-9)


def test_boundary_convention_seed003():
    """At a singular fit lmerTest's df jump to the residual df n − p (here 16 − 4 = 12)."""
    ref, model, cs, _ = structure_at_lme4("seed003_interaction")
    assert ref["singular"]
    for l in np.eye(model.k_fe):
        assert t_test(cs, l, ddf="satterthwaite")["df"] == pytest.approx(12, rel=1e-8)


def test_boundary_jump_between_fixtures():
    """Same design, two data sets: interior optimum df = groups − 2; singular fit df = n − p."""
    _, model, cs_in, perm = structure_at_lme4("few_groups_between")
    _, _, cs_on, _ = structure_at_lme4("few_groups_boundary")
    l = np.eye(model.k_fe)[perm[1]]
    assert t_test(cs_in, l, ddf="satterthwaite")["df"] == pytest.approx(4 - 2, rel=1e-6)
    n_minus_p = cs_on.n_obs - model.k_fe
    assert t_test(cs_on, l, ddf="satterthwaite")["df"] == pytest.approx(n_minus_p, rel=1e-8)


def test_multi_df_rules():
    """q contrasts of equal ν give ν; a contrast repeated is rank-reduced by the eigen rule."""
    _, model, cs, _ = structure_at_lme4("sleepstudy_intercept")
    one = f_test(cs, np.array([[0.0, 1.0]]), ddf="satterthwaite")
    with pytest.warns(HypothesisRankWarning, match="row 1"):
        twice = f_test(cs, np.array([[0.0, 1.0], [0.0, 2.0]]), ddf="satterthwaite")
    assert twice["num_df"] == 1
    assert twice["F"] == pytest.approx(one["F"])
    assert twice["den_df"] == pytest.approx(one["den_df"])


@pytest.mark.parametrize("case", CASES)
def test_variance_scale_expected_information_gives_kenward_roger_df(case):
    """For one contrast, ν on the γ scale with W = I_E⁻¹ is Kenward-Roger's m (A₁ = A₂)."""
    from lmmhelpers import kenward_roger
    from lmmhelpers.satterthwaite import satterthwaite_df_expected

    ref, model, cs, perm = structure_at_lme4(case)
    for j, c in enumerate(ref["coef"]):
        l = np.eye(model.k_fe)[perm[j]]
        m, _ = kenward_roger.ddf_and_scale(cs, l[None, :])
        assert satterthwaite_df_expected(cs, l) == pytest.approx(m, rel=1e-8)
        assert satterthwaite_df_expected(cs, l) == pytest.approx(c["df_kr"], rel=1e-4)


def test_variance_scale_keeps_the_zero_variance_at_the_boundary():
    """At the singular fixture lmerTest's ν is n − p, the γ-scale ν stays at pbkrtest's df."""
    from lmmhelpers.satterthwaite import satterthwaite_df_expected

    ref, model, cs, perm = structure_at_lme4("few_groups_boundary")
    l = np.eye(model.k_fe)[perm[1]]
    nu_lmertest = t_test(cs, l, ddf="satterthwaite")["df"]
    nu_expected = satterthwaite_df_expected(cs, l)
    assert nu_lmertest == pytest.approx(cs.n_obs - model.k_fe, rel=1e-8)
    assert nu_expected == pytest.approx(ref["coef"][1]["df_kr"], rel=1e-6)
    assert nu_expected < nu_lmertest / 4


# -- issue 21, class 2: the rank of a multi-df hypothesis does not depend on units ----------
def _two_covariates(seed):
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(10), rng.integers(5, 10, size=10))
    df = pd.DataFrame({"g": g, "x": rng.normal(size=g.size), "z": rng.normal(size=g.size)})
    df["y"] = rng.normal(size=10)[g] + 0.3 * df["x"] + 0.3 * df["z"] + rng.normal(size=g.size)
    return df


def _joint(df, formula, L):
    import warnings

    result = fit_mixedlm(smf.mixedlm(formula, df, groups="g"))
    with warnings.catch_warnings():
        warnings.simplefilter("error", HypothesisRankWarning)  # nothing may be dropped
        return {d: contrast_test(result, L, ddf=d).iloc[0]
                for d in ("satterthwaite", "kenward-roger", "normal")}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_joint_test_keeps_every_direction_in_any_units(seed):
    """x (SD 1) and z·s tested jointly: 2 numerator df and the same F for every s, offset."""
    df = _two_covariates(seed)
    L = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    base = _joint(df, "y ~ x + z", L)
    for scale in (1e-6, 1e-3, 1e3, 1e5, 1e8):
        for offset in (0.0, 2000.0, 1e5):
            # offsets in z's own units (a calendar year when z counts years)
            other = _joint(df.assign(z=(df["z"] + offset) * scale), "y ~ x + z", L)
            for d in base:
                assert other[d]["Num DF"] == 2, (scale, offset, d)
                assert other[d]["F Value"] == pytest.approx(base[d]["F Value"], rel=1e-4)
            # lmerTest's multi-df ν depends on the eigenbasis of LΦLᵀ, which turns with the
            # units of z: a small drift, never a lost direction
            assert other["satterthwaite"]["Den DF"] == pytest.approx(
                base["satterthwaite"]["Den DF"], rel=2e-2)
            assert other["satterthwaite"]["Pr > F"] == pytest.approx(
                base["satterthwaite"]["Pr > F"], rel=2e-2)


@pytest.mark.parametrize("offset", [0.0, 10.0, 50.0, 200.0, 500.0])
def test_raw_polynomial_is_tested_with_all_its_df(offset):
    """u, u², u³ of a covariate far from 0: three directions, whatever their scales."""
    df = _two_covariates(4)
    df["u"] = df["x"] + offset
    L = np.eye(4)[1:]
    out = _joint(df, "y ~ u + I(u**2) + I(u**3)", L)
    assert {int(o["Num DF"]) for o in out.values()} == {3}
    centred = _joint(df.assign(u=df["x"]), "y ~ u + I(u**2) + I(u**3)", L)
    for d in out:  # the same hypothesis (the cubic's shape is not 0) in another basis
        assert out[d]["F Value"] == pytest.approx(centred[d]["F Value"], rel=1e-3)


def test_dependent_rows_are_dropped_with_a_warning_naming_them():
    """A row that is a combination of earlier ones is dropped and named, in any units."""
    _, model, cs, perm = structure_at_lme4("sleepstudy_slopes")
    L = np.eye(model.k_fe)
    for scale in (1e-8, 1.0, 1e8):
        Lr = np.vstack([L, scale * (L[0] + 3 * L[1])])
        with pytest.warns(HypothesisRankWarning, match="row 2 is zero or a linear comb"):
            res = f_test(cs, Lr, ddf="satterthwaite")
        plain = f_test(cs, L, ddf="satterthwaite")
        assert res["num_df"] == 2
        assert res["F"] == pytest.approx(plain["F"], rel=1e-9)
        assert res["den_df"] == pytest.approx(plain["den_df"], rel=1e-9)
    with pytest.warns(HypothesisRankWarning, match="row 0"):
        assert f_test(cs, np.vstack([0 * L[0], L]), ddf="satterthwaite")["num_df"] == 2
    # a tiny but real direction (a row scaled by 1e-9) is kept
    res = f_test(cs, np.vstack([L[0], 1e-9 * L[1]]), ddf="satterthwaite")
    assert res["num_df"] == 2
