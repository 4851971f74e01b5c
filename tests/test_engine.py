"""Tests of lmmhelpers.engine: the profiled criterion and the fits of fit_mixedlm's default engine.

References: lme4 1.1-31's optima in tests/fixtures (REMLcrit, θ, isSingular), and statsmodels'
own ``MixedLM.loglike`` at the same parameters (the brute-force check of the criterion).
"""

from __future__ import annotations

import json
import warnings
import zlib

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from reference import CASES, FIXTURES, load

from lmmhelpers import fit_mixedlm, refit
from lmmhelpers._statsmodels import params_object, prepared_copy
from lmmhelpers.engine import CrossedCriterion, NestedCriterion, criterion_for
from lmmhelpers.parameters import unpack_theta

#: Every single-model R reference case (fewgroup_optima is a batch, tested apart; pbmodcomp
#: and dietox have schemas of their own).
FIXTURE_CASES = CASES
#: "Same optimum": within this relative distance of lme4's REML criterion, or lower.
REL_TOL = 1e-6


@pytest.fixture(scope="module")
def fewgroup():
    ref = json.loads((FIXTURES / "fewgroup_optima.json").read_text())
    return ref, pd.read_csv(FIXTURES / ref["data"])


def statsmodels_deviance(model, theta, reml):
    """−2 × statsmodels' profiled log-likelihood at θ, on a prepared copy of the model."""
    work = prepared_copy(model, reml)
    Lam, theta_vc = unpack_theta(theta, model.k_re)
    params = params_object(work, Lam @ Lam.T, theta_vc**2)
    return -2 * work.loglike(params, profile_fe=False)


# --------------------------------------------------------------------------------------------
# The criterion


def _conditioned_theta(crit, theta):
    """lme4's θ (in the model's own random-effect columns) as the criterion's θ̃."""
    from lmmhelpers.parameters import VarianceParameters, theta_of

    Lam, theta_vc = unpack_theta(theta, crit.k_re)
    vp = crit.basis.to_conditioned(VarianceParameters(Lam @ Lam.T, theta_vc**2, 1.0))
    return theta_of(vp.cov_re, vp.vcomp)


@pytest.mark.parametrize("case", FIXTURE_CASES)
@pytest.mark.parametrize("reml", [True, False])
def test_criterion_equals_statsmodels_loglike(case, reml):
    _, _, model = load(case)
    crit = criterion_for(model)
    rng = np.random.default_rng(zlib.crc32(case.encode()))
    for _ in range(3):
        theta = rng.uniform(0.1, 2.0, size=crit.n_theta) * np.where(
            np.isfinite(crit.lower), 1.0, rng.choice([-1.0, 1.0], size=crit.n_theta)
        )
        expected = statsmodels_deviance(model, theta, reml)
        got = crit.deviance(_conditioned_theta(crit, theta), reml)
        assert got == pytest.approx(expected, rel=1e-10, abs=1e-9)


def test_criterion_kinds():
    assert isinstance(criterion_for(load("penicillin")[2]), CrossedCriterion)
    assert isinstance(criterion_for(load("sleepstudy_slopes")[2]), NestedCriterion)
    assert isinstance(criterion_for(load("slopes_plus_vc")[2]), NestedCriterion)


def test_solution_is_gls_and_sigma2():
    _, _, model = load("sleepstudy_slopes")
    crit = criterion_for(model)
    theta = np.array([0.9, 0.02, 0.25])
    _, beta, sigma2, _ = crit.solve(_conditioned_theta(crit, theta))
    work = prepared_copy(model, True)
    Lam, _ = unpack_theta(theta, 2)
    fe, _ = work.get_fe_params(Lam @ Lam.T, np.zeros(0))
    np.testing.assert_allclose(beta, fe, rtol=1e-10)
    assert sigma2 == pytest.approx(work.get_scale(fe, Lam @ Lam.T, np.zeros(0)), rel=1e-10)


def test_rank_deficient_design_names_the_column():
    df = pd.DataFrame({"g": np.repeat(np.arange(5), 4), "x": np.arange(20.0)})
    df["x2"] = 2 * df["x"]
    df["y"] = np.random.default_rng(0).normal(size=20)
    with pytest.raises(ValueError, match="'x2'"):
        criterion_for(smf.mixedlm("y ~ x + x2", df, groups="g"))


# --------------------------------------------------------------------------------------------
# The optimum: lme4's, or lower


@pytest.mark.parametrize("case", FIXTURE_CASES)
def test_fixture_optimum_verdict_and_boundary(case):
    ref, _, model = load(case)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = fit_mixedlm(model)
    assert result.optimizer in {"brent", "bobyqa"}
    crit = -2 * result.llf
    assert crit <= ref["reml_criterion"] + REL_TOL * abs(ref["reml_criterion"])
    assert result.converged and result.grad_norm <= 2e-3
    assert result.boundary == ref["singular"]
    np.testing.assert_allclose(result.scale, ref["sigma2"], rtol=1e-4)


