"""Tests of lmmhelpers.study.runner: same tables for any n_jobs and backend, recorded failures."""

import warnings
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lmmhelpers import study as study_module
from lmmhelpers.simulate import two_input_design
from lmmhelpers.study import (
    COLUMNS,
    GEETest,
    GroupMeansTTest,
    MixedLMTest,
    null_pvalue_study,
    read_study_csv,
    run_study,
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
