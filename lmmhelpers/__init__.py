"""lmmhelpers: trustworthy inference for statsmodels linear mixed models.

Only public names are imported here; everything is defined in its own module. What exists
only for the book's own scenarios (the seed design's studies, the stored studies, the R
reference cases) is in :mod:`lmmhelpers.book`, which the library never imports.
"""

__version__ = "0.1.0"

from lmmhelpers.between_within import between_within_df, between_within_term_df
from lmmhelpers.bootstrap import bootstrap_test
from lmmhelpers.calibrate import calibrate
from lmmhelpers.draws import draw_response
from lmmhelpers.fitting import fit_mixedlm, refit
from lmmhelpers.parameters import is_boundary
from lmmhelpers.plots import power_curve_plot, pvalue_histogram, pvalue_qq, rejection_curve
from lmmhelpers.power import PowerCurveInterrupted, power_curve
from lmmhelpers.simulate import (
    crossed_design,
    repeated_measures_design,
    two_input_design,
    two_input_within_design,
)
from lmmhelpers.study import (
    FixedEffectsTest,
    GEETest,
    GroupMeansTTest,
    LikelihoodRatioTest,
    MixedLMTest,
    load_study,
    run_study,
    save_study,
)
from lmmhelpers.summaries import (
    TooFewUsableDraws,
    clopper_pearson_interval,
    interval_coverage,
    power,
    rejection_rate,
    uniformity_test,
    wilson_interval,
)
from lmmhelpers.tables import anova_table, coef_table, contrast_test

__all__ = [
    "__version__",
    "bootstrap_test",
    "calibrate",
    "TooFewUsableDraws",
    "draw_response",
    "power_curve",
    "PowerCurveInterrupted",
    "power_curve_plot",
    "anova_table",
    "between_within_df",
    "between_within_term_df",
    "coef_table",
    "contrast_test",
    "fit_mixedlm",
    "refit",
    "is_boundary",
    "pvalue_histogram",
    "pvalue_qq",
    "rejection_curve",
    "crossed_design",
    "repeated_measures_design",
    "two_input_design",
    "two_input_within_design",
    "FixedEffectsTest",
    "GEETest",
    "GroupMeansTTest",
    "LikelihoodRatioTest",
    "MixedLMTest",
    "load_study",
    "run_study",
    "save_study",
    "clopper_pearson_interval",
    "interval_coverage",
    "power",
    "rejection_rate",
    "uniformity_test",
    "wilson_interval",
]
