"""Tests of lmmhelpers.study.cache and .identity: round trip, keys, fault injection."""

import json
from functools import partial
from pathlib import Path

import pandas as pd
import pytest

import lmmhelpers
from lmmhelpers.simulate import two_input_design
from lmmhelpers.study import (
    GroupMeansTTest,
    load_study,
    null_pvalue_study,
    study_description,
)
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


