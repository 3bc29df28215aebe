# The R references of tests/test_r_reference.py: writes quine.csv and ref.json into the
# working directory. Every fit converges to R's tightest tolerance (the same fit as glmjax's).
suppressMessages({library(MASS); library(sandwich); library(jsonlite)})
write.csv(quine, "quine.csv", row.names = FALSE)
out <- list()
nb <- glm.nb(Days ~ Eth + Sex + Age + Lrn, data = quine, control = glm.control(epsilon = 1e-12, maxit = 100))
out$nb <- list(coef = unname(coef(nb)), se = unname(sqrt(diag(vcov(nb)))), theta = nb$theta,
               se_theta = nb$SE.theta, twologlik = nb$twologlik)
out$nb_influence <- list(hat = unname(hatvalues(nb)), cooks = unname(cooks.distance(nb)),
                         rstandard = unname(rstandard(nb)),
                         rstandard_pearson = unname(rstandard(nb, type = "pearson")))
nb0 <- glm.nb(Days ~ Eth, data = quine, control = glm.control(epsilon = 1e-12, maxit = 100))
lr <- anova(nb0, nb)  # MASS's anova.negbin: likelihood-ratio tests, theta estimated in each
out$anova_nb <- list(theta = lr[["theta"]], twologlik = lr[["   2 x log-lik."]],
                     lr = lr[["LR stat."]], p = lr[["Pr(Chi)"]])
po <- glm(Days ~ Eth + Sex + Age + Lrn, data = quine, family = poisson, control = glm.control(epsilon = 1e-15, maxit = 100))
out$hc <- lapply(c(HC0 = "HC0", HC1 = "HC1", HC2 = "HC2", HC3 = "HC3"),
                 function(t) unname(c(vcovHC(po, type = t))))
out$cl_default <- unname(c(vcovCL(po, cluster = ~Age)))
out$cl_hc0 <- unname(c(vcovCL(po, cluster = ~Age, type = "HC0")))
f0 <- glm(Days ~ 1, data = quine, family = poisson, control = glm.control(epsilon = 1e-15, maxit = 100))
f1 <- glm(Days ~ Eth, data = quine, family = poisson, control = glm.control(epsilon = 1e-15, maxit = 100))
a <- anova(f0, f1, po, test = "Chisq")
rao <- anova(f0, f1, po, test = "Rao")
out$rao <- list(rao = rao[["Rao"]], p = rao[["Pr(>Chi)"]])
out$anova <- list(resid_df = a[["Resid. Df"]], resid_dev = a[["Resid. Dev"]],
                  df = a[["Df"]], dev = a[["Deviance"]], p = a[["Pr(>Chi)"]])
s <- anova(po, test = "Chisq")  # one fit: its terms added one at a time
out$anova_seq <- list(resid_df = s[["Resid. Df"]], resid_dev = s[["Resid. Dev"]],
                      dev = s[["Deviance"]], p = s[["Pr(>Chi)"]])
ga <- glm(Days + 1 ~ Eth + Sex + Age + Lrn, data = quine, family = Gamma(link = "log"), control = glm.control(epsilon = 1e-15, maxit = 100))
b <- anova(glm(Days + 1 ~ Eth, data = quine, family = Gamma(link = "log"), control = glm.control(epsilon = 1e-15, maxit = 100)), ga, test = "F")
out$anova_f <- list(f = b[["F"]], p = b[["Pr(>F)"]])
sg <- anova(ga, test = "F")
out$anova_seq_f <- list(f = sg[["F"]], p = sg[["Pr(>F)"]])
d1 <- drop1(po, test = "Chisq")
gi <- glm(Days + 1 ~ Eth * Sex + Age + Lrn, data = quine, family = Gamma(link = "log"),
          control = glm.control(epsilon = 1e-15, maxit = 100))
d2 <- drop1(gi, test = "F")
out$drop1 <- list(dev = d1[["Deviance"]], aic = d1[["AIC"]], lrt = d1[["LRT"]],
                  p = d1[["Pr(>Chi)"]], f_dev = d2[["Deviance"]], f_aic = d2[["AIC"]],
                  f = d2[["F value"]], f_p = d2[["Pr(>F)"]])
# profile-likelihood intervals (MASS's profile.glm: a spline through a grid of refits)
out$confint <- list(poisson = unname(suppressMessages(confint(po))),
                    gamma = unname(suppressMessages(confint(ga))))
rg <- anova(glm(Days + 1 ~ Eth, data = quine, family = Gamma(link = "log"),
                control = glm.control(epsilon = 1e-15, maxit = 100)), ga, test = "Rao")
out$rao_gamma <- list(rao = rg[["Rao"]], p = rg[["Pr(>Chi)"]])
pl <- predict(po, type = "link", se.fit = TRUE); pr <- predict(po, type = "response", se.fit = TRUE)
out$pred <- list(link = unname(pl$fit), link_se = unname(pl$se.fit),
                 mean = unname(pr$fit), mean_se = unname(pr$se.fit))
write(toJSON(out, digits = NA), "ref.json")
