# lme4's time for the InstEval ML fit (default lmerControl), for
# benches/lmm_vs_lme4.sh. Run from the repository root.
suppressMessages(library(lme4))
d <- read.csv("../shared/datasets/lme4/InstEval.csv",
              colClasses = c(rep("factor", 6), "numeric"))
tm <- system.time(fm <- lmer(y ~ 1 + service + (1 | s) + (1 | d) + (1 | dept), d,
                             REML = FALSE))
cat(sprintf("LME4_SECONDS %.3f\n", tm[["elapsed"]]))
cat(sprintf("LME4_OBJECTIVE %.8f\n", deviance(fm)))
