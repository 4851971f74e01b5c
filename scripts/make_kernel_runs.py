"""Store what statsmodels' own optimizers do under several OpenBLAS kernels.

Usage::

    python scripts/make_kernel_runs.py [--only NAME]

Every probe of :data:`lmmhelpers.book.kernels.KERNEL_PROBES` is run once per kernel of
``STORED_KERNELS`` (the machine's own first), each in a fresh process with
``OPENBLAS_CORETYPE`` set, and stored under ``data/kernels/``:

``<name>.csv``
    One row per kernel (and method): the kernel asked for, the kernel OpenBLAS reports it ran
    (a kernel the CPU cannot run is replaced, and the row says so), and what the optimizer did.
``<name>.json``
    Where it was measured: the CPU, the date and the versions of Python, numpy, scipy and
    statsmodels.

The chapters read these files (``lmmhelpers.book.kernel_runs``); they show what a reader's
CPU may change, which no single machine can show live.
"""

from __future__ import annotations

import argparse
import json

import pandas as pd

from lmmhelpers.book import repository_root
from lmmhelpers.book.kernels import KERNEL_PROBES, STORED_KERNELS, provenance, run_probe_under


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=sorted(KERNEL_PROBES))
    args = parser.parse_args()
    folder = repository_root() / "data" / "kernels"
    folder.mkdir(parents=True, exist_ok=True)
    for name in [args.only] if args.only else sorted(KERNEL_PROBES):
        rows = pd.concat([run_probe_under(name, kernel) for kernel in STORED_KERNELS],
                         ignore_index=True)
        rows.to_csv(folder / f"{name}.csv", index=False)
        (folder / f"{name}.json").write_text(json.dumps(provenance(), indent=1) + "\n")
        print(f"{name}: {len(rows)} rows -> {folder / (name + '.csv')}")
        print(rows.to_string(index=False))


if __name__ == "__main__":
    main()
