"""The rows of a study's table: their columns, their defaults, their checks, their types.

An analysis returns one dict per (method, term) and replicate; the runner validates each
(:func:`invalid_reason`) and turns what it cannot use into an error row, so that a bad row is
recorded with its reason instead of reaching the summaries.
"""

from __future__ import annotations

import math
import numbers
import threading
import warnings
from collections.abc import Mapping

import numpy as np
import pandas as pd

#: Columns of a study's table, in order.
COLUMNS = (
    "replicate",
    "method",
    "term",
    "estimate",
    "std_err",
    "statistic",
    "df",
    "p_value",
    "converged",
    "boundary",
    "status",
    "message",
    "warnings",
)

#: The values of the ``status`` column (what :mod:`lmmhelpers.summaries` counts).
STATUSES = ("ok", "error", "not applicable")

_NUMERIC = ("estimate", "std_err", "statistic", "df", "p_value")
_FLAGS = ("converged", "boundary")
_TEXT = ("method", "term", "status", "message", "warnings")
_BOOL = {True: True, False: False, "True": True, "False": False}


#: Python's warning filters and ``showwarning`` are process-wide (``catch_warnings`` is not
#: thread-safe before Python 3.14): under joblib's threading backend two captures at once would
#: record each other's warnings, so captures take turns.
_CAPTURE_LOCK = threading.RLock()


def capture(fn, *args, **kwargs):
    """Call ``fn``; return (value, exception or None, list of warning texts)."""
    with _CAPTURE_LOCK, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            value, error = fn(*args, **kwargs), None
        except Exception as exc:  # noqa: BLE001 - every failure is recorded, none is fatal
            value, error = None, exc
    texts = [f"{w.category.__name__}: {w.message}" for w in caught]
    return value, error, texts


def join(texts):
    """Warning texts as one cell: unique, in order."""
    return "; ".join(dict.fromkeys(texts))


def error_text(exc):
    """``"TypeName: message"`` of an exception."""
    return f"{type(exc).__name__}: {exc}"


def make_row(method, term, **values):
    """A row with every column but ``replicate``, defaults (NaN, NA, "ok", "") overridden."""
    row = {
        "method": method,
        "term": term,
        "estimate": np.nan,
        "std_err": np.nan,
        "statistic": np.nan,
        "df": np.nan,
        "p_value": np.nan,
        "converged": pd.NA,
        "boundary": pd.NA,
        "status": "ok",
        "message": "",
        "warnings": "",
    }
    row.update(values)
    return row


def _is_missing(value):
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def invalid_reason(row):
    """Why ``row`` cannot stand in a study's table, or None when it can.

    A row is a mapping with the columns :data:`COLUMNS` only (``replicate`` is set by the
    runner), a non-empty str ``method``, numbers (or NaN) in the numeric columns, a p-value in
    [0, 1] or NaN, booleans or NA in ``converged`` / ``boundary`` and a ``status`` of
    :data:`STATUSES`.

    Examples
    --------
    >>> invalid_reason(make_row("z", "x", p_value=0.2))
    >>> invalid_reason(make_row("z", "x", p_value=1.5))
    'p_value 1.5 is outside [0, 1]'
    """
    if not isinstance(row, Mapping):
        return f"a row must be a dict, got {type(row).__name__}"
    unknown = [k for k in row if k not in COLUMNS]
    if unknown:
        return f"unknown columns {unknown} (a row's columns are {list(COLUMNS[1:])})"
    method = row.get("method")
    if not isinstance(method, str) or not method:
        return f"method must be a non-empty str, got {method!r}"
    for col in _NUMERIC:
        value = row.get(col, np.nan)
        if _is_missing(value):
            continue
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            return f"{col} must be a number or NaN, got {value!r}"
    p = row.get("p_value", np.nan)
    if not _is_missing(p) and not 0.0 <= float(p) <= 1.0:
        return f"p_value {p!r} is outside [0, 1]"
    for col in _FLAGS:
        value = row.get(col, pd.NA)
        if not _is_missing(value) and not isinstance(value, (bool, np.bool_)):
            return f"{col} must be True, False or NA, got {value!r}"
    status = row.get("status", "ok")
    if status not in STATUSES:
        return f"status must be one of {STATUSES}, got {status!r}"
    for col in ("term", "message", "warnings"):
        if not isinstance(row.get(col, ""), str):
            return f"{col} must be a str, got {row.get(col)!r}"
    return None


def as_frame(rows):
    """The study table with its column types, from rows (dicts) or a DataFrame."""
    source = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(rows, columns=list(COLUMNS))
    extra = [c for c in source.columns if c not in COLUMNS]
    frame = source[list(COLUMNS) + extra].copy()
    frame["replicate"] = frame["replicate"].astype("int64")
    for col in _NUMERIC:
        frame[col] = frame[col].astype(float)
    for col in _FLAGS:
        values = frame[col].map(_BOOL, na_action="ignore")
        frame[col] = values.astype("boolean")
    for col in _TEXT:
        frame[col] = frame[col].fillna("").astype(str).astype(object)
    return frame.reset_index(drop=True)
