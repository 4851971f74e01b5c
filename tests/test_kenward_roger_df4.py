"""Kenward-Roger at exactly four denominator df (balanced, 3 groups per input)."""

import functools

import numpy as np
import statsmodels.formula.api as smf

from lmmhelpers import coef_table, fit_mixedlm, two_input_design


def test_balanced_six_groups_gives_df_4():
    # replicate 0 of SeedSequence(1) hits V2 = 1 - c3*B = 0.0 exactly (A1 = A2 = 1/2);
    # pbkrtest (R) then has rho = Inf and df = 4
    seq = np.random.SeedSequence(1).spawn(1)[0]
    design = functools.partial(two_input_design, n_groups=3, n_per_group=5, group_var=1 / 9)
    data = design(seed=np.random.default_rng(seq))
    result = fit_mixedlm(smf.mixedlm("output ~ input", data, groups="group"))
    table = coef_table(result, ddf="kenward-roger")
    assert np.allclose(table["df"], 4.0)
    assert np.all(np.isfinite(table["P>|t|"]))
    satt = coef_table(result, ddf="satterthwaite")
    assert np.allclose(table["P>|t|"], satt["P>|t|"], atol=1e-5)
