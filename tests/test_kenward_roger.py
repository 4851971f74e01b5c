"""Kenward-Roger against pbkrtest 0.5.2 at lme4's REML estimates."""

import numpy as np
import pytest
from reference import CASES, structure_at_lme4, to_statsmodels_L

from lmmhelpers import kenward_roger as KR
from lmmhelpers.tables import f_test, t_test


@pytest.mark.parametrize("case", CASES)
def test_adjusted_covariance(case):
    ref, _, cs, perm = structure_at_lme4(case)
    Phi_A = KR.Phi_A(cs)[np.ix_(perm, perm)]
    expected = np.array(ref["vcov_adj_kr"])
    np.testing.assert_allclose(Phi_A, expected, rtol=1e-7, atol=1e-10 * np.abs(expected).max())


@pytest.mark.parametrize("case", CASES)
def test_coefficients(case):
    ref, model, cs, perm = structure_at_lme4(case)
    for j, c in enumerate(ref["coef"]):
        res = t_test(cs, np.eye(model.k_fe)[perm[j]], ddf="kenward-roger")
        assert res["se"] == pytest.approx(c["se_kr"], rel=1e-7)
        assert res["df"] == pytest.approx(c["df_kr"], rel=1e-6)
        assert res["t"] == pytest.approx(c["t_kr"], rel=1e-6)
        assert res["p"] == pytest.approx(c["p_kr"], rel=1e-4, abs=1e-10)


@pytest.mark.parametrize("case", CASES)
def test_F_tests_and_contrasts(case):
    ref, _, cs, perm = structure_at_lme4(case)
    for h in ref.get("anova_type3", []) + ref.get("contrasts", []):
        L = np.atleast_2d(to_statsmodels_L(h["L"], perm))
        res = f_test(cs, L, ddf="kenward-roger")
        assert res["F"] == pytest.approx(h["F_kr"], rel=1e-6)
        assert res["den_df"] == pytest.approx(h.get("den_df_kr", h.get("df_kr")), rel=1e-6)
        assert res["p"] == pytest.approx(h["p_kr"], rel=1e-4, abs=1e-10)
        if "kr_scaling_lambda" in h:
            lam = KR.ddf_and_scale(cs, L)[1]
            assert lam == pytest.approx(h["kr_scaling_lambda"], rel=1e-6)


def test_boundary_seed003_stays_small():
    """On the singular seed-003 fit KR keeps df 6 for the Condition_1 terms (pbkrtest)."""
    _, model, cs, _ = structure_at_lme4("seed003_interaction")
    names = list(model.exog_names)
    for name in names:
        df = t_test(cs, np.eye(model.k_fe)[names.index(name)], ddf="kenward-roger")["df"]
        expected = 6.0 if "Condition_1" in name else 12.0
        assert df == pytest.approx(expected, rel=1e-8)


def test_one_row_has_unit_scale():
    """For ℓ = 1 the KR scale λ is exactly 1 (so the t test needs no λ)."""
    _, model, cs, _ = structure_at_lme4("unbalanced_factorial")
    for l in np.eye(model.k_fe):
        assert KR.ddf_and_scale(cs, l)[1] == pytest.approx(1.0, abs=1e-10)


def test_balanced_six_groups_gives_df_4():
    """1 − c3·B = 0 exactly (A1 = A2 = 1/2): pbkrtest's arithmetic gives ρ = ∞ and df = 4.

    A between-group effect, 3 groups per input, balanced: the exact df are 6 − 2 = 4.
    """
    import functools

    import statsmodels.formula.api as smf

    from lmmhelpers import coef_table, fit_mixedlm, two_input_design

    seq = np.random.SeedSequence(1).spawn(1)[0]
    design = functools.partial(two_input_design, n_groups=3, n_per_group=5, group_var=1 / 9)
    data = design(seed=np.random.default_rng(seq))
    result = fit_mixedlm(smf.mixedlm("output ~ input", data, groups="group"))
    table = coef_table(result, ddf="kenward-roger")
    assert np.allclose(table["df"], 4.0)
    assert np.all(np.isfinite(table["P>|t|"]))
    satt = coef_table(result, ddf="satterthwaite")
    assert np.allclose(table["P>|t|"], satt["P>|t|"], atol=1e-5)
