"""Every stored :func:`lmmhelpers.run_study` study of the book, specified once.

A :class:`StoredStudy` is a study's specification (design, analyses, ``n_sim``, seed) and the
directory of ``data/`` that keeps it. ``scripts/`` regenerate a stored study from this object
and the chapters load it through the same object, so the two cannot drift apart: the file is
found by ``lmmhelpers.study.load_study`` under the key of the study's description
(``lmmhelpers.study.study_description``, ``lmmhelpers.study.study_key``), never
under a hard-coded name.

The studies
-----------
:func:`seed_sweeps`
    Null p-values in the seed's two-input design (``data/sweeps/``, ``scripts/make_sweeps.py``).
:func:`dof_studies`
    Calibration and power of z, Satterthwaite and Kenward-Roger in four designs
    (``data/sweeps/dof/``, ``scripts/make_sweeps_dof.py``).
:func:`group_count_cells`
    The cells of the group-count and null-p-value chapters (stored compactly, see
    ``lmmhelpers.book.group_count``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np

from lmmhelpers._validation import DDF_METHODS, check_int
from lmmhelpers.book.repository import repository_root
from lmmhelpers.book.scenarios import (
    CROSSED_VC,
    INPUT_TERM,
    crossed_one_group,
    design_between_within_df,
    two_input_analyses,
)
from lmmhelpers.simulate import two_input_design, two_input_within_design
from lmmhelpers.study import (
    GroupMeansTTest,
    MixedLMTest,
    load_study,
    run_study,
    save_study,
    study_description,
    study_key,
)

__all__ = [
    "StoredStudy",
    "DOF_EFFECTS",
    "dof_studies",
    "group_count_cells",
    "group_count_study",
    "seed_sweep_study",
    "seed_sweeps",
]


@dataclass(frozen=True, eq=False)
class StoredStudy:
    """A stored study: what :func:`lmmhelpers.run_study` runs, and where its table is kept.

    Parameters
    ----------
    name : str
        A short name (``"nested"``, ``"groups-2"``).
    design : functools.partial
        The design generator with its arguments.
    analyses : tuple
        The analyses (dataclasses of ``lmmhelpers.study``).
    n_sim, seed : int
        Replicates and root seed.
    directory : str or None
        Where under the repository's ``data/`` the full table is kept (None when the study
        is stored in another form, as the group-count cells are).
    info : dict
        The condition's plain values (one row of the study's index).

    Examples
    --------
    >>> study = dof_studies()["nested"]
    >>> study.n_sim, study.seed
    (4000, 3101)
    >>> table = study.run(replicates=range(2))  # the first two replicates, live
    >>> sorted(set(table["method"]))
    ['group-means-t', 'kenward-roger', 'normal', 'satterthwaite']
    """

    name: str
    design: functools.partial
    analyses: tuple
    n_sim: int
    seed: int
    directory: str | None = None
    info: dict = field(default_factory=dict)

    def description(self):
        """The study's description (``lmmhelpers.study.study_description``)."""
        return study_description(self.design, self.analyses, self.n_sim, self.seed)

    def key(self):
        """The key its table is stored under (``lmmhelpers.study.study_key``)."""
        return study_key(self.description())

    def path(self):
        """The directory of ``data/`` that keeps the study."""
        if self.directory is None:
            raise ValueError(f"study {self.name!r} is not stored as a full table")
        return repository_root() / "data" / self.directory

    def run(self, *, replicates=None, n_jobs=1, progress=False, cache=False):
        """Run the study (or some of its replicates) live; ``cache=True`` stores it."""
        return run_study(self.design, self.analyses, self.n_sim, self.seed, n_jobs=n_jobs,
                         progress=progress, replicates=replicates,
                         cache_dir=self.path() if cache else None)

    def load(self):
        """The stored table.

        Raises
        ------
        FileNotFoundError
            When no table is stored under this study's description, naming the directory,
            the key and the script that regenerates it.
        """
        table = load_study(self.description(), self.path())
        if table is None:
            raise FileNotFoundError(
                f"stored study {self.name!r} (key {self.key()}) is not in {self.path()}: its "
                f"specification changed or the files are missing; regenerate it with "
                f"{self.info.get('script', 'its script under scripts/')}."
            )
        return table

    def regenerate(self, *, n_jobs=1, progress=True, force=False, digits=None):
        """Compute the study (or load it, when stored and not ``force``) and store it.

        Parameters
        ----------
        n_jobs : int, default 1
            Worker processes (the table does not depend on it).
        progress : bool, default True
        force : bool, default False
            Recompute even when a table is stored under this description.
        digits : int, optional
            Round the numeric result columns (estimate, standard error, statistic, df,
            p-value) to this many significant digits before storing, which keeps a large
            table small (a stored table rounded again does not change).

        Returns
        -------
        table : pandas.DataFrame
            As stored.
        path : pathlib.Path
            The stored table's file, as :func:`lmmhelpers.save_study` names it.

        Examples
        --------
        >>> import dataclasses, tempfile
        >>> small = dataclasses.replace(dof_studies()["nested"], n_sim=2)
        >>> with tempfile.TemporaryDirectory() as tmp:  # an absolute directory wins
        ...     small = dataclasses.replace(small, directory=tmp)
        ...     table, path = small.regenerate(progress=False, digits=3)
        ...     again = small.load()
        >>> bool((again["p_value"] == table["p_value"]).all()), len(again)
        (True, 8)
        >>> float(table["p_value"].iloc[0]) == float(f"{table['p_value'].iloc[0]:.3g}")
        True
        """
        if digits is not None:
            digits = check_int("digits", digits, minimum=1)
        description = self.description()
        table = None if force else load_study(description, self.path())
        if table is None:
            table = self.run(n_jobs=n_jobs, progress=progress)
        if digits is not None:
            table = table.copy()
            for column in _RESULT_COLUMNS:
                table[column] = [float(f"{v:.{digits}g}") if np.isfinite(v) else v
                                 for v in table[column].astype(float)]
        return table, save_study(table, description, self.path())