def test_fewgroup_optima(fewgroup):
    ref, data = fewgroup
    for case in ref["datasets"]:
        subset = data[data["dataset"] == case["dataset"]]
        result = fit_mixedlm(smf.mixedlm(ref["statsmodels"]["formula"], subset, groups="g"))
        crit = -2 * result.llf
        assert crit <= case["reml_criterion"] + REL_TOL * abs(case["reml_criterion"])
        assert result.converged, case["dataset"]
        assert result.boundary == case["singular"], case["dataset"]
        if case["singular"]:  # exactly on the boundary, as lme4
            assert float(np.asarray(result.cov_re_unscaled).min()) <= 2e-10
        np.testing.assert_allclose(result.fe_params.values, case["fixef"], atol=1e-5)


def test_optimum_invariant_to_units_and_offset_of_y():
    ref, data, model = load("sleepstudy_slopes")
    base = fit_mixedlm(model)
    spec = ref["statsmodels"]
    for scale, shift in [(1e6, 0.0), (1e-4, 0.0), (1.0, 1e8)]:
        other = data.assign(Reaction=scale * data["Reaction"] + shift)
        result = fit_mixedlm(
            smf.mixedlm(spec["formula"], other, groups=spec["groups"],
                        re_formula=spec["re_formula"])
        )
        np.testing.assert_allclose(
            np.asarray(result.cov_re_unscaled), np.asarray(base.cov_re_unscaled), rtol=1e-5
        )
        assert result.scale == pytest.approx(scale**2 * base.scale, rel=1e-6)
        n_p = model.nobs - model.k_fe  # the REML criterion moves by (n − p) log c²
        expected = -2 * base.llf + n_p * np.log(scale**2)
        assert -2 * result.llf == pytest.approx(expected, rel=1e-8)
        assert result.grad_norm == pytest.approx(base.grad_norm, abs=1e-4)


def test_nested_random_slopes_at_scale_converge():
    """Issue 11 item 6: 1,000 groups of 20, y ~ x + C(A), re_formula ~x."""
    rng = np.random.default_rng(20)
    G, m = 1000, 20
    g = np.repeat(np.arange(G), m)
    x = rng.normal(size=G * m)
    A = rng.choice(["a", "b", "c"], size=G * m)
    b = rng.normal(size=(G, 2)) * [1.0, 0.5]
    y = 1 + 0.5 * x + (A == "b") + b[g, 0] + b[g, 1] * x + rng.normal(size=G * m)
    df = pd.DataFrame({"g": g, "x": x, "A": A, "y": y})
    model = smf.mixedlm("y ~ x + C(A)", df, groups="g", re_formula="~x")
    result = fit_mixedlm(model)
    assert result.converged and result.grad_norm < 2e-3
    # a local minimum of the criterion: no step of 1e-3 in any θ direction lowers it
    crit = criterion_for(model)
    theta = result._results._lmmhelpers_engine["theta"]
    best = crit.deviance(theta)
    assert best == pytest.approx(-2 * result.llf, rel=1e-12)
    for step in np.vstack([np.eye(3), -np.eye(3)]) * 1e-3:
        assert crit.deviance(theta + step) > best


# --------------------------------------------------------------------------------------------
# The caller's model is never changed (issue 11 item 7)


def test_ml_then_reml_on_one_model_leaves_the_first_result_alone():
    _, _, model = load("sleepstudy_intercept")
    for engine in ("lmmhelpers", "statsmodels"):
        ml = fit_mixedlm(model, reml=False, engine=engine)
        llf, aic = ml.llf, ml.aic
        reml = fit_mixedlm(model, reml=True, engine=engine)
        assert ml.model is not model and reml.model is not ml.model
        assert ml.llf == llf and ml.aic == aic
        assert ml.model.reml is False and reml.model.reml is True
        assert ml.method == "ML" and reml.method == "REML"
        assert not hasattr(model, "cov_pen")  # untouched: fit() was never called on it


def test_ml_criterion_matches_statsmodels():
    _, _, model = load("sleepstudy_slopes")
    result = fit_mixedlm(model, reml=False)
    assert result.method == "ML" and result.converged
    ref = result.model.loglike(result.params_object, profile_fe=False)
    assert result.llf == pytest.approx(ref, rel=1e-9)


# --------------------------------------------------------------------------------------------
# Fallback


