#!/usr/bin/env Rscript
## ---------------------------------------------------------------------------
## r_dietox.R -- R reference results for the chapter "A complete analysis,
##               reported" (chapters/complete_analysis.md)
##
## Usage (from the repository root):   Rscript scripts/r_dietox.R [dietox.csv]
##
## The data are not in this repository: they are statsmodels' copy of geepack's
## dietox (statsmodels/regression/tests/results/dietox.csv).  Without an
## argument the script asks the Python on PATH where statsmodels is installed.
## Requires R with lme4, lmerTest, pbkrtest and jsonlite.  Writes
## tests/fixtures/dietox.json: the md5 of the CSV read, lme4's REML criterion
## and variance parameters of the random-slope and random-intercept models,
## per coefficient the estimate, SE, Satterthwaite and Kenward-Roger df, t and
## p, the type III table, two contrasts (an estimated marginal mean and a
## difference), and the likelihood-ratio test of the random slope (ML fits).
## No simulation: the output depends only on the data and the package versions
## (lme4's optimum varies in about the 10th significant digit between runs).
## ---------------------------------------------------------------------------
suppressPackageStartupMessages({
  library(lme4)
  library(lmerTest)
  library(pbkrtest)
  library(jsonlite)
})
args_all <- commandArgs(trailingOnly = FALSE)
script_path <- sub("^--file=", "", args_all[grep("^--file=", args_all)])
root <- if (length(script_path)) normalizePath(file.path(dirname(script_path), "..")) else getwd()
args <- commandArgs(trailingOnly = TRUE)
csv <- if (length(args)) args[1] else system2(
  "python3", c("-c", shQuote(paste0(
    "import os, statsmodels; print(os.path.join(os.path.dirname(statsmodels.__file__), ",
    "'regression', 'tests', 'results', 'dietox.csv'))"))), stdout = TRUE)
if (!file.exists(csv)) stop("dietox.csv not found at ", csv, "; pass its path as argument")

d <- read.csv(csv)
d$Evit <- factor(d$Evit)
d$Cu <- factor(d$Cu)
d$Pig <- factor(d$Pig)

slope_formula <- Weight ~ Evit + Cu + Time + (Time | Pig)
intercept_formula <- Weight ~ Evit + Cu + Time + (1 | Pig)
fit <- lmerTest::lmer(slope_formula, data = d, REML = TRUE)
fit_int <- lmerTest::lmer(intercept_formula, data = d, REML = TRUE)
sm_names <- c("Intercept", "C(Evit)[T.2]", "C(Evit)[T.3]", "C(Cu)[T.2]", "C(Cu)[T.3]", "Time")
stopifnot(identical(colnames(model.matrix(fit)),
                    c("(Intercept)", "Evit2", "Evit3", "Cu2", "Cu3", "Time")))

varpars <- function(m) {
  vc <- as.data.frame(VarCorr(m))
  list(reml_criterion = unname(REMLcrit(m)), sigma2 = sigma(m)^2,
       theta = I(unname(getME(m, "theta"))), singular = isSingular(m),
       varcorr = lapply(seq_len(nrow(vc)), function(i) as.list(vc[i, ])))
}
cs <- summary(fit, ddf = "Satterthwaite")$coefficients
ck <- summary(fit, ddf = "Kenward-Roger")$coefficients
coefs <- lapply(seq_len(nrow(cs)), function(j) list(
  name = sm_names[j], estimate = cs[j, "Estimate"], se = cs[j, "Std. Error"],
  df_satterthwaite = cs[j, "df"], t_satterthwaite = cs[j, "t value"],
  p_satterthwaite = cs[j, "Pr(>|t|)"],
  se_kr = ck[j, "Std. Error"], df_kr = ck[j, "df"], t_kr = ck[j, "t value"],
  p_kr = ck[j, "Pr(>|t|)"]))

as3 <- anova(fit, type = 3, ddf = "Satterthwaite")
ak3 <- anova(fit, type = 3, ddf = "Kenward-Roger")
sm_terms <- c(Evit = "C(Evit)", Cu = "C(Cu)", Time = "Time")
anova3 <- lapply(rownames(as3), function(tm) list(
  term = unname(sm_terms[tm]), num_df = as3[tm, "NumDF"],
  den_df_satterthwaite = as3[tm, "DenDF"], F_satterthwaite = as3[tm, "F value"],
  p_satterthwaite = as3[tm, "Pr(>F)"],
  den_df_kr = ak3[tm, "DenDF"], F_kr = ak3[tm, "F value"], p_kr = ak3[tm, "Pr(>F)"]))

## Contrasts on the statsmodels columns (same order as R's).
## emm_cu3: the estimated marginal mean of Cu level 3 at the mean week, Evit
## levels weighted equally (as emmeans does); cu3_minus_cu2: Cu 3 - Cu 2.
contrasts <- list(
  emm_cu3 = c(1, 1 / 3, 1 / 3, 0, 1, mean(d$Time)),
  cu3_minus_cu2 = c(0, 0, 0, -1, 1, 0))
contrast_rows <- lapply(names(contrasts), function(nm) {
  L <- matrix(contrasts[[nm]], nrow = 1)
  s <- contest(fit, L, ddf = "Satterthwaite", joint = FALSE)
  k <- contest(fit, L, ddf = "Kenward-Roger", joint = FALSE)
  list(name = nm, L = I(contrasts[[nm]]), estimate = s$Estimate, se = s[["Std. Error"]],
       df_satterthwaite = s$df, p_satterthwaite = s[["Pr(>|t|)"]],
       se_kr = k[["Std. Error"]], df_kr = k$df, p_kr = k[["Pr(>|t|)"]])
})

## LRT of the random slope (its variance and its covariance with the intercept): ML fits.
fit_ml <- lme4::lmer(slope_formula, data = d, REML = FALSE)
fit_int_ml <- lme4::lmer(intercept_formula, data = d, REML = FALSE)
lrt <- 2 * (as.numeric(logLik(fit_ml)) - as.numeric(logLik(fit_int_ml)))
lrt_df <- attr(logLik(fit_ml), "df") - attr(logLik(fit_int_ml), "df")

out <- list(
  description = paste("geepack's dietox (statsmodels' copy): Weight ~ Evit + Cu + Time,",
                      "random intercept and slope for Time by Pig (REML), and the",
                      "random-intercept model"),
  versions = list(R = paste(R.version$major, R.version$minor, sep = "."),
                  lme4 = packageDescription("lme4")$Version,
                  lmerTest = packageDescription("lmerTest")$Version,
                  pbkrtest = packageDescription("pbkrtest")$Version),
  data_md5 = unname(tools::md5sum(csv)), n_obs = nrow(d), n_pigs = nlevels(d$Pig),
  lme4_formula = deparse(slope_formula), lme4_formula_intercept = deparse(intercept_formula),
  statsmodels = list(formula = "Weight ~ C(Evit) + C(Cu) + Time", groups = "Pig",
                     re_formula = "~Time"),
  slope = varpars(fit), intercept = varpars(fit_int),
  fixed_effects = coefs, anova_type3 = anova3, contrasts = contrast_rows,
  lrt_slope = list(logLik_full_ml = as.numeric(logLik(fit_ml)),
                   logLik_reduced_ml = as.numeric(logLik(fit_int_ml)),
                   LRT = lrt, df = lrt_df,
                   p_chisq = pchisq(lrt, lrt_df, lower.tail = FALSE)))
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE, null = "null"),
           file.path(root, "tests", "fixtures", "dietox.json"))
