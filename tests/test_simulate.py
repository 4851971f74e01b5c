"""Tests of lmmhelpers.simulate: shapes, seeding, the seed's labelling, variance components."""

import numpy as np
import pandas as pd
import pytest

from lmmhelpers.simulate import (
    as_generator,
    crossed_design,
    repeated_measures_design,
    two_input_design,
    two_input_within_design,
)


def seed_code_frame(num_groups, num_samples_per_group, rng):
    """The question's code, verbatim but for np.random -> rng (one iteration)."""
    group_var = random_var = 1.0
    df = pd.DataFrame({
        "input": ["input_0"] * num_samples_per_group * num_groups
        + ["input_1"] * num_samples_per_group * num_groups,
        "group": (
            ["input_0_group_%s" % (i % num_samples_per_group)
             for i in range(num_samples_per_group * num_groups)]
            + ["input_1_group_%s" % (i % num_samples_per_group)
               for i in range(num_samples_per_group * num_groups)])})
    input_one_group_effects = rng.normal(0, np.sqrt(group_var), num_groups)
    input_two_group_effects = rng.normal(0, np.sqrt(group_var), num_groups)
    input_one_random_effects = rng.normal(0, np.sqrt(random_var),
                                          (num_samples_per_group, num_groups))
    input_two_random_effects = rng.normal(0, np.sqrt(random_var),
                                          (num_samples_per_group, num_groups))
    input_one_effects = (input_one_group_effects + input_one_random_effects).reshape(
        (num_samples_per_group * num_groups,))
    input_two_effects = (input_two_group_effects + input_two_random_effects).reshape(
        (num_samples_per_group * num_groups,))
    df["output"] = np.concatenate((input_one_effects, input_two_effects))
    return df


@pytest.mark.parametrize(("n_groups", "n_per_group"), [(10, 20), (4, 6), (3, 2)])
def test_seed_labels_reproduce_the_question_exactly(n_groups, n_per_group):
    expected = seed_code_frame(n_groups, n_per_group, np.random.default_rng(7))
    got = two_input_design(n_groups, n_per_group, labels="seed", seed=np.random.default_rng(7))
    pd.testing.assert_frame_equal(got[["input", "group", "output"]], expected,
                                  check_dtype=False)


def test_seed_labels_split_true_groups_and_correct_labels_do_not():
    df = two_input_design(10, 20, labels="seed", seed=1)
    labels_per_true = df.groupby("true_group")["group"].nunique()
    assert (labels_per_true == 2).all()  # 20 labels per input for 10 true groups
    ok = two_input_design(10, 20, seed=1)
    assert (ok["group"] == ok["true_group"]).all()
    assert ok.groupby("group").size().eq(20).all()
    assert ok["group"].nunique() == 20
    # same numbers, different labels
    np.testing.assert_array_equal(ok["output"], df["output"])


def test_group_effects_are_shared_within_true_groups():
    df = two_input_design(3, 400, group_var=4.0, resid_var=0.0, seed=2)
    assert df.groupby("group")["output"].nunique().eq(1).all()
    assert df.groupby("group")["output"].first().nunique() == 6


def test_effect_and_variances_are_recovered_on_average():
    df = two_input_design(2000, 5, group_var=2.0, resid_var=1.0, effect=0.5, seed=3)
    means = df.groupby("input")["output"].mean()
    assert abs(means["input_1"] - means["input_0"] - 0.5) < 0.15
    within = df.groupby("group")["output"].var().mean()
    assert abs(within - 1.0) < 0.05
    between = df.groupby("group")["output"].mean().groupby(df.groupby("group")["input"].first())
    assert abs(between.var().mean() - (2.0 + 1.0 / 5)) < 0.2


def test_unequal_group_sizes():
    sizes = [2, 3, 5]
    df = two_input_design(3, sizes, seed=0)
    counts = df.groupby("group").size()
    assert counts["input_0_group_2"] == 5 and counts["input_1_group_0"] == 2
    df6 = two_input_design(3, [1, 2, 3, 4, 5, 6], seed=0)
    assert len(df6) == 21
    with pytest.raises(ValueError, match="n_per_group"):
        two_input_design(3, [1, 2], seed=0)
    with pytest.raises(ValueError, match="labels='seed'"):
        two_input_design(3, sizes, labels="seed", seed=0)


