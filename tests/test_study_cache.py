"""Tests of lmmhelpers.study.cache: round trip, atomic writes, fault injection.

Every fault is injected into the files of a saved study, then the user's next call must either
recompute the study correctly (with a StudyCacheWarning naming the file and the reason) or
raise an error naming the file; never load a damaged or foreign table silently.
"""

import gzip
import json
import os
import warnings
from functools import partial
from pathlib import Path

import pandas as pd
import pytest

import lmmhelpers
from lmmhelpers.book import null_pvalue_study
from lmmhelpers.simulate import two_input_design
from lmmhelpers.study import (
    GroupMeansTTest,
    StudyCacheWarning,
    StudyFileError,
    load_study,
    read_study_csv,
    run_study,
    save_study,
    study_description,
    study_key,
)
from lmmhelpers.study import cache as cache_module
from lmmhelpers.study import runner as runner_module

TERM = "input[T.input_1]"
ROOT = Path(__file__).resolve().parents[1]


def test_cache_round_trip_and_key(tmp_path, monkeypatch):
    kw = dict(n_groups=3, n_per_group=4, group_var=1.0, resid_var=1.0, n_sim=4, seed=6,
              progress=False, methods=("normal", "lrt", "fixed-effects"), cache_dir=tmp_path)
    first = null_pvalue_study(**kw)
    files = sorted(p.name for p in tmp_path.iterdir())
    assert len(files) == 2 and files[0].endswith(".csv.gz") and files[1].endswith(".json")

    def fail(*args, **kwargs):
        raise AssertionError("the study should have been loaded from the cache")

    monkeypatch.setattr(runner_module, "_run_replicates", fail)
    again = null_pvalue_study(**kw)
    pd.testing.assert_frame_equal(first, again)
    description = json.loads((tmp_path / files[1]).read_text())["description"]
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




# --------------------------------------------------------------------------------------------
# fault injection
# --------------------------------------------------------------------------------------------

DESIGN = partial(two_input_design, n_groups=3, n_per_group=4)
TESTS = [GroupMeansTTest("output", "group", "input", term=TERM)]
N_SIM, SEED = 20, 9


@pytest.fixture(scope="module")
def fresh():
    """The study computed without any cache: what every recomputation must give."""
    return run_study(DESIGN, TESTS, N_SIM, SEED, progress=False)


def _files(directory, seed=SEED):
    key = study_key(study_description(DESIGN, TESTS, N_SIM, seed))
    return directory / f"study-{key}.csv.gz", directory / f"study-{key}.json"


def _saved(directory):
    run_study(DESIGN, TESTS, N_SIM, SEED, progress=False, cache_dir=directory)
    return _files(directory)


def _lines(path):
    return gzip.decompress(path.read_bytes()).decode().splitlines(keepends=True)


def _write_gzip(path, text):
    path.write_bytes(gzip.compress(text.encode(), mtime=0))


def _recomputes(directory, fresh, path, reason):
    """The next run warns about ``path`` and ``reason``, recomputes, and repairs the cache."""
    with pytest.warns(StudyCacheWarning, match=reason) as record:
        again = run_study(DESIGN, TESTS, N_SIM, SEED, progress=False, cache_dir=directory)
    assert any(str(path) in str(w.message) for w in record), "the warning names the file"
    pd.testing.assert_frame_equal(again, fresh)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # repaired: loads cleanly now
        loaded = load_study(study_description(DESIGN, TESTS, N_SIM, SEED), directory)
    pd.testing.assert_frame_equal(loaded, fresh)


def test_gzip_truncated_at_a_line_boundary_is_recomputed(tmp_path, fresh):
    csv, _ = _saved(tmp_path)
    _write_gzip(csv, "".join(_lines(csv)[:11]))  # header and 10 of 20 rows, a valid gzip
    assert len(read_study_csv(csv)) == 10  # readable: only the checksum can tell
    _recomputes(tmp_path, fresh, csv, "checksum")


