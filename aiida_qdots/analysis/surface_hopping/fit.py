"""Recombination time: exp(-t/tau) fit of the initial-state population of a surface-hopping ensemble, with a
two-stage bootstrap interval (package docstring). Times in fs.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from aiida_qdots.analysis.surface_hopping.ensemble import SurfaceHoppingResult


@dataclasses.dataclass
class RecombinationFit:
    """exp(-t/tau) fit of the initial-state population: ``tau_fs`` (fs), ``rate_per_fs``, the bootstrap percentile
    interval ``ci_fs`` (low, high) at ``confidence``, the bootstrap time constants, and the fitted curve.
    """

    tau_fs: float
    rate_per_fs: float
    ci_fs: tuple[float, float]
    confidence: float
    n_bootstrap: int
    bootstrap_tau_fs: np.ndarray
    state: int
    time_fs: np.ndarray
    population: np.ndarray
    fitted: np.ndarray
    resampling: str
    model: str = 'P_state(t) = exp(-t/tau), least squares over the recorded times'

    @property
    def tau_ns(self) -> float:
        return self.tau_fs / 1e6

    @property
    def ci_ns(self) -> tuple[float, float]:
        return self.ci_fs[0] / 1e6, self.ci_fs[1] / 1e6


def fit_decay_rate(time_fs, population) -> np.ndarray:
    """Least-squares rate k >= 0 (1/fs) of ``population`` (..., n_t) by exp(-k t), for each leading row
    (damped Gauss-Newton from the log-linear estimate).
    """
    t = np.asarray(time_fs, dtype=float)
    p = np.atleast_2d(np.asarray(population, dtype=float))
    tt = float(np.sum(t * t))
    if tt == 0:
        raise ValueError('need recorded times after t = 0 to fit a decay')
    k = np.maximum(np.sum(t * -np.log(np.clip(p, 1e-12, 1.0)), axis=1) / tt, 0.0)

    def sse(rate):
        return np.sum((p - np.exp(-rate[:, None] * t)) ** 2, axis=1)

    current = sse(k)
    for _ in range(200):
        m = np.exp(-k[:, None] * t)
        jac = -t * m
        step = -np.sum(jac * (m - p), axis=1) / np.maximum(np.sum(jac * jac, axis=1), 1e-300)
        trial = np.maximum(k + step, 0.0)
        value = sse(trial)
        for _ in range(30):
            worse = value > current
            if not worse.any():
                break
            step = np.where(worse, step / 2.0, step)
            trial = np.where(worse, np.maximum(k + step, 0.0), trial)
            value = np.where(worse, sse(trial), value)
        better = value <= current
        change = np.abs(np.where(better, trial, k) - k)
        k = np.where(better, trial, k)
        current = np.where(better, value, current)
        if np.all(change <= 1e-13 * np.maximum(k, 1e-300)):
            break
    return k if np.ndim(population) > 1 else k[:1]


def fit_recombination(
    result: SurfaceHoppingResult,
    state: int | None = None,
    n_bootstrap: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> RecombinationFit:
    """Recombination time: exp(-t/tau) fit of the population of ``state`` (default the initial state) with a
    two-stage bootstrap confidence interval (initial times, then realisations within each; module docstring).
    """
    state = result.initial_state if state is None else int(state)
    if not 0 < confidence < 1:
        raise ValueError(f'confidence must be between 0 and 1, got {confidence}')
    survival = (result.active == state).astype(float)
    population = survival.mean(axis=0)
    rate = float(fit_decay_rate(result.time_fs, population)[0])
    alpha = (1.0 - confidence) / 2.0
    if n_bootstrap > 0:
        members = np.stack([np.flatnonzero(result.groups == g) for g in np.unique(result.groups)])
        n_groups, per_group = members.shape
        rng = np.random.default_rng(seed)
        picked = rng.integers(0, n_groups, (n_bootstrap, n_groups))
        within = rng.integers(0, per_group, (n_bootstrap, n_groups, per_group))
        chosen = members[picked[:, :, None], within].reshape(n_bootstrap, -1)
        offsets = (np.arange(n_bootstrap) * result.n_realisations)[:, None]
        weights = np.bincount((chosen + offsets).reshape(-1), minlength=n_bootstrap * result.n_realisations)
        weights = weights.reshape(n_bootstrap, result.n_realisations).astype(float)
        samples = (weights @ survival) / weights.sum(axis=1, keepdims=True)
        rates = fit_decay_rate(result.time_fs, samples)
        low_rate, high_rate = np.quantile(rates, [alpha, 1.0 - alpha])
        ci = (_inverse(high_rate), _inverse(low_rate))
    else:
        rates = np.empty(0)
        ci = (math.nan, math.nan)
    return RecombinationFit(
        tau_fs=_inverse(rate),
        rate_per_fs=rate,
        ci_fs=ci,
        confidence=float(confidence),
        n_bootstrap=int(n_bootstrap),
        bootstrap_tau_fs=np.array([_inverse(x) for x in rates]),
        state=state,
        time_fs=result.time_fs,
        population=population,
        fitted=np.exp(-rate * result.time_fs),
        resampling='two-stage: initial times with replacement, then realisations within each drawn initial time',
    )


def _inverse(rate: float) -> float:
    return float(1.0 / rate) if rate > 0 else math.inf
