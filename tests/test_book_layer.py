"""lmmhelpers.book: the book's scenarios and stored studies, each defined once.

The stored studies are checked against their specifications (a slice of each recomputes to the
stored numbers), the loaders fail with a message that says what to do, and the layers keep
their direction: the library never imports the book layer, and chapters import only
documented names.
"""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
from pathlib import Path

import jupytext
import numpy as np
import pandas as pd
import pytest

import lmmhelpers
from lmmhelpers import book
from lmmhelpers.book import group_count as group_count_module
from lmmhelpers.book import repository as repository_module

REPO_ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted(
    p for p in (REPO_ROOT / "chapters").glob("*.md") if "kernelspec:" in p.read_text()
)
SCRIPTS = sorted((REPO_ROOT / "scripts").glob("*.py"))


# --- the layers -----------------------------------------------------------------------------


def test_the_library_never_imports_the_book_layer():
    modules = sorted(p.stem for p in (REPO_ROOT / "lmmhelpers").glob("*.py")
                     if p.stem != "__init__")
    code = ("import sys, importlib; import lmmhelpers; "
            + "; ".join(f"importlib.import_module('lmmhelpers.{m}')" for m in modules)
            + "; print(sorted(m for m in sys.modules if m.startswith('lmmhelpers.book')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=REPO_ROOT, check=True).stdout
    assert out.strip() == "[]", out
    for path in (REPO_ROOT / "lmmhelpers").glob("*.py"):
        imports = re.search(r"^\s*(from|import) lmmhelpers\.book", path.read_text(), re.M)
        assert not imports, f"{path.name} imports the book layer"


def _code_cells(path):
    return [c.source for c in jupytext.read(path).cells if c.cell_type == "code"]


def _second_tier():
    """The modules api.md documents as the second tier (``lmmhelpers.<module>.<name>``)."""
    text = (REPO_ROOT / "api.md").read_text()
    return set(re.findall(r"lmmhelpers\.(\w+)\.\w+", text)) - {"book"}


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_chapters_import_only_documented_names_and_never_scripts(path):
    code = "\n".join(_code_cells(path))
    assert "sys.path" not in code, "a chapter edits sys.path"
    assert "scripts" not in re.sub(r"#.*", "", code), "a chapter reaches into scripts/"
    assert "importlib.util" not in code and "spec_from_file_location" not in code
    assert not re.search(r"\._results\b|__dict__|\b_lmmhelpers_", code), "private names"
    allowed = {"lmmhelpers", "lmmhelpers.book"} | {f"lmmhelpers.{m}" for m in _second_tier()}
    imported = set(re.findall(r"^\s*from (lmmhelpers[\w.]*) import", code, re.M))
    imported |= set(re.findall(r"^\s*import (lmmhelpers[\w.]*)", code, re.M))
    assert imported <= allowed, f"undocumented modules: {sorted(imported - allowed)}"
    for names in re.findall(r"^\s*from lmmhelpers[\w.]* import \(?([^)]*?)\)?$", code,
                            re.M | re.S):
        private = [n for n in re.findall(r"\b\w+\b", names) if n.startswith("_")]
        assert not private, f"private names imported: {private}"


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.stem)
def test_scripts_are_command_line_wrappers_over_the_book_layer(path):
    text = path.read_text()
    assert "from lmmhelpers.book import" in text
    assert "SeedSequence" not in text and "joblib" not in text, "a hand-written seeded loop"
    proc = subprocess.run([sys.executable, str(path), "--help"], capture_output=True, text=True,
                          cwd=REPO_ROOT)
    assert proc.returncode == 0 and proc.stdout.startswith("usage:"), proc.stderr[-2000:]


def test_api_reference_documents_every_name_of_the_book_layer():
    text = (REPO_ROOT / "api.md").read_text()
    pattern = r"^\.\. auto\w+:: lmmhelpers\.book\.(?:\w+\.)?(\w+)\s*$"
    documented = set(re.findall(pattern, text, re.M))
    assert set(book.__all__) <= documented, sorted(set(book.__all__) - documented)


def test_moved_names_left_the_top_level():
    for name in ("reference", "reference_cases", "seed003_table", "null_pvalue_study",
                 "pvalue_study"):
        assert name not in lmmhelpers.__all__
        assert not hasattr(lmmhelpers, name), name
        assert name in book.__all__


