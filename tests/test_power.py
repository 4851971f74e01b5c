"""power_curve against the exact power of the t test on group means (issue 15's validation)."""

from functools import partial

import numpy as np
import pandas as pd
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


# -- issue 21, classes 3 and 5: nothing finished is lost, nothing counted twice ----------------
class _Calls:
    """Counts design calls; an object, not plain data, so the study's key ignores its state."""

    def __init__(self):
        self.n, self.stop_at = 0, None


CALLS = _Calls()


def counted_design(seed, n_groups, effect=0.0, alpha=0.0, method="a", term="b", power=1,
                   n_used=0):
    """two_input_design with extra parameters named like power_curve's columns; counts calls
    and raises KeyboardInterrupt (as Ctrl-C would) at call ``CALLS.stop_at``."""
    CALLS.n += 1
    if CALLS.stop_at is not None and CALLS.n == CALLS.stop_at:
        raise KeyboardInterrupt
    return two_input_design(n_groups, 4, effect=effect + alpha, seed=seed)


TEST = GroupMeansTTest("output", "group", "input", term="input")


@pytest.mark.parametrize("names", [["alpha"], ["method"], ["term"], ["power", "n_used"],
                                   ["alpha", "method", "term"]])
def test_design_parameters_named_like_the_tables_columns(names):
    grid = {"n_groups": [3, 4], **{k: [0.0, 0.5] if k == "alpha" else [1, 2] for k in names}}
    curve = power_curve(counted_design, [TEST], grid, n_sim=4, seed=1)
    n_cells = int(np.prod([len(v) for v in grid.values()]))
    assert len(curve) == n_cells
    for k in names:
        assert curve[f"design_{k}"].nunique() == 2
    assert set(curve["method"]) == {"group-means-t"} and set(curve["alpha"]) == {0.05}
    assert (curve["n_used"] == 4).all()


@pytest.mark.parametrize("stop_at", [3, 6, 7, 11])
def test_an_interrupted_curve_keeps_every_finished_cell_and_resumes(tmp_path, stop_at):
    from lmmhelpers import PowerCurveInterrupted

    grid = {"n_groups": [3, 4, 5], "effect": [0.0]}
    CALLS.n, CALLS.stop_at = 0, None
    whole = power_curve(counted_design, [TEST], grid, n_sim=4, seed=3)
    CALLS.n, CALLS.stop_at = 0, stop_at
    try:
        with pytest.raises(PowerCurveInterrupted) as info:
            power_curve(counted_design, [TEST], grid, n_sim=4, seed=3, cache_dir=tmp_path)
    finally:
        CALLS.stop_at = None
    assert isinstance(info.value, KeyboardInterrupt)
    n_done = (stop_at - 1) // 4  # cells of 4 replicates finished before the interrupt
    finished = info.value.results
    if n_done == 0:
        assert finished is None
    else:
        pd.testing.assert_frame_equal(finished, whole.iloc[:n_done], check_dtype=False)
    assert len(info.value.cell_results["replicate"].unique()) == (stop_at - 1) % 4
    CALLS.n = 0
    resumed = power_curve(counted_design, [TEST], grid, n_sim=4, seed=3, cache_dir=tmp_path)
    assert CALLS.n == 12 - (stop_at - 1)  # only the replicates not finished run again
    pd.testing.assert_frame_equal(resumed, whole, check_dtype=False)


def test_an_analysis_given_twice_counts_each_replicate_once():
    grid = {"n_groups": [3], "effect": [0.0]}
    once = power_curve(counted_design, [TEST], grid, n_sim=6, seed=2)
    twice = power_curve(counted_design, [TEST, TEST], grid, n_sim=6, seed=2)
    same = power_curve(counted_design, [TEST, GroupMeansTTest("output", "group", "input",
                                                              term="input")], grid,
                       n_sim=6, seed=2)
    pd.testing.assert_frame_equal(once, twice)
    pd.testing.assert_frame_equal(once, same)
    other = GroupMeansTTest("output", "group", "other_input", term="input")  # same label
    with pytest.raises(ValueError, match="analyses 0 and 1 both report method"):
        power_curve(counted_design, [TEST, other], grid, n_sim=6, seed=2)


def failing_design(seed, n_groups, share=0.5):
    if seed.random() < share:
        raise ValueError("simulated design failure")
    return two_input_design(n_groups, 4, seed=seed)


@pytest.mark.parametrize("share, min_usable, raises", [(0.5, 0.9, True), (0.5, 0.2, False),
                                                       (0.0, 0.9, False), (1.0, 0.0, False)])
def test_too_few_usable_replicates_fail_loudly(share, min_usable, raises):
    from lmmhelpers import TooFewUsableDraws

    grid = {"n_groups": [3, 4], "share": [share]}
    if raises:
        with pytest.raises(TooFewUsableDraws, match="simulated design failure") as info:
            power_curve(failing_design, [TEST], grid, n_sim=20, seed=1, min_usable=min_usable)
        assert len(info.value.table) == 2  # every cell's rates are kept in the exception
    else:
        curve = power_curve(failing_design, [TEST], grid, n_sim=20, seed=1,
                            min_usable=min_usable)
        assert (curve["n_used"] + curve["n_failed"] == 20).all()
