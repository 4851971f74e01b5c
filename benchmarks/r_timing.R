#!/usr/bin/env Rscript
## ---------------------------------------------------------------------------
## r_timing.R -- time lme4 / lmerTest / pbkrtest on one data set
##
## Usage:
##   Rscript benchmarks/r_timing.R <data.csv> "<lme4 formula>" <out.json> [reps] [parts]
##
##   data.csv  read with read.csv(); character columns become factors with
##             levels in C-locale sort order (= patsy's order).  Integer-coded
##             factors used as FIXED effects must be wrapped in factor() in the
##             formula (grouping variables in (...|g) are converted by lme4).
##   formula   an lme4 formula, e.g. "y ~ cond + (1 | subj) + (1 | item)"
##   out.json  where the results go
##   reps      timed repetitions per part (default 5); one untimed warm-up run
##             precedes them.  The JSON holds the median and all raw times.
##   parts     optional comma-separated subset of
##             fit,satterthwaite,kr,kr_lmertest   (default: all four)
##
## Parts (wall-clock seconds, Sys.time()):
##   fit            lme4::lmer(formula, REML = TRUE)
##   satterthwaite  lmerTest on an existing fit: as_lmerModLmerTest() (numerical
##                  Hessian and Jacobian of the variance parameters; this is the
##                  extra work lmerTest::lmer does after lme4's fit) +
##                  summary()$coefficients + anova(type = 3); sub-times reported
##   kr             pbkrtest on an existing fit, computing the adjusted
##                  covariance once: vcovAdj() + Lb_ddf() for every coefficient
##                  + the KR F test of every type-III term (pbkrtest's internal
##                  .KR_adjust with that same vcovAdj, i.e. what KRmodcomp does
##                  after its own vcovAdj call); sub-times reported
##   kr_lmertest    what users type: summary(fit, ddf = "Kenward-Roger") +
##                  anova(fit, type = 3, ddf = "Kenward-Roger").  lmerTest calls
##                  vcovAdj() once per coefficient and once per term, so this
##                  is roughly (p + number of terms) times the vcovAdj cost.
##
## The JSON also holds the df values computed (coefficients and type-III terms,
## Satterthwaite and KR), so the caller can check agreement with its own
## numbers, plus n, p, versions and any warnings R emitted.
## ---------------------------------------------------------------------------

suppressPackageStartupMessages({
  library(lme4)
  library(lmerTest)
  library(pbkrtest)
  library(jsonlite)
})

args <- commandArgs(trailingOnly = TRUE)
if (length(args) < 3L)
  stop("usage: Rscript benchmarks/r_timing.R <data.csv> <lme4 formula> <out.json> [reps] [parts]")
csv <- args[1]; form <- as.formula(args[2]); out <- args[3]
reps <- if (length(args) >= 4L) as.integer(args[4]) else 5L
parts <- if (length(args) >= 5L) strsplit(args[5], ",", fixed = TRUE)[[1]] else
  c("fit", "satterthwaite", "kr", "kr_lmertest")
stopifnot(reps >= 1L, all(parts %in% c("fit", "satterthwaite", "kr", "kr_lmertest")))

d <- read.csv(csv, stringsAsFactors = FALSE)
for (v in names(d)) if (is.character(d[[v]]))
  d[[v]] <- factor(d[[v]], levels = sort(unique(d[[v]]), method = "radix"))

warns <- character()
quiet <- function(expr) withCallingHandlers(expr,
  warning = function(w) { warns <<- c(warns, conditionMessage(w)); invokeRestart("muffleWarning") },
  message = function(m) { warns <<- c(warns, trimws(conditionMessage(m))); invokeRestart("muffleMessage") })

## time f() reps times after one warm-up; returns list(median, times, value)
timeit <- function(f) {
  value <- quiet(f())
  times <- vapply(seq_len(reps), function(i) {
    t0 <- Sys.time(); quiet(f()); as.numeric(difftime(Sys.time(), t0, units = "secs"))
  }, 0)
  list(median = median(times), times = times, value = value)
}

fit <- quiet(lme4::lmer(form, data = d, REML = TRUE))
p <- length(fixef(fit))
res <- list(
  data = normalizePath(csv), formula = args[2], reps = reps,
  n_obs = nrow(model.matrix(fit)), n_fixef = p,
  n_theta = length(getME(fit, "theta")),
  ngroups = as.list(ngrps(fit)),
  reml_criterion = unname(REMLcrit(fit)), singular = isSingular(fit),
  coef_names = I(names(fixef(fit))),
  versions = list(R = paste(R.version$major, R.version$minor, sep = "."),
                  lme4 = packageDescription("lme4")$Version,
                  lmerTest = packageDescription("lmerTest")$Version,
                  pbkrtest = packageDescription("pbkrtest")$Version),
  timings = list(), df = list())

if ("fit" %in% parts) {
  t <- timeit(function() lme4::lmer(form, data = d, REML = TRUE))
  res$timings$fit <- list(median = t$median, times = I(t$times))
}

