# Golden values for tests/variance_golden.rs: the variance decomposition of
# science.md §2 computed by its definition with lm and lme4, on data that
# `outcomes simulate` writes (the test regenerates the same file):
#   outcomes simulate --seed 11 --clients 3000 --therapists 60 --sites 6 -o /tmp/variance_golden.csv
# Run from the repository root:
#   Rscript tests/reference/variance_lme4.R /tmp/variance_golden.csv > tests/reference/variance_lme4.out
suppressMessages(library(lme4))
cat("R", R.version$major, R.version$minor, "lme4", as.character(packageVersion("lme4")), "\n")
args <- commandArgs(trailingOnly = TRUE)
raw <- read.csv(args[1], stringsAsFactors = FALSE)
# A tightened optimiser so that each reference sits at the REML optimum well
# below the 1e-6 tolerance of the test (lme4's default stops earlier).
ctrl <- lmerControl(optimizer = "bobyqa",
                    optCtrl = list(rhobeg = 0.2, rhoend = 1e-12, maxfun = 1e5))

decompose <- function(case, d, factors) {
  cat("case", case, "\n")
  K <- length(factors)
  vy <- var(d$post)
  cat("n", nrow(d), "\n")
  cat("var_y", format(vy, digits = 15), "\n")
  v <- numeric(2^K)
  fits <- list()
  for (mask in 1:(2^K - 1)) {
    terms <- unlist(factors[bitwAnd(mask, 2^(0:(K - 1))) != 0])
    random <- grepl("|", terms, fixed = TRUE)
    f <- as.formula(paste("post ~", paste(c("1", terms), collapse = " + ")))
    if (any(random)) {
      m <- lmer(f, data = d, REML = TRUE, control = ctrl)
    } else {
      m <- lm(f, data = d)
    }
    s2 <- sigma(m)^2
    v[mask + 1] <- 1 - s2 / vy
    fits[[mask]] <- m
    cat("subset", mask, format(s2, digits = 15), format(v[mask + 1], digits = 15), "\n")
  }
  full <- 2^K - 1
  for (f in 1:K) {
    bit <- 2^(f - 1)
    phi <- 0
    for (s in 0:full) {
      if (bitwAnd(s, bit) != 0) next
      size <- sum(bitwAnd(s, 2^(0:(K - 1))) != 0)
      w <- factorial(size) * factorial(K - size - 1) / factorial(K)
      phi <- phi + w * (v[bitwOr(s, bit) + 1] - v[s + 1])
    }
    cat("share", names(factors)[f], format(phi, digits = 15),
        format(v[bit + 1], digits = 15),
        format(v[full + 1] - v[bitwAnd(full, bitwNot(bit)) + 1], digits = 15), "\n")
  }
  cat("unexplained", format(1 - v[full + 1], digits = 15), "\n")
  icc <- function(m, label) {
    vc <- as.data.frame(VarCorr(m))
    tot <- sum(vc$vcov)
    for (i in seq_len(nrow(vc))) if (vc$grp[i] != "Residual")
      cat("icc", label, vc$grp[i], format(vc$vcov[i] / tot, digits = 15), "\n")
  }
  rmask <- sum(2^(which(grepl("|", unlist(lapply(factors, paste, collapse = " ")), fixed = TRUE)) - 1))
  icc(fits[[rmask]], "null")
  m <- fits[[full]]
  icc(m, "casemix")
  vf <- var(as.vector(model.matrix(m) %*% fixef(m)))
  vc <- as.data.frame(VarCorr(m))
  tau <- sum(vc$vcov[vc$grp != "Residual"])
  s2 <- sigma(m)^2
  cat("r2 marginal", format(vf / (vf + tau + s2), digits = 15), "\n")
  cat("r2 conditional", format((vf + tau) / (vf + tau + s2), digits = 15), "\n")
  fe <- fixef(m); se <- sqrt(diag(as.matrix(vcov(m))))
  for (i in seq_along(fe)) cat("fixed", names(fe)[i], format(fe[i], digits = 15), format(se[i], digits = 15), "\n")
  cat("\n")
}

# Case 1: the five factors of science.md §2.
cols <- c("post", "pre", "technique", "alliance", "therapist", "site")
d <- raw[complete.cases(raw[, cols]), ]
decompose("default", d, list(client = "pre", technique = "technique", relationship = "alliance",
                            therapist = "(1 | therapist)", site = "(1 | site)"))

# Case 2: --split-alliance (group-mean centring over the analysed clients)
# and a user factor --factor dose=sessions: seven factors, 127 models.
cols <- c(cols, "sessions")
d <- raw[complete.cases(raw[, cols]), ]
d$alliance_between <- ave(d$alliance, d$therapist)
d$alliance_within <- d$alliance - d$alliance_between
decompose("split", d, list(client = "pre", technique = "technique",
                           relationship_within = "alliance_within",
                           relationship_between = "alliance_between",
                           therapist = "(1 | therapist)", site = "(1 | site)",
                           dose = "sessions"))
