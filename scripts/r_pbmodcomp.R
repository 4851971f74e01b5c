#!/usr/bin/env Rscript
## ---------------------------------------------------------------------------
## r_pbmodcomp.R -- reference results of pbkrtest's PBmodcomp for bootstrap_test
##
## Usage (from the repository root):   Rscript scripts/r_pbmodcomp.R
##
## Requires R with lme4, pbkrtest and jsonlite (Debian: r-cran-pbkrtest,
## r-cran-jsonlite).  Writes, for each case, tests/fixtures/pbmodcomp_<case>.csv
## (the data) and one file tests/fixtures/pbmodcomp.json with, per case, the
## lme4 formulas, the LRT statistic, its df, the chi-square p-value, PBmodcomp's
## parametric bootstrap p-value and the number of bootstrap samples.  Each case
## simulates its data under its own set.seed(); PBmodcomp uses set.seed() too.
## ---------------------------------------------------------------------------
suppressPackageStartupMessages({
  library(lme4)
  library(pbkrtest)
  library(jsonlite)
})
args_all <- commandArgs(trailingOnly = FALSE)
script_path <- sub("^--file=", "", args_all[grep("^--file=", args_all)])
root <- if (length(script_path)) normalizePath(file.path(dirname(script_path), "..")) else getwd()
outdir <- file.path(root, "tests", "fixtures")
NSIM <- 2000

make_fixed <- function() {  # a weak within-group effect, random intercepts
  set.seed(101)
  G <- 10; m <- 6
  d <- data.frame(g = rep(seq_len(G), each = m), x = rnorm(G * m))
  d$y <- rnorm(G)[d$g] + 0.25 * d$x + rnorm(G * m)
  d
}
make_slope <- function() {  # a small random slope: the random-effects (boundary) case
  set.seed(202)
  G <- 12; m <- 6
  d <- data.frame(g = rep(seq_len(G), each = m), x = rep(seq(-1, 1, length.out = m), G))
  d$y <- rnorm(G)[d$g] + (0.3 + 0.35 * rnorm(G))[d$g] * d$x + rnorm(G * m)
  d
}
cases <- list(
  fixed = list(data = make_fixed(), full = y ~ x + (1 | g), reduced = y ~ 1 + (1 | g),
               statsmodels = list(groups = "g", full = "y ~ x", reduced = "y ~ 1",
                                  full_re = NULL, reduced_re = NULL)),
  slope = list(data = make_slope(), full = y ~ x + (x | g), reduced = y ~ x + (1 | g),
               statsmodels = list(groups = "g", full = "y ~ x", reduced = "y ~ x",
                                  full_re = "~x", reduced_re = NULL))
)
out <- list(versions = list(R = paste(R.version$major, R.version$minor, sep = "."),
                            lme4 = packageDescription("lme4")$Version,
                            pbkrtest = packageDescription("pbkrtest")$Version),
            nsim = NSIM, cases = list())
for (name in names(cases)) {
  cs <- cases[[name]]
  csv <- file.path(outdir, paste0("pbmodcomp_", name, ".csv"))
  write.csv(cs$data, csv, row.names = FALSE)
  d <- read.csv(csv)
  full <- lmer(cs$full, data = d, REML = FALSE)
  reduced <- lmer(cs$reduced, data = d, REML = FALSE)
  set.seed(303)
  pb <- PBmodcomp(full, reduced, nsim = NSIM)
  tab <- pb$test
  out$cases[[name]] <- list(
    data = basename(csv), lme4_full = deparse(cs$full), lme4_reduced = deparse(cs$reduced),
    statsmodels = cs$statsmodels,
    logLik_full = as.numeric(logLik(full)), logLik_reduced = as.numeric(logLik(reduced)),
    LRT = tab["LRT", "stat"], df = tab["LRT", "df"], p_chisq = tab["LRT", "p.value"],
    p_PB = tab["PBtest", "p.value"], n_extreme = pb$n.extreme,
    n_positive = length(pb$ref[pb$ref > 0]), n_ref = length(pb$ref))
}
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE, null = "null"),
           file.path(outdir, "pbmodcomp.json"))
