"""lmmhelpers: trustworthy inference for statsmodels linear mixed models.

Only public names are imported here; everything is defined in its own module.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