#: The numeric result columns of a study table (those ``regenerate(digits=...)`` rounds).
_RESULT_COLUMNS = ("estimate", "std_err", "statistic", "df", "p_value")


# --------------------------------------------------------------------------------------------
# the seed sweeps (scripts/make_sweeps.py)
# --------------------------------------------------------------------------------------------

_SEED_ALL = DDF_METHODS + ("lrt", "group-means-t", "gee-bias-reduced")
_SEED_MIXED = DDF_METHODS + ("lrt",)


def _two_input(entry):
    return functools.partial(
        two_input_design, n_groups=int(entry["n_groups"]), n_per_group=int(entry["n_per_group"]),
        group_var=float(entry["group_var"]), resid_var=float(entry["resid_var"]),
        effect=float(entry.get("effect", 0.0)), labels=str(entry["labels"]), missing=0.0,
    )


def seed_sweeps():
    """The seed sweeps: null p-values in the seed's two-input design, one study per condition.

    ``groups``: 5 samples per group and 2, 3, 5 or 10 groups per input, 1,000 replicates each
    (z, Satterthwaite, Kenward-Roger, LRT, t test on group means, GEE with the Mancl-DeRouen
    covariance). ``seed``: the seed's design (10 groups of 20 per input) with its mislabelled
    groups and with correct labels, and 20 groups of 10: 500 replicates each (z,
    Satterthwaite, Kenward-Roger, LRT). Stored in ``data/sweeps/``.

    Returns
    -------
    list of StoredStudy
        ``info`` holds the row of ``data/sweeps/index.csv``.

    Examples
    --------
    >>> [s.info["n_groups"] for s in seed_sweeps() if s.info["sweep"] == "groups"]
    [2, 3, 5, 10]
    """
    rows = []
    for k, n_groups in enumerate((2, 3, 5, 10)):
        rows.append(dict(sweep="groups", n_groups=n_groups, n_per_group=5, group_var=1.0,
                         resid_var=1.0, labels="correct", n_sim=1000, seed=1000 + k,
                         methods=";".join(_SEED_ALL)))
    for k, (n_groups, n_per_group, labels) in enumerate(
            [(10, 20, "seed"), (10, 20, "correct"), (20, 10, "correct")]):
        rows.append(dict(sweep="seed", n_groups=n_groups, n_per_group=n_per_group,
                         group_var=1.0, resid_var=1.0, labels=labels, n_sim=500,
                         seed=2000 + k, methods=";".join(_SEED_MIXED)))
    return [seed_sweep_study(e) for e in rows]


