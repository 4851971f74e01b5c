"""Tests of lmmhelpers.book.group_count: the exact levels, the boundary split and the cells."""

from functools import partial

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import lmmhelpers as lh
from lmmhelpers import book


def _gee_and_t(n_groups, n_per_group, cov_type, n_sim=6, seed=11, **design):
    analyses = [lh.GEETest("output ~ input", "group", book.INPUT_TERM, cov_type=cov_type),
                lh.GroupMeansTTest("output", "group", "input", book.INPUT_TERM)]
    table = lh.run_study(partial(lh.two_input_design, n_groups=n_groups,
                                 n_per_group=n_per_group, **design),
                         analyses, n_sim, seed, progress=False)
    wide = table.pivot_table(index="replicate", columns="method", values="statistic")
    return wide.iloc[:, 0] / wide["group-means-t"]


@pytest.mark.parametrize(("cov_type", "power"), [("bias_reduced", 1), ("robust", -1)])
@pytest.mark.parametrize(("m", "n", "icc"), [(3, 5, 0.1), (4, 20, 0.7)])
def test_gee_statistic_is_the_group_means_t_times_the_derived_factor(cov_type, power, m, n,
                                                                     icc):
    # the derivation behind gee_level: z = t * sqrt((m-1)/m) (bias-reduced) or
    # t * sqrt(m/(m-1)) (plain sandwich), in every replicate of a balanced design
    ratio = _gee_and_t(m, n, cov_type, group_var=icc, resid_var=1 - icc)
    np.testing.assert_allclose(ratio.abs(), np.sqrt((m - 1) / m) ** power, rtol=1e-6)


def test_unbalanced_groups_break_the_identity():
    ratio = _gee_and_t(3, [2, 5, 8], "bias_reduced", n_sim=8)
    assert ratio.abs().max() - ratio.abs().min() > 1e-3


def test_exact_levels_against_direct_integration_and_limits():
    m = 3
    q = stats.norm.isf(0.025)
    draws = stats.t.rvs(2 * m - 2, size=400_000, random_state=np.random.default_rng(1))
    mc = float(np.mean(np.abs(draws * np.sqrt((m - 1) / m)) > q))
    assert abs(mc - float(book.gee_level(m))) < 0.002
    assert float(book.z_level(2000)) == pytest.approx(0.05, abs=1e-3)
    assert float(book.gee_level(2000)) == pytest.approx(0.05, abs=1e-3)
    levels = book.gee_level([3, 5, 10, 20])
    assert np.all(np.diff(levels) < 0) and np.all(levels > 0.05)
    assert float(book.gee_level(3, reference="t")) < 0.05 < float(book.z_level(3))
    assert float(book.gee_level(3, cov_type="robust")) > float(book.z_level(3))


