"""Draws from a fitted model have the model's mean and covariance, in the model's row order."""

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf

from lmmhelpers import fit_mixedlm
from lmmhelpers.draws import draw_response
from lmmhelpers.parameters import VarianceParameters


def test_moments_of_nested_slopes_draws_match_the_model():
    rng = np.random.default_rng(0)
    G, m = 6, 4
    g = np.repeat(np.arange(G), m)
    df = pd.DataFrame({"g": g, "x": np.tile(np.arange(m, dtype=float), G)})
    df["y"] = rng.normal(size=G * m)
    df = df.sample(frac=1, random_state=1).reset_index(drop=True)  # rows not grouped
    model = smf.mixedlm("y ~ x", df, groups="g", re_formula="~x")
    result = fit_mixedlm(model)
    Psi = np.array([[2.0, 0.5], [0.5, 0.8]])
    params = VarianceParameters(Psi, np.zeros(0), 1.5)
    beta = np.array([3.0, -1.0])
    y = draw_response(result, beta=beta, params=params, seed=2, size=40_000)
    X = np.column_stack([np.ones(len(df)), df["x"]])
    np.testing.assert_allclose(y.mean(0), X @ beta, atol=0.06)
    Z = X  # random intercept and slope on x
    same = (df["g"].to_numpy()[:, None] == df["g"].to_numpy()[None, :])
    V = np.where(same, Z @ Psi @ Z.T, 0.0) + 1.5 * np.eye(len(df))
    np.testing.assert_allclose(np.cov(y.T), V, atol=0.25)


def test_crossed_variance_components_draws():
    rng = np.random.default_rng(3)
    df = pd.DataFrame([(s, i) for s in range(8) for i in range(5)], columns=["s", "i"])
    df["y"] = rng.normal(size=len(df))
    df["one"] = 1
    model = smf.mixedlm("y ~ 1", df, groups="one", re_formula="0",
                        vc_formula={"s": "0 + C(s)", "i": "0 + C(i)"})
    result = fit_mixedlm(model)
    names = list(model.exog_vc.names)
    tau = {"s": 2.0, "i": 0.5}
    params = VarianceParameters(np.zeros((0, 0)), np.array([tau[n] for n in names]), 1.0)
    y = draw_response(result, beta=[0.0], params=params, seed=4, size=40_000)
    C = np.cov(y.T)
    s, i = df["s"].to_numpy(), df["i"].to_numpy()
    V = 2.0 * (s[:, None] == s) + 0.5 * (i[:, None] == i) + np.eye(len(df))
    np.testing.assert_allclose(C, V, atol=0.12)


def test_bad_arguments():
    rng = np.random.default_rng(0)
    g = np.repeat(np.arange(5), 3)
    df = pd.DataFrame({"g": g, "y": rng.normal(size=15)})
    result = fit_mixedlm(smf.mixedlm("y ~ 1", df, groups="g"))
    with pytest.raises(ValueError, match="beta must have one value per fixed effect"):
        draw_response(result, beta=[1.0, 2.0])
    with pytest.raises(ValueError, match="size"):
        draw_response(result, size=0)
