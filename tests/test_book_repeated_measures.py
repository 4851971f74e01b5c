"""lmmhelpers.book.repeated_measures: the split-plot ANOVA, the answer's fits, ν two ways."""

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from scipy import stats

from lmmhelpers import anova_table, fit_mixedlm, repeated_measures_design
from lmmhelpers.book import (
    SPLIT_PLOT_FORMULA,
    anova_against_lmm,
    answer_fits,
    answer_model,
    complete_participants,
    greenhouse_geisser_epsilon,
    reference,
    satterthwaite_two_ways,
    seed003_table,
    split_plot_anova,
    split_plot_levels,
    vc_reml_criterion,
)


def _lmm(data):
    return fit_mixedlm(smf.mixedlm(SPLIT_PLOT_FORMULA, data, groups="participant_ID"))


@pytest.mark.parametrize("n_per_between, seed, drop", [(4, 2024, None), (6, 7, None),
                                                       (10, 11, None), (4, 2024, 1)])
def test_rm_anova_equals_the_mixed_model_on_complete_interior_data(n_per_between, seed, drop):
    data = repeated_measures_design(n_per_between, subject_var=1.0, resid_var=0.25,
                                    within_effect=0.5, seed=seed)
    data = data[data["participant_ID"] != drop]  # drop: a whole participant (3 + 4)
    fit = _lmm(data)
    assert not fit.boundary
    classical = split_plot_anova(data)
    for ddf in ("satterthwaite", "kenward-roger"):
        lmm = anova_table(fit, ddf=ddf).loc[classical.index]
        np.testing.assert_allclose(lmm["Den DF"], classical["Den DF"], rtol=1e-5)
        np.testing.assert_allclose(lmm["F Value"], classical["F Value"], rtol=1e-5)
        np.testing.assert_allclose(lmm["Pr > F"], classical["Pr > F"], rtol=1e-4)


def test_rm_anova_differs_from_the_mixed_model_at_the_singular_fit():
    table = seed003_table()
    classical = split_plot_anova(table)
    lmm = anova_table(_lmm(table), ddf="kenward-roger").loc[classical.index]
    assert (lmm["Den DF"] - classical["Den DF"]).abs().max() < 1e-6  # same df (6) ...
    assert (lmm["F Value"] - classical["F Value"]).abs().max() > 0.01  # ... other F values


def test_split_plot_anova_matches_t_tests_on_participant_summaries():
    # independent route for two levels each: the between F is the squared two-sample t of
    # participant means, the interaction F that of the within differences
    data = repeated_measures_design(5, subject_var=0.5, between_effect=0.3, seed=3)
    wide = data.pivot(index="participant_ID", columns="Condition_1", values="dependent_var")
    group = data.groupby("participant_ID")["Condition_2"].first()
    means, diffs = wide.mean(axis=1), wide[2] - wide[1]
    t_between = stats.ttest_ind(means[group == 2], means[group == 1]).statistic
    t_inter = stats.ttest_ind(diffs[group == 2], diffs[group == 1]).statistic
    # the within F: the mean difference against the pooled within-group variance of the
    # differences (N - g df)
    centred = diffs - diffs.groupby(group).transform("mean")
    pooled = float((centred**2).sum()) / (len(diffs) - 2)
    t_within = diffs.mean() / np.sqrt(pooled / len(diffs))
    classical = split_plot_anova(data)
    assert classical.loc["C(Condition_2)", "F Value"] == pytest.approx(t_between**2)
    assert classical.loc["C(Condition_1):C(Condition_2)", "F Value"] == pytest.approx(
        t_inter**2)
    assert classical.loc["C(Condition_1)", "F Value"] == pytest.approx(t_within**2)


