"""Tests of lmmhelpers.study.runner: same tables for any n_jobs and backend, recorded failures."""

import warnings
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lmmhelpers.book import null_pvalue_study, two_input_analyses
from lmmhelpers.simulate import two_input_design
from lmmhelpers.study import (
    COLUMNS,
    GEETest,
    GroupMeansTTest,
    MixedLMTest,
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
    analyses = two_input_analyses(kw["methods"])
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


# --------------------------------------------------------------------------------------------
# one failing replicate never kills the study (issue 11, item 5)
# --------------------------------------------------------------------------------------------

SMALL = partial(two_input_design, n_groups=3, n_per_group=4)
MEANS = GroupMeansTTest("output", "group", "input", term=TERM)
Z = MixedLMTest("output ~ input", "group", TERM, methods=("normal", "satterthwaite"))


def flaky_design(seed, n_groups=3, n_per_group=4):
    """The seed's design, raising for about one data set in four."""
    df = two_input_design(n_groups, n_per_group, seed=seed)
    if seed.integers(4) == 0:
        raise RuntimeError("this draw cannot be built")
    return df


def failing_replicates(n_sim, seed):
    """The replicates flaky_design fails on, by replaying its seeds."""
    children = np.random.SeedSequence(seed).spawn(n_sim)
    bad = []
    for i, child in enumerate(children):
        rng = np.random.default_rng(child)
        two_input_design(3, 4, seed=rng)
        if rng.integers(4) == 0:
            bad.append(i)
    return bad


@dataclass(frozen=True)
class Picky:
    """A user's analysis: raises on replicates whose first response is negative."""

    method: str = "picky"
    term: str = TERM

    def run(self, replicate):
        y = replicate.data["output"].iloc[0]
        if y < 0:
            raise ArithmeticError(f"negative first response {y:.3f}")
        return [{"method": self.method, "term": self.term, "p_value": 0.5, "status": "ok"}]


@dataclass(frozen=True)
class Returns:
    """A user's analysis returning given rows (or nothing) on every replicate."""

    rows: tuple = ()
    method: str = "custom"

    def run(self, replicate):
        return [dict(r) for r in self.rows]


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_a_design_failure_is_one_error_row_per_label_and_counted(n_jobs):
    n_sim, seed = 16, 5
    bad = failing_replicates(n_sim, seed)
    assert 0 < len(bad) < n_sim  # the test needs both kinds
    res = run_study(flaky_design, [Z, MEANS], n_sim=n_sim, seed=seed, n_jobs=n_jobs,
                    progress=False)
    assert len(res) == n_sim * 3  # every replicate keeps its three rows
    failed = res[res["status"] == "error"]
    assert sorted(failed["replicate"].unique()) == bad
    assert failed["message"].str.startswith("design failed: RuntimeError: this draw").all()
    assert failed["p_value"].isna().all()
    counts = rejection_rate(res).set_index("method")
    for method in ("normal", "satterthwaite", "group-means-t"):
        assert counts.loc[method, "n"] == n_sim
        assert counts.loc[method, "n_error"] == len(bad)
        assert counts.loc[method, "n_valid"] == n_sim - len(bad)


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_an_exception_in_a_custom_run_is_an_error_row_naming_the_analysis(n_jobs):
    res = run_study(SMALL, [Picky(), MEANS], n_sim=12, seed=3, n_jobs=n_jobs, progress=False)
    assert len(res) == 24
    picky = res[res["method"] == "picky"].set_index("replicate")
    raised = picky["status"] == "error"
    assert 0 < raised.sum() < 12
    assert picky.loc[raised, "message"].str.contains(
        "Picky.run failed: ArithmeticError: negative first response").all()
    assert (picky.loc[~raised, "p_value"] == 0.5).all()
    assert (res.loc[res["method"] == "group-means-t", "status"] == "ok").all()
    assert rejection_rate(res).set_index("method").loc["picky", "n_error"] == raised.sum()


def test_an_analysis_returning_no_rows_gives_an_error_row_naming_it():
    res = run_study(SMALL, [Returns(), MEANS], n_sim=3, seed=1, progress=False)
    empty = res[res["method"] == "custom"]
    assert list(empty["replicate"]) == [0, 1, 2]  # no replicate vanishes
    assert (empty["status"] == "error").all()
    assert empty["message"].str.contains("Returns.run returned no rows").all()
    assert rejection_rate(res).set_index("method").loc["custom", "n_error"] == 3


@pytest.mark.parametrize(
    ("row", "reason"),
    [({"method": "m", "term": "t", "p_value": 1.5}, "p_value 1.5 is outside"),
     ({"method": "m", "term": "t", "p_value": -0.1}, "outside \\[0, 1\\]"),
     ({"method": "m", "term": "t", "p_value": 0.2, "power": 0.8}, "unknown columns \\['power'\\]"),
     ({"method": "m", "term": "t", "status": "fine"}, "status must be one of"),
     ({"method": "m", "term": "t", "p_value": "0.2"}, "p_value must be a number"),
     ({"term": "t", "p_value": 0.2}, "method must be a non-empty str")],
)
def test_invalid_rows_become_error_rows_saying_why(row, reason):
    res = run_study(SMALL, [Returns(rows=(row,))], n_sim=2, seed=1, progress=False)
    assert len(res) == 2 and (res["status"] == "error").all()
    assert res["message"].str.contains(reason).all()
    assert res["p_value"].isna().all()


def test_valid_custom_rows_are_kept_as_returned():
    rows = ({"method": "m", "term": "t", "p_value": 0.25, "estimate": 1.0, "converged": True},
            {"method": "m", "term": "u", "p_value": float("nan"), "status": "not applicable"})
    res = run_study(SMALL, [Returns(rows=rows)], n_sim=2, seed=1, progress=False)
    assert res[["term", "p_value", "status"]].fillna(-1).values.tolist() == [
        ["t", 0.25, "ok"], ["u", -1, "not applicable"]] * 2


class _Switch:
    """Raises KeyboardInterrupt at the ``at``-th call of the design (not plain data: not keyed)."""

    def __init__(self):
        self.at, self.calls, self.error = None, 0, KeyboardInterrupt


SWITCH = _Switch()


def interruptible_design(seed):
    SWITCH.calls += 1
    if SWITCH.at is not None and SWITCH.calls == SWITCH.at:
        raise SWITCH.error
    return two_input_design(3, 4, seed=seed)


def test_an_interrupted_study_keeps_and_resumes_its_finished_replicates(tmp_path):
    from lmmhelpers.study import StudyInterrupted

    whole = run_study(interruptible_design, [MEANS], n_sim=10, seed=2, progress=False)
    SWITCH.at, SWITCH.calls = 6, 0
    with pytest.raises(StudyInterrupted, match="5 finished replicates") as info:
        run_study(interruptible_design, [MEANS], n_sim=10, seed=2, progress=False,
                  batch_size=1, cache_dir=tmp_path)
    assert isinstance(info.value, KeyboardInterrupt)  # Ctrl-C still stops a script
    partial_table = info.value.results
    assert partial_table.attrs["partial"] is True
    pd.testing.assert_frame_equal(partial_table, whole.iloc[:5])
    assert info.value.path is not None and info.value.path.exists()
    # the next run computes only the five missing replicates, and gives the whole study
    SWITCH.at, SWITCH.calls = None, 0
    resumed = run_study(interruptible_design, [MEANS], n_sim=10, seed=2, progress=False,
                        cache_dir=tmp_path)
    assert SWITCH.calls == 5
    pd.testing.assert_frame_equal(resumed, whole)
    assert not list(tmp_path.glob("*.partial.*"))  # the partial files are gone


def test_an_interrupted_study_without_cache_returns_its_rows_in_the_exception():
    from lmmhelpers.study import StudyInterrupted

    SWITCH.at, SWITCH.calls = 3, 0
    try:
        with pytest.raises(StudyInterrupted, match="in this exception's .results") as info:
            run_study(interruptible_design, [MEANS], n_sim=6, seed=2, progress=False,
                      batch_size=1)
    finally:
        SWITCH.at = None
    assert sorted(info.value.results["replicate"]) == [0, 1]


def test_a_dying_worker_keeps_the_finished_replicates_in_the_cache(tmp_path):
    """An exception that escapes the replicate (SystemExit here, a killed worker in life)."""
    whole = run_study(interruptible_design, [MEANS], n_sim=6, seed=4, progress=False)
    SWITCH.at, SWITCH.calls, SWITCH.error = 4, 0, SystemExit
    try:
        with pytest.raises(SystemExit) as info:
            run_study(interruptible_design, [MEANS], n_sim=6, seed=4, progress=False,
                      batch_size=1, cache_dir=tmp_path)
    finally:
        SWITCH.at, SWITCH.error = None, KeyboardInterrupt
    if hasattr(info.value, "__notes__"):
        assert "rerun with the same cache_dir to resume" in info.value.__notes__[0]
    SWITCH.calls = 0
    resumed = run_study(interruptible_design, [MEANS], n_sim=6, seed=4, progress=False,
                        cache_dir=tmp_path)
    assert SWITCH.calls == 3  # replicates 0-2 came from the partial study
    pd.testing.assert_frame_equal(resumed, whole)


# --------------------------------------------------------------------------------------------
# property: the same seed gives the same table for any n_jobs and joblib backend
# --------------------------------------------------------------------------------------------


@settings(max_examples=4, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), n_sim=st.integers(1, 9),
       batch_size=st.one_of(st.none(), st.integers(1, 4)))