def test_unsupported_model_falls_back_and_says_so(monkeypatch):
    """A model the engine does not take (one group with a per-group re_formula used to be the
    example; check_model now refuses it as not estimable) falls back to statsmodels'
    optimizers and says so in fit_history."""
    import lmmhelpers.fitting as fitting_module

    def unsupported(model):
        raise NotImplementedError("a structure the engine does not take (test)")

    monkeypatch.setattr(fitting_module, "criterion_for", unsupported)
    rng = np.random.default_rng(3)
    df = pd.DataFrame({"g": np.repeat(np.arange(8), 5), "x": rng.normal(size=40)})
    df["y"] = rng.normal(size=8)[df["g"]] + rng.normal(size=40)
    model = smf.mixedlm("y ~ x", df, groups="g")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = fit_mixedlm(model)
    first = result.fit_history.iloc[0]
    assert first["method"] == "engine" and "not supported" in first["error"]
    assert len(result.fit_history) >= 2


# --------------------------------------------------------------------------------------------
# refit (MixedModels.jl refit!)


def _seed_fits(n=3):
    from lmmhelpers import two_input_design

    data = [two_input_design(n_groups=5, n_per_group=6, seed=k) for k in range(n)]
    return data, [smf.mixedlm("output ~ input", d, groups="group") for d in data]


@pytest.mark.parametrize("case", ["sleepstudy_slopes", "penicillin", "slopes_plus_vc"])
def test_refit_equals_a_fresh_fit(case):
    ref, data, model = load(case)
    first = fit_mixedlm(model)
    y_name = model.endog_names
    rng = np.random.default_rng(7)
    y_new = data[y_name].to_numpy() + rng.normal(scale=data[y_name].std(), size=len(data))
    again = refit(first, y_new)
    spec = ref["statsmodels"]
    fresh = fit_mixedlm(
        smf.mixedlm(spec["formula"], data.assign(**{y_name: y_new}), groups=spec["groups"],
                    re_formula=spec.get("re_formula"), vc_formula=spec.get("vc_formula"))
    )
    assert again.converged and fresh.converged
    assert again.llf == pytest.approx(fresh.llf, rel=1e-9)
    np.testing.assert_allclose(again.fe_params, fresh.fe_params, rtol=1e-5, atol=1e-8)
    assert again.scale == pytest.approx(fresh.scale, rel=1e-5)
    np.testing.assert_array_equal(again.model.endog, y_new)
    # the first result is unchanged
    np.testing.assert_array_equal(first.model.endog, data[y_name].to_numpy())
    assert first.llf == pytest.approx(-ref["reml_criterion"] / 2, rel=1e-8)


def test_refit_results_feed_the_tables():
    from lmmhelpers import coef_table

    data, models = _seed_fits()
    first = fit_mixedlm(models[0])
    for d, m in zip(data[1:], models[1:], strict=True):
        again = refit(first, d["output"].to_numpy())
        fresh = fit_mixedlm(m)
        for ddf in ("normal", "satterthwaite", "kenward-roger"):
            pd.testing.assert_frame_equal(
                coef_table(again, ddf=ddf), coef_table(fresh, ddf=ddf), rtol=1e-5
            )


def test_refit_validates():
    data, models = _seed_fits(1)
    first = fit_mixedlm(models[0])
    with pytest.raises(ValueError, match="y must have 60 values"):
        refit(first, np.zeros(59))
    with pytest.raises(ValueError, match="finite"):
        refit(first, np.full(60, np.nan))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        other = fit_mixedlm(models[0], engine="statsmodels")
    with pytest.raises(ValueError, match="engine='lmmhelpers'"):
        refit(other, data[0]["output"])


def test_one_group_with_its_own_intercept_term():
    """re_formula "1" with one group: one more term, of one level."""
    _, data, _ = load("crossed_subjects_items")
    model = smf.mixedlm("y ~ C(cond)", data, groups="one", re_formula="1",
                        vc_formula={"subj": "0 + C(subj)", "item": "0 + C(item)"})
    crit = criterion_for(model)
    assert isinstance(crit, CrossedCriterion) and crit.n_theta == 3
    theta = np.array([0.7, 1.1, 0.8])
    assert crit.deviance(theta) == pytest.approx(statsmodels_deviance(model, theta, True),
                                                 rel=1e-10)


def test_start_params_and_pickling():
    import pickle

    ref, _, model = load("sleepstudy_slopes")
    result = fit_mixedlm(model, start_params=[0.5, 0.0, 0.1])  # statsmodels' packed start
    assert result.optimizer == "bobyqa" and result.converged
    assert -2 * result.llf <= ref["reml_criterion"] + REL_TOL * ref["reml_criterion"]
    again = pickle.loads(pickle.dumps(result))
    assert again.llf == result.llf
    np.testing.assert_array_equal(again.fe_params, result.fe_params)
    assert list(again.fit_history["method"]) == ["bobyqa"]


# --------------------------------------------------------------------------------------------
# Random designs: the engine against statsmodels' own loglike and its best optimizer


