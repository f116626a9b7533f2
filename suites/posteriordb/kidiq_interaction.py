"""Kid IQ with interaction (posteriordb kidiq-kidscore_interaction, Gelman & Hill).

kid_score ~ N(beta1 + beta2 mom_hs + beta3 mom_iq + beta4 mom_hs * mom_iq, sigma); beta flat
(improper), sigma ~ HalfCauchy(2.5). The interaction is uncentred: the posterior correlations
reach 0.99 and the covariance's condition number is about 1e7.
"""

from __future__ import annotations

from bench.spec.priors import Flat, HalfCauchy
from bench.spec.problem import Latent
from suites.posteriordb.archive import column
from suites.posteriordb.declare import declare, intercept_design, linear


def make_xy(data):
    hs, iq = column(data, "mom_hs"), column(data, "mom_iq")
    return intercept_design(hs, iq, hs * iq), column(data, "kid_score")


PROBLEM = declare(
    "kidiq_interaction",
    "kidiq-kidscore_interaction",
    "kid score on mom_hs, mom_iq and their raw interaction, N = 434: beta flat, sigma ~ HalfCauchy(2.5)",
    (Latent("beta", Flat(), (4,)), Latent("sigma", HalfCauchy(2.5))),
    make_xy,
    linear,
)
