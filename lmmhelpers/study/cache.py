"""Saving and loading studies: atomic writes, checked loads, resumable partial studies.

A study is stored as two files named by its key (:func:`~lmmhelpers.study.study_key`):

- ``study-<key>.csv.gz``: the table, gzipped CSV without a timestamp (the same results give
  the same bytes);
- ``study-<key>.json``: ``{"format": 2, "description": ..., "rows": n, "sha256": ...}``, the
  study's description, the table's row count and the SHA-256 of the table file's bytes.

Writes are atomic: each file is written to a temporary file in the same directory and renamed
over the target (``os.replace``), the table first, so a crash leaves either the old pair, or a
new table with an old description (its checksum no longer matches), never a half file under
the final name. A load checks the description (equal to the requested one), the checksum and
the row count; a file that fails a check is reported by a :class:`StudyCacheWarning` naming
it and the reason, and treated as absent, so the study is recomputed and the files are
rewritten. A study interrupted by the user keeps its finished replicates in
``study-<key>.partial.csv.gz`` (same format), from which the next run resumes.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import sys
import tempfile
import warnings
import zlib
from pathlib import Path

import pandas as pd

from lmmhelpers.study._rows import COLUMNS, as_frame
from lmmhelpers.study.identity import study_key

__all__ = ["StudyCacheWarning", "StudyFileError", "load_study", "read_study_csv", "rekey_study",
           "save_study"]

_FORMAT = 2


class StudyCacheWarning(UserWarning):
    """A stored study could not be used (corrupt, truncated, mismatched): it is recomputed."""


class StudyFileError(ValueError):
    """A study table file that cannot be read; the message names the file."""


def _normal(description):
    """The description as it reads back from JSON (tuples as lists, sorted keys)."""
    return json.loads(json.dumps(description, sort_keys=True))


def _paths(description, directory, prefix="study-", partial=False):
    stem = f"{prefix}{study_key(description)}" + (".partial" if partial else "")
    directory = Path(directory)
    return directory / f"{stem}.csv.gz", directory / f"{stem}.json"


def _atomic_write(path, data):
    """Write ``data`` (bytes) to ``path`` through a temporary file and a rename."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _table_bytes(results):
    buffer = io.BytesIO()
    # gzip without a timestamp: the same results give the same bytes
    results.to_csv(buffer, index=False, compression={"method": "gzip", "mtime": 0})
    return buffer.getvalue()


def _record(description, data, n_rows):
    return {"format": _FORMAT, "description": _normal(description), "rows": int(n_rows),
            "sha256": hashlib.sha256(data).hexdigest()}


def write_description(csv_path, description, json_path):
    """Write the description file of an existing table file (its checksum and row count)."""
    data = Path(csv_path).read_bytes()
    n_rows = len(read_study_csv(csv_path))
    text = json.dumps(_record(description, data, n_rows), indent=1, sort_keys=True) + "\n"
    _atomic_write(Path(json_path), text.encode())


