"""The null-p-value chapter: the question's design as stored studies, and the question's code.

The chapter ("The null-p-value puzzle") reads two kinds of stored data, both made by
``scripts/make_null_pvalues.py`` and kept under ``data/sweeps/null_pvalues/``:

:func:`null_pvalues_studies`
    Two :class:`~lmmhelpers.book.StoredStudy` objects: the question's design (2 inputs × 10
    groups × 20 samples, no input effect) with the question's labels and with correct labels,
    each analysed four ways from one REML fit per replicate (z, Satterthwaite, Kenward-Roger)
    and by the two-sample t test on the group means.
:data:`QUESTION_CODE_RUN`
    The question's own code (statsmodels' default ``MixedLM.fit`` on the question's labels,
    NumPy's legacy global generator seeded once), run for many iterations: its p-values and
    the warnings of each fit. :meth:`QuestionCodeRun.run` is the same loop as a function,
    drawing from ``numpy.random.RandomState(seed)``, whose stream is the one
    ``np.random.seed(seed)`` gives the question's code.

It also holds a small formula of the chapter, :func:`mislabel_variances` (why the
question's labels halve the variance of the input difference); the exact level of the z test
in the balanced design is :func:`lmmhelpers.book.group_count.z_level`.
"""

from __future__ import annotations

import functools
import json
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from lmmhelpers._validation import check_int, check_real, check_seed
from lmmhelpers.book.repository import repository_root
from lmmhelpers.book.scenarios import two_input_analyses
from lmmhelpers.book.studies import StoredStudy
from lmmhelpers.simulate import two_input_design

__all__ = [
    "NULL_PVALUES_METHODS",
    "QUESTION_CODE_RUN",
    "QuestionCodeRun",
    "mislabel_variances",
    "null_pvalues_studies",
]

#: The analyses of the chapter's stored studies, statsmodels' z test, Satterthwaite's and
#: Kenward-Roger's t tests (one REML fit) and the two-sample t test on the group means.
NULL_PVALUES_METHODS = ("normal", "satterthwaite", "kenward-roger", "group-means-t")

_DIRECTORY = "sweeps/null_pvalues"
_SCRIPT = "scripts/make_null_pvalues.py"


def null_pvalues_studies():
    """The chapter's two stored studies: the question's design, its labels and correct ones.

    Both draw :func:`lmmhelpers.two_input_design` with 10 groups of 20 samples per input,
    ``group_var = resid_var = 1`` and no input effect, 4,000 replicates each (enough for a
    95 % Wilson half-width below 0.01 at a 5 % rate), seeded 5100 and 5101. Stored in
    ``data/sweeps/null_pvalues/`` by ``scripts/make_null_pvalues.py``.

    Returns
    -------
    dict of StoredStudy
        ``"question"`` (the question's labels, ``labels="seed"``) and ``"correct"``;
        ``info["labels"]`` holds the labelling.

    Examples
    --------
    >>> studies = null_pvalues_studies()
    >>> {name: (s.n_sim, s.design.keywords["labels"]) for name, s in studies.items()}
    {'question': (4000, 'seed'), 'correct': (4000, 'correct')}
    >>> table = studies["correct"].run(replicates=[0])
    >>> sorted(table["method"]) == sorted(NULL_PVALUES_METHODS)
    True
    """
    out = {}
    for k, (name, labels) in enumerate((("question", "seed"), ("correct", "correct"))):
        design = functools.partial(two_input_design, n_groups=10, n_per_group=20,
                                   group_var=1.0, resid_var=1.0, effect=0.0, labels=labels,
                                   missing=0.0)
        out[name] = StoredStudy(name, design, tuple(two_input_analyses(NULL_PVALUES_METHODS)),
                                4000, 5100 + k, _DIRECTORY,
                                {"labels": labels, "script": _SCRIPT})
    return out


def _question_data(num_groups, num_samples_per_group):
    """The question's data frame: inputs and (mislabelled) groups, output still missing."""
    n = num_samples_per_group * num_groups
    return pd.DataFrame({
        "input": ["input_0"] * n + ["input_1"] * n,
        "group": ([f"input_0_group_{i % num_samples_per_group}" for i in range(n)]
                  + [f"input_1_group_{i % num_samples_per_group}" for i in range(n)]),
    })


def _question_output(rs, num_groups, num_samples_per_group, group_var, random_var):
    """One pass of the question's loop body: its draws, in its order, from ``rs``."""
    g1 = rs.normal(0, np.sqrt(group_var), num_groups)
    g2 = rs.normal(0, np.sqrt(group_var), num_groups)
    r1 = rs.normal(0, np.sqrt(random_var), (num_samples_per_group, num_groups))
    r2 = rs.normal(0, np.sqrt(random_var), (num_samples_per_group, num_groups))
    n = num_samples_per_group * num_groups
    return np.concatenate(((g1 + r1).reshape((n,)), (g2 + r2).reshape((n,))))


