"""Tests of lmmhelpers.study: reproducibility across n_jobs, recorded failures, analyses, cache."""

import json
import warnings
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from scipy import stats

import lmmhelpers
from lmmhelpers import study as study_module
from lmmhelpers.simulate import two_input_design, two_input_within_design
from lmmhelpers.study import (
    COLUMNS,
    FixedEffectsTest,
    GEETest,
    GroupMeansTTest,
    LikelihoodRatioTest,
    MixedLMTest,
    load_study,
    null_pvalue_study,
    read_study_csv,
    run_study,
    study_description,
)
from lmmhelpers.summaries import rejection_rate

TERM = "input[T.input_1]"
ROOT = Path(__file__).resolve().parents[1]


def broken_design(seed, n_groups=4, n_per_group=5):
    """The seed's design, but every third data set has a NaN response (the fit must fail)."""
    rng = seed
    df = two_input_design(n_groups, n_per_group, seed=rng)
    if rng.integers(3) == 0:
        df.loc[0, "output"] = np.nan
    return df


def test_identical_results_for_any_n_jobs_and_subsets():
    kw = dict(n_groups=4, n_per_group=5, group_var=1.0, resid_var=1.0, n_sim=12, seed=21,
              methods=("normal", "satterthwaite", "kenward-roger", "group-means-t"),
              progress=False)
    one = null_pvalue_study(**kw, n_jobs=1)
    two = null_pvalue_study(**kw, n_jobs=2)
    pd.testing.assert_frame_equal(one, two)
    assert list(one.columns) == list(COLUMNS)
    assert len(one) == 12 * 4
    # a subset of replicates gives exactly the same rows
    design = partial(two_input_design, n_groups=4, n_per_group=5, group_var=1.0,
                     resid_var=1.0, effect=0.0, labels="correct", missing=0.0)
    analyses = study_module.two_input_analyses(kw["methods"])
    part = run_study(design, analyses, n_sim=12, seed=21, replicates=[3, 7, 11],
                     progress=False, batch_size=1)
    expected = one[one["replicate"].isin([3, 7, 11])].reset_index(drop=True)
    pd.testing.assert_frame_equal(part, expected)


def test_one_fit_is_shared_by_the_mixed_methods(monkeypatch):
    calls = []
    original = study_module._Replicate._fit_mixed

    def counting(self, *args):
        calls.append(args)
        return original(self, *args)

    monkeypatch.setattr(study_module._Replicate, "_fit_mixed", counting)
    null_pvalue_study(4, 5, 1.0, 1.0, n_sim=3, seed=1, progress=False,
                      methods=("normal", "satterthwaite", "kenward-roger"))
    assert len(calls) == 3  # one REML fit per replicate


def test_mixed_methods_agree_with_coef_table_on_the_same_data():
    res = null_pvalue_study(5, 4, 1.0, 1.0, n_sim=2, seed=8, progress=False)
    children = np.random.SeedSequence(8).spawn(2)
    data = two_input_design(5, 4, 1.0, 1.0, seed=np.random.default_rng(children[1]))
    fit = smf.mixedlm("output ~ input", data, groups="group").fit()
    for method in ("normal", "satterthwaite", "kenward-roger"):
        row = res[(res["replicate"] == 1) & (res["method"] == method)].iloc[0]
        table = lmmhelpers.coef_table(fit, ddf=method)
        assert row["p_value"] == pytest.approx(table.loc[TERM, "P>|t|"], rel=1e-4)
        assert row["df"] == pytest.approx(table.loc[TERM, "df"], rel=1e-4)
    assert np.isinf(res.loc[res["method"] == "normal", "df"]).all()
    assert (res.loc[res["method"] == "kenward-roger", "df"] < 20).all()


