"""Tests of lmmhelpers.study.analyses and .replicate: numbers, shared fits, captured warnings."""

import warnings
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from scipy import stats

import lmmhelpers
from lmmhelpers.book import null_pvalue_study
from lmmhelpers.simulate import two_input_design, two_input_within_design
from lmmhelpers.study import (
    FixedEffectsTest,
    GEETest,
    LikelihoodRatioTest,
    MixedLMTest,
    run_study,
)
from lmmhelpers.study import replicate as replicate_module
from lmmhelpers.summaries import rejection_rate

TERM = "input[T.input_1]"
ROOT = Path(__file__).resolve().parents[1]


def test_one_fit_is_shared_by_the_mixed_methods(monkeypatch):
    calls = []
    original = replicate_module.Replicate._fit_mixed

    def counting(self, *args):
        calls.append(args)
        return original(self, *args)

    monkeypatch.setattr(replicate_module.Replicate, "_fit_mixed", counting)
    null_pvalue_study(4, 5, 1.0, 1.0, n_sim=3, seed=1, progress=False,
                      methods=("normal", "satterthwaite", "kenward-roger"))
    assert len(calls) == 3  # one REML fit per replicate


def test_mixed_methods_agree_with_coef_table_on_the_same_data():
    res = null_pvalue_study(5, 4, 1.0, 1.0, n_sim=2, seed=8, progress=False)
    children = np.random.SeedSequence(8).spawn(2)
    rng = np.random.default_rng(children[1])
    data = two_input_design(5, 4, group_var=1.0, resid_var=1.0, seed=rng)
    fit = smf.mixedlm("output ~ input", data, groups="group").fit()
    for method in ("normal", "satterthwaite", "kenward-roger"):
        row = res[(res["replicate"] == 1) & (res["method"] == method)].iloc[0]
        table = lmmhelpers.coef_table(fit, ddf=method)
        assert row["p_value"] == pytest.approx(table.loc[TERM, "P>|t|"], rel=1e-4)
        assert row["df"] == pytest.approx(table.loc[TERM, "df"], rel=1e-4)
    assert np.isinf(res.loc[res["method"] == "normal", "df"]).all()
    assert (res.loc[res["method"] == "kenward-roger", "df"] < 20).all()


def test_convergence_warnings_are_captured_into_the_table(monkeypatch):
    from statsmodels.tools.sm_exceptions import ConvergenceWarning

    original = replicate_module._fit_model

    def troubled(model, reml):
        result, converged, boundary = original(model, reml)
        if model.endog[0] > 0:  # about half the replicates
            warnings.warn("nothing converged (test)", ConvergenceWarning, stacklevel=1)
            result.converged = False
            return result, False, boundary
        return result, converged, boundary

    monkeypatch.setattr(replicate_module, "_fit_model", troubled)
    # every replicate through _fit_model: no template refits
    monkeypatch.setattr(replicate_module, "_keep_template", lambda *args: None)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing may escape into a notebook
        res = null_pvalue_study(3, 4, 1.0, 1.0, n_sim=10, seed=4, progress=False,
                                methods=("normal", "satterthwaite"))
    bad = res[res["converged"] == False]  # noqa: E712
    assert 0 < bad["replicate"].nunique() < 10
    assert bad["warnings"].str.contains("ConvergenceWarning: nothing converged").all()
    assert bad["p_value"].notna().all()  # kept, flagged, not dropped
    assert (res.loc[res["converged"] == True, "warnings"] == "").all()  # noqa: E712
    summary = rejection_rate(res).set_index("method")
    assert summary.loc["normal", "n_not_converged"] == bad["replicate"].nunique()
    assert summary.loc["normal", "n_used"] == 10
    assert rejection_rate(res, converged_only=True).set_index("method").loc[
        "normal", "n_used"] == 10 - bad["replicate"].nunique()