def seed_sweep_study(entry):
    """The :class:`StoredStudy` of one seed-sweep condition (a row of ``data/sweeps/index.csv``).

    Examples
    --------
    >>> study = seed_sweep_study(seed_sweeps()[0].info)
    >>> study.name, study.n_sim
    ('groups-2x5-correct', 1000)
    """
    e = {k: entry[k] for k in ("sweep", "n_groups", "n_per_group", "group_var", "resid_var",
                               "labels", "n_sim", "seed", "methods")}
    return StoredStudy(f"{e['sweep']}-{e['n_groups']}x{e['n_per_group']}-{e['labels']}",
                       _two_input(e), tuple(two_input_analyses(str(e["methods"]).split(";"))),
                       int(e["n_sim"]), int(e["seed"]), "sweeps",
                       {**e, "script": "scripts/make_sweeps.py"})


# --------------------------------------------------------------------------------------------
# the degrees-of-freedom calibration (scripts/make_sweeps_dof.py)
# --------------------------------------------------------------------------------------------


#: The simulated effect of each design's effect study, chosen for a power near one half.
DOF_EFFECTS = {"nested": 2.5, "boundary": 1.2, "unbalanced": 2.0, "crossed": 200.0}


def dof_studies():
    """Calibration and power of z, Satterthwaite and Kenward-Roger in four designs.

    ``nested``: the two-input design with 3 groups of 5 per input, group and residual
    variance 1 (ICC 0.5), the input effect between groups; ``boundary``: the same with group
    variance 1/9 (ICC 0.1), where a third of the fits are singular; ``unbalanced``: 4 groups
    per input of 2, 3, 6 and 12 rows; ``crossed``: 20 subjects × 8 items (4 per category),
    the category effect between items, fitted with the one-group construction. The balanced
    designs add the t test on group means (``group-means-t``), the exact test there. One
    REML fit per replicate serves every method. Each design is stored twice: under the null
    (``<name>``; 4,000 replicates for the two balanced designs, whose boundary subsets are
    read, 2,000 otherwise) and with the effect of :data:`DOF_EFFECTS` (``<name>-effect``,
    2,000 replicates), so that every compared rate has a 95 % Wilson half-width of at most
    about 0.01 at 5 %. Stored in ``data/sweeps/dof/``.

    Returns
    -------
    dict of StoredStudy
        By name; ``info["between_within_groups"]`` is the factor that the between-within
        rule reads (``item_id`` for the crossed design, whose tested effect varies between
        items), ``info["effect"]`` the simulated effect and ``info["design"]`` the design's
        name without the suffix.

    Examples
    --------
    >>> {name: s.n_sim for name, s in dof_studies().items() if "effect" not in name}
    {'nested': 4000, 'boundary': 4000, 'unbalanced': 2000, 'crossed': 2000}
    >>> dof_studies()["boundary-effect"].info["effect"]
    1.2
    """
    nested = MixedLMTest("output ~ input", "group", INPUT_TERM, methods=DDF_METHODS)
    exact = GroupMeansTTest("output", "group", "input", term=INPUT_TERM)
    crossed = MixedLMTest("RT ~ X_i", "one", "X_i", methods=DDF_METHODS, re_formula="0",
                          vc_formula=CROSSED_VC)

    def two_input(effect, **kw):
        return functools.partial(two_input_design, n_groups=kw.pop("n_groups", 3),
                                 n_per_group=kw.pop("n_per_group", 5), effect=effect, **kw)

    def crossed_items(effect):
        return functools.partial(crossed_one_group, n_subj=20, n_ingroup=4, n_outgroup=4,
                                 beta_1=effect, tau_1=0.0, rho=0.0)

    designs = {  # name: (design of the effect, analyses, n_sim under the null, seed, groups)
        "nested": (lambda d: two_input(d), (nested, exact), 4000, 3101, "group"),
        "boundary": (lambda d: two_input(d, group_var=1 / 9), (nested, exact), 4000, 3104,
                     "group"),
        "unbalanced": (lambda d: two_input(d, n_groups=4, n_per_group=[2, 3, 6, 12]),
                       (nested,), 2000, 3102, "group"),
        "crossed": (crossed_items, (crossed,), 2000, 3103, "item_id"),
    }
    out = {}
    for suffix in ("", "-effect"):  # the null studies first, then the effect studies
        for name, (design, analyses, n_null, seed, groups) in designs.items():
            effect = DOF_EFFECTS[name] if suffix else 0.0
            out[name + suffix] = StoredStudy(
                name + suffix, design(effect), analyses, 2000 if suffix else n_null,
                seed + 100 if suffix else seed, "sweeps/dof",
                {"design": name, "effect": effect, "between_within_groups": groups,
                 "script": "scripts/make_sweeps_dof.py --only dof"})
    return out


