"""The block-wise covariance structure against a dense n × n computation of the same formulas."""

import numpy as np
import pandas as pd
import pytest
import scipy.linalg as sla
import statsmodels.formula.api as smf

from lmmhelpers.covariance import CovarianceStructure, structure
from lmmhelpers.parameters import VarianceParameters


def _data(seed=3, n_groups=7):
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(n_groups), rng.integers(3, 9, size=n_groups))
    n = len(g)
    df = pd.DataFrame(
        {
            "g": g,
            "x": rng.normal(size=n),
            "h": rng.integers(0, 3, size=n),
            "a": rng.integers(0, 3, size=n),
            "one": 1,
        }
    )
    df["item"] = rng.integers(0, 5, size=n)
    df["y"] = rng.normal(size=n_groups)[g] + 0.5 * df["x"] + rng.normal(size=n)
    return df


MODELS = {
    "intercept": dict(formula="y ~ x + C(a)", groups="g"),
    "slopes": dict(formula="y ~ x", groups="g", re_formula="1 + x"),
    "slopes_vc": dict(
        formula="y ~ x + C(a)", groups="g", re_formula="1 + x", vc_formula={"h": "0 + C(h)"}
    ),
    "crossed": dict(
        formula="y ~ x",
        groups="one",
        re_formula="0",
        vc_formula={"g": "0 + C(g)", "item": "0 + C(item)"},
    ),
}


def _model(name, df):
    spec = dict(MODELS[name])
    return smf.mixedlm(spec.pop("formula"), df, **spec)


def _params(model, rng, zero=()):
    k = model.k_re
    A = rng.normal(size=(k, k))
    cov_re = A @ A.T + 0.1 * np.eye(k)
    vcomp = rng.uniform(0.2, 2.0, size=len(model.exog_vc.names))
    for j in zero:
        vcomp[j] = 0.0
    return VarianceParameters(cov_re=cov_re, vcomp=vcomp, scale=float(rng.uniform(0.5, 2)))


def _dense(model, params):
    """V, X, y and the G_r matrices as dense arrays (rows ordered group by group)."""
    X = np.vstack(model.exog_li)
    y = np.concatenate(model.endog_li)
    k = model.k_re
    blocks = {"re": [], "vc": [[] for _ in model.exog_vc.names]}
    for i in range(len(model.group_labels)):
        blocks["re"].append(model.exog_re_li[i] if k else np.zeros((len(model.endog_li[i]), 0)))
        for j in range(len(model.exog_vc.names)):
            blocks["vc"][j].append(np.asarray(model.exog_vc.mats[j][i]))
    Gs = []
    for a in range(k):
        for b in range(a + 1):
            E = np.zeros((k, k))
            E[a, b] = E[b, a] = 1
            Gs.append(sla.block_diag(*[Z @ E @ Z.T for Z in blocks["re"]]))
    for j in range(len(model.exog_vc.names)):
        Gs.append(sla.block_diag(*[Z @ Z.T for Z in blocks["vc"][j]]))
    Gs.append(np.eye(len(y)))
    low = np.tril_indices(k)
    gamma = np.concatenate([params.cov_re[low], params.vcomp, [params.scale]])
    V = sum(g_ * G for g_, G in zip(gamma, Gs, strict=True))
    return V, X, y, Gs


CASES = [(name, ()) for name in sorted(MODELS)] + [("slopes_vc", (0,)), ("crossed", (1,))]


@pytest.mark.parametrize("name, zero", CASES)
def test_blockwise_equals_dense(name, zero):
    """Every quantity, also with a variance component exactly at zero (a boundary fit)."""
    df = _data()
    model = _model(name, df)
    params = _params(model, np.random.default_rng(len(name)), zero)
    cs = CovarianceStructure(model, params)
    V, X, y, Gs = _dense(model, params)
    Vi = np.linalg.inv(V)
    Phi = np.linalg.inv(X.T @ Vi @ X)
    Pi = Vi - Vi @ X @ Phi @ X.T @ Vi
    R = len(Gs)
    assert cs.n_params == R
    np.testing.assert_allclose(cs.Phi, Phi, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(cs.beta, Phi @ X.T @ Vi @ y, rtol=1e-9, atol=1e-12)
    P = np.array([-X.T @ Vi @ G @ Vi @ X for G in Gs])
    np.testing.assert_allclose(cs.P, P, rtol=1e-8, atol=1e-10)
    Q = np.array([[X.T @ Vi @ G1 @ Vi @ G2 @ Vi @ X for G2 in Gs] for G1 in Gs])
    np.testing.assert_allclose(cs.Q, Q, rtol=1e-8, atol=1e-10)
    IE = np.array([[0.5 * np.trace(Pi @ G1 @ Pi @ G2) for G2 in Gs] for G1 in Gs])
    np.testing.assert_allclose(cs.expected_information, IE, rtol=1e-8, atol=1e-10)
    IO = np.array(
        [[-0.5 * np.trace(Pi @ G1 @ Pi @ G2) + y @ Pi @ G1 @ Pi @ G2 @ Pi @ y for G2 in Gs]
         for G1 in Gs]
    )
    np.testing.assert_allclose(cs.observed_information, IO, rtol=1e-8, atol=1e-9)
    grad = np.array([np.trace(Pi @ G) - y @ Pi @ G @ Pi @ y for G in Gs])
    np.testing.assert_allclose(cs.deviance_gradient, grad, rtol=1e-8, atol=1e-9)
    dev = (
        np.linalg.slogdet(V)[1]
        + np.linalg.slogdet(X.T @ Vi @ X)[1]
        + y @ Pi @ y
        + (len(y) - X.shape[1]) * np.log(2 * np.pi)
    )
    assert cs.reml_deviance == pytest.approx(dev, rel=1e-10)


def test_reml_deviance_is_statsmodels_criterion():
    """At statsmodels' own estimates, −2 × its REML log-likelihood is our deviance."""
    df = _data(seed=5)
    result = _model("slopes_vc", df).fit(method="lbfgs")
    cs = CovarianceStructure(result.model, VarianceParameters.from_result(result))
    assert cs.reml_deviance == pytest.approx(-2 * result.llf, rel=1e-10)


def test_structure_is_cached_and_snapped():
    df = _data(seed=2)
    df["y"] = np.random.default_rng(1).normal(size=len(df))  # no group variance
    with pytest.warns(Warning):  # statsmodels' own boundary chatter
        result = smf.mixedlm("y ~ x", df, groups="g").fit()
    assert 0 < result.cov_re.iloc[0, 0] < 1e-8 * result.scale  # tiny, but not zero
    cs = structure(result)
    assert structure(result) is cs
    assert cs.gamma[0] == 0.0  # a θ below 1e-4 is treated as exactly zero
