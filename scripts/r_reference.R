#!/usr/bin/env Rscript
## ---------------------------------------------------------------------------
## r_reference.R -- regenerate the R reference fixtures in tests/fixtures/
##
## Usage (from the repository root):   Rscript scripts/r_reference.R
##
## Requires R with lme4, lmerTest, pbkrtest and jsonlite (Debian: r-cran-lme4,
## r-cran-lmertest, r-cran-pbkrtest, r-cran-jsonlite).  Every simulated data
## set uses its own set.seed(), so re-running the script reproduces the files
## byte for byte on the same R / package versions.
##
## For each case this writes
##   tests/fixtures/<case>.csv   the data exactly as fitted (the model is fitted
##                               to the CSV as read back, not to the in-memory
##                               data), factors as their labels
##   tests/fixtures/<case>.json  REML fit, Satterthwaite (lmerTest) and
##                               Kenward-Roger (lmerTest via pbkrtest, cross-
##                               checked against pbkrtest directly) results
## plus the batch file fewgroup_optima.{csv,json}.  The JSON schema is
## documented in tests/fixtures/README.md.
## ---------------------------------------------------------------------------

suppressPackageStartupMessages({
  library(lme4)
  library(lmerTest)
  library(pbkrtest)
  library(jsonlite)
})

args_all <- commandArgs(trailingOnly = FALSE)
script_path <- sub("^--file=", "", args_all[grep("^--file=", args_all)])

## Byte-identical output.  lme4's optimum differs between R processes in about
## the 10th significant digit (two or more distinct results for Penicillin and
## the other multi-theta models): the vectorised sums in lme4/Matrix depend on
## the memory alignment of the data, which changes with address-space layout
## randomisation.  With ASLR off the results are reproducible, so on Linux the
## script re-runs itself under `setarch <arch> -R` (set R_REFERENCE_NO_REEXEC=1
## to skip this; results then agree to ~1e-9 relative, not byte for byte).
if (.Platform$OS.type == "unix" && length(script_path) &&
    Sys.getenv("R_REFERENCE_NO_REEXEC") == "" && nzchar(Sys.which("setarch"))) {
  arch <- system2("uname", "-m", stdout = TRUE)
  if (identical(suppressWarnings(system2("setarch", c(arch, "-R", "true"))), 0L)) {
    status <- system2("setarch", c(arch, "-R", shQuote(file.path(R.home("bin"), "Rscript")),
                                   shQuote(script_path)),
                      env = "R_REFERENCE_NO_REEXEC=1")
    quit(save = "no", status = status)
  }
  message("setarch -R not available: output may differ from the committed files in the last digits")
}
root <- if (length(script_path)) normalizePath(file.path(dirname(script_path), "..")) else getwd()
outdir <- file.path(root, "tests", "fixtures")
dir.create(outdir, showWarnings = FALSE, recursive = TRUE)

versions <- list(
  R = paste(R.version$major, R.version$minor, sep = "."),
  lme4 = packageDescription("lme4")$Version,
  lmerTest = packageDescription("lmerTest")$Version,
  pbkrtest = packageDescription("pbkrtest")$Version,
  Matrix = packageDescription("Matrix")$Version,
  jsonlite = packageDescription("jsonlite")$Version
)

## ---------------------------------------------------------------- JSON output
## jsonlite prints at most 15 significant digits; we want numbers that round-
## trip exactly, so doubles are formatted here (shortest of %.15g/%.16g/%.17g
## that reads back identically) and passed to jsonlite verbatim.
fmt_num <- function(v) {
  vapply(v, function(z) {
    if (is.na(z) || !is.finite(z)) return("null")
    s <- sprintf("%.15g", z)
    for (d in 16:17) if (as.numeric(s) != z) s <- sprintf(paste0("%.", d, "g"), z)
    s
  }, "")
}
verbatim <- function(s) structure(s, class = "json")
to_js <- function(x) {
  if (is.null(x)) return(NULL)
  if (inherits(x, "json")) return(x)
  if (is.data.frame(x)) stop("convert data frames to row lists first")
  if (is.list(x)) return(lapply(x, to_js))
  if (is.matrix(x) && is.numeric(x)) {
    rows <- vapply(seq_len(nrow(x)), function(i)
      paste0("[", paste(fmt_num(as.numeric(x[i, ])), collapse = ","), "]"), "")
    return(verbatim(paste0("[", paste(rows, collapse = ","), "]")))
  }
  if (is.double(x)) {
    s <- fmt_num(as.numeric(x))
    if (length(x) == 1L && !inherits(x, "AsIs")) return(verbatim(s))
    return(verbatim(paste0("[", paste(s, collapse = ","), "]")))
  }
  x
}
write_fixture_json <- function(obj, path) {
  txt <- toJSON(to_js(obj), auto_unbox = TRUE, json_verbatim = TRUE,
                null = "null", na = "null", pretty = TRUE)
  writeLines(txt, path)
}
arr <- function(x) I(as.numeric(x))        # always a JSON array
rows_of <- function(df) lapply(seq_len(nrow(df)), function(i) as.list(df[i, , drop = FALSE]))

