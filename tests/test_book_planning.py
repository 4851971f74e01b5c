"""lmmhelpers.book.planning: the exact power and the crossed standard error against simulation."""

import numpy as np
import pytest
from scipy import stats

from lmmhelpers import two_input_design, wilson_interval
from lmmhelpers.book import crossed_power, crossed_se, group_means_power
from lmmhelpers.simulate import crossed_design


def test_group_means_power_matches_simulated_t_test_on_group_means():
    # the t test on group means of data drawn from two_input_design, 2,000 draws
    n_groups, m, effect, group_var = 4, 5, 1.0, 0.25
    rng = np.random.default_rng(11)
    rejections = 0
    n_sim = 2000
    for _ in range(n_sim):
        d = two_input_design(n_groups, m, group_var=group_var, effect=effect, seed=rng)
        # rows come group by group within input; each group's mean from its own rows
        y = d["output"].to_numpy().reshape(2, m, n_groups)  # (input, row // G, group)
        means = y.mean(axis=1)
        rejections += stats.ttest_ind(means[1], means[0]).pvalue < 0.05
    lower, upper = wilson_interval(rejections, n_sim)
    exact = group_means_power(n_groups, m, effect=effect, group_var=group_var)
    assert lower <= exact <= upper


def test_group_means_power_is_the_level_at_effect_zero_and_grows_with_groups():
    assert group_means_power(3, 10, effect=0.0) == pytest.approx(0.05)
    power = group_means_power(np.arange(2, 20), 10, effect=0.5)
    assert np.all(np.diff(power) > 0)


def test_group_means_power_rejects_bad_arguments():
    with pytest.raises(ValueError, match="n_groups"):
        group_means_power(1, 10, effect=1.0)
    with pytest.raises(ValueError, match="alpha"):
        group_means_power(3, 10, effect=1.0, alpha=1.5)


def test_crossed_se_matches_the_spread_of_the_estimate():
    # the category effect's estimate is the difference of category means (complete, balanced)
    n_subj, n_items, n_sim = 8, 6, 3000
    rng = np.random.default_rng(5)
    estimates = []
    for _ in range(n_sim):
        d = crossed_design(n_subj, n_items // 2, n_outgroup=n_items // 2, seed=rng)
        x, rt = d["X_i"].to_numpy(), d["RT"].to_numpy()
        estimates.append(rt[x > 0].mean() - rt[x < 0].mean())
    sd = np.std(estimates, ddof=1)
    # the sample SD of 3,000 normal draws is within 4% of the truth with high probability
    assert sd == pytest.approx(crossed_se(n_subj, n_items), rel=0.04)


def test_crossed_power_counts_every_replicate_and_refuses_bad_layouts():
    t = crossed_power(6, 4, n_sim=4, seed=3, methods=("normal", "satterthwaite"), tau_1=0.0)
    assert sorted(t["method"]) == ["normal", "satterthwaite"]
    assert (t["n_used"] + t["n_failed"] == 4).all()
    with pytest.raises(ValueError, match="n_items"):
        crossed_power(6, 5, n_sim=2, seed=1)
    with pytest.raises(ValueError, match="missing"):
        crossed_power(6, 4, n_sim=2, seed=1, missing=0.1)
