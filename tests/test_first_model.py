"""The first chapter's design, its fits and the closed-form REML/ML profile."""

import numpy as np
import pytest
import statsmodels.formula.api as smf

from lmmhelpers import fit_mixedlm
from lmmhelpers.book import (
    FIRST_MODEL_FORMULA,
    first_model_data,
    first_model_replicate,
    profile_loglik,
    run_seeded,
)


def test_design_is_balanced_with_a_between_and_a_within_predictor():
    data = first_model_data(6, 5, group_var=2.0, seed=4)
    per_group = data.groupby("group")
    assert (per_group.size() == 5).all()
    assert (per_group["treated"].nunique() == 1).all()
    assert per_group["treated"].first().tolist() == [0, 0, 0, 1, 1, 1]
    assert np.allclose(per_group["x"].mean(), 0.0)
    assert (per_group["group_effect"].nunique() == 1).all()


def test_response_is_the_stated_sum_with_no_noise_in_the_limit():
    data = first_model_data(4, 3, intercept=2.0, treatment=3.0, slope=-1.0,
                            group_var=0.0, resid_var=1e-12, seed=5)
    expected = 2.0 + 3.0 * data["treated"] - data["x"]
    assert np.allclose(data["y"], expected, atol=1e-4)


@pytest.mark.parametrize("bad", [{"n_groups": 1}, {"n_per_group": 1}, {"resid_var": 0.0},
                                 {"group_var": -1.0}])
def test_invalid_designs_are_refused_by_name(bad):
    with pytest.raises((ValueError, TypeError), match=next(iter(bad))):
        first_model_data(**bad)


@pytest.mark.parametrize("reml", [True, False])
def test_profile_peaks_at_the_fit_and_equals_its_loglik(reml):
    data = first_model_data(seed=11)
    fit = fit_mixedlm(smf.mixedlm(FIRST_MODEL_FORMULA, data, groups="group"), reml=reml)
    s2b = float(fit.cov_re.iloc[0, 0])
    prof = profile_loglik(data, [0.8 * s2b, s2b, 1.25 * s2b], reml=reml)
    assert prof["loglik"].iloc[1] == pytest.approx(fit.llf, abs=1e-4)
    assert prof["resid_var"].iloc[1] == pytest.approx(fit.scale, rel=1e-4)
    assert prof["loglik"].iloc[1] > prof["loglik"].iloc[0]
    assert prof["loglik"].iloc[1] > prof["loglik"].iloc[2]


def test_profile_refuses_negative_variances():
    with pytest.raises(ValueError, match="group_vars"):
        profile_loglik(first_model_data(seed=1), [-0.1])


def test_replicates_report_both_models_and_are_reproducible():
    a = run_seeded(first_model_replicate, 3, seed=9, n_groups=6, n_per_group=4)
    b = run_seeded(first_model_replicate, 3, seed=9, n_groups=6, n_per_group=4)
    assert a.equals(b)
    assert set(a["model"]) == {"OLS", "LMM"} and len(a) == 3 * 4
    ols = a[a["model"] == "OLS"].reset_index(drop=True)
    lmm = a[a["model"] == "LMM"].reset_index(drop=True)
    # in a balanced design with x centred within groups both estimates of the treatment
    # effect are the difference of the arms' means
    tr = ols["term"] == "treated"
    assert np.allclose(ols.loc[tr, "estimate"], lmm.loc[tr, "estimate"], atol=1e-6)
    assert (lmm["group_var"] >= 0).all() and ols["group_var"].isna().all()
    # REML's estimate of the group variance is never below ML's in a balanced design
    assert (lmm["group_var"] >= lmm["group_var_ml"] - 1e-8).all()


def test_replicate_fits_equal_the_formula_fits():
    import statsmodels.formula.api as smf

    from lmmhelpers.book import replicate_rng

    rows = first_model_replicate(2, replicate_rng(9, 3, 2), n_groups=6, n_per_group=4)
    data = first_model_data(6, 4, seed=replicate_rng(9, 3, 2))
    ols = smf.ols(FIRST_MODEL_FORMULA, data).fit()
    lmm = fit_mixedlm(smf.mixedlm(FIRST_MODEL_FORMULA, data, groups="group"))
    for row in rows:
        fit = ols if row["model"] == "OLS" else lmm
        assert row["estimate"] == pytest.approx(fit.params[row["term"]], abs=1e-8)
        assert row["se"] == pytest.approx(fit.bse[row["term"]], rel=1e-6)