## ------------------------------------------------------------- small helpers
## Capture warnings and messages (e.g. "boundary (singular) fit") so they can
## be recorded in the fixture instead of cluttering the console.
capture <- function(expr, log_env) {
  withCallingHandlers(expr,
    warning = function(w) {
      log_env$warnings <- c(log_env$warnings, conditionMessage(w))
      invokeRestart("muffleWarning")
    },
    message = function(m) {
      log_env$messages <- c(log_env$messages, trimws(conditionMessage(m)))
      invokeRestart("muffleMessage")
    })
}

## statsmodels/patsy names of the fixed-effect columns, in R's column order.
sm_colnames <- function(fit, factors) {
  X <- model.matrix(fit)
  asg <- attr(X, "assign")
  tl <- attr(terms(fit), "term.labels")
  cn <- colnames(X)
  vapply(seq_along(cn), function(j) {
    if (asg[j] == 0) return("Intercept")
    vars <- strsplit(tl[asg[j]], ":", fixed = TRUE)[[1]]
    pieces <- strsplit(cn[j], ":", fixed = TRUE)[[1]]
    stopifnot(length(vars) == length(pieces))
    paste(mapply(function(v, p) {
      if (v %in% factors) {
        stopifnot(startsWith(p, v))
        sprintf("C(%s)[T.%s]", v, substring(p, nchar(v) + 1L))
      } else v
    }, vars, pieces), collapse = ":")
  }, "")
}
## The order patsy gives the same columns: intercept first, then terms grouped
## by the set of numeric (non-factor) variables they contain (the group without
## numeric variables first, the others in order of first appearance), by
## degree within a group.  Columns within a term follow R's order (checked
## against statsmodels for every case).  Returns 1-based indices into R's order.
patsy_order <- function(fit, factors) {
  X <- model.matrix(fit)
  asg <- attr(X, "assign")
  tl <- attr(terms(fit), "term.labels")
  if (!length(tl)) return(seq_len(ncol(X)))
  keys <- vapply(tl, function(t) {
    v <- strsplit(t, ":", fixed = TRUE)[[1]]
    paste(sort(v[!(v %in% factors)]), collapse = ":")
  }, "")
  deg <- vapply(strsplit(tl, ":", fixed = TRUE), length, 0L)
  key_rank <- match(keys, unique(c("", keys)))
  term_ord <- order(key_rank, deg, seq_along(tl))
  c(which(asg == 0), unlist(lapply(term_ord, function(t) which(asg == t))))
}
sm_termname <- function(term, factors) {
  vars <- strsplit(term, ":", fixed = TRUE)[[1]]
  paste(ifelse(vars %in% factors, sprintf("C(%s)", vars), vars), collapse = ":")
}

## Levels sorted the way patsy sorts them (numbers numerically, strings by code
## point = C locale), so that treatment contrasts drop the same level.
as_sorted_factor <- function(x) factor(x, levels = sort(unique(x), method = "radix"))

