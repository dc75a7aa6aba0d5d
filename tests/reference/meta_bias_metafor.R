# High-precision references for the publication-bias and influence analyses
# (src/stats/meta/bias.rs, src/stats/meta/influence.rs), checked by
# tests/meta_bias_golden.rs.
#
# Run from the repository root (metafor 3.8-1, metadat 1.2.0, R 4.2.2 here):
#   Rscript tests/reference/meta_bias_metafor.R > tests/reference/meta_bias_metafor.out
#
# Data (read from ../shared/datasets/metadat/*.csv):
# * dat.bcg: log risk ratios, escalc(measure = "RR") from tpos/tneg/cpos/cneg;
# * dat.egger2001: log odds ratios, escalc(measure = "OR") from ai/n1i/ci/n2i
#   (1/2 added to every cell of the one table with a zero cell);
# * dat.hackshaw1998: yi = log(or), vi = ((log(ci.ub) - log(ci.lb)) /
#   (2 qnorm(0.975)))^2, identical to metadat's stored yi/vi.
# Analyses: regtest() (Egger's test, predictor "sei", model "rma"),
# trimfill() (L0 and R0 estimators), leave1out().
#
# Output: one line per quantity, "case|quantity|v1;v2;...", numbers with 17
# significant digits, NA where metafor has none.

suppressPackageStartupMessages(library(metafor))
stopifnot(packageVersion("metafor") == "3.8.1")

shared <- "../shared/datasets/metadat"
bcg <- read.csv(file.path(shared, "dat.bcg.csv"))
bcg <- escalc(measure = "RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = bcg)
egg <- read.csv(file.path(shared, "dat.egger2001.csv"))
egg <- escalc(measure = "OR", ai = ai, n1i = n1i, ci = ci, n2i = n2i, data = egg)
hack <- read.csv(file.path(shared, "dat.hackshaw1998.csv"))
hack$yi <- log(hack$or)
hack$vi <- ((log(hack$ci.ub) - log(hack$ci.lb)) / (2 * qnorm(0.975)))^2

fmt <- function(x) paste(ifelse(is.na(x), "NA", formatC(as.numeric(x), digits = 17, format = "g")), collapse = ";")
out <- function(case, what, x) cat(case, "|", what, "|", fmt(x), "\n", sep = "")

# --- Egger's regression test --------------------------------------------------
eg <- function(case, fit) {
  r <- regtest(fit)
  out(case, "zval", r$zval)
  out(case, "pval", r$pval)
  out(case, "ddf", if (is.null(r$ddf)) NA else r$ddf)
  out(case, "est", if (is.null(r$est)) NA else r$est)
  out(case, "ci", if (is.null(r$est)) c(NA, NA) else c(r$ci.lb, r$ci.ub))
  out(case, "fit.beta", coef(r$fit))
  out(case, "fit.se", r$fit$se)
  out(case, "fit.tau2", r$fit$tau2)
}
eg("egger.bcg.REML.z", rma(yi, vi, data = bcg, method = "REML"))
eg("egger.bcg.DL.knha", rma(yi, vi, data = bcg, method = "DL", test = "knha"))
eg("egger.bcg.EE.z", rma(yi, vi, data = bcg, method = "EE"))
eg("egger.bcg.REML.z.ablat", rma(yi, vi, mods = ~ ablat, data = bcg, method = "REML"))
eg("egger.egger2001.REML.z", rma(yi, vi, data = egg, method = "REML"))
eg("egger.egger2001.DL.z.level90", rma(yi, vi, data = egg, method = "DL", level = 90))

# --- trim and fill ------------------------------------------------------------
tf <- function(case, fit, ...) {
  r <- trimfill(fit, ...)
  out(case, "k0", r$k0)
  out(case, "side", if (r$side == "left") 0 else 1)
  out(case, "se.k0", r$se.k0)
  out(case, "p.k0", r$p.k0)
  out(case, "k", r$k)
  out(case, "beta", coef(r))
  out(case, "se", r$se)
  out(case, "zval", r$zval)
  out(case, "pval", r$pval)
  out(case, "ci", c(r$ci.lb, r$ci.ub))
  out(case, "tau2", r$tau2)
  out(case, "QE", r$QE)
  out(case, "I2", r$I2)
  out(case, "filled.yi", if (r$k0 > 0) r$yi[r$fill] else NA)
  out(case, "filled.vi", if (r$k0 > 0) r$vi[r$fill] else NA)
}
for (est in c("L0", "R0")) {
  tf(paste0("trimfill.bcg.REML.", est), rma(yi, vi, data = bcg, method = "REML"), estimator = est)
  tf(paste0("trimfill.bcg.DL.", est), rma(yi, vi, data = bcg, method = "DL"), estimator = est)
  tf(paste0("trimfill.hackshaw1998.EE.", est), rma(yi, vi, data = hack, method = "EE"), estimator = est)
  tf(paste0("trimfill.hackshaw1998.REML.", est), rma(yi, vi, data = hack, method = "REML"), estimator = est)
  tf(paste0("trimfill.egger2001.EE.", est), rma(yi, vi, data = egg, method = "EE"), estimator = est)
  tf(paste0("trimfill.egger2001.REML.", est), rma(yi, vi, data = egg, method = "REML"), estimator = est)
}
# side forced, and the test/level passed through to the filled-data model
tf("trimfill.bcg.REML.L0.right", rma(yi, vi, data = bcg, method = "REML"), side = "right")
tf("trimfill.hackshaw1998.EE.L0.right", rma(yi, vi, data = hack, method = "EE"), side = "right")
tf("trimfill.hackshaw1998.DL.L0.knha90", rma(yi, vi, data = hack, method = "DL"), test = "knha", level = 90)

# --- leave-one-out ------------------------------------------------------------
l1 <- function(case, fit) {
  r <- leave1out(fit)
  out(case, "estimate", r$estimate)
  out(case, "se", r$se)
  out(case, "zval", if (is.null(r$zval)) r$tval else r$zval)
  out(case, "pval", r$pval)
  out(case, "ci.lb", r$ci.lb)
  out(case, "ci.ub", r$ci.ub)
  out(case, "Q", r$Q)
  out(case, "Qp", r$Qp)
  out(case, "tau2", if (is.null(r$tau2)) rep(0, length(r$estimate)) else r$tau2)
  out(case, "I2", r$I2)
  out(case, "H2", r$H2)
}
l1("leave1out.bcg.REML.z", rma(yi, vi, data = bcg, method = "REML"))
l1("leave1out.bcg.DL.z", rma(yi, vi, data = bcg, method = "DL"))
l1("leave1out.bcg.DL.knha", rma(yi, vi, data = bcg, method = "DL", test = "knha"))
l1("leave1out.bcg.EE.z", rma(yi, vi, data = bcg, method = "EE"))
l1("leave1out.egger2001.REML.z", rma(yi, vi, data = egg, method = "REML"))
