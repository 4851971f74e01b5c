"""The degrees-of-freedom chapter's book code (lmmhelpers.book.dof, dof_studies)."""

import numpy as np
import pytest

from lmmhelpers import book


def test_every_compared_rate_has_at_least_2000_replicates_and_effects_match_nulls():
    studies = book.dof_studies()
    for name, study in studies.items():
        assert study.n_sim >= 2000, name
        if name.endswith("-effect"):
            null = studies[name.removesuffix("-effect")]
            assert study.info["effect"] == book.DOF_EFFECTS[null.name] != 0
            assert study.analyses == null.analyses
            assert {**study.design.keywords, "effect": 0.0}.items() >= {
                k: v for k, v in null.design.keywords.items() if k not in ("effect", "beta_1")
            }.items()
            assert study.seed != null.seed


def test_boundary_path_jumps_for_lmertest_and_not_for_kenward_roger():
    path = book.boundary_path(steps=[0.0, 1.0, 2.0, 3.0])
    _, data = book.reference("few_groups_boundary")
    singular, interior = path[path["boundary"]], path[~path["boundary"]]
    assert len(singular) and len(interior)
    np.testing.assert_allclose(singular["satterthwaite"], len(data) - 2, rtol=1e-8)
    n_groups = data["g"].nunique()
    np.testing.assert_allclose(interior["satterthwaite"], n_groups - 2, rtol=1e-5)
    np.testing.assert_allclose(path["kenward-roger"], n_groups - 2, rtol=1e-8)
    np.testing.assert_allclose(path["expected"], path["kenward-roger"], rtol=1e-8)
    assert (np.diff(path["group_var"]) >= 0).all()


def test_df_by_groups_balanced_interior_fits_give_the_between_within_df():
    d = book.df_by_groups([2, 4], n_data_sets=3, seed=5)
    ok = d[(d["design"] == "balanced") & ~d["boundary"]]
    assert len(ok) >= 3
    for method in ("satterthwaite", "kenward-roger"):
        np.testing.assert_allclose(ok[method], ok["between-within"], rtol=1e-5)
    unb = d[(d["design"] == "unbalanced") & ~d["boundary"]]
    assert (unb["kenward-roger"] < unb["between-within"]).all()


def test_dof_rates_split_by_fit_adds_up_and_keeps_the_method_order():
    study = book.dof_studies()["boundary"]
    table = book.dof_table(study, study.run(replicates=range(12)))
    overall = book.dof_rates(table)
    split = book.dof_rates(table, by_fit=True)
    assert list(overall["method"]) == list(book.DOF_METHODS)
    totals = split.groupby("method")["rejections"].sum()
    assert (totals.loc[overall["method"]].to_numpy() == overall["rejections"].to_numpy()).all()
    assert set(split["fit"]) <= {"singular", "interior"}
    assert table.loc[table["method"] == "group-means-t", "singular"].notna().all()


def test_r_validation_is_within_the_packages_tolerances_on_the_few_group_cases():
    v = book.r_validation(["few_groups_boundary", "few_groups_unbalanced"])
    assert v["df rel. diff"].max() < 5e-3
    assert v["p diff"].max() < 1e-3
    assert v.loc[v["case"] == "few_groups_boundary", "singular"].all()
    with pytest.raises(ValueError):
        book.r_validation(["no_such_case"])


def test_paired_rejections_counts_discordant_data_sets_and_gives_the_exact_mcnemar_p():
    from scipy import stats

    rng = np.random.default_rng(0)
    a = rng.uniform(size=500)
    b = np.where(rng.uniform(size=500) < 0.8, a, rng.uniform(size=500))
    r = book.paired_rejections(a, b)
    ra, rb = a < 0.05, b < 0.05
    assert (r.a_only, r.b_only, r.both, r.n) == (
        (ra & ~rb).sum(), (~ra & rb).sum(), (ra & rb).sum(), 500)
    assert r.p_value == pytest.approx(stats.binomtest(r.a_only, r.a_only + r.b_only).pvalue)
    # swapping the tests swaps the counts and keeps the two-sided p
    s = book.paired_rejections(b, a)
    assert (s.a_only, s.b_only, s.p_value) == (r.b_only, r.a_only, pytest.approx(r.p_value))
    # no discordant data set: nothing to test
    assert book.paired_rejections([0.01, 0.5], [0.02, 0.6]).p_value == 1.0
    # missing p-values are left out; Series are aligned by index
    assert book.paired_rejections([0.01, np.nan], [0.5, 0.01]).n == 1
    import pandas as pd

    x, y = pd.Series([0.01, 0.5], index=[1, 2]), pd.Series([0.5, 0.5], index=[2, 1])
    assert book.paired_rejections(x, y).a_only == 1
    with pytest.raises(ValueError, match="aligned"):
        book.paired_rejections([0.1, 0.2], [0.1])


def test_rate_text_is_one_string_and_refuses_a_rate_outside_its_interval():
    assert book.rate_text(0.0616, 0.0518, 0.0729) == "0.062 (0.052\u20130.073)"
    with pytest.raises(ValueError, match="interval"):
        book.rate_text(0.2, 0.05, 0.1)