## ------------------------------------------------------------ the case runner
run_case <- function(case, description, data, formula, sm, factors,
                     contrasts = list(), notes = NULL, expect_singular = NA) {
  cat("== ", case, "\n", sep = "")
  csv <- file.path(outdir, paste0(case, ".csv"))
  write.csv(data, csv, row.names = FALSE)
  d <- read.csv(csv, stringsAsFactors = FALSE)
  for (v in names(data)) {
    if (!(v %in% factors) && is.numeric(data[[v]]))
      stopifnot(identical(as.numeric(d[[v]]), as.numeric(data[[v]])))
  }
  for (f in factors) d[[f]] <- as_sorted_factor(d[[f]])

  log <- new.env(); log$warnings <- character(); log$messages <- character()
  fit <- capture(lmerTest::lmer(as.formula(formula), data = d, REML = TRUE), log)
  fit_warnings <- log$warnings; fit_messages <- log$messages
  opt_msgs <- c(fit@optinfo$conv$lme4$messages, unlist(fit@optinfo$warnings))

  X <- model.matrix(fit)
  p <- ncol(X)
  rnames <- colnames(X)
  smn <- sm_colnames(fit, factors)
  pord <- patsy_order(fit, factors)

  ## --- coefficient tables
  klog <- new.env(); klog$warnings <- character(); klog$messages <- character()
  cs <- capture(summary(fit, ddf = "Satterthwaite")$coefficients, klog)
  ck <- capture(summary(fit, ddf = "Kenward-Roger")$coefficients, klog)
  if (any(grepl("Unable to compute Kenward-Roger", klog$warnings)))
    stop(case, ": lmerTest fell back from Kenward-Roger to Satterthwaite")
  Vadj <- pbkrtest::vcovAdj(fit)
  V0 <- as.matrix(vcov(fit))
  ## cross-check: pbkrtest directly (Lb_ddf and KRmodcomp on unit vectors)
  kr_df_direct <- vapply(seq_len(p), function(j) {
    e <- numeric(p); e[j] <- 1
    pbkrtest::Lb_ddf(e, V0, Vadj)
  }, 0)
  kr_df_modcomp <- vapply(seq_len(p), function(j) {
    e <- matrix(0, 1, p); e[1, j] <- 1
    pbkrtest::KRmodcomp(fit, e)$test["Ftest", "ddf"]
  }, 0)
  coef <- lapply(seq_len(p), function(j) list(
    name = rnames[j], statsmodels_name = smn[j],
    estimate = cs[j, "Estimate"], se = cs[j, "Std. Error"],
    df_satterthwaite = cs[j, "df"], t_satterthwaite = cs[j, "t value"],
    p_satterthwaite = cs[j, "Pr(>|t|)"],
    se_kr = ck[j, "Std. Error"], df_kr = ck[j, "df"],
    t_kr = ck[j, "t value"], p_kr = ck[j, "Pr(>|t|)"]))
  checks <- list(
    kr_coef_df_max_abs_diff_lmerTest_vs_pbkrtest_Lb_ddf = max(abs(ck[, "df"] - kr_df_direct)),
    kr_coef_df_max_abs_diff_lmerTest_vs_pbkrtest_KRmodcomp = max(abs(ck[, "df"] - kr_df_modcomp)),
    kr_se_max_abs_diff_lmerTest_vs_vcovAdj = max(abs(ck[, "Std. Error"] - sqrt(diag(as.matrix(Vadj))))))

  ## --- type III anova
  anova3 <- NULL
  if (p > 1) {
    a_s <- capture(anova(fit, type = 3, ddf = "Satterthwaite"), klog)
    a_k <- capture(anova(fit, type = 3, ddf = "Kenward-Roger"), klog)
    Ls <- show_tests(a_s)
    anova3 <- lapply(rownames(a_s), function(tm) {
      L <- as.matrix(Ls[[tm]])
      kr <- pbkrtest::KRmodcomp(fit, L)$test
      list(term = tm, statsmodels_term = sm_termname(tm, factors),
           num_df = a_s[tm, "NumDF"],
           den_df_satterthwaite = a_s[tm, "DenDF"], F_satterthwaite = a_s[tm, "F value"],
           p_satterthwaite = a_s[tm, "Pr(>F)"],
           den_df_kr = a_k[tm, "DenDF"], F_kr = a_k[tm, "F value"], p_kr = a_k[tm, "Pr(>F)"],
           kr_scaling_lambda = kr["Ftest", "F.scaling"],
           F_kr_unscaled = kr["FtestU", "stat"],
           L = unname(L))
    })
    checks$anova_kr_df_max_abs_diff_lmerTest_vs_KRmodcomp <- max(vapply(anova3, function(a)
      abs(a$den_df_kr - pbkrtest::KRmodcomp(fit, a$L)$test["Ftest", "ddf"]), 0))
  }

  ## --- hand-picked contrasts
  contr <- lapply(contrasts, function(cc) {
    L <- cc$L
    if (!is.matrix(L)) L <- matrix(L, nrow = 1)
    stopifnot(ncol(L) == p)
    s <- capture(contest(fit, L, joint = TRUE, ddf = "Satterthwaite"), klog)
    k <- capture(contest(fit, L, joint = TRUE, ddf = "Kenward-Roger"), klog)
    kr <- pbkrtest::KRmodcomp(fit, L)$test
    out <- list(description = cc$description, L = L, num_df = s[["NumDF"]],
                F_satterthwaite = s[["F value"]], df_satterthwaite = s[["DenDF"]],
                p_satterthwaite = s[["Pr(>F)"]],
                F_kr = k[["F value"]], df_kr = k[["DenDF"]], p_kr = k[["Pr(>F)"]],
                kr_scaling_lambda = kr["Ftest", "F.scaling"],
                F_kr_unscaled = kr["FtestU", "stat"],
                pbkrtest_KRmodcomp = list(F = kr["Ftest", "stat"], ndf = kr["Ftest", "ndf"],
                                          ddf = kr["Ftest", "ddf"], p = kr["Ftest", "p.value"]))
    if (nrow(L) == 1L) {
      s1 <- capture(contest(fit, L, joint = FALSE, ddf = "Satterthwaite"), klog)
      k1 <- capture(contest(fit, L, joint = FALSE, ddf = "Kenward-Roger"), klog)
      out <- c(out, list(estimate = s1[["Estimate"]],
                         se_satterthwaite = s1[["Std. Error"]], t_satterthwaite = s1[["t value"]],
                         se_kr = k1[["Std. Error"]], t_kr = k1[["t value"]]))
    }
    out
  })
  if (any(grepl("Unable to compute Kenward-Roger", klog$warnings)))
    stop(case, ": lmerTest fell back from Kenward-Roger to Satterthwaite")

  vc <- as.data.frame(VarCorr(fit))
  varcorr <- lapply(seq_len(nrow(vc)), function(i) list(
    grp = vc$grp[i], var1 = if (is.na(vc$var1[i])) NULL else vc$var1[i],
    var2 = if (is.na(vc$var2[i])) NULL else vc$var2[i], vcov = vc$vcov[i], sdcor = vc$sdcor[i]))

  res <- list(
    case = case, description = description, versions = versions,
    data = basename(csv), n_obs = nrow(d),
    lme4_formula = formula,
    statsmodels = c(sm, list(exog_names = I(smn), exog_names_patsy_order = I(smn[pord]))),
    same_column_order = identical(pord, seq_len(p)),
    r_colnames = I(rnames),
    reml = TRUE,
    reml_criterion = unname(REMLcrit(fit)),
    singular = isSingular(fit),
    sigma2 = sigma(fit)^2,
    theta = arr(getME(fit, "theta")),
    theta_names = I(names(getME(fit, "theta"))),
    varcorr = varcorr,
    coef = coef,
    anova_type3 = anova3,
    contrasts = if (length(contr)) contr else NULL,
    vcov_beta = unname(V0),
    vcov_adj_kr = unname(as.matrix(Vadj)),
    kr_W = unname(as.matrix(attr(Vadj, "W"))),
    satterthwaite_varpar = arr(c(getME(fit, "theta"), sigma(fit))),
    satterthwaite_vcov_varpar = unname(fit@vcov_varpar),
    checks = checks,
    r_fit_messages = I(unique(c(fit_messages, opt_msgs))),
    r_fit_warnings = I(fit_warnings),
    r_inference_warnings = I(unique(klog$warnings)),
    notes = notes
  )
  res <- res[!vapply(res, is.null, TRUE)]
  write_fixture_json(res, file.path(outdir, paste0(case, ".json")))
  cat(sprintf("   REML %.6f singular=%s  Satt df: %s\n   KR df: %s\n", REMLcrit(fit), isSingular(fit),
              paste(signif(cs[, "df"], 8), collapse = ", "), paste(signif(ck[, "df"], 8), collapse = ", ")))
  if (!is.null(anova3)) for (a in anova3)
    cat(sprintf("   anova %-12s ndf %d  Satt ddf %.6f  KR ddf %.6f  lambda %.6f\n", a$term, a$num_df,
                a$den_df_satterthwaite, a$den_df_kr, a$kr_scaling_lambda))
  if (length(c(fit_messages, opt_msgs, fit_warnings, klog$warnings)))
    cat("   R said:", paste(unique(c(fit_messages, opt_msgs, fit_warnings, klog$warnings)), collapse = " | "), "\n")
  stopifnot(checks$kr_coef_df_max_abs_diff_lmerTest_vs_pbkrtest_Lb_ddf < 1e-8)
  if (!is.na(expect_singular) && isSingular(fit) != expect_singular)
    stop(case, ": expected singular = ", expect_singular)
  invisible(fit)
}

