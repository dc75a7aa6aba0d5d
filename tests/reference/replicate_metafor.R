# Golden values for tests/replicate_cli.rs: the built-in claims that are
# recomputed from data, with metafor 3.8-1 and clubSandwich 0.5.8 on R 4.2.2.
# Run from the repository root (needs ../shared):
#   Rscript tests/reference/replicate_metafor.R > tests/reference/replicate_metafor.out
suppressMessages({library(metafor); library(clubSandwich)})
cat("metafor", as.character(packageVersion("metafor")), "clubSandwich", as.character(packageVersion("clubSandwich")), "\n")
d <- read.csv2("../shared/datasets/metapsy/data-depression-psyctr.data.csv")
# depression-overall-g: three-level model, CR2 interval
d$es <- seq_len(nrow(d))
m <- rma.mv(.g, .g_se^2, random = ~ 1 | study/es, data = d)
ct <- coef_test(m, vcov = "CR2", cluster = d$study)
ci <- conf_int(m, vcov = "CR2", cluster = d$study)
cat("overall estimate", format(coef(m), digits = 12), "CR2 ci", format(c(ci$CI_L, ci$CI_U), digits = 12), "\n")
# depression-type-dodo-bird: therapy type among waitlist trials, Knapp-Hartung
w <- d[d$condition_arm2 == "wl", ]
m <- rma(yi = .g, sei = .g_se, mods = ~ condition_arm1, data = w, test = "knha")
cat("dodo k", m$k, "F", format(m$QM, digits = 12), "df", m$QMdf, "p", format(m$QMp, digits = 12), "R2", format(m$R2, digits = 12), "\n")
# techniques-7pct-zarbo-2016: separate random-effects models per therapy type
# (metafor's subgroup analysis), then sigma2_B = sum w (g - gbar)^2 - sum w (1 - w) se^2
s <- lapply(split(w, w$condition_arm1), function(x) rma(yi = .g, sei = .g_se, data = x, test = "knha"))
k <- sapply(s, function(x) x$k); g <- sapply(s, coef); se <- sapply(s, function(x) x$se)
wt <- k / sum(k); gbar <- sum(wt * g)
s2 <- max(0, sum(wt * (g - gbar)^2) - sum(wt * (1 - wt) * se^2))
cat("zarbo groups", length(k), "sigma2_B", format(s2, digits = 12), "pct", format(100 * s2 / (s2 + 1), digits = 12), "\n")
# cbt-components-lopez-2019: CBT arms, component indicators, Knapp-Hartung
l <- read.csv("../shared/datasets/metadat/dat.lopez2019.csv")
l <- l[l$treatment %in% c("F2F CBT", "Multimedia CBT", "Hybrid CBT"), ]
m <- rma(yi = diff, sei = se, mods = ~ cog + ba + psed + home + prob + soc + relax + goal + final + mind + act, data = l, test = "knha")
cat("lopez k", m$k, "F", format(m$QM, digits = 12), "df", m$QMdf, "p", format(m$QMp, digits = 12), "R2", format(m$R2, digits = 12), "\n")