def between_within_df_of(study):
    """The between-within df of a :func:`dof_studies` study's tested coefficient.

    Examples
    --------
    >>> between_within_df_of(dof_studies()["nested"])
    4
    """
    return design_between_within_df(study.design, study.analyses[0],
                                    study.info["between_within_groups"])


# --------------------------------------------------------------------------------------------
# the group-count cells (scripts/make_sweeps_group_count.py)
# --------------------------------------------------------------------------------------------

_STAGES = DDF_METHODS + ("group-means-t",)
_GRID = DDF_METHODS + ("group-means-t", "gee-bias-reduced")
#: The two tested coefficients of the within-group design.
WITHIN_TERMS = (INPUT_TERM, "condition[T.b]")


def group_count_cells():
    """Every cell of the group-count sweeps as a dict of plain values, cheap first.

    ``stages``: the question's design (10 groups of 20 per input) with its labels and with
    correct labels, 1,000 replicates each (read by the null-p-value chapter). ``split``: 10
    groups of 20 and 20 groups of 10 per input, under the null and with an input effect of 0.8,
    and 20 × 10 with the question's labels. ``within``:
    :func:`lmmhelpers.two_input_within_design` with 3, 5, 10, 20 groups per input, without slope
    variance (random-intercept model) and with slope variance 0.5 (the same data fitted with
    random intercepts only, and with random slopes of condition). ``grid``: 3, 5, 10, 20 groups
    per input × ICC 0.1, 0.5, 0.9 with 5 samples per group, and ICC 0.5 with 20 samples per
    group at 3 and 10 groups; GEE with the Mancl-DeRouen covariance at ICC 0.5 (5 per group) and
    in the cells with 3 groups but the boundary cell. Every cell of ``split``, ``within`` and
    ``grid`` has 2,000 replicates (the half-width of a 95 % Wilson interval at 5 % is then below
    0.01), the boundary cell (3 groups of 5 per input, ICC 0.1) 6,000, so that its subset of
    boundary fits is itself large.

    Returns
    -------
    list of dict
        One row of ``data/sweeps/group_count_index.csv`` each (without the version and key).

    Examples
    --------
    >>> cells = group_count_cells()
    >>> len(cells), cells[0]["sweep"], cells[0]["labels"]
    (33, 'stages', 'seed')
    >>> min(c["n_sim"] for c in cells if c["sweep"] != "stages")
    2000
    """
    rows = []

    def add(**kw):
        kw.setdefault("effect", 0.0)
        kw.setdefault("labels", "correct")
        rows.append({"cell": len(rows), **kw})

    for k, (labels, n_sim) in enumerate((("seed", 1000), ("correct", 1000))):
        add(sweep="stages", design="two_input", n_groups=10, n_per_group=20, group_var=1.0,
            resid_var=1.0, labels=labels, n_sim=n_sim, seed=3000 + k,
            methods=";".join(_STAGES))
    for k, (m, n, effect, labels) in enumerate([
            (10, 20, 0.0, "correct"), (20, 10, 0.0, "correct"), (10, 20, 0.8, "correct"),
            (20, 10, 0.8, "correct"), (20, 10, 0.0, "seed")]):
        add(sweep="split", design="two_input", n_groups=m, n_per_group=n, group_var=1.0,
            resid_var=1.0, effect=effect, labels=labels, n_sim=2000, seed=3300 + k,
            methods=";".join(_STAGES))
    for k, m in enumerate((3, 5, 10, 20)):
        # the two fits of the slope data read the same data sets (same seed)
        for slope_var, model in ((0.0, "intercepts"), (0.5, "intercepts"), (0.5, "slopes")):
            add(sweep="within", design="two_input_within", n_groups=m, n_per_group=5,
                group_var=1.0, resid_var=1.0, slope_var=slope_var, model=model, n_sim=2000,
                seed=3400 + 2 * k + (slope_var > 0), methods=";".join(DDF_METHODS))
    # GEE's statistic is the group-means t times a constant (lmmhelpers.book.gee_level), so
    # it is stored where the chapter reads it: every m at ICC 0.5 and n = 5, and m = 3
    gee = {(m, 5, 0.5) for m in (3, 5, 10, 20)} | {(3, 5, 0.9), (3, 20, 0.5)}
    k = 0
    for m in (3, 5, 10, 20):
        for n, icc in ((5, 0.1), (5, 0.5), (5, 0.9), (20, 0.5)):
            if n == 20 and m not in (3, 10):
                continue
            methods = _GRID if (m, n, icc) in gee else _STAGES
            add(sweep="grid", design="two_input", n_groups=m, n_per_group=n,
                group_var=icc, resid_var=round(1.0 - icc, 10), icc=icc,
                n_sim=6000 if (m, n, icc) == (3, 5, 0.1) else 2000, seed=4100 + k,
                methods=";".join(methods))
            k += 1
    return rows