def test_failures_are_recorded_not_dropped_and_warnings_are_captured():
    analyses = [MixedLMTest("output ~ input", "group", TERM, methods=("normal",)),
                GroupMeansTTest("output", "group", "input", term=TERM)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing may escape into a notebook
        res = run_study(broken_design, analyses, n_sim=15, seed=2, progress=False)
    assert len(res) == 30 and res["replicate"].nunique() == 15
    failed = res[(res["method"] == "normal") & (res["status"] == "error")]
    assert 0 < len(failed) < 15
    assert failed["p_value"].isna().all() and failed["message"].str.len().gt(0).all()
    summary = rejection_rate(res).set_index("method")
    assert summary.loc["normal", "n"] == 15
    assert summary.loc["normal", "n_error"] == len(failed)
    assert summary.loc["normal", "n_used"] == 15 - len(failed)


def test_boundary_is_recorded_and_counted():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = null_pvalue_study(3, 4, 0.0, 1.0, n_sim=10, seed=4, progress=False,
                                methods=("normal", "lrt"))
    normal = res[res["method"] == "normal"]
    assert normal["boundary"].sum() >= 1  # no group variance: singular fits occur
    assert normal["boundary"].notna().all() and normal["converged"].notna().all()
    summary = rejection_rate(res).set_index("method")
    assert summary.loc["normal", "n_boundary"] == normal["boundary"].sum()


def test_convergence_warnings_are_captured_into_the_table(monkeypatch):
    from statsmodels.tools.sm_exceptions import ConvergenceWarning

    original = study_module._fit_model

    def troubled(model, reml):
        result, converged, boundary = original(model, reml)
        if model.endog[0] > 0:  # about half the replicates
            warnings.warn("nothing converged (test)", ConvergenceWarning, stacklevel=1)
            result.converged = False
            return result, False, boundary
        return result, converged, boundary

    monkeypatch.setattr(study_module, "_fit_model", troubled)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing may escape into a notebook
        res = null_pvalue_study(3, 4, 1.0, 1.0, n_sim=10, seed=4, progress=False,
                                methods=("normal", "satterthwaite"))
    bad = res[res["converged"] == False]  # noqa: E712
    assert 0 < bad["replicate"].nunique() < 10
    assert bad["warnings"].str.contains("ConvergenceWarning: nothing converged").all()
    assert bad["p_value"].notna().all()  # kept, flagged, not dropped
    assert (res.loc[res["converged"] == True, "warnings"] == "").all()  # noqa: E712
    summary = rejection_rate(res).set_index("method")
    assert summary.loc["normal", "n_not_converged"] == bad["replicate"].nunique()
    assert summary.loc["normal", "n_used"] == 10
    assert rejection_rate(res, converged_only=True).set_index("method").loc[
        "normal", "n_used"] == 10 - bad["replicate"].nunique()


def test_other_analyses():
    res = null_pvalue_study(4, 5, 1.0, 1.0, n_sim=3, seed=5, progress=False,
                            methods=("lrt", "group-means-t", "gee-bias-reduced",
                                     "fixed-effects"))
    by = res.set_index(["replicate", "method"])
    assert set(res["method"]) == {"lrt", "group-means-t", "gee-bias-reduced", "fixed-effects"}
    fe = res[res["method"] == "fixed-effects"]
    assert (fe["status"] == "not applicable").all() and fe["p_value"].isna().all()
    # group-means t: a two-sample t test on the 8 group means
    children = np.random.SeedSequence(5).spawn(3)
    data = two_input_design(4, 5, 1.0, 1.0, seed=np.random.default_rng(children[0]))
    means = data.groupby("group").agg(y=("output", "mean"), x=("input", "first"))
    t = stats.ttest_ind(means.y[means.x == "input_1"], means.y[means.x == "input_0"])
    assert by.loc[(0, "group-means-t"), "p_value"] == pytest.approx(t.pvalue)
    assert by.loc[(0, "group-means-t"), "df"] == 6
    # LRT: twice the difference of ML log-likelihoods against chi-square(1)
    full = smf.mixedlm("output ~ input", data, groups="group").fit(reml=False)
    null = smf.mixedlm("output ~ 1", data, groups="group").fit(reml=False)
    lr = 2 * (full.llf - null.llf)
    assert by.loc[(0, "lrt"), "p_value"] == pytest.approx(stats.chi2.sf(lr, 1), rel=1e-3)
    # GEE with the Mancl-DeRouen covariance, as statsmodels computes it
    import statsmodels.api as sm

    gee = smf.gee("output ~ input", "group", data, cov_struct=sm.cov_struct.Exchangeable())
    gee = gee.fit(cov_type="bias_reduced")
    assert by.loc[(0, "gee-bias-reduced"), "p_value"] == pytest.approx(gee.pvalues[TERM])


def test_fixed_effects_estimate_a_within_group_effect():
    design = partial(two_input_within_design, n_groups=3, n_per_cell=4, within_effect=1.0)
    analyses = [FixedEffectsTest("output ~ input + condition", "group", "condition[T.b]"),
                FixedEffectsTest("output ~ input + condition", "group", TERM),
                MixedLMTest("output ~ input + condition", "group", "condition[T.b]",
                            methods=("normal", "satterthwaite")),
                GEETest("output ~ input + condition", "group", "condition[T.b]",
                        cov_type="robust")]
    res = run_study(design, analyses, n_sim=2, seed=3, progress=False)
    within = res[(res["method"] == "fixed-effects") & (res["term"] == "condition[T.b]")]
    assert (within["status"] == "ok").all() and within["p_value"].notna().all()
    between = res[(res["method"] == "fixed-effects") & (res["term"] == TERM)]
    assert (between["status"] == "not applicable").all()
    assert set(res["method"]) == {"fixed-effects", "normal", "satterthwaite", "gee-robust"}


def test_seed_labels_change_the_answer():
    kw = dict(n_sim=5, seed=1, progress=False, methods=("normal",))
    good = null_pvalue_study(10, 20, 1.0, 1.0, **kw)
    bad = null_pvalue_study(10, 20, 1.0, 1.0, labels="seed", **kw)
    np.testing.assert_allclose(good["estimate"], bad["estimate"])  # same data
    assert not np.allclose(good["p_value"], bad["p_value"])  # different grouping


def test_progress_bar_goes_to_stderr_only(capsys):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        null_pvalue_study(3, 3, 1.0, 1.0, n_sim=2, seed=1, methods=("group-means-t",),
                          progress=True)
    out, err = capsys.readouterr()
    assert out == ""
    assert "replicates" in err
    null_pvalue_study(3, 3, 1.0, 1.0, n_sim=2, seed=1, methods=("group-means-t",),
                      progress=False)
    assert capsys.readouterr() == ("", "")


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [({"n_sim": 0}, "n_sim"), ({"seed": -1}, "seed"), ({"n_jobs": 0}, "n_jobs"),
     ({"methods": ("normal", "bayes")}, "methods"), ({"n_groups": 0}, "n_groups"),
     ({"group_var": -1.0}, "group_var")],
)
def test_validation_names_the_argument(kwargs, name):
    args = dict(n_groups=3, n_per_group=3, group_var=1.0, resid_var=1.0, n_sim=2, seed=1,
                progress=False, methods=("normal",))
    args.update(kwargs)
    with pytest.raises((TypeError, ValueError), match=name):
        null_pvalue_study(**args)