def test_other_analyses():
    res = null_pvalue_study(4, 5, 1.0, 1.0, n_sim=3, seed=5, progress=False,
                            methods=("lrt", "group-means-t", "gee-bias-reduced",
                                     "fixed-effects"))
    by = res.set_index(["replicate", "method"])
    assert set(res["method"]) == {"lrt", "group-means-t", "gee-bias-reduced", "fixed-effects"}
    fe = res[res["method"] == "fixed-effects"]
    assert (fe["status"] == "not applicable").all() and fe["p_value"].isna().all()
    # group-means t: a two-sample t test on the 8 group means
    children = np.random.SeedSequence(5).spawn(3)
    rng = np.random.default_rng(children[0])
    data = two_input_design(4, 5, group_var=1.0, resid_var=1.0, seed=rng)
    means = data.groupby("group").agg(y=("output", "mean"), x=("input", "first"))
    t = stats.ttest_ind(means.y[means.x == "input_1"], means.y[means.x == "input_0"])
    assert by.loc[(0, "group-means-t"), "p_value"] == pytest.approx(t.pvalue)
    assert by.loc[(0, "group-means-t"), "df"] == 6
    # LRT: twice the difference of ML log-likelihoods against chi-square(1)
    full = smf.mixedlm("output ~ input", data, groups="group").fit(reml=False)
    null = smf.mixedlm("output ~ 1", data, groups="group").fit(reml=False)
    lr = 2 * (full.llf - null.llf)
    assert by.loc[(0, "lrt"), "p_value"] == pytest.approx(stats.chi2.sf(lr, 1), rel=1e-3)
    # GEE with the Mancl-DeRouen covariance, as statsmodels computes it
    import statsmodels.api as sm

    gee = smf.gee("output ~ input", "group", data, cov_struct=sm.cov_struct.Exchangeable())
    gee = gee.fit(cov_type="bias_reduced")
    assert by.loc[(0, "gee-bias-reduced"), "p_value"] == pytest.approx(gee.pvalues[TERM])


def test_fixed_effects_estimate_a_within_group_effect():
    design = partial(two_input_within_design, n_groups=3, n_per_cell=4, within_effect=1.0)
    analyses = [FixedEffectsTest("output ~ input + condition", "group", "condition[T.b]"),
                FixedEffectsTest("output ~ input + condition", "group", TERM),
                MixedLMTest("output ~ input + condition", "group", "condition[T.b]",
                            methods=("normal", "satterthwaite")),
                GEETest("output ~ input + condition", "group", "condition[T.b]",
                        cov_type="robust")]
    res = run_study(design, analyses, n_sim=2, seed=3, progress=False)
    within = res[(res["method"] == "fixed-effects") & (res["term"] == "condition[T.b]")]
    assert (within["status"] == "ok").all() and within["p_value"].notna().all()
    between = res[(res["method"] == "fixed-effects") & (res["term"] == TERM)]
    assert (between["status"] == "not applicable").all()
    assert set(res["method"]) == {"fixed-effects", "normal", "satterthwaite", "gee-robust"}


def test_lrt_analysis_checks_nesting():
    res = run_study(partial(two_input_design, n_groups=3, n_per_group=3),
                    [LikelihoodRatioTest("output ~ 1", "output ~ input", "group", TERM)],
                    n_sim=1, seed=1, progress=False)
    assert res.loc[0, "status"] == "error" and "null_formula" in res.loc[0, "message"]




def test_replicates_with_the_same_design_are_refitted_and_give_a_fresh_fits_numbers(
        monkeypatch):
    """The runner refits a template (issue 12) and the table equals that of fresh fits."""
    calls = []
    original = replicate_module.refit

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(replicate_module, "_TEMPLATES", {})
    monkeypatch.setattr(replicate_module, "refit", counting)
    refitted = null_pvalue_study(4, 5, 1.0, 1.0, n_sim=8, seed=2, progress=False)
    assert len(calls) == 7  # every replicate after the first (the template)
    monkeypatch.setattr(replicate_module, "_TEMPLATES", {})
    monkeypatch.setattr(replicate_module, "_keep_template", lambda *args: None)
    fresh = null_pvalue_study(4, 5, 1.0, 1.0, n_sim=8, seed=2, progress=False)
    pd.testing.assert_frame_equal(refitted, fresh)
