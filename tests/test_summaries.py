"""Tests of lmmhelpers.summaries: interval correctness and coverage, rates, uniformity."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

from lmmhelpers.summaries import (
    clopper_pearson_interval,
    interval_coverage,
    power,
    rejection_rate,
    uniformity_test,
    wilson_interval,
)


@pytest.mark.parametrize(("k", "n"), [(0, 10), (1, 10), (25, 500), (10, 10), (3, 7), (50, 1000)])
def test_intervals_match_statsmodels(k, n):
    np.testing.assert_allclose(wilson_interval(k, n), proportion_confint(k, n, method="wilson"),
                               atol=1e-12)
    np.testing.assert_allclose(clopper_pearson_interval(k, n),
                               proportion_confint(k, n, method="beta"), atol=1e-12)


def test_intervals_vectorise_and_handle_empty():
    lo, hi = wilson_interval(np.array([0, 5, 10]), np.array([10, 10, 10]))
    assert lo[0] == 0.0 and hi[2] == 1.0 and lo[1] < 0.5 < hi[1]
    assert wilson_interval(0, 0) == (0.0, 1.0)
    assert clopper_pearson_interval(0, 0) == (0.0, 1.0)
    with pytest.raises(ValueError, match="k and n"):
        wilson_interval(5, 3)
    with pytest.raises(ValueError, match="level"):
        wilson_interval(1, 3, level=95)


@pytest.mark.parametrize("p", [0.05, 0.1, 0.5])
def test_wilson_coverage_is_near_nominal_on_a_known_rate(p):
    """Exact binomial coverage (no simulation) over n = 50, 100, ..., 1000."""
    cover = np.array([interval_coverage(p, n) for n in range(50, 1001, 50)])
    assert abs(cover.mean() - 0.95) < 0.006  # nominal on average
    assert cover.min() > 0.93 and cover.max() < 0.975  # and never far off
    cover90 = np.array([interval_coverage(p, n, level=0.9) for n in range(100, 1001, 100)])
    assert abs(cover90.mean() - 0.90) < 0.01


def test_clopper_pearson_is_conservative():
    for p in (0.01, 0.05, 0.3):
        for n in (20, 100, 400):
            assert interval_coverage(p, n, interval="clopper-pearson") >= 0.95 - 1e-12


def test_interval_coverage_by_seeded_simulation_agrees_with_exact():
    rng = np.random.default_rng(12)
    p, n, reps = 0.05, 200, 20_000
    k = rng.binomial(n, p, size=reps)
    lo, hi = wilson_interval(k, np.full(reps, n))
    simulated = np.mean((lo <= p) & (p <= hi))
    assert simulated == pytest.approx(interval_coverage(p, n), abs=3 * np.sqrt(0.05 * 0.95 / reps))


def test_interval_coverage_validates():
    with pytest.raises(ValueError, match="interval"):
        interval_coverage(0.05, 100, interval="wald")
    with pytest.raises(ValueError, match="p must"):
        interval_coverage(1.5, 100)
    with pytest.raises(ValueError, match="n must"):
        interval_coverage(0.05, 0)


def table():
    return pd.DataFrame({
        "replicate": [0, 1, 2, 3, 0, 1, 2, 3],
        "method": ["z"] * 4 + ["t"] * 4,
        "term": "x",
        "p_value": [0.01, 0.2, 0.04, np.nan, 0.5, 0.06, np.nan, np.nan],
        "status": ["ok", "ok", "ok", "error", "ok", "ok", "ok", "not applicable"],
        "converged": pd.array([True, True, False, pd.NA, True, True, True, pd.NA],
                              dtype="boolean"),
        "boundary": pd.array([False, True, False, pd.NA, False, True, False, pd.NA],
                             dtype="boolean"),
    })


def test_rejection_rate_counts_every_failure():
    rates = rejection_rate(table(), alpha=[0.05, 0.1]).set_index(["method", "alpha"])
    z = rates.loc[("z", 0.05)]
    assert (z["rejections"], z["n_used"], z["rate"]) == (2, 3, 2 / 3)
    assert (z["n"], z["n_valid"], z["n_error"], z["n_not_converged"], z["n_boundary"]) == (
        4, 3, 1, 1, 1)
    t = rates.loc[("t", 0.1)]
    assert (t["rejections"], t["n_used"], t["n_not_applicable"]) == (1, 2, 1)
    lo, hi = wilson_interval(2, 3)
    assert (z["lower"], z["upper"]) == (lo, hi)
    cp = rejection_rate(table(), interval="clopper-pearson").set_index("method")
    assert cp.loc["z", "lower"] == pytest.approx(clopper_pearson_interval(2, 3)[0])
    conv = rejection_rate(table(), converged_only=True).set_index("method")
    assert conv.loc["z", "n_used"] == 2 and conv.loc["z", "n"] == 4


def test_rejection_rate_validates():
    with pytest.raises(ValueError, match="alpha"):
        rejection_rate(table(), alpha=5)
    with pytest.raises(ValueError, match="by"):
        rejection_rate(table(), by="n_groups")
    with pytest.raises(ValueError, match="columns"):
        rejection_rate(table().drop(columns="status"))
    with pytest.raises(TypeError, match="results"):
        rejection_rate([0.1, 0.2])
    with pytest.raises(ValueError, match="interval"):
        rejection_rate(table(), interval="wald")


def test_power_is_the_rejection_rate_under_an_effect():
    pw = power(table(), by="method").set_index("method")
    assert pw.loc["z", "power"] == pytest.approx(2 / 3)
    assert "rate" not in pw.columns


def test_uniformity_test_detects_skewed_pvalues():
    rng = np.random.default_rng(3)
    n = 500
    res = pd.DataFrame({
        "method": np.repeat(["uniform", "skewed"], n),
        "p_value": np.r_[rng.uniform(size=n), rng.uniform(size=n) ** 2],
        "status": "ok", "converged": True, "boundary": False})
    u = uniformity_test(res, by="method").set_index("method")
    assert u.loc["uniform", "ks_pvalue"] > 0.01
    assert u.loc["skewed", "ks_pvalue"] < 1e-6
    assert u.loc["skewed", "mean_p"] == pytest.approx(1 / 3, abs=0.03)
    expected = stats.kstest(res.loc[res.method == "uniform", "p_value"], "uniform")
    assert u.loc["uniform", "ks_statistic"] == pytest.approx(expected.statistic)
    assert u.loc["uniform", "n"] == n


def test_interval_coverage_method_keyword_is_deprecated():
    with pytest.warns(DeprecationWarning, match="interval="):
        old = interval_coverage(0.05, 200, method="clopper-pearson")
    assert old == interval_coverage(0.05, 200, interval="clopper-pearson")
