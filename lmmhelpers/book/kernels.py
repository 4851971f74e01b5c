"""statsmodels' own optimizers under several OpenBLAS kernels: a stored, described run.

Which OpenBLAS kernel runs numpy's and scipy's linear algebra depends on the reader's CPU, and
kernels round differently in the last bits. A well-posed computation does not notice; an
optimizer that stops on a flat criterion can: statsmodels' default ``fit()`` on dietox stops
at the same point on every kernel, but whether it then *says* ``converged`` depends on the
kernel. The chapters cannot show that live (a CPU runs its own kernel, and another kernel may
not run on it), so ``scripts/make_kernel_runs.py`` runs each probe below under several kernels,
each in a fresh process with ``OPENBLAS_CORETYPE`` set, and stores what it found with the
machine and versions it was measured on (``data/kernels/``).

A probe is a function of no arguments that returns rows (a list of dicts) describing what
statsmodels' optimizers did.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import warnings
from datetime import date
from pathlib import Path

import pandas as pd

from lmmhelpers.book.repository import repository_root

__all__ = ["KERNEL_PROBES", "blas_kernels_running", "kernel_runs", "run_probe_under"]

#: OpenBLAS kernels a stored run tries, newest instruction set first (AVX-512, AVX2, AVX,
#: SSE4.2, SSE3). "Zen" is not among them: on an Intel CPU OpenBLAS runs Haswell's kernel for it.
STORED_KERNELS = ("SkylakeX", "Haswell", "Sandybridge", "Nehalem", "Prescott")


def blas_kernels_running():
    """The OpenBLAS kernels the running process uses (numpy's and scipy's), by threadpoolctl.

    Examples
    --------
    >>> isinstance(blas_kernels_running(), list)
    True
    """
    from threadpoolctl import threadpool_info

    return sorted({info.get("architecture") or "?" for info in threadpool_info()
                   if info.get("internal_api") == "openblas"})


def _recorded(fit):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = fit()
    return result, len(caught)


def dietox_default_fit():
    """statsmodels' default ``fit()`` of the dietox random-slope model, against the optimum.

    Returns one row: the ``converged`` flag it reports, the number of warnings it raised, how
    far its REML criterion lies above :func:`lmmhelpers.fit_mixedlm`'s, and the ratio of its
    standard error of ``C(Cu)[T.3]`` to the one at the optimum.
    """
    from lmmhelpers import fit_mixedlm
    from lmmhelpers.book.dietox import dietox_model

    model = dietox_model("slope")
    default, n_warnings = _recorded(model.fit)
    best = fit_mixedlm(dietox_model("slope"))
    return [{
        "method": "default", "converged": bool(default.converged), "warnings": n_warnings,
        "reml_gap": -2 * float(default.llf) + 2 * float(best.llf),
        "se_ratio": float(default.bse_fe["C(Cu)[T.3]"] / best.bse_fe["C(Cu)[T.3]"]),
    }]


def seed003_optimizers():
    """The seed-003 answer's model fitted by statsmodels' optimizers, against lme4's optimum.

    One row per ``method``: the ``converged`` flag, the number of warnings and how far the
    REML criterion lies above lme4's (``tests/fixtures``).
    """
    from lmmhelpers.book.repeated_measures import answer_fits
    from lmmhelpers.book.repository import reference, seed003_table

    fits, _ = answer_fits(seed003_table(),
                          methods=("default", "powell", "nm", "lbfgs", "bfgs", "cg"))
    lme4 = reference("seed003_vc")[0]["reml_criterion"]
    return [{"method": method, "converged": bool(row["converged"]),
             "warnings": int(row["warnings"]), "reml_gap": float(row["REML criterion"] - lme4)}
            for method, row in fits.iterrows()]


#: The probes a stored run records, by name (the file ``data/kernels/<name>.csv``).
KERNEL_PROBES = {"dietox_default_fit": dietox_default_fit,
                 "seed003_optimizers": seed003_optimizers}


def _probe_main(name):
    """Run probe ``name`` in this process and print its rows as JSON (the subprocess side)."""
    rows = KERNEL_PROBES[name]()
    ran = blas_kernels_running()
    print(json.dumps([{"kernel_ran": "/".join(ran), **row} for row in rows]))


def run_probe_under(name, kernel):
    """Run probe ``name`` in a new process whose OpenBLAS uses ``kernel``.

    Parameters
    ----------
    name : str
        A key of :data:`KERNEL_PROBES`.
    kernel : str
        An ``OPENBLAS_CORETYPE`` value (``"Haswell"``, ``"Prescott"``, ...), or ``""`` for the
        machine's own kernel.

    Returns
    -------
    pandas.DataFrame
        The probe's rows with ``kernel`` (as asked) and ``kernel_ran`` (as OpenBLAS reports
        it: a kernel the CPU cannot run is replaced by OpenBLAS, and the rows say so).
    """
    if name not in KERNEL_PROBES:
        raise ValueError(f"name must be one of {sorted(KERNEL_PROBES)}, got {name!r}")
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_CORETYPE"}
    if kernel:
        env["OPENBLAS_CORETYPE"] = kernel
    code = f"from lmmhelpers.book.kernels import _probe_main; _probe_main({name!r})"
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"probe {name} under kernel {kernel or 'default'!r} failed:\n"
                           f"{proc.stderr[-2000:]}")
    rows = json.loads(proc.stdout.strip().splitlines()[-1])
    frame = pd.DataFrame(rows)
    frame.insert(0, "kernel", kernel or "machine's own")
    return frame


def run_probe_kernel_name():
    """The kernel OpenBLAS picks on this machine when none is asked for (in a new process)."""
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_CORETYPE"}
    code = ("from lmmhelpers.book.kernels import blas_kernels_running; "
            "print('/'.join(blas_kernels_running()))")
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, check=True)
    return proc.stdout.strip()


def provenance():
    """Where and with what a stored run was measured: CPU, date, versions."""
    import numpy
    import scipy
    import statsmodels

    cpu = platform.processor() or platform.machine()
    try:
        info = Path("/proc/cpuinfo").read_text()
        names = [line.split(":", 1)[1].strip() for line in info.splitlines()
                 if line.startswith("model name")]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    own = run_probe_kernel_name()
    return {"date": date.today().isoformat(), "cpu": cpu, "machine": platform.machine(),
            "own_kernel": own,
            "python": platform.python_version(), "numpy": numpy.__version__,
            "scipy": scipy.__version__, "statsmodels": statsmodels.__version__,
            "command": "python scripts/make_kernel_runs.py"}


def kernel_runs(name):
    """The stored run of probe ``name``: its rows and where they were measured.

    Parameters
    ----------
    name : str
        A key of :data:`KERNEL_PROBES`.

    Returns
    -------
    rows : pandas.DataFrame
        One row per kernel (and method), as :func:`run_probe_under` returns them.
    provenance : dict
        ``date``, ``cpu``, ``machine`` and the versions of Python, numpy, scipy and
        statsmodels, and the command that made the file.

    Examples
    --------
    >>> rows, where = kernel_runs("dietox_default_fit")
    >>> {"kernel", "kernel_ran", "converged", "reml_gap"} <= set(rows.columns)
    True
    >>> sorted(where)[:3]
    ['command', 'cpu', 'date']
    """
    if name not in KERNEL_PROBES:
        raise ValueError(f"name must be one of {sorted(KERNEL_PROBES)}, got {name!r}")
    folder = repository_root() / "data" / "kernels"
    rows = pd.read_csv(folder / f"{name}.csv")
    where = json.loads((folder / f"{name}.json").read_text())
    return rows, where
