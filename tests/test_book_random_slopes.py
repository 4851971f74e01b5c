"""lmmhelpers.book.random_slopes: the two models' tests, the slope LRT, the stored studies."""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from lmmhelpers import fit_mixedlm
from lmmhelpers.book import (
    CROSSED_SLOPE_VC,
    CROSSED_VC,
    crossed_model,
    crossed_one_group,
    intercept_only_z_rate,
    selected_tests,
    slope_studies,
    split_model,
)
from lmmhelpers.book.random_slopes import (
    AggregateTests,
    SlopeVarianceLRT,
    crossed_slope_analyses,
    nested_slope_analyses,
)
from lmmhelpers.simulate import two_input_within_design
from lmmhelpers.study import MixedLMTest, run_study

DESIGN = functools.partial(crossed_one_group, n_subj=8, n_ingroup=3, n_outgroup=3,
                           beta_1=0.0, tau_1=150.0, rho=0.0)


@pytest.fixture(scope="module")
def crossed_table():
    slopes, intercepts = crossed_slope_analyses(("normal", "satterthwaite"))
    return run_study(DESIGN, [slopes, intercepts, SlopeVarianceLRT(slopes, intercepts)],
                     n_sim=4, seed=3, progress=False)


def test_model_rows_are_those_of_mixedlmtest(crossed_table):
    plain = run_study(DESIGN, [MixedLMTest("RT ~ X_i", "one", "X_i",
                                           methods=("normal", "satterthwaite"),
                                           re_formula="0", vc_formula=CROSSED_SLOPE_VC)],
                      n_sim=4, seed=3, progress=False)
    ours = split_model(crossed_table)
    ours = ours[ours["model"] == "slopes"].reset_index(drop=True)
    assert ours["method"].tolist() == plain["method"].tolist()
    np.testing.assert_allclose(ours["p_value"], plain["p_value"], rtol=1e-10)
    assert set(split_model(crossed_table)["model"]) == {"slopes", "intercepts", "slope-lrt"}


def test_slope_lrt_is_the_boundary_mixture_of_the_two_fits():
    data = DESIGN(seed=5)
    full = fit_mixedlm(crossed_model(data, vc=CROSSED_SLOPE_VC))
    reduced = fit_mixedlm(crossed_model(data, vc=CROSSED_VC))
    slopes, intercepts = crossed_slope_analyses(("normal",))
    row = run_study(lambda seed: data, [SlopeVarianceLRT(slopes, intercepts)], n_sim=1,
                    seed=0, progress=False).iloc[0]
    statistic = max(2 * (full.llf - reduced.llf), 0.0)
    assert row["statistic"] == pytest.approx(statistic, rel=1e-5, abs=1e-6)
    expected = 0.5 * stats.chi2.sf(statistic, 1) + (0.5 if statistic <= 0 else 0.0)
    assert row["p_value"] == pytest.approx(expected, rel=1e-5, abs=1e-8)
    assert row["boundary"] == bool(full.boundary)


def test_correlated_slope_lrt_uses_the_one_and_two_df_mixture():
    slopes, intercepts = nested_slope_analyses(("normal",))
    design = functools.partial(two_input_within_design, n_groups=4, n_per_cell=4,
                               slope_var=1.0)
    table = run_study(design, [SlopeVarianceLRT(slopes, intercepts, extra=1)], n_sim=2,
                      seed=1, progress=False)
    for _, row in table.iterrows():
        t = row["statistic"]
        assert row["df"] == 2.0
        assert row["p_value"] == pytest.approx(
            0.5 * stats.chi2.sf(t, 1) + 0.5 * stats.chi2.sf(t, 2), rel=1e-10)


def test_selected_tests_follow_the_lrt(crossed_table):
    table = split_model(crossed_table)
    lrt = table[table["model"] == "slope-lrt"].set_index("replicate")["p_value"]
    for alpha in (1e-12, 0.2, 1 - 1e-12):
        chosen = selected_tests(table, alpha_lrt=alpha)
        assert len(chosen) == 2 * len(lrt)  # one row per replicate and method
        want = np.where(lrt.loc[chosen["replicate"]].to_numpy() < alpha, "slopes",
                        "intercepts")
        assert chosen["model"].tolist() == want.tolist()
    with pytest.raises(ValueError, match="alpha_lrt"):
        selected_tests(table, alpha_lrt=1.5)


