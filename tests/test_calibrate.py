"""calibrate on designs whose answer is known (issue 15's validation)."""

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from scipy import stats

from lmmhelpers import fit_mixedlm
from lmmhelpers.calibrate import CALIBRATION_COLUMNS, calibrate


def _between_fit(n_groups, per=5, group_var=4.0, seed=0):
    """A balanced nested design, treatment between groups, a clearly positive group variance
    (boundary refits are rare, so Satterthwaite is the exact t test on the group means)."""
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(n_groups), per)
    df = pd.DataFrame({"g": g, "trt": g % 2})
    df["y"] = np.sqrt(group_var) * rng.normal(size=n_groups)[g] + rng.normal(size=g.size)
    return fit_mixedlm(smf.mixedlm("y ~ trt", df, groups="g"))


def _within(rate, target, n, z=3.5):
    """|rate − target| within z binomial standard errors at the target."""
    return abs(rate - target) <= z * np.sqrt(target * (1 - target) / n)


@pytest.mark.parametrize("n_groups", [6, 10])
def test_satterthwaite_holds_the_level_and_z_has_its_exact_level(n_groups):
    """The exactness holds for interior refits: the design's group variance is large enough
    that boundary refits are (almost) absent, which the test checks first. (With 2 groups per
    arm, 14% of refits are singular and z's rate is no longer P(|t_2| > 1.96).)"""
    n_sim = 600
    table = calibrate(_between_fit(n_groups, group_var=9.0), n_sim=n_sim, seed=3)
    assert (table["n_boundary"] <= 0.01 * n_sim).all()
    assert list(table.columns) == list(CALIBRATION_COLUMNS)
    table = table.set_index("method")
    assert (table["n_used"] + table["n_failed"] == n_sim).all()
    # Satterthwaite = the t test on the group means (df G − 2): exact level 0.05
    assert _within(table.loc["satterthwaite", "rate"], 0.05, n_sim)
    # the z test's exact level here: P(|t_{G−2}| > 1.96)
    exact_z = 2 * stats.t.sf(stats.norm.ppf(0.975), n_groups - 2)
    assert _within(table.loc["normal", "rate"], exact_z, n_sim)
    assert table.loc["normal", "rate"] > table.loc["satterthwaite", "rate"]


def test_same_numbers_for_any_n_jobs_other_numbers_for_another_seed():
    result = _between_fit(6)
    one = calibrate(result, n_sim=24, seed=5, n_jobs=1)
    two = calibrate(result, n_sim=24, seed=5, n_jobs=2)
    pd.testing.assert_frame_equal(one, two)
    _, draws_a = calibrate(result, n_sim=24, seed=5, return_draws=True)
    _, draws_b = calibrate(result, n_sim=24, seed=6, return_draws=True)
    assert not np.allclose(draws_a["p_value"], draws_b["p_value"])


def test_summary_names_each_method_and_verdict():
    table = calibrate(_between_fit(6), n_sim=30, seed=1)
    summary = table.attrs["summary"]
    for method in ("normal", "satterthwaite", "kenward-roger"):
        assert f"trt, {method}: rate" in summary


def test_bad_arguments_are_named():
    result = _between_fit(6)
    with pytest.raises(ValueError, match="terms must name coefficients"):
        calibrate(result, terms="nope", n_sim=5)
    with pytest.raises(ValueError, match="n_sim must be an int >= 1"):
        calibrate(result, n_sim=0)
    with pytest.raises(ValueError, match="methods must be one of"):
        calibrate(result, methods=("bogus",), n_sim=5)
    with pytest.raises(ValueError, match="alpha"):
        calibrate(result, n_sim=5, alpha=1.0)
    with pytest.raises(TypeError, match="MixedLM"):
        calibrate("not a fit")
    ml = fit_mixedlm(result.model, reml=False)
    with pytest.raises(ValueError, match="REML"):
        calibrate(ml, n_sim=5)


# -- issue 21, class 3: a method that cannot run does not return a number -------------------
def _model():
    rng = np.random.default_rng(3)
    g = np.repeat(np.arange(8), 5)
    df = pd.DataFrame({"g": g, "trt": g % 2, "x": rng.normal(size=40)})
    df["y"] = rng.normal(size=8)[g] + 0.3 * df["x"] + rng.normal(size=40)
    return smf.mixedlm("y ~ trt + x", df, groups="g")


@pytest.mark.parametrize("fit", [
    lambda m: fit_mixedlm(m, engine="statsmodels"),
    lambda m: fit_mixedlm(m, methods=["lbfgs"]),
    lambda m: fit_mixedlm(m, methods="powell+lbfgs"),
    lambda m: m.fit(),
    lambda m: m.fit(method="lbfgs"),
])
def test_fits_that_cannot_be_refitted_are_refused_up_front(fit, monkeypatch):
    import lmmhelpers.study as study

    def no_study(*args, **kwargs):  # the refusal comes before any draw
        raise AssertionError("run_study was called")

    monkeypatch.setattr(study, "run_study", no_study)
    with pytest.raises(ValueError, match=r"fit_mixedlm\(model\)"):
        calibrate(fit(_model()), n_sim=5)


def _flaky_refit(monkeypatch, fail_every):
    import lmmhelpers.fitting as fitting

    original, calls = fitting.refit, {"n": 0}

    def flaky(result, y, **kwargs):
        calls["n"] += 1
        if calls["n"] % fail_every == 0:
            raise np.linalg.LinAlgError("simulated failure")
        return original(result, y, **kwargs)

    monkeypatch.setattr(fitting, "refit", flaky)


@pytest.mark.parametrize("fail_every, min_usable, raises", [
    (1, 0.9, True), (2, 0.9, True), (2, 0.4, False), (5, 0.9, True), (5, 0.75, False),
    (1, 0.0, False),
])
def test_too_few_usable_draws_fail_loudly(monkeypatch, fail_every, min_usable, raises):
    from lmmhelpers import TooFewUsableDraws

    result = fit_mixedlm(_model())
    _flaky_refit(monkeypatch, fail_every)
    n_sim = 20
    if raises:
        with pytest.raises(TooFewUsableDraws, match="simulated failure") as info:
            calibrate(result, terms="trt", n_sim=n_sim, min_usable=min_usable)
        table = info.value.table  # nothing computed is lost
        assert (table["n_used"] + table["n_failed"] == n_sim).all()
        assert len(info.value.draws) == n_sim * 3
    else:
        table = calibrate(result, terms="trt", n_sim=n_sim, min_usable=min_usable)
        assert (table["n_used"] == n_sim - n_sim // fail_every).all()


def test_min_usable_is_checked():
    result = fit_mixedlm(_model())
    for bad in (-0.1, 1.5):
        with pytest.raises(ValueError, match="min_usable"):
            calibrate(result, n_sim=5, min_usable=bad)
    with pytest.raises(TypeError, match="min_usable"):
        calibrate(result, n_sim=5, min_usable="0.9")


@pytest.mark.parametrize("terms, methods", [
    (["trt", "trt"], ["normal"]),
    (["trt", "x", "trt"], ["normal", "z", "wald"]),
    (("x", "x", "x"), ("satterthwaite", "Satterthwaite")),
])
def test_a_term_or_method_named_twice_counts_each_draw_once(terms, methods):
    result = fit_mixedlm(_model())
    table = calibrate(result, terms=terms, methods=methods, n_sim=6, seed=2)
    assert (table["n_used"] + table["n_failed"] == 6).all()
    assert not table.duplicated(["term", "method"]).any()
    assert list(table["term"].drop_duplicates()) == list(dict.fromkeys(terms))
