"""Monte Carlo studies of p-values: reproducible, parallel, honest about failures, cached safely.

A study draws ``n_sim`` data sets from a design generator (:mod:`lmmhelpers.simulate`) and
runs a set of analyses on each. The result is a long DataFrame, one row per replicate,
analysis method and tested term, with the p-value, the estimate and what happened to the fit.

The package, one idea per module:

- :mod:`~lmmhelpers.study.runner`: :func:`run_study` (seeds, batches, joblib workers, failures
  as rows, interruption);
- :mod:`~lmmhelpers.study.base`: :class:`Analysis`, the base class with the one ``run``
  template;
- :mod:`~lmmhelpers.study.analyses`: the analyses (:class:`MixedLMTest`,
  :class:`LikelihoodRatioTest`, :class:`GroupMeansTTest`, :class:`GEETest`,
  :class:`FixedEffectsTest`);
- :mod:`~lmmhelpers.study.replicate`: a replicate's data and the one place its models are fitted;
- :mod:`~lmmhelpers.study.identity`: a study's description and key, with the code digests
  of its design and analyses;
- :mod:`~lmmhelpers.study.cache`: atomic saves, checked loads, partial studies.

Reproducibility
    Replicate ``i`` draws its data from ``numpy.random.SeedSequence(seed).spawn(n_sim)[i]``, so
    the table is identical for any ``n_jobs``, any joblib backend, any execution order and any
    subset of replicates (``replicates=``).
Sharing
    Within a replicate each distinct model is fitted once: all the methods of one
    :class:`MixedLMTest` (z, Satterthwaite, Kenward-Roger) read the same fit, and two
    :class:`MixedLMTest` with the same model (say, for two terms) share it too.
Honesty
    Exceptions (in a fit, an analysis or the design), non-convergence and boundary (singular)
    fits are recorded per row (``status``, ``converged``, ``boundary``, ``message``) and never
    dropped; warnings raised while fitting (statsmodels' ConvergenceWarning among them) are
    captured into the ``warnings`` column instead of being printed.
Parallelism
    Replicates run through joblib, in worker processes by default. For a cluster, use joblib's
    dask backend::

        from dask.distributed import Client
        import joblib
        client = Client("scheduler-address:8786")   # or Client() for a local cluster
        with joblib.parallel_config(backend="dask"):
            results = run_study(design, analyses, n_sim=10_000, seed=1, n_jobs=-1)

    The results do not depend on the backend or on the number of workers.
Caching
    ``cache_dir=`` saves a study (gzipped CSV and a JSON description with a checksum) under a
    key made of its full description, code and ``lmmhelpers.__version__`` included, and loads
    it back on the next call after checking it.
"""

from lmmhelpers.study._rows import COLUMNS
from lmmhelpers.study.analyses import (
    FixedEffectsTest,
    GEETest,
    GroupMeansTTest,
    LikelihoodRatioTest,
    MixedLMTest,
)
from lmmhelpers.study.base import Analysis
from lmmhelpers.study.cache import (
    StudyCacheWarning,
    StudyFileError,
    load_study,
    read_study_csv,
    save_study,
)
from lmmhelpers.study.identity import study_description, study_key
from lmmhelpers.study.runner import StudyInterrupted, run_study

__all__ = [
    "COLUMNS",
    "Analysis",
    "FixedEffectsTest",
    "GEETest",
    "GroupMeansTTest",
    "LikelihoodRatioTest",
    "MixedLMTest",
    "StudyCacheWarning",
    "StudyFileError",
    "StudyInterrupted",
    "load_study",
    "read_study_csv",
    "run_study",
    "save_study",
    "study_description",
    "study_key",
]