def test_split_model_on_a_stored_style_table():
    t = pd.DataFrame({"method": ["intercepts:kenward-roger", "slope-lrt"], "p_value": [1, 0]})
    out = split_model(t)
    assert out[["model", "method"]].values.tolist() == [
        ["intercepts", "kenward-roger"], ["slope-lrt", "lrt"]]
    assert t["method"].tolist()[0] == "intercepts:kenward-roger"  # input untouched


def test_intercept_only_z_rate():
    assert intercept_only_z_rate(24, 24, 0.0) == pytest.approx(0.05)
    rates = intercept_only_z_rate(24, 24, np.array([0.0, 100.0, 200.0, 400.0]))
    assert np.all(np.diff(rates) > 0)
    # the ratio of variances, by hand
    true = 200.0**2 / 24 + 4 * 80.0**2 / 24 + 4 * 200.0**2 / 576
    reported = 4 * 80.0**2 / 24 + 4 * (200.0**2 + 200.0**2 / 4) / 576
    want = 2 * stats.norm.sf(stats.norm.isf(0.025) * np.sqrt(reported / true))
    assert intercept_only_z_rate(24, 24, 200.0) == pytest.approx(want)
    with pytest.raises(ValueError, match="alpha"):
        intercept_only_z_rate(24, 24, 1.0, alpha=2.0)


def test_slope_studies_are_sized_and_seeded_apart():
    studies = slope_studies()
    assert all(s.n_sim >= 2000 for s in studies.values())  # the interval rule
    seeds = [s.seed for n, s in studies.items() if n != "aggregate-200"]
    assert len(set(seeds)) == len(seeds)
    # the aggregated tests read the same data sets as the tau_1 = 200 mixed models
    assert studies["aggregate-200"].seed == studies["null-200"].seed
    assert studies["aggregate-200"].design.keywords == studies["null-200"].design.keywords
    assert len({s.key() for s in studies.values()}) == len(studies)
    assert studies["power"].design.keywords["beta_1"] > 0
    assert all(s.design.keywords.get("beta_1", 0.0) == 0.0
               for n, s in studies.items() if n != "power")


@pytest.mark.parametrize("name", sorted(slope_studies()))
def test_stored_study_is_complete(name):
    study = slope_studies()[name]
    table = study.load()
    assert table["replicate"].nunique() == study.n_sim
    n_labels = sum(len(a.labels()) for a in study.analyses)
    assert len(table) == study.n_sim * n_labels


def test_aggregate_tests_are_the_paired_and_item_t_tests():
    design = functools.partial(crossed_one_group, n_subj=7, n_ingroup=4, n_outgroup=3,
                               tau_1=100.0)
    table = run_study(design, [AggregateTests()], n_sim=1, seed=4, progress=False)
    rows = table.set_index("method")
    data = design(seed=np.random.SeedSequence(4).spawn(1)[0])
    subj = data.pivot_table(index="subj_id", columns="X_i", values="RT")
    f1 = stats.ttest_rel(subj[0.5], subj[-0.5])
    items = data.groupby("item_id").agg(y=("RT", "mean"), x=("X_i", "first"))
    f2 = stats.ttest_ind(items.loc[items["x"] > 0, "y"], items.loc[items["x"] < 0, "y"])
    assert rows.loc["F1", "p_value"] == pytest.approx(f1.pvalue, rel=1e-10)
    assert rows.loc["F2", "p_value"] == pytest.approx(f2.pvalue, rel=1e-10)
    assert (rows.loc["F1", "df"], rows.loc["F2", "df"]) == (6.0, 5.0)
    a, b = f1.statistic**2, f2.statistic**2
    min_f = a * b / (a + b)
    df = (a + b) ** 2 / (a**2 / 5.0 + b**2 / 6.0)  # Clark (1973): F1 has 6 df, F2 has 5
    assert rows.loc["min-F'", "statistic"] == pytest.approx(min_f, rel=1e-10)
    assert rows.loc["min-F'", "p_value"] == pytest.approx(stats.f.sf(min_f, 1, df), rel=1e-10)
    assert rows.loc["F1xF2", "p_value"] == max(rows.loc["F1", "p_value"],
                                              rows.loc["F2", "p_value"])
    assert rows.loc["F1", "p_value"] != rows.loc["F2", "p_value"]
