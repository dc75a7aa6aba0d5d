# Golden values for tests/lmm_golden.rs, produced with lme4 (Debian bookworm
# r-cran-lme4, lme4 1.1-31). Run from the repository root:
#   Rscript tests/reference/lmm_lme4.R > tests/reference/lmm_lme4.out
# Output: one "key value" line per number, full precision (%.15g).
# The optimiser is tightened (nloptwrap/BOBYQA with small tolerances) so that
# the references are the optimum to ~1e-9 rather than lme4's default ~1e-6.
suppressMessages(library(lme4))
ctl <- lmerControl(optimizer = "nloptwrap",
                   optCtrl = list(xtol_abs = 1e-12, ftol_abs = 1e-14,
                                  xtol_rel = 1e-12, ftol_rel = 1e-15,
                                  maxeval = 100000))
out <- function(key, x) cat(sprintf("%s %.15g\n", key, x), sep = "")
dump <- function(tag, fm) {
  out(paste0(tag, ".objective"), if (isREML(fm)) REMLcrit(fm) else deviance(fm))
  out(paste0(tag, ".loglik"), as.numeric(logLik(fm)))
  out(paste0(tag, ".aic"), AIC(fm))
  out(paste0(tag, ".bic"), BIC(fm))
  out(paste0(tag, ".sigma2"), sigma(fm)^2)
  th <- getME(fm, "theta")
  for (i in seq_along(th)) out(paste0(tag, ".theta.", i), th[i])
  cf <- summary(fm)$coefficients
  for (i in seq_len(nrow(cf))) {
    out(paste0(tag, ".beta.", rownames(cf)[i]), cf[i, 1])
    out(paste0(tag, ".se.", rownames(cf)[i]), cf[i, 2])
  }
  vc <- as.data.frame(VarCorr(fm))
  for (i in seq_len(nrow(vc))) {
    if (vc$grp[i] == "Residual") next
    if (is.na(vc$var2[i])) {
      out(paste0(tag, ".var.", vc$grp[i], ".", vc$var1[i]), vc$vcov[i])
    } else {
      out(paste0(tag, ".corr.", vc$grp[i], ".", vc$var1[i], ".", vc$var2[i]), vc$sdcor[i])
    }
  }
  out(paste0(tag, ".singular"), as.numeric(isSingular(fm)))
}
dump_ranef <- function(tag, fm, grp, lev) {
  re <- as.data.frame(ranef(fm, condVar = TRUE))
  re <- re[re$grpvar == grp & re$grp %in% lev, ]
  for (i in seq_len(nrow(re))) {
    key <- paste0(grp, ".", re$grp[i], ".", re$term[i])
    out(paste0(tag, ".ranef.", key), re$condval[i])
    out(paste0(tag, ".condsd.", key), re$condsd[i])
  }
}

d <- "../shared/datasets/lme4/"
Dyestuff <- read.csv(paste0(d, "Dyestuff.csv"))
Penicillin <- read.csv(paste0(d, "Penicillin.csv"))
Pastes <- read.csv(paste0(d, "Pastes.csv"))
sleep <- read.csv(paste0(d, "sleepstudy.csv"))
sleep$Subject <- as.character(sleep$Subject)

fm <- lmer(Yield ~ 1 + (1 | Batch), Dyestuff, control = ctl)
dump("dyestuff_reml", fm)
dump_ranef("dyestuff_reml", fm, "Batch", c("A", "F"))

fm <- lmer(diameter ~ 1 + (1 | plate) + (1 | sample), Penicillin, REML = FALSE, control = ctl)
dump("penicillin_ml", fm)
dump_ranef("penicillin_ml", fm, "plate", c("a", "x"))
dump_ranef("penicillin_ml", fm, "sample", c("A", "F"))

fm <- lmer(Reaction ~ Days + (Days | Subject), sleep, control = ctl)
dump("sleep_reml", fm)
dump_ranef("sleep_reml", fm, "Subject", c("308", "335"))

fm <- lmer(Reaction ~ Days + (Days || Subject), sleep, control = ctl)
dump("sleep_uncorr", fm)
dump_ranef("sleep_uncorr", fm, "Subject", c("308", "335"))

# A factor with treatment contrasts and an interaction (levels sorted:
# early < late < mid, reference "early").
sleep$phase <- ifelse(sleep$Days < 3, "early", ifelse(sleep$Days < 7, "mid", "late"))
fm <- lmer(Reaction ~ Days * phase + (1 | Subject), sleep, REML = FALSE, control = ctl)
dump("sleep_factor", fm)

# An aliased column: Days2 = 2 * Days is dropped.
sleep$Days2 <- 2 * sleep$Days
fm <- lmer(Reaction ~ Days + Days2 + (1 | Subject), sleep, control = ctl)
dump("sleep_aliased", fm)

cat("# lme4 timing, InstEval ML (seconds, elapsed):\n")
InstEval <- read.csv(paste0(d, "InstEval.csv"), colClasses = c("factor", "factor", "factor",
                     "factor", "factor", "factor", "numeric"))
tm <- system.time(fm <- lmer(y ~ 1 + service + (1 | s) + (1 | d) + (1 | dept), InstEval,
                             REML = FALSE))
out("insteval_ml.lme4_seconds_default_control", tm[["elapsed"]])
dump("insteval_ml", fm)

# Unbalanced nested groups: Pastes without some rows (as after dropping
# missing values), REML.
drop <- c(1, 2, 5, 17, 30, 31, 45)
P2 <- Pastes[-drop, ]
fm <- lmer(strength ~ 1 + (1 | batch / cask), P2, control = ctl)
dump("pastes_unbal", fm)
dump_ranef("pastes_unbal", fm, "batch", c("A", "J"))
dump_ranef("pastes_unbal", fm, "cask:batch", c("a:A", "c:J"))