def group_count_study(entry):
    """The :class:`StoredStudy` of one group-count cell (a row of :func:`group_count_cells`).

    Examples
    --------
    >>> study = group_count_study(group_count_cells()[0])
    >>> study.n_sim, study.seed, study.design.keywords["labels"]
    (1000, 3000, 'seed')
    """
    methods = tuple(str(entry["methods"]).split(";"))
    if entry["design"] == "two_input":
        design = _two_input(entry)
        analyses = two_input_analyses(methods)
    elif entry["design"] == "two_input_within":
        design = functools.partial(
            two_input_within_design, n_groups=int(entry["n_groups"]),
            n_per_cell=int(entry["n_per_group"]), group_var=float(entry["group_var"]),
            resid_var=float(entry["resid_var"]), slope_var=float(entry["slope_var"]),
            between_effect=0.0, within_effect=0.0, missing=0.0,
        )
        # one analysis per term; both read the same fit of the replicate
        re_formula = {"intercepts": None, "slopes": "~condition"}[entry["model"]]
        analyses = [MixedLMTest("output ~ input + condition", "group", term, methods=methods,
                                re_formula=re_formula)
                    for term in WITHIN_TERMS]
    else:
        raise ValueError(f"unknown design {entry['design']!r}")
    return StoredStudy(f"cell-{entry['cell']}", design, tuple(analyses), int(entry["n_sim"]),
                       int(entry["seed"]), None,
                       {**entry, "script": "scripts/make_sweeps_group_count.py"})
