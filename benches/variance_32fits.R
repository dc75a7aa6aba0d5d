# The 32 models of a five-factor decomposition (science.md §2) in R with lm
# and lme4 (default settings), timed; the R peer of `outcomes variance`.
# Usage: Rscript benches/variance_32fits.R FILE.csv
suppressMessages(library(lme4))
args <- commandArgs(trailingOnly = TRUE)
t0 <- Sys.time()
d <- read.csv(args[1], stringsAsFactors = FALSE)
d <- d[complete.cases(d[, c("post", "pre", "technique", "alliance", "therapist", "site")]), ]
factors <- c("pre", "technique", "alliance", "(1 | therapist)", "(1 | site)")
vy <- var(d$post)
v <- numeric(32)
for (mask in 1:31) {
  terms <- factors[bitwAnd(mask, 2^(0:4)) != 0]
  f <- as.formula(paste("post ~", paste(c("1", terms), collapse = " + ")))
  m <- if (any(grepl("|", terms, fixed = TRUE))) {
    suppressMessages(lmer(f, data = d, REML = TRUE))
  } else {
    lm(f, data = d)
  }
  v[mask + 1] <- 1 - sigma(m)^2 / vy
}
cat("R_SECONDS", as.numeric(difftime(Sys.time(), t0, units = "secs")), "\n")