def test_missing_drops_rows_reproducibly():
    a = two_input_design(10, 20, missing=0.3, seed=5)
    b = two_input_design(10, 20, missing=0.3, seed=5)
    pd.testing.assert_frame_equal(a, b)
    assert 200 < len(a) < 360
    full = two_input_design(10, 20, seed=5)
    assert set(a["output"]).issubset(set(full["output"]))


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [({"n_groups": 0}, "n_groups"), ({"n_groups": 2.5}, "n_groups"),
     ({"group_var": -1}, "group_var"), ({"resid_var": float("nan")}, "resid_var"),
     ({"effect": "big"}, "effect"), ({"missing": 1.0}, "missing"),
     ({"labels": "wrong"}, "labels"), ({"seed": -3}, "seed"), ({"seed": "x"}, "seed")],
)
def test_validation_names_the_argument(kwargs, name):
    with pytest.raises((TypeError, ValueError), match=name):
        two_input_design(**kwargs)


def test_generator_is_used_as_is_and_ints_reproduce():
    rng = np.random.default_rng(11)
    a = two_input_design(2, 3, seed=rng)
    b = two_input_design(2, 3, seed=rng)
    assert not np.allclose(a["output"], b["output"])  # the stream continued
    pd.testing.assert_frame_equal(two_input_design(2, 3, seed=9), two_input_design(2, 3, seed=9))
    seq = np.random.SeedSequence(4)
    assert as_generator(seq).normal() == np.random.default_rng(np.random.SeedSequence(4)).normal()


def test_within_design_structure_and_slopes():
    df = two_input_within_design(5, 4, seed=0)
    assert df.shape == (80, 4)
    assert df.groupby("group")["input"].nunique().eq(1).all()
    assert df.groupby("group")["condition"].nunique().eq(2).all()
    big = two_input_within_design(1000, 50, group_var=0.0, resid_var=0.01, slope_var=1.0,
                                  within_effect=2.0, seed=1)
    cell = big.groupby(["group", "condition"])["output"].mean().unstack()
    slopes = cell["b"] - cell["a"]
    assert abs(slopes.mean() - 2.0) < 0.1 and abs(slopes.var() - 1.0) < 0.1


def test_crossed_design_components():
    df = crossed_design(n_subj=3000, n_ingroup=2, n_outgroup=2, beta_0=0, beta_1=0,
                        omega_0=0, tau_0=1.0, tau_1=2.0, rho=0.5, sigma=0.0, seed=4)
    per_subj = df.pivot_table(index="subj_id", columns="X_i", values="RT")
    intercept = per_subj.mean(axis=1)
    slope = per_subj[0.5] - per_subj[-0.5]
    assert abs(intercept.std() - 1.0) < 0.05
    assert abs(slope.std() - 2.0) < 0.1
    assert abs(np.corrcoef(intercept, slope)[0, 1] - 0.5) < 0.05
    with pytest.raises(ValueError, match="rho"):
        crossed_design(rho=1.5)
    full = crossed_design(n_subj=10, n_ingroup=3, n_outgroup=3, seed=0)
    assert full.groupby("subj_id")["item_id"].nunique().eq(6).all()  # fully crossed


def test_repeated_measures_design_matches_the_question():
    df = repeated_measures_design(seed=0)
    assert list(df.columns) == ["participant_ID", "Condition_1", "Condition_2", "dependent_var"]
    assert df["participant_ID"].nunique() == 8
    levels = df.groupby("participant_ID")["Condition_1"].apply(lambda c: tuple(sorted(c)))
    assert set(levels) == {(1, 2)}
    assert df.groupby("Condition_2")["participant_ID"].nunique().tolist() == [4, 4]
    with pytest.raises(ValueError, match="n_per_between"):
        repeated_measures_design(n_per_between=0)
