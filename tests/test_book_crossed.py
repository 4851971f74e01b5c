"""Tests of lmmhelpers.book.crossed: the crossed chapter's studies and the exact item F test."""

import dataclasses

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from statsmodels.stats.anova import anova_lm

from lmmhelpers import fit_mixedlm
from lmmhelpers.book import (
    CROSSED_SLOPE_VC,
    LRT_NULL_STUDY,
    crossed_model,
    crossed_one_group,
    item_f_test,
    item_means_studies,
)


def _data(seed, **kw):
    args = dict(n_subj=8, n_ingroup=3, n_outgroup=4, tau_1=0.0, rho=0.0, seed=seed)
    return crossed_one_group(**{**args, **kw})


def test_item_f_test_is_the_ols_comparison_of_items_within_categories():
    data = _data(1, omega_0=30.0)
    reduced = smf.ols("RT ~ C(subj_id) + X_i", data).fit()
    full = smf.ols("RT ~ C(subj_id) + C(item_id)", data).fit()
    table = anova_lm(reduced, full)
    out = item_f_test(data)
    assert out["df_items"] == table["df_diff"].iloc[1] == 7 - 2
    assert out["df_resid"] == full.df_resid == (8 - 1) * (7 - 1)
    np.testing.assert_allclose(out["F"], table["F"].iloc[1], rtol=1e-10)
    np.testing.assert_allclose(out["p_value"], table["Pr(>F)"].iloc[1], rtol=1e-8)


def test_item_f_test_rejects_incomplete_or_repeated_cells():
    data = _data(2)
    with pytest.raises(ValueError, match="exactly once"):
        item_f_test(data.iloc[1:])
    with pytest.raises(ValueError, match="exactly once"):
        item_f_test(pd.concat([data, data.iloc[:1]]))


def test_reml_lrt_is_zero_exactly_when_the_item_f_is_at_most_one():
    study = dataclasses.replace(LRT_NULL_STUDY, n_sim=40)
    table = study.run(replicates=range(12))
    assert len(table) == 12 and table["converged"].all()
    zero = table["lrt"] < 1e-6
    assert zero.any() and (~zero).any()  # both kinds occur among these replicates
    assert (zero == (table["F"] <= 1)).all()
    # the stored F is the one of the replicate's data
    assert set(table.columns) >= {"lrt", "item_var", "boundary", "F"}


def test_item_means_studies_share_data_sets_and_differ_in_key():
    studies = item_means_studies()
    a, b = studies["intercepts-tau200"], studies["slopes-tau200"]
    assert a.seed == b.seed and a.design.keywords == b.design.keywords
    assert a.key() != b.key() != studies["intercepts-tau0"].key()
    assert studies["intercepts-tau0"].design.keywords["tau_1"] == 0.0
    assert a.design.keywords["beta_1"] == 0.0  # null studies
    assert {s.n_sim for s in studies.values()} == {2000}


def test_item_means_t_equals_the_crossed_model_at_an_interior_fit_without_slopes():
    table = item_means_studies()["intercepts-tau0"].run(replicates=[0, 1])
    wide = table.pivot(index="replicate", columns="method", values="p_value")
    interior = ~table[table["method"] == "kenward-roger"].set_index("replicate")["boundary"]
    assert interior.any()
    np.testing.assert_allclose(wide.loc[interior, "kenward-roger"],
                               wide.loc[interior, "group-means-t"], atol=1e-6)


def test_the_slope_component_enters_the_crossed_model():
    data = _data(3, tau_1=150.0)
    model = crossed_model(data, vc=CROSSED_SLOPE_VC)
    assert model.exog_vc.names == sorted(CROSSED_SLOPE_VC)
    fit = fit_mixedlm(model)
    assert fit.converged and len(fit.vcomp) == 3
