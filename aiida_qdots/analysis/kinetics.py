"""Kinetic models of photoexcited nanocrystals (Auger heating, hot-hole trapping): the model and its fit to dT(t).

Model (per nanocrystal). Absorption creates N0 electron-hole pairs, Poisson with mean
<N> = sigma * fluence / (h nu). Each pair starts *hot*: its excess energy E_ph - E_gap is dissipated into the
lattice when its hot hole either cools (time ``tau_cool_ps``) or is trapped at the surface (``tau_trap_ps``;
infinite = no trapping). A hot hole can trap only when its own share of the excess,
``hole_excess_fraction`` (E_ph - E_gap), is above ``trap_barrier_ev``. Cooled pairs are *free*; trapped pairs take
no further part (no Auger, no emission within the model's window). Free pairs decay by

* Auger recombination, rate c (c - 1) / 2 / tau_AR for c free pairs: one pair recombines and its energy E_gap
  goes to a hot carrier of another free pair. With probability 1 - ``auger_hole_fraction`` it is the electron,
  which cools into the lattice; otherwise the hole, which with E_gap of excess (above the barrier when
  E_gap > ``trap_barrier_ev``) traps with the same competition as a photoexcited hole,
  tau_trap^-1 / (tau_trap^-1 + tau_cool^-1), or cools. Hot-electron : hot-hole 3:1 (core/shell) is
  ``auger_hole_fraction = 0.25``, 1:1 (core-only) 0.5. Either way E_gap goes to the lattice at the Auger event
  (the hot hole's sub-ps to ps relaxation is not resolved against Auger times of tens to hundreds of ps); a
  trapped Auger hole removes its pair as well (``auger_trapping`` events: c -> c - 2);
* radiative recombination, rate c / tau_rad: the energy leaves as a photon.

Every event's energy is recorded, so the deposited lattice energy is a sum of event energies (exactly), and
dT = E / C with the particle's heat capacity C = 3 N_atoms k_B (Dulong-Petit; CdSe is near it at 300 K).
Energy conservation: N0 E_ph = E_lattice + E_gap (n_radiative + n_trapped + c_remaining) + E_ph h_remaining.

Solvers: :func:`~aiida_qdots.analysis.kinetics_ssa.gillespie` (stochastic simulation, compiled over
realisations) and :func:`~aiida_qdots.analysis.kinetics_master.master_equation` (exact means and variances over
(hot, free) states), whose mean deposited energy is what :func:`fit_lattice_heating` uses (smooth in the
parameters). Times in ps (UED delays), energies in eV, temperatures in K.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy import stats

from aiida_qdots.analysis.kinetics_master import lattice_temperature_rise, master_equation
from aiida_qdots.analysis.kinetics_model import (
    CDSE_ATOM_DENSITY,
    EVENT_KINDS,
    KineticModel,
    Rates,
    mean_initial_pairs,
)
from aiida_qdots.analysis.kinetics_ssa import SsaResult, gillespie

__all__ = (
    'CDSE_ATOM_DENSITY',
    'EVENT_KINDS',
    'FITTABLE',
    'HeatingFit',
    'KineticModel',
    'Rates',
    'SsaResult',
    'fit_lattice_heating',
    'gillespie',
    'lattice_temperature_rise',
    'master_equation',
    'mean_initial_pairs',
)

FITTABLE = ('tau_auger_ps', 'tau_trap_ps', 'tau_cool_ps', 'sigma_cm2')


@dataclasses.dataclass
class HeatingFit:
    """Least-squares fit of the model's dT(t) to measured dT: ``values`` and ``ci`` (low, high) at ``confidence``
    of the ``free`` parameters (fitted in log space; intervals from the Jacobian covariance scaled by the reduced
    chi^2 when it exceeds 1), ``chi2_reduced``, the fitted ``model`` and its curve ``fitted_k`` on the data times.
    """

    free: tuple[str, ...]
    values: dict[str, float]
    ci: dict[str, tuple[float, float]]
    confidence: float
    chi2_reduced: float
    model: KineticModel
    fitted_k: np.ndarray
    n_evaluations: int
    success: bool
    message: str


def fit_lattice_heating(
    time_ps,
    delta_t_k,
    delta_t_err_k,
    fluence_mj_cm2: float,
    model: KineticModel,
    free: tuple[str, ...] = ('tau_auger_ps', 'sigma_cm2'),
    confidence: float = 0.95,
) -> HeatingFit:
    """Fit the ``free`` parameters of ``model`` (starting values) to dT(t) (K) with errors, by the master equation."""
    from scipy.optimize import least_squares

    unknown = [name for name in free if name not in FITTABLE]
    if unknown or not free:
        raise ValueError(f'free parameters must be among {FITTABLE}, got {free}')
    time_ps, delta_t_k, error = (np.asarray(a, dtype=float) for a in (time_ps, delta_t_k, delta_t_err_k))
    if np.any(error <= 0) or time_ps.size <= len(free):
        raise ValueError('need positive errors and more data points than free parameters')
    order = np.argsort(time_ps)
    after = time_ps[order] >= 0
    t, y, e = time_ps[order][after], delta_t_k[order][after], error[order][after]
    start = np.log([getattr(model, name) for name in free])

    def curve(log_values):
        trial = dataclasses.replace(model, **dict(zip(free, np.exp(log_values), strict=True)))
        return lattice_temperature_rise(trial, fluence_mj_cm2, t)

    result = least_squares(lambda p: (curve(p) - y) / e, start, x_scale=1.0, diff_step=1e-4)
    dof = max(t.size - len(free), 1)
    chi2 = float(result.fun @ result.fun / dof)
    covariance = np.linalg.pinv(result.jac.T @ result.jac) * max(chi2, 1.0)
    z = stats.norm.ppf(0.5 + confidence / 2)
    sigma = np.sqrt(np.clip(np.diag(covariance), 0.0, None))
    values = dict(zip(free, np.exp(result.x).tolist(), strict=True))
    ci = {
        name: (float(np.exp(x - z * s)), float(np.exp(x + z * s)))
        for name, x, s in zip(free, result.x, sigma, strict=True)
    }
    fitted_model = dataclasses.replace(model, **values)
    fitted = np.full(time_ps.size, np.nan)
    fitted[order[after]] = curve(result.x)
    return HeatingFit(
        free=tuple(free),
        values=values,
        ci=ci,
        confidence=confidence,
        chi2_reduced=chi2,
        model=fitted_model,
        fitted_k=fitted,
        n_evaluations=int(result.nfev),
        success=bool(result.success),
        message=str(result.message),
    )