@pytest.mark.parametrize("bad", [{"reference": "chi2"}, {"cov_type": "jackknife"}])
def test_gee_level_names_the_bad_argument(bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        book.gee_level(3, **bad)


def test_levels_reject_fewer_than_two_groups():
    with pytest.raises(ValueError, match="n_groups"):
        book.z_level(1)
    with pytest.raises(ValueError, match="n_groups"):
        book.gee_level(2.5)


def test_by_fit_labels_every_method_by_the_mixed_models_boundary_flag():
    rows = pd.DataFrame({
        "replicate": [0, 0, 1, 1, 2, 2],
        "method": ["satterthwaite", "group-means-t"] * 3,
        "term": "x", "p_value": [0.01, 0.02, 0.5, 0.03, 0.2, 0.9],
        "boundary": [True, None, False, None, False, None], "converged": True,
        "status": "ok", "df": 4.0})
    out = book.by_fit(rows).set_index(["fit", "method"])
    assert out.loc[("boundary", "group-means-t"), "n_used"] == 1
    assert out.loc[("interior", "group-means-t"), "rate"] == 0.5
    assert out["n_used"].sum() == len(rows)


def test_gee_ratio_recovers_the_factor_from_rounded_pvalues():
    t = np.array([2.5, -1.2, 0.3, 4.0])
    m = 5
    z = t * np.sqrt((m - 1) / m)
    rows = pd.DataFrame({
        "replicate": np.repeat(np.arange(4), 2),
        "method": ["gee-bias-reduced", "group-means-t"] * 4,
        "p_value": np.ravel(np.column_stack([2 * stats.norm.sf(np.abs(z)),
                                             2 * stats.t.sf(np.abs(t), 2 * m - 2)])),
    })
    rows["p_value"] = rows["p_value"].map(lambda p: float(f"{p:.4g}"))
    ratio = book.gee_ratio(rows, m)
    assert list(ratio.index) == [0, 1, 3]  # the replicate with p > 0.5 is left out
    np.testing.assert_allclose(ratio, np.sqrt((m - 1) / m), rtol=1e-3)


def test_cells_follow_the_interval_rule_and_pair_the_slope_fits():
    cells = pd.DataFrame(book.group_count_cells())
    compared = cells[cells["sweep"] != "stages"]
    assert compared["n_sim"].min() >= 2000  # half-width at 5 % at most 0.01
    assert cells["cell"].tolist() == list(range(len(cells)))
    slopes = cells[cells["sweep"] == "within"]
    for _, sub in slopes.groupby("n_groups"):
        with_var = sub[sub["slope_var"] > 0]
        assert set(with_var["model"]) == {"intercepts", "slopes"}
        assert with_var["seed"].nunique() == 1  # the two fits read the same data sets
        assert sub["seed"].nunique() == 2
    slope_study = book.group_count_study(
        slopes[(slopes["model"] == "slopes")].iloc[0].to_dict())
    assert all(a.re_formula == "~condition" for a in slope_study.analyses)
    assert slope_study.design.keywords["slope_var"] == 0.5


def test_stored_gee_rows_obey_the_derived_identity():
    index, pvalues = book.load_group_count()
    grid = index[index["sweep"] == "grid"]
    cell = grid[(grid["n_groups"] == 3) & grid["methods"].str.contains("gee")].iloc[0]
    rows = pvalues[pvalues["cell"] == cell["cell"]]
    ratio = book.gee_ratio(rows, int(cell["n_groups"]))
    assert len(ratio) > 900  # replicates with a group-means p-value below 0.5
    np.testing.assert_allclose(ratio, np.sqrt(2 / 3), rtol=2e-3)


def _closed_form_rates(m, n, icc, n_sim, seed, alpha=0.05):
    # the sums of squares of the balanced two-input design under the null, drawn directly
    rng = np.random.default_rng(seed)
    a, w = 2 * m - 2, 2 * m * (n - 1)
    kappa = 1 + n * icc / (1 - icc)
    ss_a, ss_b = kappa * rng.chisquare(1, n_sim), kappa * rng.chisquare(a, n_sim)
    ss_w = rng.chisquare(w, n_sim)
    boundary = ss_b / a < ss_w / w
    t2 = ss_a / (ss_b / a)
    z2 = np.where(boundary, ss_a / ((ss_b + ss_w) / (a + w)), t2)
    q = {"group-means-t": stats.t.isf(alpha / 2, a), "normal": stats.norm.isf(alpha / 2),
         "satterthwaite": stats.t.isf(alpha / 2, a + w), "kenward-roger": stats.t.isf(alpha / 2, a)}
    exact = t2 > q["group-means-t"] ** 2
    out = {}
    for method, qb in q.items():
        q_int = q["normal"] if method == "normal" else q["group-means-t"]
        reject = np.where(boundary, z2 > qb ** 2, t2 > q_int ** 2)
        if method == "group-means-t":  # the exact test ignores the fit
            reject = exact
        out[method] = {"boundary": reject[boundary].mean(), "all": reject.mean(),
                       "more": (reject & ~exact)[boundary].mean(),
                       "fewer": (~reject & exact)[boundary].mean()}
    return boundary.mean(), pd.DataFrame.from_dict(out, orient="index")


@pytest.mark.parametrize(("m", "n", "icc"), [(3, 5, 0.1), (5, 4, 0.3)])
def test_boundary_levels_match_a_seeded_simulation_of_the_sums_of_squares(m, n, icc):
    n_sim = 400_000
    share, mc = _closed_form_rates(m, n, icc, n_sim, seed=20 + m)
    assert share == pytest.approx(book.boundary_probability(m, n, icc), abs=4 * 0.5 / n_sim ** 0.5)
    levels = book.boundary_levels(m, n, icc)
    n_b = share * n_sim
    for method in mc.index:
        for column, count in (("boundary", n_b), ("more", n_b), ("fewer", n_b), ("all", n_sim)):
            p = levels.loc[method, column]
            se = max(np.sqrt(p * (1 - p) / count), 1 / count)
            assert abs(mc.loc[method, column] - p) < 4.5 * se, (method, column)


def test_boundary_levels_known_limits():
    levels = book.boundary_levels(3, 5, 0.1)
    # the exact test is exact overall, and at an interior fit Satterthwaite and KR are it
    assert levels.loc["group-means-t", "all"] == pytest.approx(0.05, abs=1e-8)
    assert levels.loc["satterthwaite", "interior"] == pytest.approx(
        levels.loc["group-means-t", "interior"], abs=1e-12)
    # z's rate over all fits splits into interior and boundary parts
    p_b = book.boundary_probability(3, 5, 0.1)
    z = levels.loc["normal"]
    assert z["all"] == pytest.approx(p_b * z["boundary"] + (1 - p_b) * z["interior"], abs=1e-12)
    # with almost no boundary fits z's overall level is z_level's t tail
    near = book.boundary_levels(3, 5, 0.95).loc["normal", "all"]
    assert near == pytest.approx(float(book.z_level(3)), abs=1e-3)
    with pytest.raises(ValueError, match="n_per_group"):
        book.boundary_levels(3, 1, 0.1)


def test_boundary_levels_premises_hold_in_live_fits():
    # boundary_levels assumes: a REML fit of the balanced design is on the boundary exactly
    # when MS_B < MS_W, and there the Wald statistic of the input is the OLS t on all rows
    import statsmodels.formula.api as smf

    seen = 0
    for seed in range(30):
        data = lh.two_input_design(n_groups=3, n_per_group=5, group_var=0.1, resid_var=0.9,
                                   seed=seed)
        fit = lh.fit_mixedlm(smf.mixedlm("output ~ input", data, groups="group"))
        means = data.groupby("group")["output"].mean()
        arm = data.groupby("group")["input"].first()
        ms_b = 5 * ((means - means.groupby(arm).transform("mean")) ** 2).sum() / 4
        ms_w = ((data["output"] - data.groupby("group")["output"].transform("mean")) ** 2
                ).sum() / 24
        assert bool(fit.boundary) == bool(ms_b < ms_w), seed
        if fit.boundary:
            seen += 1
            ols = smf.ols("output ~ input", data).fit()
            assert fit.tvalues[book.INPUT_TERM] == pytest.approx(
                ols.tvalues[book.INPUT_TERM], rel=1e-6)
    assert seen >= 5