def test_analysis_validation():
    with pytest.raises(ValueError, match="methods"):
        MixedLMTest("y ~ x", "g", "x", methods=("bogus",))
    with pytest.raises(TypeError, match="term"):
        MixedLMTest("y ~ x", "g", "")
    with pytest.raises(ValueError, match="cov_type"):
        GEETest("y ~ x", "g", "x", cov_type="sandwich")
    with pytest.raises(TypeError, match="analyses"):
        run_study(partial(two_input_design), [], n_sim=1, seed=1)
    with pytest.raises(TypeError, match="design"):
        run_study(None, [GroupMeansTTest("output", "group", "input")], n_sim=1, seed=1)


def test_cache_round_trip_and_key(tmp_path, monkeypatch):
    kw = dict(n_groups=3, n_per_group=4, group_var=1.0, resid_var=1.0, n_sim=4, seed=6,
              progress=False, methods=("normal", "lrt", "fixed-effects"), cache_dir=tmp_path)
    first = null_pvalue_study(**kw)
    files = sorted(p.name for p in tmp_path.iterdir())
    assert len(files) == 2 and files[0].endswith(".csv.gz") and files[1].endswith(".json")

    def fail(*args, **kwargs):
        raise AssertionError("the study should have been loaded from the cache")

    monkeypatch.setattr(study_module, "_run_replicates", fail)
    again = null_pvalue_study(**kw)
    pd.testing.assert_frame_equal(first, again)
    description = json.loads((tmp_path / files[1]).read_text())
    assert description["lmmhelpers_version"] == lmmhelpers.__version__
    assert description["design"]["kwargs"]["n_groups"] == 3
    # another version is another key: the study would run again
    monkeypatch.setattr(lmmhelpers, "__version__", "999")
    with pytest.raises(AssertionError, match="cache"):
        null_pvalue_study(**kw)


