# glmGamPoi's per-gene negative-binomial fits for tests/test_r_reference.py: reads X.csv,
# Y.csv, off.csv; writes beta.csv, alpha.csv (no adjustment) and beta_cr.csv, alpha_cr.csv
# (the Cox-Reid adjustment, glmGamPoi's default).
suppressMessages(library(glmGamPoi))
X <- as.matrix(read.csv("X.csv", header = FALSE)); colnames(X) <- NULL
Y <- as.matrix(read.csv("Y.csv", header = FALSE)); off <- scan("off.csv", quiet = TRUE)
for (cr in c(FALSE, TRUE)) {
  fit <- glm_gp(Y, design = X, offset = off, size_factors = FALSE,
                overdispersion_shrinkage = FALSE, do_cox_reid_adjustment = cr, verbose = FALSE)
  tag <- if (cr) "_cr" else ""
  write.table(fit$Beta, paste0("beta", tag, ".csv"), sep = ",", row.names = FALSE,
              col.names = FALSE)
  write.table(fit$overdispersions, paste0("alpha", tag, ".csv"), row.names = FALSE,
              col.names = FALSE)
}
