"""The prior vocabulary of the problem interface, with the spec's own numpy log densities.

Backends translate these records into their native distributions; the numpy log density
here is the ground truth their log joints are checked against (float64).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import special

LOG_2_OVER_PI = math.log(2.0 / math.pi)
HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


@dataclass(frozen=True)
class Support:
    """Where a latent lives: the real line, the positive half-line or an open interval."""

    kind: str  # "real" | "positive" | "interval"
    low: float = -math.inf
    high: float = math.inf

    def contains(self, x: np.ndarray) -> np.ndarray:
        return (x > self.low) & (x < self.high)

    def random_point(self, rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
        """A test point inside the support (for agreement checks), not a prior draw."""
        if self.kind == "real":
            return rng.normal(0.0, 2.0, size=shape)
        if self.kind == "positive":
            return np.exp(rng.normal(0.0, 1.0, size=shape))
        span = self.high - self.low
        return self.low + span * rng.uniform(0.05, 0.95, size=shape)

    def central_point(self, shape: tuple[int, ...]) -> np.ndarray:
        """A deterministic interior point, used for the cheap pre-flight check."""
        value = {"real": 0.0, "positive": 1.0}.get(self.kind)
        if value is None:
            value = 0.5 * (self.low + self.high)
        return np.full(shape, value, dtype=np.float64)


REAL = Support("real")
POSITIVE = Support("positive", 0.0, math.inf)


def _outside(x: np.ndarray, support: Support, logp: np.ndarray) -> np.ndarray:
    return np.where(support.contains(x), logp, -np.inf)


@dataclass(frozen=True)
class Normal:
    loc: float = 0.0
    scale: float = 1.0
    support = REAL

    def log_density(self, x: np.ndarray) -> np.ndarray:
        z = (x - self.loc) / self.scale
        return -0.5 * z * z - math.log(self.scale) - HALF_LOG_2PI

    def sample(self, rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
        return rng.normal(self.loc, self.scale, size=shape)


@dataclass(frozen=True)
class HalfNormal:
    scale: float = 1.0
    support = POSITIVE

    def log_density(self, x: np.ndarray) -> np.ndarray:
        z = x / self.scale
        logp = math.log(2.0) - 0.5 * z * z - math.log(self.scale) - HALF_LOG_2PI
        return _outside(x, self.support, logp)

    def sample(self, rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
        return np.abs(rng.normal(0.0, self.scale, size=shape))


@dataclass(frozen=True)
class SoftLaplace:
    """Density proportional to 1 / (e^z + e^-z): Laplace tails, smooth at the centre."""

    loc: float = 0.0
    scale: float = 1.0
    support = REAL

    def log_density(self, x: np.ndarray) -> np.ndarray:
        z = (x - self.loc) / self.scale
        return LOG_2_OVER_PI - math.log(self.scale) - np.logaddexp(z, -z)

    def sample(self, rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
        """Inverse CDF: F(x) = (2 / pi) arctan(exp(z))."""
        return self.loc + self.scale * np.log(np.tan(0.5 * np.pi * rng.uniform(size=shape)))


@dataclass(frozen=True)
class Uniform:
    low: float = 0.0
    high: float = 1.0

    @property
    def support(self) -> Support:
        return Support("interval", self.low, self.high)

    def log_density(self, x: np.ndarray) -> np.ndarray:
        logp = np.full(np.shape(x), -math.log(self.high - self.low))
        return _outside(x, self.support, logp)

    def sample(self, rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
        return rng.uniform(self.low, self.high, size=shape)


@dataclass(frozen=True)
class Gamma:
    concentration: float = 1.0
    rate: float = 1.0
    support = POSITIVE

    def log_density(self, x: np.ndarray) -> np.ndarray:
        a, b = self.concentration, self.rate
        with np.errstate(divide="ignore", invalid="ignore"):
            logp = a * math.log(b) + (a - 1.0) * np.log(x) - b * x - special.gammaln(a)
        return _outside(x, self.support, logp)

    def sample(self, rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
        return rng.gamma(self.concentration, 1.0 / self.rate, size=shape)


@dataclass(frozen=True)
class Beta:
    a: float = 1.0
    b: float = 1.0
    support = Support("interval", 0.0, 1.0)

    def log_density(self, x: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            logp = special.xlogy(self.a - 1.0, x) + special.xlog1py(self.b - 1.0, -x)
        return _outside(x, self.support, logp - special.betaln(self.a, self.b))

    def sample(self, rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
        return rng.beta(self.a, self.b, size=shape)


@dataclass(frozen=True)
class Flat:
    """Improper flat prior on the real line (density-only targets put their mass in a potential)."""

    support = REAL

    def log_density(self, x: np.ndarray) -> np.ndarray:
        return np.zeros(np.shape(x))

    sample = None  # improper: nothing to draw from


@dataclass(frozen=True)
class FlatPositive:
    """Improper flat prior on the positive half-line: Stan's `real<lower=0>` with no prior statement."""

    support = POSITIVE

    def log_density(self, x: np.ndarray) -> np.ndarray:
        return _outside(x, self.support, np.zeros(np.shape(x)))

    sample = None  # improper: nothing to draw from


