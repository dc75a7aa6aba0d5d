# Golden values for tests/lmm_cli.rs: lme4 on the bundled demo clinic data.
# Run from the repository root: Rscript tests/reference/lmm_demo.R > tests/reference/lmm_demo.out
suppressMessages(library(lme4))
cat("R", R.version$major, R.version$minor, "lme4", as.character(packageVersion("lme4")), "\n")
d <- read.csv("datasets/demo-clinic.csv")
# A tightened optimiser, so that the reference sits at the optimum to well
# below the 1e-6 tolerance of the tests (lme4's default stops about 1e-6
# away in the variance components on these data).
ctrl <- lmerControl(optimizer = "bobyqa",
                    optCtrl = list(rhobeg = 0.2, rhoend = 1e-12, maxfun = 1e5))
fit <- function(f, reml) {
  m <- lmer(f, data = d, REML = reml, control = ctrl)
  cat("formula:", deparse(f), "REML:", reml, "\n")
  cat("objective", format(if (reml) REMLcrit(m) else deviance(m), digits = 15), "\n")
  cat("theta", format(getME(m, "theta"), digits = 15), "\n")
  cat("sigma2", format(sigma(m)^2, digits = 15), "\n")
  vc <- as.data.frame(VarCorr(m))
  for (i in seq_len(nrow(vc))) cat("vcov", vc$grp[i], format(vc$vcov[i], digits = 15), "\n")
  fe <- fixef(m); se <- sqrt(diag(as.matrix(vcov(m))))
  for (i in seq_along(fe)) cat("fixed", names(fe)[i], format(fe[i], digits = 15), format(se[i], digits = 15), "\n")
  cat("n", nobs(m), "\n\n")
}
fit(post ~ pre + technique + (1 | therapist) + (1 | site), TRUE)
fit(post ~ pre + technique + (1 | therapist) + (1 | site), FALSE)
fit(post ~ 1 + (1 | therapist), TRUE)
fit(post ~ pre + alliance + (1 | site/therapist), TRUE)