def test_same_seed_same_table_for_any_n_jobs_and_backend(seed, n_sim, batch_size):
    import joblib

    analyses = [Z, MEANS, Picky()]
    kw = dict(n_sim=n_sim, seed=seed, progress=False, batch_size=batch_size)
    reference = run_study(flaky_design, analyses, n_jobs=1, **kw)
    assert len(reference) == n_sim * 4
    pd.testing.assert_frame_equal(run_study(flaky_design, analyses, n_jobs=2, **kw), reference)
    for backend in ("loky", "threading"):
        with joblib.parallel_config(backend=backend):
            other = run_study(flaky_design, analyses, n_jobs=2, **kw)
        pd.testing.assert_frame_equal(other, reference, obj=f"backend {backend}")


def test_dask_backend_records_the_same_failures():
    distributed = pytest.importorskip(
        "dask.distributed", reason="dask[distributed] is needed for the dask-backend test")
    import joblib

    analyses = [Z, MEANS, Picky()]
    local = run_study(flaky_design, analyses, n_sim=8, seed=17, progress=False)
    assert (local["status"] == "error").any()
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster), joblib.parallel_config(backend="dask"):
        remote = run_study(flaky_design, analyses, n_sim=8, seed=17, progress=False, n_jobs=None)
    pd.testing.assert_frame_equal(local, remote)