## =========================================================================
## Cases
## =========================================================================

## 1-2. Seed 003: 16 rows, 8 participants, Condition_1 within, Condition_2 between.
seed003 <- data.frame(
  participant_ID = c(1, 1, 2, 2, 3, 3, 4, 4, 26, 26, 27, 27, 28, 28, 29, 29),
  Condition_1    = c(1, 2, 1, 2, 1, 2, 2, 1, 2, 1, 1, 2, 2, 1, 1, 2),
  Condition_2    = c(1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2),
  dependent_var  = c(0.71, 0.43, 0.77, 0.37, 0.58, 0.69, 0.72, 0.12,
                     0.91, 0.53, 0.29, 0.39, 0.75, 0.51, 0.42, 0.31))

run_case("seed003_interaction",
  "Seed 003 (16 rows, 8 participants): Condition_1 within participants, Condition_2 between, random intercept. Boundary (singular) fit: the participant variance is 0.",
  seed003,
  "dependent_var ~ Condition_1 * Condition_2 + (1 | participant_ID)",
  list(formula = "dependent_var ~ C(Condition_1) * C(Condition_2)", groups = "participant_ID",
       re_formula = NULL, vc_formula = NULL),
  factors = c("participant_ID", "Condition_1", "Condition_2"),
  contrasts = list(
    list(description = "Condition_1 effect at Condition_2 = 2 (Condition_12 + Condition_12:Condition_22)",
         L = c(0, 1, 0, 1)),
    list(description = "joint test of all three non-intercept coefficients",
         L = cbind(0, diag(3)))),
  expect_singular = TRUE)

