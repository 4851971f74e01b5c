#!/usr/bin/env Rscript
## ---------------------------------------------------------------------------
## r_fit_timing.R -- time lme4::lmer from the formula to the fitted model
##
## Usage:
##   Rscript benchmarks/r_fit_timing.R <data.csv> "<lme4 formula>" <out.json> [reps]
##
## The CSV is read once (character columns become factors with levels in C-locale
## order, as patsy sorts them); then lmer(formula, data, REML = TRUE) runs once
## untimed and `reps` times timed (default 3).  The JSON holds the best and all
## times (seconds, Sys.time()), REMLcrit, isSingular, theta and the versions.
## Used by benchmarks/bench_fit.py.
## ---------------------------------------------------------------------------

suppressPackageStartupMessages({
  library(lme4)
  library(jsonlite)
})

args <- commandArgs(trailingOnly = TRUE)
if (length(args) < 3L)
  stop("usage: Rscript benchmarks/r_fit_timing.R <data.csv> <lme4 formula> <out.json> [reps]")
csv <- args[1]; form <- as.formula(args[2]); out <- args[3]
reps <- if (length(args) >= 4L) as.integer(args[4]) else 3L

d <- read.csv(csv, stringsAsFactors = FALSE)
for (v in names(d)) if (is.character(d[[v]]))
  d[[v]] <- factor(d[[v]], levels = sort(unique(d[[v]]), method = "radix"))

fit <- suppressMessages(lmer(form, data = d, REML = TRUE))  # warm-up
times <- numeric(reps)
for (r in seq_len(reps)) {
  t0 <- Sys.time()
  fit <- suppressMessages(lmer(form, data = d, REML = TRUE))
  times[r] <- as.numeric(difftime(Sys.time(), t0, units = "secs"))
}
res <- list(
  best = min(times), times = times,
  reml_criterion = sprintf("%.17g", REMLcrit(fit)),
  singular = isSingular(fit),
  theta = unname(getME(fit, "theta")),
  versions = list(R = R.version.string, lme4 = as.character(packageVersion("lme4")))
)
writeLines(toJSON(res, auto_unbox = TRUE, digits = NA), out)