# -- issue 21, class 5: a cache that cannot be written loses nothing --------------------------
def _no_space(path, data):
    import errno

    raise OSError(errno.ENOSPC, "No space left on device", str(path))


def _read_only(*args, **kwargs):
    import errno

    raise PermissionError(errno.EACCES, "Permission denied", kwargs.get("dir", ""))


@pytest.mark.parametrize("fault", ["file", "read-only", "disk-full"])
def test_an_unwritable_cache_returns_the_results_and_stores_them_later(tmp_path, monkeypatch,
                                                                       fault):
    from lmmhelpers.study import StudyCacheWarning
    from lmmhelpers.study import cache as cache_module
    from lmmhelpers.study import runner as runner_module

    whole = run_study(interruptible_design, [MEANS], n_sim=6, seed=5, progress=False)
    directory = tmp_path / "cache"
    if fault == "file":
        directory.write_text("not a directory")
    else:
        monkeypatch.setattr(cache_module, "_atomic_write", _no_space)
        if fault == "read-only":
            monkeypatch.setattr(runner_module.tempfile, "mkstemp", _read_only)
    SWITCH.calls = 0
    with pytest.warns(StudyCacheWarning, match=f"study cache {directory} cannot be written"):
        got = run_study(interruptible_design, [MEANS], n_sim=6, seed=5, progress=False,
                        cache_dir=directory)
    assert SWITCH.calls == 6
    pd.testing.assert_frame_equal(got, whole)
    # the cache becomes writable: the next call stores the results without recomputing them
    monkeypatch.undo()
    if fault == "file":
        directory.unlink()
    SWITCH.calls = 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = run_study(interruptible_design, [MEANS], n_sim=6, seed=5, progress=False,
                          cache_dir=directory)
    assert SWITCH.calls == 0
    pd.testing.assert_frame_equal(again, whole)
    assert len(list(directory.glob("study-*.csv.gz"))) == 1
    SWITCH.calls = 0
    loaded = run_study(interruptible_design, [MEANS], n_sim=6, seed=5, progress=False,
                       cache_dir=directory)
    assert SWITCH.calls == 0
    pd.testing.assert_frame_equal(loaded, whole)


