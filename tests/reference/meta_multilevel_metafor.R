# High-precision references for the three-level meta-analysis engine
# (src/stats/meta/multilevel.rs), checked by tests/meta_multilevel_golden.rs.
#
# Run from the repository root (metafor 3.8-1, clubSandwich 0.5.8, R 4.2.2):
#   Rscript tests/reference/meta_multilevel_metafor.R > tests/reference/meta_multilevel_metafor.out
#
# Data: ../shared/datasets/metadat/dat.konstantopoulos2011.csv (columns
# district, study, yi, vi, year; 56 schools in 11 districts; Konstantopoulos
# 2011, Res. Synth. Methods 2:61) and ../shared/datasets/metadat/dat.assink2016.csv
# (columns study, esid, yi, vi, year, ...; 100 effects in 17 studies; Assink
# & Wibbelink 2016, Quant. Methods Psychol. 12:154).
# Models: rma.mv(yi, vi, random = ~ 1 | cluster/effect) with REML (and ML),
# intercept-only and with one centred moderator, test = "z" and "t";
# robust(fit, cluster = cluster) (metafor's CR1, df = clusters - p);
# clubSandwich::coef_test(fit, vcov = "CR2", cluster = cluster) and conf_int
# (Satterthwaite df); the two-level rma(yi, vi) for comparison.
# "tight" refits use optim(BFGS) with reltol = 1e-15 to show how far metafor's
# default optimiser stops from the optimum.
#
# Output: one line per quantity, "case|quantity|v1;v2;...", 15 significant digits.

suppressPackageStartupMessages({
  library(metafor)
  library(clubSandwich)
})
stopifnot(packageVersion("metafor") == "3.8.1")

shared <- "../shared/datasets/metadat"
f15 <- function(x) paste(sprintf("%.15g", as.numeric(x)), collapse = ";")
out <- function(case, q, x) cat(case, "|", q, "|", f15(x), "\n", sep = "")

fit_out <- function(case, fit) {
  out(case, "sigma2", fit$sigma2)
  out(case, "beta", fit$beta)
  out(case, "se", fit$se)
  out(case, "zval", fit$zval)
  out(case, "pval", fit$pval)
  out(case, "ci.lb", fit$ci.lb)
  out(case, "ci.ub", fit$ci.ub)
  out(case, "vb", as.vector(fit$vb))
  out(case, "QE", c(fit$QE, fit$k - fit$p, fit$QEp))
  out(case, "QM", c(fit$QM, fit$QMp))
  out(case, "logLik", logLik(fit))
  out(case, "fit.stats", fit$fit.stats[, if (fit$method == "REML") "REML" else "ML"])
  if (fit$p == 1) {
    pr <- predict(fit)
    out(case, "pi", c(pr$pi.lb, pr$pi.ub))
  }
}

robust_out <- function(case, fit, cluster) {
  r <- robust(fit, cluster = cluster)
  out(case, "cr1.se", r$se)
  out(case, "cr1.stat", r$zval)
  out(case, "cr1.df", r$dfs)
  out(case, "cr1.pval", r$pval)
  out(case, "cr1.ci", c(r$ci.lb, r$ci.ub))
  out(case, "cr1.vb", as.vector(r$vb))
  ct <- coef_test(fit, vcov = "CR2", cluster = cluster)
  ci <- conf_int(fit, vcov = "CR2", cluster = cluster, level = 0.95)
  out(case, "cr2.se", ct$SE)
  out(case, "cr2.stat", ct$tstat)
  out(case, "cr2.df", ct$df_Satt)
  out(case, "cr2.pval", ct$p_Satt)
  out(case, "cr2.ci", c(ci$CI_L, ci$CI_U))
  out(case, "cr2.vb", as.vector(vcovCR(fit, cluster = cluster, type = "CR2")))
}

tight <- list(optimizer = "optim", optmethod = "BFGS", reltol = 1e-15)

# --- Konstantopoulos (2011) ------------------------------------------------
dat <- read.csv(file.path(shared, "dat.konstantopoulos2011.csv"))
dat$year.c <- dat$year - mean(dat$year)

res <- rma.mv(yi, vi, random = ~ 1 | district/study, data = dat)
fit_out("k2011.int.reml.z", res)
out("k2011.int.reml.z", "icc", res$sigma2[1] / sum(res$sigma2))
robust_out("k2011.int.reml.z", res, dat$district)
rt <- rma.mv(yi, vi, random = ~ 1 | district/study, data = dat, control = tight)
out("k2011.int.reml.z", "tight.sigma2", rt$sigma2)
out("k2011.int.reml.z", "tight.beta", rt$beta)
out("k2011.int.reml.z", "tight.se", rt$se)
out("k2011.int.reml.z", "tight.logLik", logLik(rt))

res <- rma.mv(yi, vi, random = ~ 1 | district/study, data = dat, test = "t")
fit_out("k2011.int.reml.t", res)

res <- rma.mv(yi, vi, random = ~ 1 | district/study, data = dat, method = "ML")
fit_out("k2011.int.ml.z", res)

res <- rma.mv(yi, vi, mods = ~ I(year - mean(year)), random = ~ 1 | district/study, data = dat)
fit_out("k2011.year.reml.z", res)
robust_out("k2011.year.reml.z", res, dat$district)
rt <- rma.mv(yi, vi, mods = ~ I(year - mean(year)), random = ~ 1 | district/study, data = dat, control = tight)
out("k2011.year.reml.z", "tight.sigma2", rt$sigma2)
out("k2011.year.reml.z", "tight.beta", rt$beta)
out("k2011.year.reml.z", "tight.se", rt$se)

res <- rma.mv(yi, vi, mods = ~ I(year - mean(year)), random = ~ 1 | district/study, data = dat, test = "t")
fit_out("k2011.year.reml.t", res)

res <- rma(yi, vi, data = dat)
out("k2011.rma.uni", "tau2", res$tau2)
out("k2011.rma.uni", "beta", res$beta)
out("k2011.rma.uni", "se", res$se)
out("k2011.rma.uni", "logLik", logLik(res))

# --- Assink & Wibbelink (2016) ---------------------------------------------
dat <- read.csv(file.path(shared, "dat.assink2016.csv"))
dat$year.c <- dat$year - mean(dat$year)

res <- rma.mv(yi, vi, random = ~ 1 | study/esid, data = dat)
fit_out("a2016.int.reml.z", res)
robust_out("a2016.int.reml.z", res, dat$study)

res <- rma.mv(yi, vi, mods = ~ year.c, random = ~ 1 | study/esid, data = dat)
fit_out("a2016.year.reml.z", res)
robust_out("a2016.year.reml.z", res, dat$study)

res <- rma.mv(yi, vi, mods = ~ year.c, random = ~ 1 | study/esid, data = dat, test = "t")
fit_out("a2016.year.reml.t", res)

# --- dat.bcg two-level REML with CR2 (metafor's test_misc_robust.r) ----------
dat <- escalc(measure = "RR", ai = tpos, bi = tneg, ci = cpos, di = cneg,
              data = read.csv(file.path(shared, "dat.bcg.csv")))
res <- rma(yi, vi, data = dat)
out("bcg.reml", "tau2", res$tau2)
ct <- coef_test(res, vcov = "CR2", cluster = dat$trial)
out("bcg.reml", "cr2.se", ct$SE)
out("bcg.reml", "cr2.df", ct$df_Satt)
out("bcg.reml", "cr2.vb", as.vector(vcovCR(res, cluster = dat$trial, type = "CR2")))
