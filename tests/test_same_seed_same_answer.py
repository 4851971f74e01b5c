"""Issue 21, class 6: the same seed gives the same answer whatever the row order or labels.

calibrate and bootstrap_test draw their data with :func:`lmmhelpers.draw_response`, which
hands out its random numbers by the content of the rows, not by their position or the sorted
group labels; refit aligns a Series by its index and refuses a response of the wrong shape.
"""

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf

from lmmhelpers import bootstrap_test, calibrate, draw_response, fit_mixedlm, refit
from lmmhelpers.parameters import VarianceParameters


def _nested(seed=8, slope=False):
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(7), rng.integers(4, 7, size=7))
    df = pd.DataFrame({"g": g, "trt": g % 2, "x": rng.normal(size=g.size)})
    df["y"] = (rng.normal(size=7)[g] + (0.3 + 0.4 * slope * rng.normal(size=7)[g]) * df["x"]
               + rng.normal(size=g.size))
    return df


def _crossed(seed=9):
    rng = np.random.default_rng(seed)
    subj, item = np.meshgrid(np.arange(6), np.arange(5), indexing="ij")
    df = pd.DataFrame({"subj": subj.ravel(), "item": item.ravel(), "one": 1})
    df["c"] = (df["item"] % 2).astype(float)
    df["y"] = (rng.normal(size=6)[df["subj"]] + 0.7 * rng.normal(size=5)[df["item"]]
               + rng.normal(size=len(df)))
    return df


def _relabel(values, seed):
    """Other labels, in another sorted order (strings where there were integers)."""
    levels = np.random.default_rng(seed).permutation(np.unique(values))
    return values.map({v: f"L{k:03d}" for k, v in enumerate(levels)})


def _variants(df, columns, seed):
    shuffled = df.sample(frac=1, random_state=seed)
    relabelled = df.assign(**{c: _relabel(df[c], seed) for c in columns})
    both = shuffled.assign(**{c: _relabel(shuffled[c], seed + 1) for c in columns})
    return {"shuffled": shuffled, "relabelled": relabelled, "both": both,
            "reindexed": shuffled.reset_index(drop=True)}


NESTED = dict(formula="y ~ trt + x", kwargs=dict(groups="g"), labels=["g"])
SLOPE = dict(formula="y ~ trt + x", kwargs=dict(groups="g", re_formula="~x"), labels=["g"])
CROSSED = dict(formula="y ~ c", kwargs=dict(groups="one", vc_formula={"s": "0 + C(subj)",
                                                                       "i": "0 + C(item)"}),
               labels=["subj", "item"])


def _fit(df, spec, **kwargs):
    return fit_mixedlm(smf.mixedlm(spec["formula"], df, **spec["kwargs"]), **kwargs)