seed003_vc <- seed003
seed003_vc$one <- 1
run_case("seed003_vc",
  "Seed 003 answer's additive variance-components model: intercept plus crossed random intercepts for participant, Condition_1 and Condition_2. All three variances are estimated at zero.",
  seed003_vc,
  "dependent_var ~ 1 + (1 | participant_ID) + (1 | Condition_1) + (1 | Condition_2)",
  list(formula = "dependent_var ~ 1", groups = "one", re_formula = "0",
       vc_formula = list(participant_ID = "0 + C(participant_ID)",
                         Condition_1 = "0 + C(Condition_1)",
                         Condition_2 = "0 + C(Condition_2)")),
  factors = c("participant_ID", "Condition_1", "Condition_2"), expect_singular = TRUE)

## 3-4. sleepstudy
data("sleepstudy", package = "lme4")
ss <- data.frame(Reaction = sleepstudy$Reaction, Days = sleepstudy$Days,
                 Subject = as.integer(as.character(sleepstudy$Subject)))
run_case("sleepstudy_slopes",
  "lme4::sleepstudy, correlated random intercept and slope for Days by Subject.",
  ss, "Reaction ~ Days + (Days | Subject)",
  list(formula = "Reaction ~ Days", groups = "Subject", re_formula = "1 + Days", vc_formula = NULL),
  factors = "Subject",
  contrasts = list(
    list(description = "mean reaction at Days = 5 (Intercept + 5 Days)", L = c(1, 5)),
    list(description = "joint test of intercept and slope", L = diag(2))))

run_case("sleepstudy_intercept",
  "lme4::sleepstudy, random intercept by Subject.",
  ss, "Reaction ~ Days + (1 | Subject)",
  list(formula = "Reaction ~ Days", groups = "Subject", re_formula = NULL, vc_formula = NULL),
  factors = "Subject",
  contrasts = list(
    list(description = "mean reaction at Days = 5 (Intercept + 5 Days)", L = c(1, 5)),
    list(description = "joint test of intercept and slope", L = diag(2))))

