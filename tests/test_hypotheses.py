"""Type III hypotheses: they reproduce lmerTest's tests and do not depend on the coding."""

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from reference import CASES, load, structure_at_lme4

from lmmhelpers.covariance import CovarianceStructure
from lmmhelpers.hypotheses import type3_contrasts
from lmmhelpers.parameters import VarianceParameters
from lmmhelpers.tables import f_test


@pytest.mark.parametrize("case", [c for c in CASES if load(c)[0].get("anova_type3")])
def test_type3_matches_lmerTest(case):
    """Our own type III contrasts give lmerTest's F and df for every term (by term name)."""
    ref, model, cs, _ = structure_at_lme4(case)
    ours = type3_contrasts(model)
    by_r_term = {a["statsmodels_term"]: a for a in ref["anova_type3"]}
    assert list(ours) == [a["statsmodels_term"] for a in ref["anova_type3"]]  # R's order
    for term, L in ours.items():
        res = f_test(cs, L, ddf="satterthwaite")
        assert res["num_df"] == by_r_term[term]["num_df"]
        assert res["F"] == pytest.approx(by_r_term[term]["F_satterthwaite"], rel=1e-6)
        assert res["den_df"] == pytest.approx(by_r_term[term]["den_df_satterthwaite"], rel=1e-4)


def _factorial(seed=0):
    rng = np.random.default_rng(seed)
    n_groups = 10
    g = np.repeat(np.arange(n_groups), rng.integers(4, 9, size=n_groups))
    df = pd.DataFrame(
        {
            "g": g,
            "A": rng.choice(["a1", "a2", "a3"], size=len(g)),
            "B": np.where(g % 2 == 0, "b1", "b2"),
            "x": rng.normal(size=len(g)),
        }
    )
    df["y"] = rng.normal(size=n_groups)[g] + (df["A"] == "a2") + 0.3 * df["x"]
    df["y"] += rng.normal(size=len(g))
    return df


CODINGS = [
    "y ~ C(A) * C(B) + x",
    "y ~ C(A, Sum) * C(B, Sum) + x",
    "y ~ C(A, Helmert) * C(B, Treatment('b2')) + x",
    "y ~ C(A, Treatment('a3')) * C(B, Sum) + x",
]


def test_type3_does_not_depend_on_coding():
    df = _factorial()
    params = VarianceParameters(cov_re=np.array([[0.8]]), vcomp=np.zeros(0), scale=1.1)
    results = []
    for formula in CODINGS:
        model = smf.mixedlm(formula, df, groups="g")
        cs = CovarianceStructure(model, params)
        contrasts = type3_contrasts(model).values()
        results.append([f_test(cs, L, ddf="satterthwaite") for L in contrasts])
    for other in results[1:]:
        for a, b in zip(results[0], other, strict=True):
            assert a["num_df"] == b["num_df"]
            assert a["F"] == pytest.approx(b["F"], rel=1e-9)
            assert a["den_df"] == pytest.approx(b["den_df"], rel=1e-7)


def test_sum_coded_main_effect_is_its_columns():
    """With sum-to-zero coding, a factorial main effect is the Wald test of its own columns."""
    df = _factorial(1)
    model = smf.mixedlm("y ~ C(A, Sum) * C(B, Sum)", df, groups="g")
    L = type3_contrasts(model)["C(A, Sum)"]
    cols = [i for i, n in enumerate(model.exog_names) if n.startswith("C(A, Sum)[")]
    assert L.shape == (2, model.k_fe)
    outside = np.delete(L, cols, axis=1)
    np.testing.assert_allclose(outside, 0, atol=1e-12)


def test_formula_order_and_covariate_slope():
    """Terms are listed as the formula expands them; a covariate's slope is averaged over A."""
    df = _factorial(2)
    model = smf.mixedlm("y ~ x * C(A)", df, groups="g")
    L = type3_contrasts(model)
    assert list(L) == ["x", "C(A)", "x:C(A)"]
    assert list(type3_contrasts(smf.mixedlm("y ~ C(A):x + C(A) + x", df, groups="g"))) == [
        "C(A)", "x", "C(A):x"
    ]
    x_row = L["x"][0] / L["x"][0][model.exog_names.index("x")]
    interaction = [i for i, n in enumerate(model.exog_names) if n.startswith("x:")]
    np.testing.assert_allclose(x_row[interaction], 1 / 3)  # average of the three slopes


def test_model_without_formula_is_refused():
    df = _factorial()
    from statsmodels.regression.mixed_linear_model import MixedLM

    model = MixedLM(df["y"].to_numpy(), np.ones((len(df), 1)), groups=df["g"].to_numpy())
    with pytest.raises(ValueError, match="contrast_test"):
        type3_contrasts(model)