def _random_design(kind, seed):
    rng = np.random.default_rng(seed)
    G, m = 12, 10
    g = np.repeat(np.arange(G), m)
    df = pd.DataFrame({"g": g, "x": rng.normal(size=G * m), "z": rng.normal(size=G * m),
                       "h": rng.integers(0, 10 if kind == "wide vc" else 3, size=G * m),
                       "a": rng.integers(0, 6, size=G * m), "b": rng.integers(0, 5, size=G * m)})
    df["one"] = 1
    df["y"] = (rng.normal(size=G)[g] * 1.5 + rng.normal(size=G)[g] * df["x"]
               + rng.normal(size=(G, 10))[g, df["h"]] * 0.7 + rng.normal(size=6)[df["a"]]
               + rng.normal(size=G * m))
    specs = {
        "three slopes": dict(formula="y ~ x + z", groups="g", re_formula="~x + z"),
        "wide vc": dict(formula="y ~ x", groups="g", re_formula="1",
                        vc_formula={"h": "0 + C(h)"}),
        "slope and vc": dict(formula="y ~ x", groups="g", re_formula="~x",
                             vc_formula={"h": "0 + C(h)"}),
        "three crossed": dict(formula="y ~ x", groups="one", re_formula="0",
                              vc_formula={"g": "0 + C(g)", "a": "0 + C(a)", "b": "0 + C(b)"}),
    }
    spec = specs[kind]
    return smf.mixedlm(spec.pop("formula"), df, **spec)


@pytest.mark.parametrize("kind", ["three slopes", "wide vc", "slope and vc", "three crossed"])
def test_random_designs_against_statsmodels(kind):
    model = _random_design(kind, seed=len(kind))
    crit = criterion_for(model)
    if kind == "wide vc":
        assert crit.q > 8  # the batched-LAPACK branch of the nested criterion
    theta = np.random.default_rng(1).uniform(0.2, 1.5, size=crit.n_theta)
    for reml in (True, False):
        assert crit.deviance(_conditioned_theta(crit, theta), reml) == pytest.approx(
            statsmodels_deviance(model, theta, reml), rel=1e-10)
    result = fit_mixedlm(model)
    assert result.converged
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        other = fit_mixedlm(model, engine="statsmodels", stop_early=False)
    assert result.llf >= other.llf - 1e-6


def test_refits_from_one_result_in_threads_agree_with_serial_ones():
    from concurrent.futures import ThreadPoolExecutor

    data, models = _seed_fits(9)
    first = fit_mixedlm(models[0])
    ys = [d["output"].to_numpy() for d in data[1:]]
    serial = [refit(first, y).llf for y in ys]
    with ThreadPoolExecutor(4) as pool:
        threaded = list(pool.map(lambda y: refit(first, y).llf, ys))
    assert threaded == serial
    assert refit(first, data[0]["output"].to_numpy()).llf == pytest.approx(first.llf, rel=1e-10)


def test_boundary_answer_is_checked_by_a_second_start():
    """Two local optima on different faces of lme4's θ (intercept variance 0 / slope variance
    0); the engine's conditioned θ̃ (Days centred) does not stop on the worse one."""
    _, data, _ = load("sleepstudy_slopes")
    rng = np.random.default_rng(7)
    y = data["Reaction"].to_numpy() + rng.normal(scale=data["Reaction"].std(), size=len(data))
    model = smf.mixedlm("Reaction ~ Days", data.assign(Reaction=y), groups="Subject",
                        re_formula="1 + Days")
    crit = criterion_for(model)
    # the worse optimum exists in lme4's θ: θ₁₁ = 0 with a slope variance, 3.05 above the best
    from lmmhelpers.engine.optimize import _bobyqa

    def lme4_deviance(theta):
        return crit.deviance(_conditioned_theta(crit, theta))

    worse = _bobyqa(lme4_deviance, np.array([0.0, -0.1257, 0.0237]), crit.lower)[1]
    result = fit_mixedlm(model)
    assert -2 * result.llf < worse - 3.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        other = fit_mixedlm(model, engine="statsmodels", stop_early=False)
    assert result.llf >= other.llf - 1e-6 and result.converged and result.boundary


def test_engine_argument():
    _, _, model = load("sleepstudy_intercept")
    with pytest.raises(ValueError, match="engine must be one of"):
        fit_mixedlm(model, engine="lme4")
    with pytest.raises(TypeError, match="engine='statsmodels' only"):
        fit_mixedlm(model, engine="lmmhelpers", methods=("lbfgs",))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        implied = fit_mixedlm(model, methods=("lbfgs",))  # statsmodels' optimizers chosen
    assert implied.optimizer == "lbfgs"
    assert fit_mixedlm(model).optimizer == "brent"
