"""The base class of the study analyses: one ``run`` template, the rows of a failure.

An analysis answers one question per replicate, under one or more labels (method, term), and
gives one row per label. :meth:`Analysis.run` is the template every analysis shares:

1. read the fits the analysis needs (:meth:`Analysis.fits`, shared through the replicate);
   if one failed, every label gets an error row with that fit's exception;
2. for each label, call :meth:`Analysis.compute`, capturing its warnings and its exception
   (an error row for that label only);
3. fill ``converged`` (all fits converged) and ``boundary`` (the first fit's), and join the
   fits' warnings with the label's into the ``warnings`` column.

A subclass supplies only :meth:`labels`, :meth:`compute` and, when it reads mixed-model fits,
:meth:`fits`. Any other object with a ``run(replicate)`` method returning rows (dicts) is an
analysis too; the runner validates its rows (:func:`lmmhelpers.study._rows.invalid_reason`).
"""

from __future__ import annotations

import pandas as pd

from lmmhelpers.study._rows import capture, error_text, join, make_row

__all__ = ["Analysis", "analysis_labels", "failure_rows"]


class Analysis:
    """Base class of the study analyses (see the module's description of the template).

    Examples
    --------
    A complete analysis: the sample mean of ``output`` against 0, by a one-sample t test.

    >>> from dataclasses import dataclass
    >>> from functools import partial
    >>> from scipy import stats
    >>> from lmmhelpers.simulate import two_input_design
    >>> from lmmhelpers.study import run_study
    >>> @dataclass(frozen=True)
    ... class MeanTTest(Analysis):
    ...     response: str
    ...     def labels(self):
    ...         return [("one-sample-t", self.response)]
    ...     def compute(self, replicate, fits, label):
    ...         res = stats.ttest_1samp(replicate.data[self.response], 0.0)
    ...         return {"statistic": float(res.statistic), "p_value": float(res.pvalue)}
    >>> design = partial(two_input_design, n_groups=3, n_per_group=4)
    >>> res = run_study(design, [MeanTTest("output")], n_sim=2, seed=0, progress=False)
    >>> res[["method", "term", "status"]].values.tolist()
    [['one-sample-t', 'output', 'ok'], ['one-sample-t', 'output', 'ok']]
    """

    def labels(self):
        """The (method, term) pairs of this analysis's rows, in order."""
        raise NotImplementedError

    def fits(self, replicate):
        """The :class:`~lmmhelpers.study.replicate.Fit` records this analysis reads (none)."""
        return []

    def compute(self, replicate, fits, label):
        """The values of one label's row (a dict of columns); may raise."""
        raise NotImplementedError

    def run(self, replicate):
        """The rows of one replicate: the template shared by every analysis."""
        fits = self.fits(replicate)
        fit_texts = [text for fit in fits for text in fit.warnings]
        failed = next((fit for fit in fits if fit.error is not None), None)
        if failed is not None:
            return failure_rows(self, error_text(failed.error), join(fit_texts))
        common = {}
        if fits:
            common = {"converged": bool(all(fit.converged for fit in fits)),
                      "boundary": fits[0].boundary}
        rows = []
        for method, term in self.labels():
            value, err, texts = capture(self.compute, replicate, fits, (method, term))
            values = dict(common, warnings=join(fit_texts + texts))
            if err is not None:
                values.update(status="error", message=error_text(err))
            else:
                values.update(value)
            rows.append(make_row(method, term, **values))
        return rows


def analysis_labels(analysis):
    """The (method, term) labels of any analysis.

    An :class:`Analysis` knows its labels. Another object is labelled by its ``method``
    attribute when that is a str, else by its class name, with its ``term`` attribute (or "").
    """
    if isinstance(analysis, Analysis):
        return list(analysis.labels())
    method = getattr(analysis, "method", None)
    if not isinstance(method, str) or not method:
        method = type(analysis).__name__
    term = getattr(analysis, "term", "")
    return [(method, term if isinstance(term, str) else "")]


def failure_rows(analysis, message, warnings=""):
    """One error row per label of ``analysis``, with ``message`` (a failed fit, design, run)."""
    return [make_row(method, term, status="error", message=message, warnings=warnings,
                     converged=pd.NA, boundary=pd.NA)
            for method, term in analysis_labels(analysis)]