def save_study(results, description, directory, *, prefix="study-", _partial=False):
    """Save a study's table (gzipped CSV) and description (JSON) under its key, atomically.

    Parameters
    ----------
    results : pandas.DataFrame
        The study's table.
    description : dict
        From :func:`~lmmhelpers.study.study_description`; its key names the files.
    directory : str or Path
        Created if needed.
    prefix : str, default "study-"
        Start of the file names (the book's degrees-of-freedom studies use "dof_study-").

    Returns
    -------
    pathlib.Path
        The path of the CSV file, ``<prefix><key>.csv.gz``.

    Examples
    --------
    >>> import tempfile
    >>> from functools import partial
    >>> from lmmhelpers.simulate import two_input_design
    >>> from lmmhelpers.study import GroupMeansTTest, run_study, study_description, study_key
    >>> design = partial(two_input_design, n_groups=4, n_per_group=5)
    >>> tests = [GroupMeansTTest("output", "group", "input")]
    >>> table = run_study(design, tests, n_sim=2, seed=1, progress=False)
    >>> description = study_description(design, tests, n_sim=2, seed=1)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = save_study(table, description, tmp)
    ...     again = load_study(description, tmp)
    >>> path.name == f"study-{study_key(description)}.csv.gz"
    True
    >>> bool((again["p_value"] == table["p_value"]).all())  # exactly, not rounded
    True
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    csv_path, json_path = _paths(description, directory, prefix, partial=_partial)
    data = _table_bytes(results)
    record = json.dumps(_record(description, data, len(results)), indent=1, sort_keys=True)
    _atomic_write(csv_path, data)
    _atomic_write(json_path, (record + "\n").encode())
    return csv_path


def _checked(description, csv_path, json_path):
    """(table, None) if the stored pair is this study's and intact, else (None, reason)."""
    if not json_path.exists():
        return None, f"its description file {json_path.name} is missing"
    try:
        record = json.loads(json_path.read_text())
    except (OSError, ValueError) as exc:
        return None, f"its description file {json_path.name} is unreadable ({exc})"
    if not isinstance(record, dict) or record.get("format") != _FORMAT:
        return None, f"{json_path.name} is not a description file of format {_FORMAT}"
    if record.get("description") != _normal(description):
        return None, "the stored description differs from the requested study"
    data = csv_path.read_bytes()
    if hashlib.sha256(data).hexdigest() != record.get("sha256"):
        return None, "the table's checksum differs from the one recorded (truncated or edited)"
    try:
        frame = read_study_csv(io.BytesIO(data), name=str(csv_path))
    except StudyFileError as exc:
        return None, str(exc)
    if len(frame) != record.get("rows"):
        return None, f"the table has {len(frame)} rows, the description records {record['rows']}"
    frame.attrs["study"] = record["description"]
    return frame, None


def _load(description, directory, prefix="study-", partial=False):
    csv_path, json_path = _paths(description, directory, prefix, partial=partial)
    if not csv_path.exists():
        if json_path.exists():
            _warn(f"stored study {json_path}: its table {csv_path.name} is missing; "
                  "recomputing")
        return None
    frame, reason = _checked(description, csv_path, json_path)
    if reason is not None:
        _warn(f"stored study {csv_path} is not used: {reason}; recomputing")
    return frame


def _warn(message):
    """A StudyCacheWarning attributed to the user's line (the first frame outside lmmhelpers)."""
    package = str(Path(__file__).resolve().parents[1])
    frame, level = sys._getframe(1), 2
    while frame is not None and str(Path(frame.f_code.co_filename).resolve()).startswith(package):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, StudyCacheWarning, stacklevel=level)


def warn_unwritable(directory, exc, when):
    """A StudyCacheWarning: the cache cannot be written; the results are returned anyway."""
    _warn(f"the study cache {directory} cannot be written ({type(exc).__name__}: {exc}) "
          f"when {when}: the study's results are returned but not stored there. Make the "
          "directory writable (or free disk space, or pass another cache_dir); the next call "
          "with the same arguments in this session stores them without recomputing.")


def load_study(description, directory, *, prefix="study-"):
    """Load a study saved by :func:`save_study` under the same description, or None.

    Parameters
    ----------
    description : dict
        The description the study was saved under (its key names the files).
    directory : str or Path
    prefix : str, default "study-"
        Start of the file names, as given to :func:`save_study`.

    Returns
    -------
    pandas.DataFrame or None
        The table, with ``attrs["study"]`` holding the saved description; None when nothing
        was saved under this description (a different study, or another lmmhelpers version),
        or when the stored files fail a check (then a :class:`StudyCacheWarning` names the
        file and the reason).

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     print(load_study({"n_sim": 5, "seed": 2, "lmmhelpers_version": "0.1.0"}, tmp))
    None
    """
    return _load(description, directory, prefix)


def load_partial(description, directory):
    """The finished replicates of an interrupted study (checked like a study), or None."""
    return _load(description, directory, partial=True)


