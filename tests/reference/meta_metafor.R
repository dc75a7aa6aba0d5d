# High-precision references for the rma.uni engine (src/stats/meta/),
# checked by tests/meta_golden.rs.
#
# Run from the repository root (metafor 3.8-1, R 4.2.2 here):
#   Rscript tests/reference/meta_metafor.R > tests/reference/meta_metafor.out
#
# Data: ../shared/datasets/metadat/dat.bcg.csv (log risk ratios computed with
# escalc(measure = "RR")), ../shared/datasets/metadat/dat.raudenbush1985.csv
# (yi, vi as stored), and a small homogeneous inline example (empty Q-profile
# interval). Models: intercept-only, mods = ~ ablat, mods = ~ alloc (factor,
# treatment coding with "alternate" as reference), raudenbush1985 with
# mods = ~ weeks.c (weeks capped at 3); every estimator x {z, knha}.
#
# Output: one line per quantity, "case|method|test|quantity|v1;v2;...",
# numbers with 17 significant digits, NA where metafor has none.

suppressPackageStartupMessages(library(metafor))
stopifnot(packageVersion("metafor") == "3.8.1")

shared <- "../shared/datasets/metadat"
bcg <- read.csv(file.path(shared, "dat.bcg.csv"))
bcg <- escalc(measure = "RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = bcg)
raud <- read.csv(file.path(shared, "dat.raudenbush1985.csv"))
raud$weeks.c <- ifelse(raud$weeks > 3, 3, raud$weeks)
homog <- data.frame(yi = c(0.10, 0.12, 0.11, 0.10, 0.09, 0.11),
                    vi = c(0.10, 0.08, 0.12, 0.09, 0.11, 0.10))

fmt <- function(x) paste(ifelse(is.na(x), "NA", formatC(as.numeric(x), digits = 17, format = "g")), collapse = ";")
out <- function(case, method, test, what, x) cat(case, "|", method, "|", test, "|", what, "|", fmt(x), "\n", sep = "")

cases <- list(
  bcg        = list(data = bcg,   mods = NULL),
  raud       = list(data = raud,  mods = NULL),
  homog      = list(data = homog, mods = NULL),
  bcg_ablat  = list(data = bcg,   mods = ~ ablat),
  bcg_alloc  = list(data = bcg,   mods = ~ factor(alloc)),
  raud_weeks = list(data = raud,  mods = ~ weeks.c)
)
methods <- c("EE", "DL", "HE", "HS", "SJ", "PM", "ML", "REML", "EB")

for (case in names(cases)) {
  d <- cases[[case]]$data
  mods <- cases[[case]]$mods
  for (method in methods) {
    for (test in c("z", "knha")) {
      res <- if (is.null(mods)) rma(yi, vi, data = d, method = method, test = test)
             else rma(yi, vi, mods = mods, data = d, method = method, test = test)
      out(case, method, test, "tau2", res$tau2)
      out(case, method, test, "se.tau2", res$se.tau2)
      out(case, method, test, "beta", coef(res))
      out(case, method, test, "se", res$se)
      out(case, method, test, "zval", res$zval)
      out(case, method, test, "pval", res$pval)
      out(case, method, test, "ci.lb", res$ci.lb)
      out(case, method, test, "ci.ub", res$ci.ub)
      out(case, method, test, "QE", c(res$QE, res$QEp))
      out(case, method, test, "QM", c(res$QM, res$QMp))
      out(case, method, test, "I2", res$I2)
      out(case, method, test, "H2", res$H2)
      out(case, method, test, "s2w", res$s2w)
      out(case, method, test, "ll", c(res$fit.stats["ll", "ML"], res$fit.stats["ll", "REML"]))
      if (is.null(mods)) {
        pr <- predict(res)
        # metafor gives no prediction interval for EE models
        out(case, method, test, "PI", if (is.null(pr$pi.lb)) c(NA, NA) else c(pr$pi.lb, pr$pi.ub))
      }
      if (method != "EE") {
        ci <- confint(res)$random
        out(case, method, test, "QP.tau2", ci["tau^2", c("ci.lb", "ci.ub")])
        out(case, method, test, "QP.I2", ci["I^2(%)", c("ci.lb", "ci.ub")])
        out(case, method, test, "QP.H2", ci["H^2", c("ci.lb", "ci.ub")])
      }
    }
  }
}