def test_gzip_cut_in_half_is_recomputed_and_never_a_bare_eoferror(tmp_path, fresh):
    csv, _ = _saved(tmp_path)
    data = csv.read_bytes()
    csv.write_bytes(data[: len(data) // 2])
    with pytest.raises(StudyFileError, match=str(csv)):
        read_study_csv(csv)
    _recomputes(tmp_path, fresh, csv, "checksum")


def test_half_a_row_is_recomputed(tmp_path, fresh):
    csv, _ = _saved(tmp_path)
    lines = _lines(csv)
    _write_gzip(csv, "".join(lines[:-1]) + lines[-1][: len(lines[-1]) // 2])
    _recomputes(tmp_path, fresh, csv, "checksum")


def test_a_table_whose_checksum_was_recomputed_but_rows_lost_is_caught(tmp_path, fresh):
    csv, js = _saved(tmp_path)
    _write_gzip(csv, "".join(_lines(csv)[:11]))
    record = json.loads(js.read_text())
    record["sha256"] = __import__("hashlib").sha256(csv.read_bytes()).hexdigest()
    js.write_text(json.dumps(record))
    _recomputes(tmp_path, fresh, csv, "10 rows, the description records 20")


def test_another_studys_files_under_the_key_are_recomputed(tmp_path, fresh):
    csv, js = _saved(tmp_path)
    other = tmp_path / "other"
    run_study(DESIGN, TESTS, N_SIM, SEED + 1, progress=False, cache_dir=other)
    other_csv, other_js = _files(other, seed=SEED + 1)
    os.replace(other_csv, csv)
    os.replace(other_js, js)  # a consistent pair, of another study
    _recomputes(tmp_path, fresh, csv, "stored description differs")


def test_another_studys_table_under_the_key_is_recomputed(tmp_path, fresh):
    csv, _ = _saved(tmp_path)
    other = tmp_path / "other"
    run_study(DESIGN, TESTS, N_SIM, SEED + 1, progress=False, cache_dir=other)
    os.replace(_files(other, seed=SEED + 1)[0], csv)
    _recomputes(tmp_path, fresh, csv, "checksum")


def test_an_edited_description_is_recomputed(tmp_path, fresh):
    csv, js = _saved(tmp_path)
    record = json.loads(js.read_text())
    record["description"]["n_sim"] = 10
    js.write_text(json.dumps(record))
    _recomputes(tmp_path, fresh, csv, "stored description differs")


def test_an_edited_table_is_recomputed(tmp_path, fresh):
    csv, _ = _saved(tmp_path)
    lines = _lines(csv)
    lines[3] = lines[3].replace(",ok,", ",error,")
    _write_gzip(csv, "".join(lines))
    _recomputes(tmp_path, fresh, csv, "checksum")


@pytest.mark.parametrize("damage", ["missing", "garbage", "old format"])
def test_a_missing_or_unreadable_description_is_recomputed(tmp_path, fresh, damage):
    csv, js = _saved(tmp_path)
    if damage == "missing":
        js.unlink()
    elif damage == "garbage":
        js.write_text("{not json")
    else:
        js.write_text(json.dumps(json.loads(js.read_text())["description"]))
    _recomputes(tmp_path, fresh, csv, "description file")


def test_a_table_missing_beside_its_description_is_recomputed(tmp_path, fresh):
    csv, js = _saved(tmp_path)
    csv.unlink()
    _recomputes(tmp_path, fresh, js, "is missing")


def test_a_kill_during_the_table_write_leaves_no_file_under_the_key(tmp_path, fresh,
                                                                      monkeypatch):
    def killed(src, dst):
        raise KeyboardInterrupt  # the process dies before the rename

    monkeypatch.setattr(cache_module.os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        save_study(fresh, study_description(DESIGN, TESTS, N_SIM, SEED), tmp_path)
    monkeypatch.undo()
    assert list(tmp_path.iterdir()) == []  # neither a half table nor a temporary file
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = run_study(DESIGN, TESTS, N_SIM, SEED, progress=False, cache_dir=tmp_path)
    pd.testing.assert_frame_equal(again, fresh)


def test_a_kill_between_the_two_renames_is_detected(tmp_path, fresh, monkeypatch):
    csv, js = _saved(tmp_path)
    description = study_description(DESIGN, TESTS, N_SIM, SEED)
    other = run_study(DESIGN, TESTS, N_SIM, SEED + 1, progress=False)
    calls = []
    real = os.replace

    def second_fails(src, dst):
        calls.append(dst)
        if len(calls) == 2:
            raise KeyboardInterrupt
        real(src, dst)

    monkeypatch.setattr(cache_module.os, "replace", second_fails)
    with pytest.raises(KeyboardInterrupt):
        save_study(other, description, tmp_path)  # new table, old description
    monkeypatch.undo()
    _recomputes(tmp_path, fresh, csv, "checksum")


def test_leftovers_of_a_killed_writer_are_ignored(tmp_path, fresh):
    csv, js = _files(tmp_path)
    tmp_path.mkdir(exist_ok=True)
    (tmp_path / f".{csv.name}.abc123.tmp").write_bytes(b"\x1f\x8b half a gzip")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing under the key: a plain miss
        again = run_study(DESIGN, TESTS, N_SIM, SEED, progress=False, cache_dir=tmp_path)
    pd.testing.assert_frame_equal(again, fresh)
    # a writer without atomic renames, killed mid-table: half a file under the key, no json
    data = csv.read_bytes()
    js.unlink()
    csv.write_bytes(data[: len(data) // 3])
    _recomputes(tmp_path, fresh, csv, "description file")


def test_a_file_that_is_not_a_study_table_names_the_file(tmp_path):
    bad = tmp_path / "study-x.csv.gz"
    _write_gzip(bad, "a,b\n1,2\n")
    with pytest.raises(StudyFileError, match="study-x.csv.gz.*missing columns"):
        read_study_csv(bad)
    with pytest.raises(FileNotFoundError):
        read_study_csv(tmp_path / "absent.csv.gz")


def test_saved_bytes_do_not_depend_on_when_they_were_written(tmp_path, fresh):
    description = study_description(DESIGN, TESTS, N_SIM, SEED)
    first = save_study(fresh, description, tmp_path / "a").read_bytes()
    second = save_study(fresh, description, tmp_path / "b").read_bytes()
    assert first == second


# --------------------------------------------------------------------------------------------
# the committed studies load under today's keys
# --------------------------------------------------------------------------------------------

@pytest.mark.skipif(not (ROOT / "data" / "sweeps" / "index.csv").exists(),
                    reason="no committed sweeps")
def test_committed_studies_load_checked_under_their_current_keys():
    """Every committed full-table study loads under its specification's key with its checksum
    and row count verified. If this fails after a change of code the key covers, re-key or
    regenerate them (scripts/make_sweeps.py, scripts/make_sweeps_dof.py)."""
    from lmmhelpers.book import dof_studies, seed_sweeps

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a damaged or mismatched file warns: fail
        for study in seed_sweeps() + list(dof_studies().values()):
            table = study.load()
            assert table["replicate"].nunique() == study.n_sim, study.name


def test_rekey_moves_a_study_whose_code_digest_changed(tmp_path, fresh):
    from lmmhelpers.study.cache import rekey_study

    old = study_description(DESIGN, TESTS, N_SIM, SEED)
    csv = save_study(fresh, old, tmp_path)
    new = json.loads(json.dumps(old))
    new["design"]["code"] = "0" * 16  # as after a refactoring of the design function
    moved = rekey_study(csv, new)
    assert not csv.exists() and moved.name == f"study-{study_key(new)}.csv.gz"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pd.testing.assert_frame_equal(load_study(new, tmp_path), fresh)
    other = json.loads(json.dumps(new))
    other["seed"] = SEED + 1  # not a code change: refused, naming the file
    with pytest.raises(StudyFileError, match=f"{moved}.*more than the code digests"):
        rekey_study(moved, other)
    moved.write_bytes(moved.read_bytes()[:100])
    with pytest.raises(StudyFileError, match="checksum"):
        rekey_study(moved, new)
