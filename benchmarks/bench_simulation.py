"""Simulation-based inference on the seed design: ours against pbkrtest's PBmodcomp, same data.

    python benchmarks/bench_simulation.py [--n-sim 1000] [--no-r]

1. ``calibrate`` of the seed design (two inputs, 10 groups of 20 per input, ``output ~ input``
   with a random intercept): ``n_sim`` null draws, each refitted and tested by z,
   Satterthwaite and Kenward-Roger. No R package does this; lmerTest + pbkrtest would need a
   refit and a KRmodcomp per draw, so the R side times the same loop with lmer + lmerTest's
   Satterthwaite (KR omitted: pbkrtest's KR per draw is what makes simr slow).
2. ``bootstrap_test`` of the input effect (ML fits, ``output ~ input`` against ``output ~ 1``)
   and PBmodcomp on the same data with the same ``n_sim``.

Both sides run in this process's run (R through ``Rscript`` when it has lme4, lmerTest and
pbkrtest; skipped with a message otherwise), one core each, and the ratio is printed.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import statsmodels.formula.api as smf

from lmmhelpers import bootstrap_test, calibrate, fit_mixedlm, two_input_design

R_SCRIPT = r"""
suppressPackageStartupMessages({library(lme4); library(lmerTest); library(pbkrtest)})
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1]); nsim <- as.integer(args[2])
set.seed(1)
full <- lmer(output ~ input + (1 | group), data = d, REML = TRUE)
t0 <- proc.time()[["elapsed"]]
sims <- simulate(update(full, . ~ 1 + (1 | group)), nsim = nsim)
p <- numeric(nsim)
for (i in seq_len(nsim)) {
  m <- as_lmerModLmerTest(suppressMessages(refit(full, sims[[i]])))
  p[i] <- coef(summary(m, ddf = "Satterthwaite"))[2, "Pr(>|t|)"]
}
calib <- proc.time()[["elapsed"]] - t0
fullml <- lmer(output ~ input + (1 | group), data = d, REML = FALSE)
redml <- lmer(output ~ 1 + (1 | group), data = d, REML = FALSE)
t0 <- proc.time()[["elapsed"]]
pb <- PBmodcomp(fullml, redml, nsim = nsim, seed = 2)
boot <- proc.time()[["elapsed"]] - t0
cat(sprintf('{"calibrate_s": %.3f, "rate": %.4f, "pbmodcomp_s": %.3f, "p_pb": %.4f, "lrt": %.6f}',
            calib, mean(p < 0.05), boot, pb$test["PBtest", "p.value"], pb$test["LRT", "stat"]))
"""


def run_r(data, n_sim):
    if shutil.which("Rscript") is None:
        print("R side skipped: no Rscript on this machine")
        return None
    with tempfile.TemporaryDirectory() as tmp:
        csv, script = Path(tmp) / "d.csv", Path(tmp) / "bench.R"
        data.to_csv(csv, index=False)
        script.write_text(R_SCRIPT)
        out = subprocess.run(["Rscript", str(script), str(csv), str(n_sim)],
                             capture_output=True, text=True)
        if out.returncode != 0:
            print("R side failed:", out.stderr[-500:])
            return None
        return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-sim", type=int, default=1000)
    parser.add_argument("--no-r", action="store_true")
    args = parser.parse_args()
    data = two_input_design(10, 20, seed=7)
    result = fit_mixedlm(smf.mixedlm("output ~ input", data, groups="group"))
    t0 = time.perf_counter()
    table = calibrate(result, n_sim=args.n_sim, seed=1)
    calib_s = time.perf_counter() - t0
    full = fit_mixedlm(smf.mixedlm("output ~ input", data, groups="group"), reml=False)
    reduced = fit_mixedlm(smf.mixedlm("output ~ 1", data, groups="group"), reml=False)
    t0 = time.perf_counter()
    boot = bootstrap_test(full, reduced, n_sim=args.n_sim, seed=2).iloc[0]
    boot_s = time.perf_counter() - t0
    r = None if args.no_r else run_r(data, args.n_sim)
    print(f"seed design, {len(data)} rows, n_sim = {args.n_sim}, one core each")
    print(table[["method", "rate", "lower", "upper", "n_failed", "n_boundary"]]
          .to_string(index=False))
    print(f"calibrate (z + Satterthwaite + KR per draw): {calib_s:.2f} s "
          f"({args.n_sim / calib_s:.0f} draws/s)")
    print(f"bootstrap_test: {boot_s:.2f} s, LRT {boot['LRT']:.6f}, "
          f"p_bootstrap {boot['p_bootstrap']:.4f}, p_pbkrtest {boot['p_pbkrtest']:.4f}")
    if r is not None:
        print(f"R, lmer refit + lmerTest Satterthwaite per draw: {r['calibrate_s']:.2f} s "
              f"(rate {r['rate']:.3f}); ours / R = {calib_s / r['calibrate_s']:.3f}")
        print(f"R, PBmodcomp: {r['pbmodcomp_s']:.2f} s, LRT {r['lrt']:.6f}, "
              f"p {r['p_pb']:.4f}; ours / R = {boot_s / r['pbmodcomp_s']:.3f}")


if __name__ == "__main__":
    main()