has_terms <- length(attr(terms(fit), "term.labels")) > 0L

if ("satterthwaite" %in% parts) {
  t_setup <- timeit(function() as_lmerModLmerTest(fit))
  fitT <- t_setup$value
  t_coef <- timeit(function() summary(fitT)$coefficients)
  t_anova <- if (has_terms) timeit(function() anova(fitT, type = 3)) else NULL
  t_tot <- timeit(function() {
    ft <- as_lmerModLmerTest(fit)
    cf <- summary(ft)$coefficients
    if (has_terms) anova(ft, type = 3)
    cf
  })
  res$timings$satterthwaite <- list(
    median = t_tot$median, times = I(t_tot$times),
    setup_median = t_setup$median, coef_median = t_coef$median,
    anova_median = if (is.null(t_anova)) NULL else t_anova$median)
  res$df$coef_satterthwaite <- I(unname(t_coef$value[, "df"]))
  if (has_terms) {
    a <- t_anova$value
    res$df$anova_terms <- I(rownames(a))
    res$df$anova_num_df <- I(as.integer(a[, "NumDF"]))
    res$df$anova_den_df_satterthwaite <- I(unname(a[, "DenDF"]))
  }
}

type3_L <- function() {
  if (!has_terms) return(list())
  a <- suppressMessages(anova(as_lmerModLmerTest(fit), type = 3))
  lapply(show_tests(a), as.matrix)
}

if ("kr" %in% parts) {
  Ls <- type3_L()
  kr_adjust <- get0(".KR_adjust", envir = asNamespace("pbkrtest"), inherits = FALSE)
  V0 <- as.matrix(vcov(fit))
  t_vadj <- timeit(function() pbkrtest::vcovAdj(fit))
  Vadj <- t_vadj$value
  coef_df <- function() vapply(seq_len(p), function(j) {
    e <- numeric(p); e[j] <- 1; pbkrtest::Lb_ddf(e, V0, Vadj)
  }, 0)
  term_df <- function() vapply(Ls, function(L)
    kr_adjust(Vadj, Phi = vcov(fit), L, beta = fixef(fit), betaH = 0)$ddf, 0)
  t_cdf <- timeit(coef_df)
  t_tdf <- if (length(Ls) && !is.null(kr_adjust)) timeit(term_df) else NULL
  t_tot <- timeit(function() {
    Vadj <- pbkrtest::vcovAdj(fit)
    cdf <- vapply(seq_len(p), function(j) {
      e <- numeric(p); e[j] <- 1; pbkrtest::Lb_ddf(e, V0, Vadj)
    }, 0)
    if (length(Ls) && !is.null(kr_adjust))
      for (L in Ls) kr_adjust(Vadj, Phi = vcov(fit), L, beta = fixef(fit), betaH = 0)
    cdf
  })
  res$timings$kr <- list(
    median = t_tot$median, times = I(t_tot$times),
    vcovadj_median = t_vadj$median, coef_df_median = t_cdf$median,
    anova_median = if (is.null(t_tdf)) NULL else t_tdf$median,
    note = if (length(Ls) && is.null(kr_adjust)) "pbkrtest:::.KR_adjust not found; term tests not timed" else NULL)
  res$df$coef_kr <- I(t_cdf$value)
  if (!is.null(t_tdf)) {
    res$df$anova_terms <- I(names(Ls))
    res$df$anova_den_df_kr <- I(unname(t_tdf$value))
  }
}

if ("kr_lmertest" %in% parts) {
  fitT <- quiet(as_lmerModLmerTest(fit))
  t_sum <- timeit(function() summary(fitT, ddf = "Kenward-Roger")$coefficients)
  t_an <- if (has_terms) timeit(function() anova(fitT, type = 3, ddf = "Kenward-Roger")) else NULL
  res$timings$kr_lmertest <- list(
    median = t_sum$median + (if (is.null(t_an)) 0 else t_an$median),
    summary_median = t_sum$median, summary_times = I(t_sum$times),
    anova_median = if (is.null(t_an)) NULL else t_an$median,
    anova_times = if (is.null(t_an)) NULL else I(t_an$times))
  res$df$coef_kr_lmertest <- I(unname(t_sum$value[, "df"]))
  if (has_terms) {
    res$df$anova_terms <- I(rownames(t_an$value))
    res$df$anova_den_df_kr_lmertest <- I(unname(t_an$value[, "DenDF"]))
  }
}

if (any(grepl("Unable to compute Kenward-Roger", warns)))
  res$kr_fallback_warning <- TRUE
res$r_warnings <- I(unique(warns))
res$timings <- lapply(res$timings, function(x) x[!vapply(x, is.null, TRUE)])
writeLines(toJSON(res, auto_unbox = TRUE, digits = NA, null = "null", na = "null", pretty = TRUE), out)
cat("wrote", out, "\n")
