# Reference values for tests/escalc_golden.rs: metafor's escalc() for every
# measure implemented in src/stats/escalc.rs (SMD, MD, SMCR, SMCC, COR, ZCOR,
# OR, RR, RD), on real data from ../shared/datasets/metadat/*.csv plus small
# inline tables (change-score data, 2x2 tables with zero cells and a missing
# value) that tests/escalc_golden.rs reproduces verbatim.
#
# Run (from the repository root):
#   Rscript tests/reference/escalc_metafor.R > tests/reference/escalc_metafor.out
# Used: R 4.2.2 Patched (2022-11-10 r83330) and metafor 3.8-1 (metadat 1.2.0
# installed; the CSVs are metadat's datasets written out); the first line of
# the output records both versions.
#
# Output: one line per study, "<case> <measure> <row> <yi> <vi>", row 1-based,
# yi and vi at 17 significant digits, NA where metafor gives NA. All calls use
# metafor's defaults (vtype = "LS", add = 1/2, to = "only0", drop00 = FALSE)
# unless the case name says otherwise.

suppressPackageStartupMessages(library(metafor))

cat("# R:", R.version.string, "| metafor", as.character(packageVersion("metafor")), "\n")

dir <- "../shared/datasets/metadat"
rd <- function(f) read.csv(file.path(dir, f), stringsAsFactors = FALSE)

emit <- function(case, measure, es) {
  for (i in seq_len(nrow(es))) {
    cat(sprintf("%s %s %d %.17g %.17g\n", case, measure, i, es$yi[i], es$vi[i]))
  }
}

## 2x2 tables -----------------------------------------------------------------

# dat.bcg: BCG vaccine trials (Colditz et al. 1994); tpos/tneg/cpos/cneg.
bcg <- rd("dat.bcg.csv")
for (m in c("OR", "RR", "RD")) {
  emit("bcg", m, escalc(m, ai = tpos, bi = tneg, ci = cpos, di = cneg, data = bcg))
}

# dat.hine1989 (ai, n1i, ci, n2i; bi = n1i - ai, di = n2i - ci).
hine <- rd("dat.hine1989.csv")
for (m in c("OR", "RR", "RD")) {
  emit("hine1989", m, escalc(m, ai = ai, n1i = n1i, ci = ci, n2i = n2i, data = hine))
}

# dat.egger2001 (ai, n1i, ci, n2i); study 8 has ai = 0 (zero-cell correction).
egger <- rd("dat.egger2001.csv")
for (m in c("OR", "RR", "RD")) {
  emit("egger2001", m, escalc(m, ai = ai, n1i = n1i, ci = ci, n2i = n2i, data = egger))
}

# Inline 2x2 tables with zero cells (reproduced in tests/escalc_golden.rs):
# row 1 one zero, row 2 ai = ci = 0, row 3 bi = di = 0, row 4 no zero,
# row 5 ci = 0, row 6 a missing cell (ai = NA).
zero <- data.frame(ai = c(0, 0, 12, 3, 5, NA),
                   bi = c(10, 15, 0, 17, 5, 20),
                   ci = c(5, 0, 9, 6, 0, 2),
                   di = c(5, 18, 0, 14, 10, 18))
# and one without any zero cell (to = "if0all" leaves it alone).
nozero <- data.frame(ai = c(3, 7), bi = c(17, 13), ci = c(6, 2), di = c(14, 18))
for (m in c("OR", "RR", "RD")) {
  z <- function(...) suppressWarnings(escalc(m, ai = ai, bi = bi, ci = ci, di = di, data = zero, ...))
  emit("zero_only0", m, z())
  emit("zero_all", m, z(to = "all"))
  emit("zero_if0all", m, z(to = "if0all"))
  emit("zero_none", m, z(to = "none"))
  emit("zero_drop00", m, z(drop00 = TRUE))
  emit("zero_drop00_all", m, z(drop00 = TRUE, to = "all"))
  emit("zero_add0.25", m, z(add = 0.25))
  emit("nozero_if0all", m, escalc(m, ai = ai, bi = bi, ci = ci, di = di, data = nozero, to = "if0all"))
}

## Two independent groups: means, SDs, ns ------------------------------------

# dat.normand1999: stroke care, length of stay (n1i, m1i, sd1i, n2i, m2i, sd2i).
normand <- rd("dat.normand1999.csv")
for (m in c("SMD", "MD")) {
  emit("normand1999", m, escalc(m, m1i = m1i, sd1i = sd1i, n1i = n1i,
                                m2i = m2i, sd2i = sd2i, n2i = n2i, data = normand))
}

# dat.furukawa2003: low-dose TCA vs placebo (Ne, Me, Se, Nc, Mc, Sc).
furukawa <- rd("dat.furukawa2003.csv")
for (m in c("SMD", "MD")) {
  emit("furukawa2003", m, escalc(m, m1i = Me, sd1i = Se, n1i = Ne,
                                 m2i = Mc, sd2i = Sc, n2i = Nc, data = furukawa))
}

## Correlations ----------------------------------------------------------------

mcdaniel <- rd("dat.mcdaniel1994.csv")
craft <- rd("dat.craft2003.csv")
cohen <- rd("dat.cohen1981.csv")
for (m in c("COR", "ZCOR")) {
  emit("mcdaniel1994", m, escalc(m, ri = ri, ni = ni, data = mcdaniel))
  emit("craft2003", m, escalc(m, ri = ri, ni = ni, data = craft))
  emit("cohen1981", m, escalc(m, ri = ri, ni = ni, data = cohen))
}

## Change scores (one group, two occasions) -----------------------------------

# No dataset in ../shared/datasets/metadat has pre/post means, SDs and r, so a
# small inline frame (reproduced in tests/escalc_golden.rs). m1i is the
# post-test, m2i the pre-test mean (metafor computes m1i - m2i); SMCR
# standardises by sd1i only (sd2i is not used). Row 5 has a missing ri.
chg <- data.frame(m1i  = c(12.1, 30.5, 8.25, 101.0, 14.0, 22.0),
                  m2i  = c(18.4, 26.0, 11.5, 96.5, 17.5, 25.0),
                  sd1i = c(5.2, 7.9, 3.1, 15.2, 4.4, 6.0),
                  sd2i = c(4.8, 8.4, 3.6, 14.1, 5.0, 5.5),
                  ni   = c(25, 40, 12, 150, 3, 30),
                  ri   = c(0.55, 0.72, 0.30, 0.85, -0.20, NA))
for (m in c("SMCR", "SMCC")) {
  emit("change", m, escalc(m, m1i = m1i, m2i = m2i, sd1i = sd1i, sd2i = sd2i,
                           ni = ni, ri = ri, data = chg))
}