## 5. Penicillin (crossed)
data("Penicillin", package = "lme4")
pen <- data.frame(diameter = Penicillin$diameter, plate = as.character(Penicillin$plate),
                  sample = as.character(Penicillin$sample), one = 1)
run_case("penicillin",
  "lme4::Penicillin, crossed random intercepts for plate (24) and sample (6); statsmodels: one group, two variance components.",
  pen, "diameter ~ 1 + (1 | plate) + (1 | sample)",
  list(formula = "diameter ~ 1", groups = "one", re_formula = "0",
       vc_formula = list(plate = "0 + C(plate)", sample = "0 + C(sample)")),
  factors = c("plate", "sample"))

## 6. Unbalanced factorial with covariate
set.seed(20240601)
sizes <- c(3, 12, 5, 9, 7, 4, 11, 6, 10, 8, 12, 5)
uf <- do.call(rbind, lapply(seq_along(sizes), function(i) {
  n <- sizes[i]
  data.frame(g = sprintf("g%02d", i),
             A = sample(rep(c("a1", "a2", "a3"), length.out = n)),
             B = if (i %% 2 == 1) "b1" else "b2")
}))
uf$x <- round(rnorm(nrow(uf)), 4)
b_g <- rnorm(length(sizes), sd = 1.5); names(b_g) <- sprintf("g%02d", seq_along(sizes))
effA <- c(a1 = 0, a2 = 0.8, a3 = -0.4); effB <- c(b1 = 0, b2 = 1.0)
inter <- ifelse(uf$A == "a3" & uf$B == "b2", 0.9, 0)
uf$y <- round(10 + effA[uf$A] + effB[uf$B] + inter + 0.6 * uf$x + b_g[uf$g] +
                rnorm(nrow(uf)), 4)
uf <- uf[sort(sample(nrow(uf), round(0.9 * nrow(uf)))), c("y", "A", "B", "x", "g")]
rownames(uf) <- NULL
run_case("unbalanced_factorial",
  "Simulated: 12 groups of 3-12 rows, A (3 levels) within groups crossed with B (2 levels) between groups, numeric covariate x, random intercept; ~10% of rows dropped at random. NOTE: patsy puts x after the A:B columns, R puts it before them; use statsmodels.exog_names / statsmodels_name to map.",
  uf, "y ~ A * B + x + (1 | g)",
  list(formula = "y ~ C(A) * C(B) + x", groups = "g", re_formula = NULL, vc_formula = NULL),
  factors = c("A", "B", "g"),
  contrasts = list(
    list(description = "A2 - A3 at B = b1", L = c(0, 1, -1, 0, 0, 0, 0)),
    list(description = "simple effect of A at B = b2 (2 rows)",
         L = rbind(c(0, 1, 0, 0, 0, 1, 0), c(0, 0, 1, 0, 0, 0, 1))),
    list(description = "B at A = a1 and the covariate jointly (2 rows)",
         L = rbind(c(0, 0, 0, 1, 0, 0, 0), c(0, 0, 0, 0, 1, 0, 0)))),
  notes = "Coefficient order differs between R and patsy for this case (x is the 5th column in R, the 7th in patsy); all arrays (coef, L, vcov) are in R order.")

## 7. Crossed subjects x items
set.seed(20240602)
ns <- 20; ni <- 12
ci <- expand.grid(item = seq_len(ni), subj = seq_len(ns))
ci$cond <- ifelse((ci$subj + ci$item) %% 2 == 0, "ctrl", "trt")
s_eff <- rnorm(ns, sd = 1.0); i_eff <- rnorm(ni, sd = 0.8)
ci$y <- round(5 + 0.5 * (ci$cond == "trt") + s_eff[ci$subj] + i_eff[ci$item] +
                rnorm(nrow(ci)), 4)
ci <- data.frame(y = ci$y, cond = ci$cond, subj = sprintf("s%02d", ci$subj),
                 item = sprintf("i%02d", ci$item), one = 1)