def test_rm_anova_equals_the_mixed_model_with_unequal_groups_and_three_within_levels():
    # complete data, interior fit, compound symmetry: the type III ANOVA is the mixed model
    # even with unequal group sizes; with three within levels sphericity follows from CS
    rng = np.random.default_rng(8)
    rows = [(p, c, 1 + (p >= 5), 0.4 * (c == 3) + u + rng.normal())
            for p, u in enumerate(rng.normal(0, 1.5, 12)) for c in (1, 2, 3)]
    data = pd.DataFrame(rows, columns=["participant_ID", "Condition_1", "Condition_2",
                                       "dependent_var"])
    fit = _lmm(data)
    assert not fit.boundary
    classical = split_plot_anova(data)
    assert classical["Den DF"].tolist() == [20, 10, 20]
    lmm = anova_table(fit, ddf="kenward-roger").loc[classical.index]
    np.testing.assert_allclose(lmm["F Value"], classical["F Value"], rtol=1e-5)
    np.testing.assert_allclose(lmm["Den DF"], classical["Den DF"], rtol=1e-5)


def test_split_plot_anova_refuses_incomplete_data():
    table = seed003_table()
    with pytest.raises(ValueError, match="complete data"):
        split_plot_anova(table.drop(index=0))
    with pytest.raises(ValueError, match="not in data"):
        split_plot_anova(table, response="rt")
    with pytest.raises(ValueError, match="varies within a subject"):
        split_plot_anova(table.assign(Condition_2=[1, 2] * 8))


def test_complete_participants_drops_the_whole_participant():
    table = seed003_table()
    kept = complete_participants(table.drop(index=[0, 15]))
    assert len(kept) == len(table) - 4
    assert set(kept["participant_ID"]) == set(table["participant_ID"]) - {1, 29}


def test_greenhouse_geisser_epsilon_is_one_with_two_levels_and_bounded_with_more():
    assert greenhouse_geisser_epsilon(seed003_table()) == pytest.approx(1.0)
    rng = np.random.default_rng(5)
    rows = [(p, c, 1 + (p >= 6), rng.normal() * (c == 3) * 3 + rng.normal())
            for p in range(12) for c in (1, 2, 3)]
    data = pd.DataFrame(rows, columns=["participant_ID", "Condition_1", "Condition_2",
                                       "dependent_var"])
    eps = greenhouse_geisser_epsilon(data)
    assert 0.5 <= eps < 0.99  # heteroscedastic levels: far from spherical


def test_answer_fits_compare_by_the_criterion_and_reach_lme4():
    ref, _ = reference("seed003_vc")
    fits, texts = answer_fits(seed003_table())
    assert list(fits.index) == ["default", "powell", "fit_mixedlm"]
    gap = fits["REML criterion"] - ref["reml_criterion"]
    assert abs(gap["powell"]) < 1e-4 and abs(gap["fit_mixedlm"]) < 1e-6
    assert (gap > -1e-6).all()  # nobody beats lme4's optimum
    assert set(texts["method"]) <= set(fits.index)
    np.testing.assert_allclose(fits["grand mean"], seed003_table()["dependent_var"].mean())


def test_vc_reml_criterion_is_lme4s_at_zero_and_rises_away_from_it():
    ref, _ = reference("seed003_vc")
    model = answer_model(seed003_table())
    assert vc_reml_criterion(model, {}) == pytest.approx(ref["reml_criterion"], abs=1e-8)
    for name in model.exog_vc.names:
        assert vc_reml_criterion(model, {name: 0.3}) > vc_reml_criterion(model, {})
    with pytest.raises(ValueError, match="not variance components"):
        vc_reml_criterion(model, {"subject": 1.0})


def test_satterthwaite_two_ways_at_the_seeds_singular_fit():
    ref, _ = reference("seed003_interaction")
    fit = _lmm(seed003_table())
    for term in ref["anova_type3"]:
        two = satterthwaite_two_ways(fit, term["L"][0])
        assert two["nu_lmertest"] == pytest.approx(term["den_df_satterthwaite"], rel=1e-6)
        assert two["nu_variance_expected"] == pytest.approx(term["den_df_kr"], rel=1e-6)
        assert abs(two["gradient_theta"][0]) < 1e-12  # dPhi/dtheta = 0 at theta = 0
        assert two["hessian_eigenvalues"].min() > 0.1  # nothing for a pseudo-inverse to drop