@dataclass(frozen=True)
class QuestionCodeRun:
    """The question's own simulation loop, run for ``num_iter`` iterations from ``seed``.

    The loop is the question's: 10 groups of 20 samples per input, ``group_var = random_var
    = 1``, the question's labels, ``statsmodels.api.MixedLM.from_formula("output ~ input",
    groups="group", data=df).fit()`` with statsmodels' defaults, and the p-value of
    ``input[T.input_1]``. Iteration ``i`` continues the stream of iteration ``i - 1`` (one
    legacy generator for the whole loop, as ``np.random.seed`` gives the question's code),
    so the first ``k`` iterations of a longer run are a shorter run.

    Parameters
    ----------
    num_iter : int
        Iterations of the stored run.
    seed : int
        The seed of ``numpy.random.RandomState`` (the chapter's ``np.random.seed``).
    file : str
        Where under the repository's ``data/`` the run is kept (a CSV and a JSON beside it).

    Examples
    --------
    >>> run = QuestionCodeRun(num_iter=3, seed=1)
    >>> table = run.run()
    >>> list(table.columns)
    ['iteration', 'p_value', 'converged', 'warnings']
    >>> bool(table["p_value"].between(0, 1).all())
    True
    >>> bool(np.allclose(run.run(num_iter=2)["p_value"], table["p_value"][:2]))
    True
    """

    num_iter: int = 2000
    seed: int = 20240122
    file: str = f"{_DIRECTORY}/question_code.csv"

    def __post_init__(self):
        check_int("num_iter", self.num_iter, minimum=1)
        check_seed(self.seed, "seed")

    def run(self, *, num_iter=None):
        """The first ``num_iter`` (default: all) iterations, computed live.

        Returns
        -------
        pandas.DataFrame
            ``iteration``, ``p_value``, ``converged`` (statsmodels' flag) and ``warnings``
            (the fit's warnings as "Category: message" joined by " | ", empty if none).
        """
        import statsmodels.api as sm

        n_iter = self.num_iter if num_iter is None else check_int("num_iter", num_iter,
                                                                  minimum=1)
        rs = np.random.RandomState(self.seed)
        df = _question_data(10, 20)
        rows = []
        for i in range(n_iter):
            df["output"] = _question_output(rs, 10, 20, 1.0, 1.0)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                result = sm.MixedLM.from_formula("output ~ input", groups="group",
                                                 data=df).fit()
            rows.append({"iteration": i,
                         "p_value": float(result.pvalues["input[T.input_1]"]),
                         "converged": bool(result.converged),
                         "warnings": " | ".join(f"{w.category.__name__}: {w.message}"
                                                for w in caught)})
        return pd.DataFrame(rows)

    def path(self):
        """The stored CSV (its description, ``.json``, beside it)."""
        return repository_root() / "data" / self.file

    def description(self):
        """What the stored run must have been made with."""
        return {"num_iter": int(self.num_iter), "seed": int(self.seed),
                "code": "the question's loop: statsmodels MixedLM.fit() with its defaults"}

    def save(self, table):
        """Store a run made by :meth:`run` (all iterations) with its description."""
        import statsmodels

        import lmmhelpers

        if len(table) != self.num_iter:
            raise ValueError(f"table must hold all {self.num_iter} iterations, "
                             f"got {len(table)}")
        path = self.path()
        path.parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(path, index=False, float_format="%.10g")
        record = {**self.description(), "statsmodels": statsmodels.__version__,
                  "lmmhelpers": lmmhelpers.__version__}
        path.with_suffix(".json").write_text(json.dumps(record, indent=1, sort_keys=True)
                                             + "\n")
        return path

    def load(self):
        """The stored run, checked against :meth:`description`.

        Raises
        ------
        FileNotFoundError
            When it is missing (naming the script that makes it).
        ValueError
            When it was made with another ``num_iter`` or ``seed``.
        """
        path = self.path()
        if not path.is_file() or not path.with_suffix(".json").is_file():
            raise FileNotFoundError(f"the stored run of the question's code ({path}) is "
                                    f"missing; regenerate it with {_SCRIPT}.")
        record = json.loads(path.with_suffix(".json").read_text())
        if {k: record.get(k) for k in self.description()} != self.description():
            raise ValueError(f"{path} was made with another specification ({record}); "
                             f"regenerate it with {_SCRIPT}.")
        table = pd.read_csv(path, keep_default_na=False, na_values={"p_value": ["", "nan"]})
        if len(table) != self.num_iter:
            raise ValueError(f"{path} holds {len(table)} iterations, not {self.num_iter}")
        table.attrs["study"] = record
        return table


#: The stored run of the question's code, 2,000 iterations from ``np.random.seed(20240122)``.
QUESTION_CODE_RUN = QuestionCodeRun()


def mislabel_variances(n_groups, n_per_group, *, group_var=1.0, resid_var=1.0):
    """True and model-implied variance of the input difference under the question's labels.

    With ``m`` groups of ``n`` per input the estimate is the difference of the inputs'
    averages, of variance ``(2/m) (sigma_b^2 + sigma^2/n)``. When ``n = k m`` the question's
    labels split each true group over ``k`` labels of ``m`` rows; the model then sees ``k m``
    independent label means per input, whose pooled spread around their input's average
    holds ``(k m - k) / (k m - 1)`` of the group variance (labels of one group share its
    effect) plus ``sigma^2 / m`` of noise, so it reports a variance of about
    ``(2 / (k m)) ((k m - k)/(k m - 1) sigma_b^2 + sigma^2/m)``.

    Parameters
    ----------
    n_groups, n_per_group : int
        Groups per input (``m``) and samples per group (``n``, a multiple of ``m``).
    group_var, resid_var : float, default 1.0

    Returns
    -------
    true_var, model_var : float

    Examples
    --------
    >>> true_var, model_var = mislabel_variances(10, 20)
    >>> round(true_var, 4), round(model_var, 4), round(model_var / true_var, 3)
    (0.21, 0.1047, 0.499)
    """
    m = check_int("n_groups", n_groups, minimum=2)
    n = check_int("n_per_group", n_per_group, minimum=1)
    sb2 = check_real("group_var", group_var, minimum=0.0)
    s2 = check_real("resid_var", resid_var, minimum=0.0)
    if n % m:
        raise ValueError(f"n_per_group must be a multiple of n_groups ({m}), got {n}")
    k = n // m
    labels = k * m
    true_var = 2 / m * (sb2 + s2 / n)
    model_var = 2 / labels * ((labels - k) / (labels - 1) * sb2 + s2 / m)
    return true_var, model_var