# --- the stored studies recompute from their specifications ----------------------------------


def _same_rows(fresh, stored, rtol):
    """Same rows; p-values to ``rtol``, df to 10 ``rtol`` (the stored studies were made by an
    earlier optimizer, which stops within about 1e-5 of the same optimum)."""
    key = ["replicate", "method", "term"]
    a = fresh.sort_values(key).reset_index(drop=True)
    b = stored.sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(a[key + ["status"]], b[key + ["status"]])
    np.testing.assert_allclose(a["p_value"], b["p_value"], rtol=rtol)
    np.testing.assert_allclose(a["df"], b["df"], rtol=10 * rtol)


@pytest.mark.parametrize("name", ["nested", "crossed"])
def test_a_stored_dof_study_regenerates_a_slice_of_its_table(name):
    study = book.dof_studies()[name]
    stored = study.load()
    assert stored.attrs["study"] == study.description()
    replicates = [0, study.n_sim - 1]
    fresh = study.run(replicates=replicates)
    # rtol as tests/test_study.py: the optimum is found to about 1e-5 in p
    _same_rows(fresh, stored[stored["replicate"].isin(replicates)], rtol=1e-4)


def test_every_seed_sweep_is_stored_under_its_specification_and_a_slice_recomputes():
    studies = book.seed_sweeps()
    index = pd.read_csv(REPO_ROOT / "data" / "sweeps" / "index.csv")
    assert list(index["file"]) == [f"study-{s.key()}.csv.gz" for s in studies]
    for study in studies:
        assert len(study.load()) > 0
    study = studies[0]
    fresh = study.run(replicates=[1])
    stored = study.load()
    _same_rows(fresh, stored[stored["replicate"] == 1], rtol=1e-4)


def test_group_count_cells_recompute_to_the_stored_rounded_pvalues():
    index, pvalues = book.load_group_count()
    for cell in (0, int(index.loc[index["sweep"] == "within", "cell"].iloc[0])):
        study = book.group_count_study(index.set_index("cell").loc[cell].to_dict()
                                       | {"cell": cell})
        fresh = book.compact(study.run(replicates=[0, 1]), cell)
        stored = pvalues[(pvalues["cell"] == cell) & (pvalues["replicate"] < 2)]
        both = fresh.merge(stored, on=["replicate", "method", "term"], suffixes=("", "_s"))
        assert len(both) == len(fresh) == len(stored)
        np.testing.assert_allclose(both["p_value"], both["p_value_s"], rtol=1e-3)


def test_crossed_optimizer_and_lrt_studies_regenerate_their_first_rows():
    stored = book.LRT_NULL_STUDY.load()
    fresh = book.LRT_NULL_STUDY.run(replicates=[0, 7])
    np.testing.assert_allclose(fresh["lrt"], stored.set_index("replicate").loc[[0, 7], "lrt"],
                               atol=1e-6)
    opt = book.OPTIMIZER_STUDY.load()
    assert set(opt["optimizer"]) == set(book.OPTIMIZERS)
    condition = book.OPTIMIZER_STUDY.conditions[1][0]
    data = book.OPTIMIZER_STUDY.data(condition, 0)
    live = pd.DataFrame(book.optimizer_rows(data, 0, condition))
    kept = opt[(opt["condition"] == condition) & (opt["dataset"] == 0)]
    np.testing.assert_allclose(live["reml_criterion"], kept["reml_criterion"], atol=1e-3)


# --- loaders say what is missing and what to run ---------------------------------------------


def test_a_missing_stored_study_names_its_key_and_script():
    study = dataclasses.replace(book.dof_studies()["nested"], directory="nowhere")
    with pytest.raises(FileNotFoundError, match=study.key()) as info:
        study.load()
    assert "scripts/make_sweeps_dof.py" in str(info.value)


