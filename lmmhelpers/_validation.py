"""Argument checks at the boundary of the public functions, with messages that name the argument.

Every public function of lmmhelpers validates what a user passes through these helpers, so a
bad value gives the same kind of message everywhere: the argument's name, what it must be, and
what was passed. They return the value in its canonical form (an ``int``, a ``float``, a
lower-case method name), so callers use the returned value.

The registry of degrees-of-freedom methods lives here too (:data:`DDF_METHODS`): the tables,
the study analyses and the simulation tools all accept the same names, with the same aliases.
"""

from __future__ import annotations

import math
import numbers

__all__ = [
    "DDF_METHODS",
    "check_ddf",
    "check_int",
    "check_n_jobs",
    "check_probability",
    "check_real",
    "check_seed",
    "check_share",
    "check_str",
    "require_refittable",
]

#: The reference distributions of a fixed-effect test, in the order tables and studies use:
#: the z (Wald) test statsmodels prints, lmerTest's Satterthwaite, pbkrtest's Kenward-Roger.
DDF_METHODS = ("normal", "satterthwaite", "kenward-roger")

_DDF_ALIASES = {"kr": "kenward-roger", "z": "normal", "wald": "normal"}


def check_ddf(ddf, name="ddf"):
    """The canonical name of a degrees-of-freedom method (case, '_' and aliases forgiven).

    Examples
    --------
    >>> check_ddf("Kenward_Roger")
    'kenward-roger'
    >>> check_ddf("kr")
    'kenward-roger'
    """
    if isinstance(ddf, str):
        key = ddf.strip().lower().replace("_", "-")
        key = _DDF_ALIASES.get(key, key)
        if key in DDF_METHODS:
            return key
    raise ValueError(f"{name} must be one of {DDF_METHODS}, got {ddf!r}.")


def check_str(name, value):
    """A non-empty string."""
    if not isinstance(value, str) or not value:
        raise TypeError(f"{name} must be a non-empty str, got {value!r}")
    return value


def check_int(name, value, minimum=None):
    """An integer (not a bool), at least ``minimum`` when given.

    Examples
    --------
    >>> check_int("n_sim", 0, minimum=1)
    Traceback (most recent call last):
    ...
    ValueError: n_sim must be an int >= 1, got 0
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return int(value)


def check_real(name, value, *, minimum=None, allow_inf=False):
    """A real number (not a bool), finite unless ``allow_inf``, at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    if math.isnan(value) or (math.isinf(value) and not allow_inf):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be a number >= {minimum}, got {value!r}")
    return value


def check_probability(name, value):
    """A probability strictly between 0 and 1 (a test level, a confidence level).

    Examples
    --------
    >>> check_probability("alpha", 1.5)
    Traceback (most recent call last):
    ...
    ValueError: alpha must be a number strictly between 0 and 1, got 1.5
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number strictly between 0 and 1, got {value!r}")
    value = float(value)
    if not 0.0 < value < 1.0:
        raise ValueError(f"{name} must be a number strictly between 0 and 1, got {value!r}")
    return value


def check_seed(seed, name="seed"):
    """A non-negative integer seed."""
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"{name} must be a non-negative int, got {seed!r}")
    return int(seed)


def check_n_jobs(n_jobs):
    """joblib's ``n_jobs``: a nonzero int (-1 for all cores), or None."""
    if n_jobs is None:
        return None
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, numbers.Integral) or n_jobs == 0:
        raise ValueError(f"n_jobs must be a nonzero int or None, got {n_jobs!r}")
    return int(n_jobs)


def check_share(name, value):
    """A share between 0 and 1 inclusive (``min_usable``: 0 turns the check off).

    Examples
    --------
    >>> check_share("min_usable", 0.9)
    0.9
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number between 0 and 1, got {value!r}")
    value = float(value)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be a number between 0 and 1, got {value!r}")
    return value


def require_refittable(result, name, caller, *, reml=None):
    """Refuse, saying what to do, a fit that :func:`lmmhelpers.refit` cannot refit.

    ``caller`` refits ``result`` to every simulated response; that needs a fit by
    :func:`lmmhelpers.fit_mixedlm`'s engine. Any other fit would fail in every draw and leave
    a number made of nothing (a p-value of 1 over 0 draws, NaN rates).
    """
    from lmmhelpers import _statsmodels
    from lmmhelpers.fitting import can_refit

    bare = _statsmodels.unwrap(result)
    if can_refit(bare):
        return bare
    how = f"fit_mixedlm(model{', reml=False' if reml is False else ''})"
    history = getattr(bare, "fit_history", None)
    engine_row = None
    if history is not None and len(history) and history["method"].iloc[0] == "engine":
        engine_row = str(history["error"].iloc[0])
    if engine_row is not None:
        raise ValueError(
            f"{caller} cannot run on {name}: it refits the model to every simulated response "
            "with lmmhelpers.refit, which needs fit_mixedlm's engine, and the engine does not "
            f"support this model ({engine_row}). Simplify the random effects so that the "
            "engine fits the model (result.fit_history's first row says why it did not)."
        )
    source = ("statsmodels' optimizers (engine='statsmodels', methods=... or optimizer "
              "settings)" if history is not None else "statsmodels' MixedLM.fit, not by "
              "lmmhelpers.fit_mixedlm")
    raise ValueError(
        f"{caller} refits {name} to every simulated response with lmmhelpers.refit, which "
        f"reuses fit_mixedlm's engine, but {name} was fitted by {source}. Fit it with "
        f"lmmhelpers.{how} (without methods= or optimizer settings) and call {caller} again."
    )