def test_load_study_misses_return_none(tmp_path):
    design = partial(two_input_design, n_groups=2)
    desc = study_description(design, [GroupMeansTTest("output", "group", "input")], 3, 1)
    assert load_study(desc, tmp_path) is None


def test_lrt_analysis_checks_nesting():
    res = run_study(partial(two_input_design, n_groups=3, n_per_group=3),
                    [LikelihoodRatioTest("output ~ 1", "output ~ input", "group", TERM)],
                    n_sim=1, seed=1, progress=False)
    assert res.loc[0, "status"] == "error" and "null_formula" in res.loc[0, "message"]


def test_dask_backend_gives_the_same_results():
    distributed = pytest.importorskip(
        "dask.distributed", reason="dask[distributed] is needed for the dask-backend test")
    import joblib

    kw = dict(n_groups=3, n_per_group=4, group_var=1.0, resid_var=1.0, n_sim=6, seed=13,
              progress=False, methods=("normal", "group-means-t"))
    local = null_pvalue_study(**kw)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster), joblib.parallel_config(backend="dask"):
        remote = null_pvalue_study(**kw, n_jobs=-1)
    pd.testing.assert_frame_equal(local, remote)


SWEEPS = ROOT / "data" / "sweeps"


@pytest.mark.skipif(not (SWEEPS / "index.csv").exists(), reason="no committed sweeps yet")
def test_committed_sweep_slice_recomputes_to_the_same_numbers():
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_sweeps",
                                                  ROOT / "scripts" / "make_sweeps.py")
    make_sweeps = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_sweeps)
    index = pd.read_csv(SWEEPS / "index.csv")
    for _, entry in index.iloc[[0, -1]].iterrows():  # one per sweep
        saved = read_study_csv(SWEEPS / entry["file"])
        design, analyses, n_sim, seed = make_sweeps.study_arguments(entry.to_dict())
        replicates = [0, 1, n_sim - 1]
        fresh = run_study(design, analyses, n_sim, seed, replicates=replicates, progress=False)
        old = saved[saved["replicate"].isin(replicates)].reset_index(drop=True)[fresh.columns]
        try:
            pd.testing.assert_frame_equal(fresh.drop(columns=["warnings"]),
                                          old.drop(columns=["warnings"]), rtol=1e-4)
        except AssertionError as exc:
            raise AssertionError(
                f"{entry['file']} no longer matches a recomputation: if the change is "
                "intended, regenerate the sweeps with scripts/make_sweeps.py --force"
            ) from exc
