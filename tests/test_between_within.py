"""Between-within df: against the classical repeated-measures (split-plot) ANOVA df."""

import itertools

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf

from lmmhelpers.between_within import (
    between_within_df,
    between_within_strata,
    between_within_term_df,
)
from lmmhelpers.simulate import crossed_design, two_input_design


def split_plot(n_between=2, n_subjects=5, n_within=3, seed=0):
    """Balanced split-plot: a between factor B (a levels), a within factor W (b levels)."""
    rng = np.random.default_rng(seed)
    rows = []
    for b, s, w in itertools.product(range(n_between), range(n_subjects), range(n_within)):
        rows.append((f"b{b}", f"s{b}_{s}", f"w{w}"))
    df = pd.DataFrame(rows, columns=["B", "subject", "W"])
    df["y"] = rng.normal(size=len(df))
    return df


@pytest.mark.parametrize("a, n, b", [(2, 5, 3), (3, 4, 2), (2, 4, 4)])
def test_split_plot_matches_classical_anova(a, n, b):
    df = split_plot(a, n, b)
    model = smf.mixedlm("y ~ C(B) * C(W)", df, groups="subject")
    G = a * n
    between, within = G - a, (G - a) * (b - 1)  # classical error df of the two strata
    s = between_within_strata(model)
    assert (s["between"], s["within"]) == (between, within)
    terms = between_within_term_df(model)
    assert terms.to_dict() == {"C(B)": between, "C(W)": within, "C(B):C(W)": within}
    coefs = between_within_df(model)
    assert coefs["Intercept"] == between
    assert all(coefs[c] == within for c in coefs.index if "C(W)" in c)


def test_between_effect_equals_group_means_t_df():
    df = two_input_design(n_groups=4, n_per_group=[2, 3, 5, 9], seed=1)
    model = smf.mixedlm("output ~ input", df, groups="group")
    assert between_within_df(model)["input[T.input_1]"] == 8 - 2


def test_crossed_needs_groups_and_gives_by_item_df():
    df = crossed_design(n_subj=6, n_ingroup=3, n_outgroup=3, seed=2).assign(one=1)
    model = smf.mixedlm("RT ~ X_i", df, groups="one", re_formula="0",
                        vc_formula={"s": "0 + C(subj_id)", "i": "0 + C(item_id)"})
    with pytest.raises(ValueError, match="no degrees of freedom"):
        between_within_strata(model)  # one group for all rows
    assert between_within_df(model, groups="item_id")["X_i"] == 6 - 2
    labels = df["item_id"].to_numpy()
    assert between_within_df(model, groups=labels)["X_i"] == 6 - 2


def test_validation():
    df = split_plot()
    model = smf.mixedlm("y ~ C(B) * C(W)", df, groups="subject")
    with pytest.raises(ValueError, match="one label per row"):
        between_within_df(model, groups=[1, 2, 3])
    with pytest.raises(ValueError, match="not a column"):
        between_within_df(model, groups="nope")