@pytest.mark.parametrize("case", ["nested", "slope", "crossed"])
@pytest.mark.parametrize("seed", [0, 1])
def test_draws_follow_the_rows_not_their_positions_or_labels(case, seed):
    df, spec = {"nested": (_nested(), NESTED), "slope": (_nested(slope=True), SLOPE),
                "crossed": (_crossed(), CROSSED)}[case]
    base = _fit(df, spec)
    params = VarianceParameters.from_result(base)
    beta = np.asarray(base.fe_params)
    y0 = pd.Series(draw_response(base, beta=beta, params=params, seed=seed, size=3).T.tolist(),
                   index=df.index)
    for name, other in _variants(df, spec["labels"], seed).items():
        fit = _fit(other, spec)
        y = draw_response(fit, beta=beta, params=params, seed=seed, size=3)
        # the same rows (matched by their original index) get the same draws
        expected = np.array(y0.loc[other.index if name != "reindexed"
                                   else df.sample(frac=1, random_state=seed).index].tolist()).T
        np.testing.assert_allclose(y, expected, rtol=0, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("case", ["nested", "crossed"])
def test_calibrate_same_verdict_whatever_the_row_order_or_labels(case):
    df, spec = {"nested": (_nested(), NESTED), "crossed": (_crossed(), CROSSED)}[case]
    term = "trt" if case == "nested" else "c"
    # Satterthwaite on the crossed design costs 0.2 s a draw: z carries the point there
    methods = ("normal", "satterthwaite") if case == "nested" else ("normal",)
    base = calibrate(_fit(df, spec), terms=term, methods=methods, n_sim=60, seed=4)
    for name, other in _variants(df, spec["labels"], 3).items():
        got = calibrate(_fit(other, spec), terms=term, methods=methods, n_sim=60, seed=4)
        pd.testing.assert_frame_equal(got, base, obj=name)
        assert got.attrs["summary"] == base.attrs["summary"]


def test_bootstrap_same_p_value_whatever_the_row_order_or_labels():
    df = _nested(slope=True)
    full_spec, reduced_spec = SLOPE, NESTED
    out = []
    for other in [df, *_variants(df, ["g"], 5).values()]:
        full = _fit(other, dict(full_spec, formula="y ~ x"), reml=False)
        reduced = _fit(other, dict(reduced_spec, formula="y ~ x"), reml=False)
        out.append(bootstrap_test(full, reduced, n_sim=60, seed=6).iloc[0])
    for o in out[1:]:
        assert o["p_bootstrap"] == out[0]["p_bootstrap"]
        assert o["p_pbkrtest"] == out[0]["p_pbkrtest"]
        assert o["LRT"] == pytest.approx(out[0]["LRT"], rel=1e-6, abs=1e-8)


# -- refit: a Series is aligned by its index; a response of the wrong shape is refused -------
@pytest.fixture(scope="module")
def fitted():
    df = _nested().set_index(pd.Index(np.arange(100, 100 + len(_nested()))))
    return df, fit_mixedlm(smf.mixedlm("y ~ trt + x", df, groups="g"))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_refit_aligns_a_series_by_its_index(fitted, seed):
    df, result = fitted
    y_new = df["y"] + np.random.default_rng(seed).normal(size=len(df))
    expected = refit(result, y_new.to_numpy())
    shuffled = y_new.sample(frac=1, random_state=seed)
    superset = pd.concat([shuffled, pd.Series([9.9], index=[7])])  # a row the model dropped
    for y in (y_new, shuffled, superset):
        got = refit(result, y)
        np.testing.assert_allclose(got.fe_params, expected.fe_params, rtol=1e-10)
        assert got.llf == pytest.approx(expected.llf, rel=1e-12)


@pytest.mark.parametrize("bad, error, match", [
    (lambda y: y.reset_index(drop=True), ValueError, "index does not match"),
    (lambda y: y.iloc[:-1], ValueError, "index does not match"),
    (lambda y: pd.concat([y, y.iloc[:1]]), ValueError, "repeated labels"),
    (lambda y: y.to_frame(), TypeError, "DataFrame"),
    (lambda y: y.to_numpy()[:, None], ValueError, r"shape \(\d+, 1\); pass y.ravel"),
    (lambda y: y.to_numpy()[None, :], ValueError, "1-D array"),
    (lambda y: np.resize(y.to_numpy(), (2, len(y) // 2)), ValueError, "1-D array"),
    (lambda y: y.to_numpy()[:-1], ValueError, "1-D array"),
    (lambda y: np.append(y.to_numpy(), 1.0), ValueError, "1-D array"),
    (lambda y: np.where(np.arange(len(y)) == 3, np.nan, y.to_numpy()), ValueError, "finite"),
    (lambda y: np.array(["a"] * len(y)), TypeError, "numeric"),
])
def test_refit_refuses_a_response_it_cannot_place(fitted, bad, error, match):
    df, result = fitted
    with pytest.raises(error, match=match):
        refit(result, bad(df["y"]))