def test_group_count_loader_fails_clearly_on_missing_or_drifted_files(tmp_path, monkeypatch):
    monkeypatch.setattr(group_count_module, "repository_root", lambda: tmp_path)
    (tmp_path / "data" / "sweeps").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="make_sweeps_group_count.py"):
        book.load_group_count()
    source = REPO_ROOT / "data" / "sweeps"
    index = pd.read_csv(source / "group_count_index.csv")
    (tmp_path / "data" / "sweeps" / "group_count_pvalues.csv.gz").write_bytes(
        (source / "group_count_pvalues.csv.gz").read_bytes())
    index.to_csv(tmp_path / "data" / "sweeps" / "group_count_index.csv", index=False)
    assert len(book.load_group_count()[0]) == len(index)  # a faithful copy loads
    index.loc[3, "seed"] += 1  # a cell made from another specification
    index.to_csv(tmp_path / "data" / "sweeps" / "group_count_index.csv", index=False)
    with pytest.raises(ValueError, match="group_count_cells"):
        book.load_group_count()


def test_crossed_loaders_name_the_script(monkeypatch):
    study = dataclasses.replace(book.LRT_NULL_STUDY, file="nowhere/lrt.csv")
    with pytest.raises(FileNotFoundError, match="--only lrt"):
        study.load()


def test_repository_root_uses_the_environment_for_a_plain_install(tmp_path, monkeypatch):
    installed = tmp_path / "site" / "lmmhelpers" / "book" / "reference.py"
    monkeypatch.setattr(repository_module, "__file__", str(installed))
    monkeypatch.delenv("LMM_BOOK_REPO", raising=False)
    with pytest.raises(FileNotFoundError, match="LMM_BOOK_REPO"):
        book.repository_root()
    monkeypatch.setenv("LMM_BOOK_REPO", str(REPO_ROOT))
    assert book.repository_root() == REPO_ROOT


def test_reference_rejects_an_unknown_case_by_listing_the_cases():
    with pytest.raises(ValueError, match="penicillin"):
        book.reference("no_such_case")


# --- the shared pieces -------------------------------------------------------------------------


def test_run_seeded_rows_do_not_depend_on_n_jobs_or_subsets():
    def draw(i, rng):
        return [{"replicate": i, "x": rng.normal()}]

    one = book.run_seeded(draw, 6, seed=5)
    assert list(one["replicate"]) == list(range(6))
    part = book.run_seeded(draw, 6, seed=5, replicates=[4, 1])
    assert list(part["x"]) == list(one["x"].iloc[[1, 4]])
    with pytest.raises(ValueError, match="replicates"):
        book.run_seeded(draw, 6, seed=5, replicates=[6])


def test_run_seeded_in_workers_matches_one_process():
    one = book.LRT_NULL_STUDY.run(replicates=[2, 3])
    two = book.LRT_NULL_STUDY.run(replicates=[2, 3], n_jobs=2)
    pd.testing.assert_frame_equal(one, two)


def test_two_input_analyses_share_one_fit_and_reject_unknown_methods():
    analyses = book.two_input_analyses(("normal", "satterthwaite", "kenward-roger", "lrt"))
    assert [type(a).__name__ for a in analyses] == ["MixedLMTest", "LikelihoodRatioTest"]
    assert analyses[0].methods == ("normal", "satterthwaite", "kenward-roger")
    with pytest.raises(ValueError, match="methods must be"):
        book.two_input_analyses(("z",))


def test_between_within_rows_refer_the_z_statistic_to_t():
    res = book.null_pvalue_study(3, 5, 1.0, 1.0, n_sim=4, seed=2, methods=("normal",),
                                 progress=False)
    bw = book.between_within_rows(res, 4)
    from scipy import stats

    np.testing.assert_allclose(bw["p_value"], 2 * stats.t.sf(np.abs(res["statistic"]), 4))
    assert (bw["df"] == 4).all() and (bw["method"] == "between-within").all()
    assert book.between_within_df_of(book.dof_studies()["crossed"]) == 6


def test_crossed_lrt_is_zero_or_positive_and_validates_the_component():
    data = book.crossed_one_group(n_subj=8, n_ingroup=3, n_outgroup=3, omega_0=0.0, seed=3)
    statistic, _ = book.crossed_lrt(data, drop="subj")
    assert statistic >= 0
    with pytest.raises(ValueError, match="drop"):
        book.crossed_lrt(data, drop="participant")


def test_time_corrections_renews_the_structure_every_time():
    from lmmhelpers.covariance import structure

    fit = lmmhelpers.fit_mixedlm(book.nested_slopes(100)[1])
    first = structure(fit)
    seconds = book.time_corrections(fit, reps=1)
    assert set(seconds) == {"satterthwaite", "kenward-roger"}
    assert structure(fit) is not first
