"""power_curve against the exact power of the t test on group means (issue 15's validation)."""

from functools import partial

import numpy as np
import pytest
from scipy import stats

from lmmhelpers import GroupMeansTTest, two_input_design
from lmmhelpers.power import power_curve


def _exact_power(n_groups, n_per_group, effect, group_var=1.0, resid_var=1.0, alpha=0.05):
    """Noncentral-t power of the pooled two-sample t test on 2 × n_groups group means."""
    var_mean = group_var + resid_var / n_per_group
    df = 2 * n_groups - 2
    delta = effect / np.sqrt(var_mean * 2 / n_groups)
    crit = stats.t.ppf(1 - alpha / 2, df)
    return stats.nct.sf(crit, df, delta) + stats.nct.cdf(-crit, df, delta)


def test_power_curve_matches_the_exact_noncentral_t_power():
    design = partial(two_input_design, n_per_group=4, group_var=1.0, resid_var=1.0)
    test = GroupMeansTTest("output", "group", "input", term="input")
    grid = {"n_groups": [3, 8], "effect": [0.0, 1.0]}
    n_sim = 600
    curve = power_curve(design, [test], grid, n_sim=n_sim, seed=2)
    assert list(curve.columns[:2]) == ["n_groups", "effect"]
    assert len(curve) == 4
    for row in curve.itertuples(index=False):
        exact = _exact_power(row.n_groups, 4, row.effect)
        se = np.sqrt(exact * (1 - exact) / n_sim)
        assert abs(row.power - exact) <= 3.5 * se, (row.n_groups, row.effect, row.power, exact)
        assert row.lower <= row.power <= row.upper
        assert row.n_used == n_sim and row.n_failed == 0


def test_grid_keys_the_design_does_not_take_are_named():
    design = partial(two_input_design, n_per_group=4)
    test = GroupMeansTTest("output", "group", "input")
    with pytest.raises(ValueError, match="does not take the parameter 'n_items'"):
        power_curve(design, [test], {"n_items": [3]}, n_sim=5, seed=0)
    with pytest.raises(TypeError, match="grid must be a non-empty dict"):
        power_curve(design, [test], {}, n_sim=5, seed=0)
    with pytest.raises(ValueError, match="n_sim"):
        power_curve(design, [test], {"n_groups": [3]}, n_sim=0, seed=0)