run_case("crossed_subjects_items",
  "Simulated: 20 subjects x 12 items, each subject sees each item once; cond alternates so it varies within subjects and within items; crossed random intercepts.",
  ci, "y ~ cond + (1 | subj) + (1 | item)",
  list(formula = "y ~ C(cond)", groups = "one", re_formula = "0",
       vc_formula = list(subj = "0 + C(subj)", item = "0 + C(item)")),
  factors = c("cond", "subj", "item"),
  contrasts = list(
    list(description = "mean in trt (Intercept + condtrt)", L = c(1, 1)),
    list(description = "joint test of intercept and cond", L = diag(2))))

## 8. Random slopes plus nested variance component
set.seed(20240603)
ng <- 15; nh <- 3; nr <- 4
sv <- expand.grid(r = seq_len(nr), h = seq_len(nh), g = seq_len(ng))
sv$x <- round(runif(nrow(sv), -2, 2), 4)
Sb <- matrix(c(1, 0.3 * 0.5, 0.3 * 0.5, 0.25), 2)
bg <- matrix(rnorm(2 * ng), ng) %*% chol(Sb)
cgh <- rnorm(ng * nh, sd = 0.7)
sv$y <- round(2 + 0.5 * sv$x + bg[sv$g, 1] + bg[sv$g, 2] * sv$x +
                cgh[(sv$g - 1) * nh + sv$h] + rnorm(nrow(sv)), 4)
sv <- data.frame(y = sv$y, x = sv$x, g = sprintf("g%02d", sv$g), h = sprintf("h%d", sv$h))
run_case("slopes_plus_vc",
  "Simulated: 15 groups x 3 subgroups h x 4 rows, correlated random intercept and slope for x by g plus a random intercept for g:h (statsmodels variance component h within g).",
  sv, "y ~ x + (1 + x | g) + (1 | g:h)",
  list(formula = "y ~ x", groups = "g", re_formula = "1 + x", vc_formula = list(h = "0 + C(h)")),
  factors = c("g", "h"),
  contrasts = list(
    list(description = "mean at x = 1 (Intercept + x)", L = c(1, 1)),
    list(description = "joint test of intercept and slope", L = diag(2))),
  notes = "lme4 orders random-effect terms by decreasing number of levels: theta[1] belongs to (1 | g:h), theta[2:4] to (1 + x | g); see theta_names and varcorr.")

## 9. Few groups, between-group treatment: 4 groups x 5 rows, sigma_b^2 = sigma^2 = 1
sim_fewgroups <- function(seed, m = 4, k = 5, sizes = rep(k, m)) {
  set.seed(seed)
  g <- rep(seq_len(m), times = sizes)
  b <- rnorm(m)
  y <- round(b[g] + rnorm(length(g)), 4)
  data.frame(y = y, trt = ifelse(g <= m / 2, "ctrl", "trt"), g = sprintf("g%d", g))
}
fg_formula <- "y ~ trt + (1 | g)"
fg_sm <- list(formula = "y ~ C(trt)", groups = "g", re_formula = NULL, vc_formula = NULL)
## seeds chosen by scanning set.seed(1), set.seed(2), ... for the first interior
## and the first singular REML fit (checked below)
run_case("few_groups_between",
  "Simulated (set.seed(1)): 4 groups x 5 rows, treatment between groups (2 groups each), group variance = residual variance = 1; interior REML fit.",
  sim_fewgroups(1), fg_formula, fg_sm, factors = c("trt", "g"), expect_singular = FALSE,
  contrasts = list(list(description = "mean in trt (Intercept + trttrt)", L = c(1, 1))))
run_case("few_groups_boundary",
  "Simulated (set.seed(9)): same design as few_groups_between; the group variance is estimated at zero (singular fit).",
  sim_fewgroups(9), fg_formula, fg_sm, factors = c("trt", "g"), expect_singular = TRUE,
  contrasts = list(list(description = "mean in trt (Intercept + trttrt)", L = c(1, 1))))
run_case("few_groups_unbalanced",
  "Simulated (set.seed(7)): 4 groups of 3, 6, 4 and 7 rows (groups 1-2 ctrl, 3-4 trt), group variance = residual variance = 1; interior REML fit with Satterthwaite df below 2.",
  sim_fewgroups(7, sizes = c(3, 6, 4, 7)), fg_formula, fg_sm, factors = c("trt", "g"),
  expect_singular = FALSE,
  contrasts = list(list(description = "mean in trt (Intercept + trttrt)", L = c(1, 1)),
                   list(description = "joint test of intercept and trt", L = diag(2))))