def _cauchy_log_density(x: np.ndarray, loc: float, scale: float) -> np.ndarray:
    z = (x - loc) / scale
    return -math.log(math.pi * scale) - np.log1p(z * z)


def _student_t_log_density(x: np.ndarray, df: float, loc: float, scale: float) -> np.ndarray:
    z = (x - loc) / scale
    norm = (
        special.gammaln(0.5 * (df + 1.0)) - special.gammaln(0.5 * df) - 0.5 * math.log(df * math.pi) - math.log(scale)
    )
    return norm - 0.5 * (df + 1.0) * np.log1p(z * z / df)


@dataclass(frozen=True)
class Cauchy:
    loc: float = 0.0
    scale: float = 1.0
    support = REAL

    def log_density(self, x: np.ndarray) -> np.ndarray:
        return _cauchy_log_density(x, self.loc, self.scale)

    def sample(self, rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
        return self.loc + self.scale * rng.standard_cauchy(size=shape)


@dataclass(frozen=True)
class HalfCauchy:
    """Cauchy(0, scale) folded onto x > 0 (normalised: includes log 2, which Stan's `~` drops)."""

    scale: float = 1.0
    support = POSITIVE

    def log_density(self, x: np.ndarray) -> np.ndarray:
        return _outside(x, self.support, math.log(2.0) + _cauchy_log_density(x, 0.0, self.scale))

    def sample(self, rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
        return np.abs(self.scale * rng.standard_cauchy(size=shape))


@dataclass(frozen=True)
class StudentT:
    df: float = 3.0
    loc: float = 0.0
    scale: float = 1.0
    support = REAL

    def log_density(self, x: np.ndarray) -> np.ndarray:
        return _student_t_log_density(x, self.df, self.loc, self.scale)

    def sample(self, rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
        return self.loc + self.scale * rng.standard_t(self.df, size=shape)


@dataclass(frozen=True)
class HalfStudentT:
    """StudentT(df, 0, scale) folded onto x > 0, normalised (log 2 included)."""

    df: float = 3.0
    scale: float = 1.0
    support = POSITIVE

    def log_density(self, x: np.ndarray) -> np.ndarray:
        return _outside(x, self.support, math.log(2.0) + _student_t_log_density(x, self.df, 0.0, self.scale))

    def sample(self, rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
        return np.abs(self.scale * rng.standard_t(self.df, size=shape))


Prior = (
    Normal
    | HalfNormal
    | SoftLaplace
    | Uniform
    | Gamma
    | Beta
    | Flat
    | FlatPositive
    | Cauchy
    | HalfCauchy
    | StudentT
    | HalfStudentT
)
