# Reference values for tests/change_golden.rs: pre-post effect sizes, their
# variances and Wald CIs, Wilson intervals, and metafor's SMCR for the
# Morris (2008) studies at full precision.
#
# Run:  Rscript tests/reference/change_effect_sizes.R > tests/reference/change_effect_sizes.out
# Used: R 4.2.2 Patched (2022-11-10 r83330), Debian bookworm r-base-core, and
# metafor 3.8-1 (r-cran-metafor); the first line of the output records both.
#
# Formulas (the same sources as src/stats/effect.rs cites):
#   d_pre = s (M2 - M1)/S1,            v = 2(1 - r)/n + d^2/(2n)         (Becker 1988, eq. 13)
#   g_pre = metafor escalc("SMCR", m1i = post, m2i = pre, sd1i = S1, ri = r), sign s
#   d_av  = s (M2 - M1)/((S1 + S2)/2), v = 2(1 - r)/n + d^2 (1 + r^2)/(4n) (Cousineau 2020, eq. 2)
#   d_z   = s mean(D)/sd(D),           v = 1/n + d^2/(2n)                 (Gibbons et al. 1993, eq. 21)
#   d_rm  = s (M2 - M1)/sqrt(S1^2 + S2^2 - 2 r S1 S2) sqrt(2(1 - r)),
#                                      v = 2(1 - r)/n + d^2/(2n)
#   CI    = d -/+ qnorm(1 - alpha/2) sqrt(v)
# s = -1: the fixed example is a lower-is-better (PHQ-9-like) score.

suppressPackageStartupMessages(library(metafor))
out <- function(name, x) cat(sprintf("%s %.17g\n", name, x), sep = "")

cat("# R:", R.version.string, "| metafor", as.character(packageVersion("metafor")), "\n")

## A small fixed dataset (12 clients, PHQ-9-like, lower = better).
pre  <- c(18, 22, 15, 12, 20, 17, 25, 14, 19, 16, 21, 13)
post <- c( 9, 14, 12, 11,  6, 10, 18,  5, 15,  8, 20,  7)
s <- -1
n <- length(pre); m1 <- mean(pre); m2 <- mean(post)
s1 <- sd(pre); s2 <- sd(post); r <- cor(pre, post)
D <- post - pre
out("n", n); out("m1", m1); out("s1", s1); out("m2", m2); out("s2", s2); out("r", r)

es <- list()
d <- s * (m2 - m1) / s1
es$d_pre <- c(d, 2 * (1 - r) / n + d^2 / (2 * n))
g <- escalc(measure = "SMCR", m1i = m2, m2i = m1, sd1i = s1, ni = n, ri = r)
es$g_pre <- c(s * g$yi, g$vi)
d <- s * (m2 - m1) / ((s1 + s2) / 2)
es$d_av <- c(d, 2 * (1 - r) / n + d^2 * (1 + r^2) / (4 * n))
d <- s * mean(D) / sd(D)
es$d_z <- c(d, 1 / n + d^2 / (2 * n))
d <- s * (m2 - m1) / sqrt(s1^2 + s2^2 - 2 * r * s1 * s2) * sqrt(2 * (1 - r))
es$d_rm <- c(d, 2 * (1 - r) / n + d^2 / (2 * n))

for (level in c(95, 90)) {
  z <- qnorm(1 - (1 - level / 100) / 2)
  for (k in names(es)) {
    e <- es[[k]]
    if (level == 95) { out(paste0(k, ".estimate"), e[1]); out(paste0(k, ".variance"), e[2]) }
    out(sprintf("%s.ci_lb.%d", k, level), e[1] - z * sqrt(e[2]))
    out(sprintf("%s.ci_ub.%d", k, level), e[1] + z * sqrt(e[2]))
  }
}

## Cross-check of d_z against metafor's SMCC (which applies J): yi / J = d_z.
cm <- exp(lgamma((n - 1) / 2) - log(sqrt((n - 1) / 2)) - lgamma((n - 2) / 2))
smcc <- escalc(measure = "SMCC", m1i = m2, m2i = m1, sd1i = s2, sd2i = s1, ni = n, ri = r)
out("smcc_yi_over_J", s * smcc$yi / cm)

## Wilson (score) intervals without continuity correction.
for (xn in list(c(10, 30), c(8, 30), c(0, 12), c(12, 12), c(29, 40))) {
  ci <- prop.test(xn[1], xn[2], correct = FALSE)$conf.int
  out(sprintf("wilson.%d.%d.lb", xn[1], xn[2]), ci[1])
  out(sprintf("wilson.%d.%d.ub", xn[1], xn[2]), ci[2])
}

## metafor SMCR for the Morris (2008) treatment and control groups
## (metafor tests/testthat/test_analysis_example_morris2008.r).
datT <- data.frame(m_pre = c(30.6, 23.5, 0.5, 53.4, 35.6), m_post = c(38.5, 26.8, 0.7, 75.9, 36.0),
                   sd_pre = c(15.0, 3.1, 0.1, 14.5, 4.7), ni = c(20, 50, 9, 10, 14),
                   ri = c(.47, .64, .77, .89, .44))
datC <- data.frame(m_pre = c(23.1, 24.9, 0.6, 55.7, 34.8), m_post = c(19.7, 25.3, 0.6, 60.7, 33.4),
                   sd_pre = c(13.8, 4.1, 0.2, 17.3, 3.1), ni = c(20, 42, 9, 11, 14),
                   ri = c(.47, .64, .77, .89, .44))
for (grp in c("T", "C")) {
  dat <- if (grp == "T") datT else datC
  e <- escalc(measure = "SMCR", m1i = m_post, m2i = m_pre, sd1i = sd_pre, ni = ni, ri = ri, data = dat)
  for (i in seq_len(nrow(e))) {
    out(sprintf("morris2008.%s%d.yi", grp, i), e$yi[i])
    out(sprintf("morris2008.%s%d.vi", grp, i), e$vi[i])
  }
}

## Critical values.
out("qnorm.975", qnorm(.975)); out("qnorm.95", qnorm(.95))
out("rci_points.7.5.0.8", qnorm(.975) * 7.5 * sqrt(2) * sqrt(1 - .8))