## 10. Batch for an optimizer wrapper: 40 data sets of the few-group design
##     (20 with 4 groups, 20 with 6 groups, 5 rows each; between-group treatment;
##     group variance = residual variance = 1), one CSV with a `dataset` column.
##     The JSON lists lme4's REML optimum per data set.  As an independent check
##     the one-dimensional REML profile in theta is also minimised with
##     optimize() on a fine bracket (and at theta = 0).
cat("== fewgroup_optima\n")
set.seed(20240610)
batch <- list(); opt <- list()
for (i in 1:40) {
  m <- if (i <= 20) 4L else 6L
  k <- 5L
  g <- rep(seq_len(m), each = k)
  b <- rnorm(m)
  y <- round(b[g] + rnorm(m * k), 4)
  batch[[i]] <- data.frame(dataset = i, y = y, trt = ifelse(g <= m / 2, "ctrl", "trt"),
                           g = sprintf("g%d", g))
}
batch_df <- do.call(rbind, batch)
csv <- file.path(outdir, "fewgroup_optima.csv")
write.csv(batch_df, csv, row.names = FALSE)
bd <- read.csv(csv, stringsAsFactors = FALSE)
stopifnot(identical(bd$y, batch_df$y))
n_sing <- 0
for (i in 1:40) {
  d <- bd[bd$dataset == i, ]
  d$trt <- as_sorted_factor(d$trt); d$g <- as_sorted_factor(d$g)
  log <- new.env(); log$warnings <- character(); log$messages <- character()
  f <- capture(lme4::lmer(y ~ trt + (1 | g), data = d, REML = TRUE), log)
  dev <- lme4::lmer(y ~ trt + (1 | g), data = d, REML = TRUE, devFunOnly = TRUE)
  o <- optimize(dev, c(0, 10), tol = 1e-10)
  best <- min(o$objective, dev(0))
  ft <- as_lmerModLmerTest(f)
  klog <- new.env(); klog$warnings <- character(); klog$messages <- character()
  cs <- capture(summary(ft)$coefficients, klog)
  ck <- capture(summary(ft, ddf = "Kenward-Roger")$coefficients, klog)
  n_sing <- n_sing + isSingular(f)
  opt[[i]] <- list(dataset = i, n_groups = length(unique(d$g)), n_obs = nrow(d),
                   reml_criterion = unname(REMLcrit(f)),
                   reml_criterion_1d_check = best,
                   singular = isSingular(f),
                   sigma2 = sigma(f)^2,
                   theta = arr(getME(f, "theta")),
                   fixef = arr(fixef(f)),
                   fixef_names = I(names(fixef(f))),
                   se = arr(cs[, "Std. Error"]),
                   df_satterthwaite = arr(cs[, "df"]),
                   df_kr = arr(ck[, "df"]),
                   se_kr = arr(ck[, "Std. Error"]),
                   r_messages = I(unique(c(log$messages, f@optinfo$conv$lme4$messages))),
                   r_warnings = I(c(log$warnings, unique(klog$warnings))))
  if (REMLcrit(f) - best > 1e-6)
    cat(sprintf("   dataset %d: lme4 REML %.8f but 1-d optimum %.8f\n", i, REMLcrit(f), best))
}
write_fixture_json(list(
  case = "fewgroup_optima",
  description = "40 simulated few-group data sets (datasets 1-20: 4 groups x 5 rows; 21-40: 6 groups x 5 rows), treatment between groups (first half of the groups ctrl), group variance = residual variance = 1, y ~ trt + (1 | g), REML. Per data set: lme4's optimum (reml_criterion, sigma2, theta, fixef) and, as an independent check, the minimum of lme4's REML deviance function over theta found by optimize() (reml_criterion_1d_check).",
  versions = versions, data = "fewgroup_optima.csv",
  lme4_formula = "y ~ trt + (1 | g)",
  statsmodels = list(formula = "y ~ C(trt)", groups = "g", re_formula = NULL, vc_formula = NULL,
                     exog_names = c("Intercept", "C(trt)[T.trt]")),
  same_column_order = TRUE,
  reml = TRUE, n_datasets = 40L, n_singular = as.integer(n_sing),
  datasets = opt), file.path(outdir, "fewgroup_optima.json"))
cat(sprintf("   %d of 40 singular\n", n_sing))
