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
