"""bootstrap_test against pbkrtest's PBmodcomp (tests/fixtures/pbmodcomp.json, made by
scripts/r_pbmodcomp.R), and its refusals."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf

from lmmhelpers import fit_mixedlm
from lmmhelpers.bootstrap import BOOTSTRAP_COLUMNS, bootstrap_test

FIXTURES = Path(__file__).parent / "fixtures"
REFERENCE = json.loads((FIXTURES / "pbmodcomp.json").read_text())


def _fits(case):
    ref = REFERENCE["cases"][case]
    data = pd.read_csv(FIXTURES / ref["data"])
    spec = ref["statsmodels"]
    full = smf.mixedlm(spec["full"], data, groups=spec["groups"], re_formula=spec["full_re"])
    reduced = smf.mixedlm(spec["reduced"], data, groups=spec["groups"],
                          re_formula=spec["reduced_re"])
    return ref, fit_mixedlm(full, reml=False), fit_mixedlm(reduced, reml=False)


@pytest.mark.parametrize("case", ["fixed", "slope"])
def test_matches_pbmodcomp(case):
    ref, full, reduced = _fits(case)
    assert float(full.llf) == pytest.approx(ref["logLik_full"], rel=1e-6, abs=1e-6)
    assert float(reduced.llf) == pytest.approx(ref["logLik_reduced"], rel=1e-6, abs=1e-6)
    n_sim = 1000
    out = bootstrap_test(full, reduced, n_sim=n_sim, seed=4).iloc[0]
    assert list(out.index) == list(BOOTSTRAP_COLUMNS)
    assert out["LRT"] == pytest.approx(ref["LRT"], rel=1e-4, abs=1e-5)
    assert out["df"] == ref["df"]
    assert out["p_chisq"] == pytest.approx(ref["p_chisq"], rel=1e-4)
    # two Monte Carlo estimates of the same p-value: within 3.5 standard errors of their
    # difference (R: 2,000 samples; here n_sim)
    p = ref["p_PB"]
    se = np.sqrt(p * (1 - p) * (1 / ref["n_positive"] + 1 / out["n_used"]))
    assert abs(out["p_pbkrtest"] - p) <= 3.5 * se
    assert out["n_used"] + out["n_failed"] == n_sim


def test_random_slope_case_shows_the_boundary():
    """Testing a variance: the chi-square reference is conservative, the bootstrap is not."""
    _, full, reduced = _fits("slope")
    out, samples = bootstrap_test(full, reduced, n_sim=400, seed=1, return_samples=True)
    star = samples["statistic"].to_numpy(float)
    assert np.mean(star <= 1e-8) > 0  # a point mass at 0
    assert out["p_bootstrap"].iloc[0] < out["p_chisq"].iloc[0]


def test_reml_fits_are_refitted_by_ml_and_say_so():
    ref, full, reduced = _fits("fixed")
    full_reml = fit_mixedlm(full.model, reml=True)
    reduced_reml = fit_mixedlm(reduced.model, reml=True)
    with pytest.warns(UserWarning, match="refitted by maximum likelihood"):
        out = bootstrap_test(full_reml, reduced_reml, n_sim=5, seed=0)
    assert bool(out["refitted_ml"].iloc[0])
    assert out["LRT"].iloc[0] == pytest.approx(ref["LRT"], rel=1e-4, abs=1e-5)


def test_models_that_are_not_nested_or_differ_in_data_are_refused():
    ref, full, reduced = _fits("fixed")
    with pytest.raises(ValueError, match="nested"):
        bootstrap_test(reduced, full, n_sim=5)
    data = pd.read_csv(FIXTURES / ref["data"])
    other = fit_mixedlm(smf.mixedlm("y ~ 1", data.assign(y=data["y"] + 1), groups="g"),
                        reml=False)
    with pytest.raises(ValueError, match="same data"):
        bootstrap_test(full, other, n_sim=5)
    with pytest.raises(ValueError, match="n_sim"):
        bootstrap_test(full, reduced, n_sim=0)


def test_same_p_value_for_any_n_jobs():
    _, full, reduced = _fits("fixed")
    one = bootstrap_test(full, reduced, n_sim=20, seed=7, n_jobs=1)
    two = bootstrap_test(full, reduced, n_sim=20, seed=7, n_jobs=2)
    pd.testing.assert_frame_equal(one, two)


# -- issue 21, class 3: a method that cannot run does not return a number -------------------
@pytest.mark.parametrize("how", [
    {"engine": "statsmodels"}, {"methods": ["lbfgs"]}, {"methods": "nm+lbfgs"}, "plain",
])
@pytest.mark.parametrize("which", ["full", "reduced", "both"])
def test_fits_that_cannot_be_refitted_are_refused_up_front(how, which):
    _, full, reduced = _fits("fixed")

    def other(res):
        if how == "plain":
            return res.model.fit(reml=False)
        return fit_mixedlm(res.model, reml=False, **how)

    f = other(full) if which in ("full", "both") else full
    r = other(reduced) if which in ("reduced", "both") else reduced
    with pytest.raises(ValueError, match=r"fit_mixedlm\(model, reml=False\)"):
        bootstrap_test(f, r, n_sim=5)


def test_too_few_usable_samples_fail_loudly(monkeypatch):
    import lmmhelpers.fitting as fitting
    from lmmhelpers import TooFewUsableDraws

    _, full, reduced = _fits("fixed")
    original, calls = fitting.refit, {"n": 0}

    def flaky(result, y, **kwargs):  # the full model's refit fails in every third sample
        if result.model.k_fe == full.model.k_fe:
            calls["n"] += 1
            if calls["n"] % 3 == 0:
                raise np.linalg.LinAlgError("simulated failure")
        return original(result, y, **kwargs)

    monkeypatch.setattr(fitting, "refit", flaky)
    with pytest.raises(TooFewUsableDraws, match="simulated failure") as info:
        bootstrap_test(full, reduced, n_sim=30, seed=1)
    assert int(info.value.table["n_used"].iloc[0]) == 20
    calls["n"] = 0
    out = bootstrap_test(full, reduced, n_sim=30, seed=1, min_usable=0.5)
    assert int(out["n_used"].iloc[0]) == 20 and int(out["n_failed"].iloc[0]) == 10


def test_no_usable_sample_gives_no_p_value_even_when_allowed(monkeypatch):
    import lmmhelpers.fitting as fitting

    _, full, reduced = _fits("fixed")

    def broken(result, y, **kwargs):
        raise np.linalg.LinAlgError("simulated failure")

    monkeypatch.setattr(fitting, "refit", broken)
    out = bootstrap_test(full, reduced, n_sim=5, seed=1, min_usable=0.0).iloc[0]
    assert out["n_used"] == 0 and out["n_failed"] == 5
    assert np.isnan(out["p_bootstrap"]) and np.isnan(out["p_pbkrtest"])


def _vc_data():
    rng = np.random.default_rng(5)
    g = np.repeat(np.arange(8), 6)
    df = pd.DataFrame({"g": g, "x": rng.normal(size=48), "a": np.tile(np.arange(3), 16),
                       "c": np.tile(np.repeat([0, 1], 3), 8)})
    df["y"] = (rng.normal(size=8)[g] + 0.4 * rng.normal(size=24)[g * 3 + df["a"]]
               + 0.5 * df["x"] + rng.normal(size=48))
    return df


@pytest.mark.parametrize("name_full, name_reduced", [("va", "va"), ("va", "other"),
                                                     ("z", "a")])
def test_nesting_is_decided_by_the_design_not_by_names(name_full, name_reduced):
    df = _vc_data()
    relabelled = df.assign(a2=df["a"].map({0: "k", 1: "b", 2: "q"}))
    full = fit_mixedlm(smf.mixedlm("y ~ x", df, groups="g",
                                   vc_formula={name_full: "0 + C(a)"}), reml=False)
    for vc in ("0 + C(a)", "0 + C(a2)"):  # the same design under other level labels
        reduced = fit_mixedlm(smf.mixedlm("y ~ 1", relabelled, groups="g",
                                          vc_formula={name_reduced: vc}), reml=False)
        out = bootstrap_test(full, reduced, n_sim=5, seed=1)
        assert int(out["df"].iloc[0]) == 1
    other = fit_mixedlm(smf.mixedlm("y ~ 1", df, groups="g",
                                    vc_formula={name_full: "0 + C(c)"}), reml=False)
    with pytest.raises(ValueError, match="no component of the same design"):
        bootstrap_test(full, other, n_sim=5)
    scaled = fit_mixedlm(smf.mixedlm("y ~ 1", df.assign(w=2.0), groups="g",
                                     vc_formula={name_full: "0 + C(a):w"}), reml=False)
    with pytest.raises(ValueError, match="no component of the same design"):
        bootstrap_test(full, scaled, n_sim=5)  # ZZᵀ differs by a factor 4: not the same
