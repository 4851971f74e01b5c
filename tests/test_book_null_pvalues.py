"""lmmhelpers.book.null_pvalues: the null-p-value chapter's stored studies, the question's code
as a function, and the chapter's two formulas."""

# The question's code draws from NumPy's legacy global generator; this test reproduces it.
# ruff: noqa: NPY002

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats

from lmmhelpers import two_input_design, wilson_interval
from lmmhelpers.book import (
    NULL_PVALUES_METHODS,
    QUESTION_CODE_RUN,
    QuestionCodeRun,
    mislabel_variances,
    null_pvalues_studies,
    z_level,
)


def _question_loop(num_iter, seed):
    """The question's code as posted (global generator, its labels), completed as the book
    completes it; p-values of the input coefficient."""
    np.random.seed(seed)
    num_groups, num_samples_per_group = 10, 20
    n = num_samples_per_group * num_groups
    df = pd.DataFrame({
        "input": ["input_0"] * n + ["input_1"] * n,
        "group": ([f"input_0_group_{i % num_samples_per_group}" for i in range(n)]
                  + [f"input_1_group_{i % num_samples_per_group}" for i in range(n)])})
    pvals = []
    for _ in range(num_iter):
        g1 = np.random.normal(0, 1.0, num_groups)
        g2 = np.random.normal(0, 1.0, num_groups)
        r1 = np.random.normal(0, 1.0, (num_samples_per_group, num_groups))
        r2 = np.random.normal(0, 1.0, (num_samples_per_group, num_groups))
        df["output"] = np.concatenate(((g1 + r1).reshape((n,)), (g2 + r2).reshape((n,))))
        result = sm.MixedLM.from_formula("output ~ input", groups="group", data=df).fit()
        pvals.append(result.pvalues["input[T.input_1]"])
    return np.array(pvals)


def test_question_code_run_is_the_question_loop_on_the_global_generator():
    state = np.random.get_state()
    try:
        expected = _question_loop(3, 123)
    finally:
        np.random.set_state(state)
    before = np.random.get_state()[1].copy()
    table = QuestionCodeRun(num_iter=3, seed=123).run()
    np.testing.assert_allclose(table["p_value"], expected, rtol=1e-10)
    # it draws from its own RandomState, never the global generator
    assert np.array_equal(np.random.get_state()[1], before)
    assert list(table["iteration"]) == [0, 1, 2]


def test_question_code_run_validates_and_round_trips(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="num_iter"):
        QuestionCodeRun(num_iter=0)
    with pytest.raises(ValueError, match="seed"):
        QuestionCodeRun(seed=-1)
    run = QuestionCodeRun(num_iter=2, seed=5, file="q/run.csv")
    monkeypatch.setattr("lmmhelpers.book.null_pvalues.repository_root", lambda: tmp_path)
    with pytest.raises(FileNotFoundError, match="make_null_pvalues.py"):
        run.load()
    table = run.run()
    with pytest.raises(ValueError, match="all 2 iterations"):
        run.save(table.iloc[:1])
    run.save(table)
    again = run.load()
    np.testing.assert_allclose(again["p_value"], table["p_value"], rtol=1e-9)
    record = json.loads((tmp_path / "data" / "q" / "run.json").read_text())
    record["seed"] = 6  # made from another specification
    (tmp_path / "data" / "q" / "run.json").write_text(json.dumps(record))
    with pytest.raises(ValueError, match="another specification"):
        run.load()


def test_stored_question_run_matches_its_first_iterations_live():
    stored = QUESTION_CODE_RUN.load()
    assert len(stored) == QUESTION_CODE_RUN.num_iter >= 2000
    live = QUESTION_CODE_RUN.run(num_iter=2)
    np.testing.assert_allclose(live["p_value"], stored["p_value"][:2], rtol=1e-4)


def test_null_pvalues_studies_are_the_question_design_with_both_labellings():
    studies = null_pvalues_studies()
    assert set(studies) == {"question", "correct"}
    assert len({s.seed for s in studies.values()}) == 2
    for study in studies.values():
        kw = study.design.keywords
        assert (kw["n_groups"], kw["n_per_group"], kw["effect"]) == (10, 20, 0.0)
        assert kw["labels"] == study.info["labels"]
        # interval rule: 95 % Wilson half-width at a 5 % rate at most 0.01
        lo, hi = wilson_interval(round(0.05 * study.n_sim), study.n_sim)
        assert (hi - lo) / 2 <= 0.01
    assert studies["question"].info["labels"] == "seed"


@pytest.mark.parametrize("name", ["question", "correct"])
def test_a_stored_null_pvalues_study_regenerates_a_slice(name):
    study = null_pvalues_studies()[name]
    stored = study.load()
    assert stored.attrs["study"] == study.description()
    assert sorted(set(stored["method"])) == sorted(NULL_PVALUES_METHODS)
    replicates = [0, study.n_sim - 1]
    fresh = study.run(replicates=replicates).sort_values(["replicate", "method"])
    kept = stored[stored["replicate"].isin(replicates)].sort_values(["replicate", "method"])
    np.testing.assert_allclose(fresh["p_value"], kept["p_value"], rtol=1e-4)


def test_mislabel_variances_match_a_simulation_of_the_question_labels():
    true_var, model_var = mislabel_variances(10, 20)
    assert true_var == pytest.approx(2 / 10 * (1 + 1 / 20))
    assert model_var / true_var == pytest.approx(0.5, abs=0.01)
    # the model's variance is what the label means' pooled spread estimates
    rng = np.random.default_rng(3)
    spreads = []
    for _ in range(400):
        d = two_input_design(10, 20, labels="seed", seed=rng)
        means = d.groupby(["input", "group"])["output"].mean()
        s2 = means.groupby("input").var().mean()  # pooled over the two inputs
        spreads.append(2 / 20 * s2)
    assert np.mean(spreads) == pytest.approx(model_var, rel=0.05)


def test_mislabel_variances_rejects_bad_arguments():
    with pytest.raises(ValueError, match="multiple of n_groups"):
        mislabel_variances(10, 15)
    with pytest.raises(ValueError, match="n_groups"):
        mislabel_variances(1, 20)
    with pytest.raises(ValueError, match="group_var"):
        mislabel_variances(10, 20, group_var=-1.0)


def test_z_level_is_the_t_tail_beyond_the_normal_quantile():
    assert z_level(10) == pytest.approx(2 * stats.t.sf(stats.norm.ppf(0.975), 18))
    levels = z_level(np.array([3, 10, 40]))
    assert np.all(np.diff(levels) < 0) and np.all(levels > 0.05)
    with pytest.raises(ValueError, match="n_groups"):
        z_level(1)
    with pytest.raises(ValueError, match="alpha"):
        z_level(10, alpha=1.5)


def test_a_missing_stored_null_study_names_its_script():
    study = dataclasses.replace(null_pvalues_studies()["correct"], directory="nowhere")
    with pytest.raises(FileNotFoundError, match="make_null_pvalues.py"):
        study.load()