def test_satterthwaite_two_ways_agree_at_an_interior_fit_on_the_term_df():
    data = repeated_measures_design(4, subject_var=1.0, resid_var=0.25, seed=2024)
    fit = _lmm(data)
    two = satterthwaite_two_ways(fit, [0, 0, 0, 1])
    assert two["nu_lmertest"] == pytest.approx(6.0, rel=1e-4)
    assert two["nu_variance_expected"] == pytest.approx(6.0, rel=1e-4)
    with pytest.raises(ValueError, match="one entry per fixed effect"):
        satterthwaite_two_ways(fit, [0, 1])


def test_anova_against_lmm_equal_when_complete_and_interior_not_after_a_dropped_row():
    data = repeated_measures_design(4, subject_var=1.0, resid_var=0.25, seed=2024)
    complete = anova_against_lmm(data)
    assert not complete.attrs["boundary"]
    assert complete["|F diff|"].max() < 1e-5
    dropped = anova_against_lmm(data.drop(index=0))  # participant 1 loses a row
    assert dropped["ANOVA rows"].iloc[0] == len(data) - 2  # the ANOVA loses both
    assert dropped["LMM rows"].iloc[0] == len(data) - 1
    assert dropped["|F diff|"].max() > 1e-3
    assert (dropped["LMM df"] != dropped["ANOVA df"]).any()


def test_satterthwaite_two_ways_on_the_few_groups_boundary_fixture():
    # a between-group treatment, singular fit: lmerTest's 18 df against KR's 2, and the
    # (theta, sigma) Hessian has no small eigenvalue for a pseudo-inverse to drop
    from lmmhelpers.book import fit_reference

    ref, fit = fit_reference("few_groups_boundary")
    for row, l in zip(ref["coef"], np.eye(2), strict=True):
        two = satterthwaite_two_ways(fit, l)
        assert two["nu_lmertest"] == pytest.approx(row["df_satterthwaite"], rel=1e-6)
        assert two["nu_variance_expected"] == pytest.approx(row["df_kr"], rel=1e-6)
        assert two["hessian_eigenvalues"].min() > 0.1


@pytest.mark.parametrize("n_per_between", [4, 6])
def test_split_plot_levels_rests_on_the_pooling_identities(n_per_between):
    """At a singular fit the LMM's F is MS_term / pooled MS (KR m df, lmerTest 2m df)."""
    seen, m = set(), 2 * (n_per_between - 1)
    for seed in range(8):
        data = repeated_measures_design(n_per_between, subject_var=0.0, resid_var=1.0,
                                        seed=seed)
        fit = _lmm(data)
        classical = split_plot_anova(data)
        ms_bp = classical.loc["C(Condition_2)", "Error MS"]
        ms_w = classical.loc["C(Condition_1)", "Error MS"]
        assert bool(fit.boundary) == bool(ms_bp < ms_w)
        seen.add(bool(fit.boundary))
        pooled = (ms_bp + ms_w) / 2 if fit.boundary else classical["Error MS"]
        F_expected = classical["F Value"] * classical["Error MS"] / pooled
        for ddf, df_bnd in (("kenward-roger", m), ("satterthwaite", 2 * m)):
            lmm = anova_table(fit, ddf=ddf).loc[classical.index]
            np.testing.assert_allclose(lmm["F Value"], F_expected, rtol=1e-5)
            np.testing.assert_allclose(lmm["Den DF"], df_bnd if fit.boundary else m,
                                       rtol=1e-5)
    assert seen == {True, False}


def test_split_plot_levels_against_mean_square_draws():
    rng = np.random.default_rng(20)
    n, m = 400_000, 6
    u, w, z = rng.chisquare(m, n), rng.chisquare(m, n), rng.chisquare(1, n)
    bnd = u < w
    c6, c12 = stats.f.isf(0.05, 1, 6), stats.f.isf(0.05, 1, 12)
    within_s = np.where(bnd, z / ((u + w) / 12) > c12, z / (w / 6) > c6).mean()
    levels = split_plot_levels(4)
    assert abs(levels.loc["within", "LMM, lmerTest Satterthwaite"] - within_s) < 4e-3
    assert levels.loc["between", "LMM, Kenward-Roger"] < 0.05 < levels.loc[
        "within", "LMM, Kenward-Roger"]
    assert levels.attrs["p_boundary"] == pytest.approx(0.5)
    with pytest.raises(ValueError):
        split_plot_levels(1)
