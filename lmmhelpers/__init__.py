"""lmmhelpers: trustworthy inference for statsmodels linear mixed models.

Only public names are imported here; everything is defined in its own module.
"""

__version__ = "0.1.0"

from lmmhelpers.parameters import is_boundary
from lmmhelpers.tables import anova_table, coef_table, contrast_test

__all__ = ["__version__", "anova_table", "coef_table", "contrast_test", "is_boundary"]