def remove_partial(description, directory):
    """Delete the partial files of a study (after its complete table was saved)."""
    for path in _paths(description, directory, partial=True):
        path.unlink(missing_ok=True)


def read_study_csv(path, *, name=None):
    """Read a study table written by :func:`save_study`, restoring the column types.

    Parameters
    ----------
    path : str, Path or binary file
    name : str, optional
        The file's name in error messages (default: ``path``).

    Raises
    ------
    StudyFileError
        When the file is not a readable study table (truncated gzip, missing columns, a
        malformed row); the message names the file.
    """
    numeric = ("estimate", "std_err", "statistic", "df", "p_value", "converged", "boundary")
    options = {} if int(pd.__version__.split(".")[0]) >= 3 else {"float_precision": "round_trip"}
    label = name if name is not None else str(path)
    try:
        frame = pd.read_csv(path, compression="gzip" if name is not None else "infer",
                            keep_default_na=False,
                            na_values={c: ["", "nan", "NaN"] for c in numeric}, **options)
        missing = [c for c in COLUMNS if c not in frame.columns]
        if missing:
            raise ValueError(f"missing columns {missing}")
        return as_frame(frame)
    except FileNotFoundError:
        raise
    except (OSError, EOFError, zlib.error, gzip.BadGzipFile, UnicodeDecodeError, ValueError,
            TypeError, pd.errors.ParserError) as exc:
        raise StudyFileError(
            f"{label} is not a readable study table ({type(exc).__name__}: {exc})") from exc


def _without_code(description):
    plain = _normal(description)
    if isinstance(plain.get("design"), dict):
        plain["design"].pop("code", None)
    for analysis in plain.get("analyses") or []:
        if isinstance(analysis, dict):
            analysis.pop("class_code", None)
    return plain


def rekey_study(csv_path, description, *, prefix="study-"):
    """Move a stored study to the key of ``description``, after a code change that keeps its
    results (a refactoring, an edited comment): nothing is recomputed.

    The stored table must read, match its description file's checksum and row count (or,
    for a description file written before checksums, be a plain description), and its stored
    description must equal ``description`` in everything but the code digests. It is then
    renamed to ``<prefix><key>.csv.gz`` and its description file rewritten. That the results
    really are unchanged is the caller's claim: check it first by recomputing a few
    replicates (``run_study(..., replicates=...)``).

    Parameters
    ----------
    csv_path : str or Path
        The stored table, ``<prefix><old key>.csv.gz``, its description file beside it.
    description : dict
        The study's description today (:func:`~lmmhelpers.study.study_description`).
    prefix : str, default "study-"

    Returns
    -------
    pathlib.Path
        The table's new path.

    Raises
    ------
    StudyFileError
        When a check fails; the message names the file and the reason.
    """
    csv_path = Path(csv_path)
    json_path = csv_path.with_name(csv_path.name[: -len(".csv.gz")] + ".json")
    try:
        record = json.loads(json_path.read_text())
    except (OSError, ValueError) as exc:
        raise StudyFileError(f"{json_path}: no readable description ({exc})") from exc
    if isinstance(record, dict) and record.get("format") == _FORMAT:
        stored = record["description"]
        data = csv_path.read_bytes()
        if hashlib.sha256(data).hexdigest() != record.get("sha256"):
            raise StudyFileError(f"{csv_path}: the checksum differs from the one recorded")
        if len(read_study_csv(csv_path)) != record.get("rows"):
            raise StudyFileError(f"{csv_path}: the row count differs from the one recorded")
    else:
        stored = record
        read_study_csv(csv_path)
    if _without_code(stored) != _without_code(description):
        raise StudyFileError(f"{csv_path}: its stored description differs from the requested "
                             "one in more than the code digests")
    new_csv, new_json = _paths(description, csv_path.parent, prefix)
    if new_csv != csv_path:
        os.replace(csv_path, new_csv)
        json_path.unlink()
    write_description(new_csv, description, new_json)
    return new_csv