def test_an_unwritable_cache_is_named_before_the_study_runs(tmp_path, monkeypatch):
    from lmmhelpers.study import StudyCacheWarning
    from lmmhelpers.study import runner as runner_module

    monkeypatch.setattr(runner_module.tempfile, "mkstemp", _read_only)
    SWITCH.calls = 0
    seen = []

    def record(message, *args, **kwargs):
        seen.append((str(message), SWITCH.calls))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        monkeypatch.setattr(warnings, "showwarning", record)
        warnings.simplefilter("always", StudyCacheWarning)
        run_study(interruptible_design, [MEANS], n_sim=4, seed=5, progress=False,
                  cache_dir=tmp_path / "ro")
    assert seen and seen[0][1] == 0  # the first warning came before the first replicate
    assert "before running the study" in seen[0][0]


def test_an_interrupted_study_with_an_unwritable_cache_still_returns_its_rows(tmp_path,
                                                                              monkeypatch):
    from lmmhelpers.study import StudyCacheWarning, StudyInterrupted
    from lmmhelpers.study import cache as cache_module

    monkeypatch.setattr(cache_module, "_atomic_write", _no_space)
    SWITCH.at, SWITCH.calls = 4, 0
    try:
        with pytest.warns(StudyCacheWarning, match="No space left"):
            with pytest.raises(StudyInterrupted, match="in this exception's .results") as info:
                run_study(interruptible_design, [MEANS], n_sim=6, seed=2, progress=False,
                          batch_size=1, cache_dir=tmp_path)
    finally:
        SWITCH.at = None
    assert sorted(info.value.results["replicate"]) == [0, 1, 2]


def test_finished_replicates_reach_the_disk_while_the_study_runs(tmp_path, monkeypatch):
    from lmmhelpers.study import runner as runner_module

    monkeypatch.setattr(runner_module, "CHECKPOINT_SECONDS", 0.0)
    seen = []
    original = runner_module._run_replicates

    def spy(design, analyses, jobs):
        seen.append(len(list(tmp_path.glob("*.partial.csv.gz"))))
        return original(design, analyses, jobs)

    monkeypatch.setattr(runner_module, "_run_replicates", spy)
    whole = run_study(interruptible_design, [MEANS], n_sim=5, seed=2, progress=False,
                      batch_size=1, cache_dir=tmp_path)
    assert seen == [0, 1, 1, 1, 1]  # a partial study exists from the second batch on
    assert not list(tmp_path.glob("*.partial.*"))  # and is gone once the study is stored
    assert sorted(whole["replicate"].unique()) == list(range(5))
