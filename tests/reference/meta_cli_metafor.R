# Golden values for tests/meta_cli.rs: metafor 3.8-1 and clubSandwich 0.5.8
# on R 4.2.2. Run from the repository root (needs ../shared):
#   Rscript tests/reference/meta_cli_metafor.R > tests/reference/meta_cli_metafor.out
suppressMessages({library(metafor); library(clubSandwich)})
cat("metafor", as.character(packageVersion("metafor")), "clubSandwich", as.character(packageVersion("clubSandwich")), "\n")
b <- read.csv("../shared/datasets/metadat/dat.bcg.csv")
b <- escalc("RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = b)
m <- rma(yi, vi, mods = ~ factor(alloc), data = b)
cat("bcg subgroup test QM", format(m$QM, digits = 12), "p", format(m$QMp, digits = 12), "\n")
s <- rma(yi, vi, data = b, subset = alloc == "random")
cat("bcg alloc=random estimate", format(c(coef(s), s$se, s$tau2), digits = 12), "\n")
d <- read.csv2("../shared/datasets/metapsy/data-depression-psyctr.data.csv")
m <- rma(yi = .g, sei = .g_se, data = d)
cat("metapsy all tau2", format(m$tau2, digits = 12), "\n")
w <- d[d$condition_arm2 == "wl", ]
m <- rma(yi = .g, sei = .g_se, mods = ~ condition_arm1, data = w)
cat("metapsy wl k", m$k, "tau2", format(m$tau2, digits = 12), "QM", format(m$QM, digits = 12), "R2", format(m$R2, digits = 12), "\n")
d$es <- seq_len(nrow(d))
m <- rma.mv(.g, .g_se^2, random = ~ 1 | study/es, data = d)
cat("metapsy three-level sigma2", format(m$sigma2, digits = 12), "estimate", format(c(coef(m), m$se), digits = 12), "\n")
print(coef_test(m, vcov = "CR2", cluster = d$study))
