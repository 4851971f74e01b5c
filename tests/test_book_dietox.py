"""dietox: our fits and tests against lme4 / lmerTest / pbkrtest (tests/fixtures/dietox.json).

Tolerances (the chapter's claim uses the same, through ``dietox_agreement``): df 1e-3
relative, SE 1e-4 and p 1e-3 absolute; the REML criterion and the LRT to 1e-4.
"""

import warnings

import numpy as np
import pandas as pd
import pytest

from lmmhelpers import anova_table, coef_table, contrast_test, fit_mixedlm
from lmmhelpers.book import dietox as dietox_module
from lmmhelpers.book import (
    dietox_agreement,
    dietox_model,
    dietox_path,
    dietox_reference,
    load_dietox,
)

DDF = [("satterthwaite", "satterthwaite", "se"), ("kenward-roger", "kr", "se_kr")]


@pytest.fixture(scope="module")
def ref():
    return dietox_reference()


@pytest.fixture(scope="module")
def fits():
    return {r: fit_mixedlm(dietox_model(r)) for r in ("slope", "intercept")}


def test_data_are_the_file_r_read(ref):
    data = load_dietox()
    assert len(data) == ref["n_obs"]
    assert data["Pig"].nunique() == ref["n_pigs"]
    # each pig is on one diet: Evit and Cu vary between pigs only
    assert (data.groupby("Pig")[["Evit", "Cu"]].nunique() == 1).all().all()


def test_missing_file_fails_with_a_clear_message(monkeypatch, tmp_path):
    monkeypatch.setattr(dietox_module.statsmodels, "__file__", str(tmp_path / "x.py"))
    with pytest.raises(FileNotFoundError, match="geepack"):
        dietox_path()


def test_unknown_structure_is_refused():
    with pytest.raises(ValueError, match="random must be"):
        dietox_model("crossed")


@pytest.mark.parametrize("name", ["slope", "intercept"])
def test_reml_criterion_and_variances(fits, ref, name):
    res = fits[name]
    assert res.converged and not res.boundary
    assert -2 * res.llf == pytest.approx(ref[name]["reml_criterion"], abs=1e-4)
    assert res.scale == pytest.approx(ref[name]["sigma2"], rel=1e-4)
    lme4_pig_var = ref[name]["varcorr"][0]["vcov"]
    assert float(res.cov_re.iloc[0, 0]) == pytest.approx(lme4_pig_var, rel=1e-3)


@pytest.mark.parametrize("ddf,suffix,se_col", DDF)
def test_coefficients(fits, ref, ddf, suffix, se_col):
    fe = pd.DataFrame(ref["fixed_effects"]).set_index("name")
    ours = coef_table(fits["slope"], ddf).loc[fe.index]
    np.testing.assert_allclose(ours["Coef."], fe["estimate"], atol=1e-4)
    np.testing.assert_allclose(ours["Std.Err."], fe[se_col], atol=1e-4)
    np.testing.assert_allclose(ours["df"], fe[f"df_{suffix}"], rtol=1e-3)
    np.testing.assert_allclose(ours["P>|t|"], fe[f"p_{suffix}"], atol=1e-3)


@pytest.mark.parametrize("ddf,suffix,se_col", DDF)
def test_type3(fits, ref, ddf, suffix, se_col):
    a3 = pd.DataFrame(ref["anova_type3"]).set_index("term")
    ours = anova_table(fits["slope"], ddf, typ=3).loc[a3.index]
    np.testing.assert_array_equal(ours["Num DF"], a3["num_df"])
    np.testing.assert_allclose(ours["Den DF"], a3[f"den_df_{suffix}"], rtol=1e-3)
    np.testing.assert_allclose(ours["F Value"], a3[f"F_{suffix}"], rtol=1e-3)
    np.testing.assert_allclose(ours["Pr > F"], a3[f"p_{suffix}"], atol=1e-3)


@pytest.mark.parametrize("ddf,suffix,se_col", DDF)
def test_contrasts(fits, ref, ddf, suffix, se_col):
    for c in ref["contrasts"]:
        row = contrast_test(fits["slope"], c["L"], ddf).iloc[0]
        assert row["Coef."] == pytest.approx(c["estimate"], abs=1e-4)
        assert row["Std.Err."] == pytest.approx(c[se_col], abs=1e-4)
        assert row["df"] == pytest.approx(c[f"df_{suffix}"], rel=1e-3)
        assert row["P>|t|"] == pytest.approx(c[f"p_{suffix}"], abs=1e-3)


def test_lrt_of_the_random_slope(fits, ref):
    full = fit_mixedlm(fits["slope"].model, reml=False)
    reduced = fit_mixedlm(fits["intercept"].model, reml=False)
    lrt = ref["lrt_slope"]
    assert full.llf == pytest.approx(lrt["logLik_full_ml"], abs=1e-4)
    assert reduced.llf == pytest.approx(lrt["logLik_reduced_ml"], abs=1e-4)
    assert 2 * (full.llf - reduced.llf) == pytest.approx(lrt["LRT"], abs=1e-4)


def test_agreement_table_is_within_tolerance(fits):
    table = dietox_agreement(fits["slope"], fits["intercept"])
    assert len(table) == 25
    bad = table[table["difference"] > table["tolerance"]]
    assert bad.empty, bad


def test_agreement_table_sees_a_wrong_fit(fits):
    # statsmodels' default fit stops short of the optimum: the table must say so
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wrong = dietox_model("slope").fit()
    table = dietox_agreement(wrong, fits["intercept"])
    assert (table["difference"] > table["tolerance"]).any()
