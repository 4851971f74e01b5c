"""Tests of lmmhelpers.study.identity: a study's key follows the code it runs.

From the user's side: redefine a design (in a module, a notebook, a lambda) and the next run
with the same cache directory must compute fresh results, never return the old ones.
"""

import importlib
import sys
import textwrap
from functools import partial

import numpy as np
import pandas as pd
import pytest

from lmmhelpers.simulate import two_input_design
from lmmhelpers.study import (
    GroupMeansTTest,
    MixedLMTest,
    run_study,
    study_description,
    study_key,
)

TERM = "input[T.input_1]"
TESTS = [GroupMeansTTest("output", "group", "input", term=TERM)]


def _key(design, analyses=TESTS):
    return study_key(study_description(design, analyses, 4, 1))


def _module(tmp_path, name, body):
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(body))
    sys.path.insert(0, str(tmp_path))
    try:
        importlib.invalidate_caches()
        if name in sys.modules:
            return importlib.reload(sys.modules[name])
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(tmp_path))


def test_an_edited_module_function_is_recomputed(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    source = """
        from lmmhelpers.simulate import two_input_design

        def my_design(seed):
            return two_input_design(3, 4, effect={effect}, seed=seed)
        """
    first = _module(tmp_path, "user_design_edit", source.format(effect=0.0))
    cache = tmp_path / "cache"
    old = run_study(first.my_design, TESTS, n_sim=4, seed=1, progress=False, cache_dir=cache)
    edited = _module(tmp_path, "user_design_edit", source.format(effect=50.0))
    new = run_study(edited.my_design, TESTS, n_sim=4, seed=1, progress=False, cache_dir=cache)
    assert (new["estimate"] - old["estimate"]).abs().min() > 20  # fresh, not the old table
    assert len(list(cache.glob("*.csv.gz"))) == 2
    sys.modules.pop("user_design_edit", None)


def test_a_docstring_edit_keeps_the_key_a_code_edit_changes_it(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "dont_write_bytecode", True)  # no .pyc of the same second
    source = """
        from lmmhelpers.simulate import two_input_design

        def my_design(seed):
            \"\"\"{doc}\"\"\"
            return two_input_design(3, 4, effect={effect}, seed=seed)
        """
    keys = {}
    cases = [("First words.", 0.0), ("Other, longer words.", 0.0), ("First words.", 1.0)]
    for doc, effect in cases:
        module = _module(tmp_path, "user_design_doc", source.format(doc=doc, effect=effect))
        keys[doc, effect] = _key(module.my_design)
    sys.modules.pop("user_design_doc", None)
    assert keys["First words.", 0.0] == keys["Other, longer words.", 0.0]
    assert keys["First words.", 0.0] != keys["First words.", 1.0]


def test_two_lambdas_never_share_results(tmp_path):
    a = lambda seed: two_input_design(3, 4, seed=seed)  # noqa: E731
    b = lambda seed: two_input_design(3, 4, effect=50.0, seed=seed)  # noqa: E731
    assert _key(a) != _key(b)
    first = run_study(a, TESTS, n_sim=4, seed=1, progress=False, cache_dir=tmp_path)
    second = run_study(b, TESTS, n_sim=4, seed=1, progress=False, cache_dir=tmp_path)
    assert (second["estimate"] - first["estimate"]).abs().min() > 20


def test_a_redefined_notebook_function_is_recomputed(tmp_path):
    """What a notebook does: the same name defined again by executing a new cell."""
    namespace = {"two_input_design": two_input_design, "__name__": "__main__"}
    exec("def design(seed):\n    return two_input_design(3, 4, seed=seed)\n", namespace)
    first = namespace["design"]
    exec("def design(seed):\n    return two_input_design(3, 4, effect=9.0, seed=seed)\n",
         namespace)
    second = namespace["design"]
    assert _key(first) != _key(second)
    old = run_study(first, TESTS, n_sim=3, seed=2, progress=False, cache_dir=tmp_path)
    new = run_study(second, TESTS, n_sim=3, seed=2, progress=False, cache_dir=tmp_path)
    assert not np.allclose(old["estimate"], new["estimate"])


def test_closure_values_and_global_constants_are_part_of_the_key():
    def factory(effect):
        return lambda seed: two_input_design(3, 4, effect=effect, seed=seed)

    assert _key(factory(0.0)) != _key(factory(1.0))
    assert _key(factory(1.0)) == _key(factory(1.0))
    namespace = {"two_input_design": two_input_design, "N": 3, "__name__": "nb"}
    exec("def design(seed):\n    return two_input_design(N, 4, seed=seed)\n", namespace)
    with_three = _key(namespace["design"])
    namespace["N"] = 5  # the notebook changes a constant the design reads
    assert _key(namespace["design"]) != with_three


def test_a_closure_that_cannot_be_described_is_refused_naming_design(tmp_path):
    template = pd.DataFrame({"x": [1, 2]})

    def design(seed):
        return two_input_design(3, 4, seed=seed).assign(extra=len(template))

    with pytest.raises(TypeError, match="design cannot be described.*'template'"):
        run_study(design, TESTS, n_sim=2, seed=1, progress=False, cache_dir=tmp_path)
    # without a cache the study runs
    assert len(run_study(design, TESTS, n_sim=2, seed=1, progress=False)) == 2


def test_helpers_of_the_same_module_are_followed(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    source = """
        from lmmhelpers.simulate import two_input_design

        def shift():
            return {shift}

        def my_design(seed):
            return two_input_design(3, 4, seed=seed).assign(output=lambda d: d.output + shift())
        """
    first = _module(tmp_path, "user_design_helper", source.format(shift=0.0))
    key = _key(first.my_design)
    second = _module(tmp_path, "user_design_helper", source.format(shift=1.0))
    assert _key(second.my_design) != key
    sys.modules.pop("user_design_helper", None)


def test_an_edited_analysis_class_changes_the_key():
    from dataclasses import dataclass

    from lmmhelpers.study import Analysis

    def make(p):
        @dataclass(frozen=True)
        class Constant(Analysis):
            def labels(self):
                return [("constant", "x")]

            def compute(self, replicate, fits, label):
                return {"p_value": p}

        return Constant()

    design = partial(two_input_design, n_groups=3, n_per_group=4)
    assert _key(design, [make(0.5)]) != _key(design, [make(0.25)])


def test_the_key_does_not_depend_on_the_process():
    """Source digests: the same key in a fresh interpreter (string hashing is randomised)."""
    import subprocess

    code = ("from functools import partial\n"
            "from lmmhelpers.simulate import two_input_design\n"
            "from lmmhelpers.study import MixedLMTest, study_description, study_key\n"
            "d = partial(two_input_design, n_groups=3)\n"
            "a = [MixedLMTest('output ~ input', 'group', 'x', methods=('normal',))]\n"
            "print(study_key(study_description(d, a, 4, 1)))\n")
    keys = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True, env={**__import__("os").environ,
                                            "PYTHONHASHSEED": str(s)}).stdout.strip()
            for s in (1, 2)}
    here = _key(partial(two_input_design, n_groups=3),
                [MixedLMTest("output ~ input", "group", "x", methods=("normal",))])
    assert keys == {here}
