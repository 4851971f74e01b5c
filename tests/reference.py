"""Load the R reference fixtures (tests/fixtures/*.json, made by scripts/r_reference.R).

Each case gives the data, the statsmodels model that matches the lme4 formula, lme4's REML
estimates of the variance parameters and lmerTest / pbkrtest's results.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lmmhelpers.book import reference_cases, reference_model
from lmmhelpers.parameters import VarianceParameters

FIXTURES = Path(__file__).parent / "fixtures"
#: Cases with a single model and full lmerTest / pbkrtest results.
CASES = reference_cases()


def load(case):
    """(reference dict, data frame, statsmodels MixedLM) for a fixture case."""
    ref, model = reference_model(case)
    return ref, model.data.frame, model


def lme4_parameters(ref, model):
    """lme4's REML estimates as :class:`VarianceParameters` for the statsmodels model."""
    groups = ref["statsmodels"]["groups"]
    rows = ref["varcorr"]
    k_re = model.k_re
    cov_re = np.zeros((k_re, k_re))
    block = [r for r in rows if r["grp"] == groups]
    variances = [r for r in block if r["var2"] is None]
    names = [r["var1"] for r in variances]
    for r in block:
        a = names.index(r["var1"])
        b = a if r["var2"] is None else names.index(r["var2"])
        cov_re[a, b] = cov_re[b, a] = r["vcov"]
    vcomp = []
    for name in model.exog_vc.names:
        (row,) = [r for r in rows if r["grp"] == name or r["grp"].endswith(":" + name)]
        vcomp.append(row["vcov"])
    return VarianceParameters(cov_re=cov_re, vcomp=np.array(vcomp), scale=ref["sigma2"])


def column_map(ref, model):
    """perm with perm[j] = the statsmodels column of R's j-th fixed effect."""
    names = list(model.exog_names)
    return [names.index(c["statsmodels_name"]) for c in ref["coef"]]


def to_statsmodels_L(L, perm):
    """A contrast matrix in R's column order, rearranged to statsmodels' order."""
    L_r = np.atleast_2d(np.asarray(L, dtype=float))
    out = np.zeros_like(L_r)
    out[:, perm] = L_r
    return out


def structure_at_lme4(case):
    """(reference, model, CovarianceStructure at lme4's estimates, perm) for a case."""
    from lmmhelpers.covariance import CovarianceStructure

    ref, _, model = load(case)
    cs = CovarianceStructure(model, lme4_parameters(ref, model).snapped())
    return ref, model, cs, column_map(ref, model)
