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
    'HEATING_SCALE',
    'HeatingFit',
    'KineticModel',
    'Pump',
    'Rates',
    'SsaResult',
    'fit_lattice_heating',
    'gillespie',
    'lattice_temperature_rise',
    'master_equation',
    'mean_initial_pairs',
)

HEATING_SCALE = 'heating_scale'
"""Name of the fitted scale s of every measured dT, dT_obs = s dT_model (dimensionless; 1 unless free): the ratio of
the true d<u^2>/dT to the one dT was made with, shared by the pumps because one slope made all their dT."""
FITTABLE = ('tau_auger_ps', 'tau_trap_ps', 'tau_cool_ps', 'sigma_cm2', HEATING_SCALE)
LOG_BOUNDS = (1e-30, 1e30)
"""Bounds of every fitted parameter (its unit): keeps a parameter the data do not pin from overflowing."""


@dataclasses.dataclass(frozen=True)
class Pump:
    """One measured pump condition: dT(t) (K) with its errors at delays (ps), the fluence (mJ/cm^2) and the
    pump's kinetic model (its wavelength, absorption cross-section and fixed parameters)."""

    time_ps: np.ndarray
    delta_t_k: np.ndarray
    delta_t_err_k: np.ndarray
    fluence_mj_cm2: float
    model: KineticModel


@dataclasses.dataclass
class HeatingFit:
    """Joint least-squares fit of the model's dT(t) to every pump: ``values`` of the ``free`` parameters (shared by
    the pumps, fitted in log space) and their ``ci`` (low, high) at ``confidence``. ``ci_statistical`` is the
    interval from the data alone (Jacobian covariance scaled by the reduced chi^2 when it exceeds 1); ``ci`` adds
    the cross-sections' uncertainty (``sigma_rel_err`` per pump, log-normal) by linear propagation:
    d log p / d log sigma_k = -(J^T J)^-1 J^T dr/d log sigma_k (``sigma_sensitivity``, one row per pump), and the
    same way that of a scale common to every pump's dT (``scale_rel_err``: the Debye-Waller slope's, which the
    per-delay errors must then leave out; ``scale_sensitivity``). An offset common to the delays of one pump
    (``offset_err``, K: the noise of the pre-pump reference every delay is divided by) is statistical: it widens
    ``ci_statistical`` and ``ci`` the same way (``offset_sensitivity``, one row per pump).
    With :data:`HEATING_SCALE` free, the data's scale is fitted (``heating_scale``, s, with its CI in ``values`` and
    ``ci``): a common scale of the data moves s alone (``scale_sensitivity`` is 1 for s, 0 for the rest at the
    optimum), so ``scale_rel_err`` is left out of ``ci`` and the time constants come from the shape of dT(t).
    ``models`` and ``fitted_k`` are each pump's fitted model and its curve s dT_model on its delays >= 0 (sorted);
    ``chi2_by_pump`` is each pump's chi^2 per data point.
    """

    free: tuple[str, ...]
    values: dict[str, float]
    ci: dict[str, tuple[float, float]]
    ci_statistical: dict[str, tuple[float, float]]
    confidence: float
    sigma_rel_err: tuple[float, ...]
    sigma_sensitivity: np.ndarray
    scale_rel_err: float
    scale_sensitivity: np.ndarray
    offset_err: tuple[float, ...]
    offset_sensitivity: np.ndarray
    chi2_reduced: float
    chi2_by_pump: tuple[float, ...]
    heating_scale: float
    models: tuple[KineticModel, ...]
    fitted_k: tuple[np.ndarray, ...]
    n_evaluations: int
    success: bool
    message: str


def fit_lattice_heating(
    pumps,
    free: tuple[str, ...] = ('tau_auger_ps',),
    sigma_rel_err=0.0,
    confidence: float = 0.95,
    scale_rel_err: float = 0.0,
    offset_err=0.0,
) -> HeatingFit:
    """Fit the ``free`` parameters, shared by every :class:`Pump` (starting values from the first pump's model; s
    from 1), to all pumps' dT(t) at once by the master equation (delays >= 0): s dT_model(t) against the data, s =
    1 unless :data:`HEATING_SCALE` is free. Each pump's <N> stays fixed by its model's cross-section, whose relative
    uncertainty ``sigma_rel_err`` (one value, or one per pump) widens ``ci``, as does ``scale_rel_err``, the relative
    uncertainty of a factor common to all measured dT (d<u^2>/dT), unless s is free; ``offset_err`` (K, one value
    or one per pump) that of an offset common to one pump's delays widens both intervals."""
    from scipy.optimize import least_squares

    pumps, free = list(pumps), tuple(free)
    unknown = [name for name in free if name not in FITTABLE]
    if unknown or not free or not pumps:
        raise ValueError(f'give pumps and free parameters among {FITTABLE}, got {len(pumps)} pumps and {free}')
    sigma_rel_err = np.broadcast_to(np.asarray(sigma_rel_err, dtype=float), (len(pumps),))
    offset_err = np.broadcast_to(np.asarray(offset_err, dtype=float), (len(pumps),))
    if np.any(sigma_rel_err < 0) or not scale_rel_err >= 0 or np.any(offset_err < 0):
        raise ValueError(f'errors must be non-negative, got {sigma_rel_err}, {scale_rel_err} and {offset_err}')
    data = []
    for pump in pumps:
        t, y, e = (np.asarray(a, dtype=float) for a in (pump.time_ps, pump.delta_t_k, pump.delta_t_err_k))
        keep = t >= 0
        if np.any(e[keep] <= 0):
            raise ValueError('need positive errors of dT')
        order = np.argsort(t[keep])
        data.append((t[keep][order], y[keep][order], e[keep][order]))
    n_points = sum(t.size for t, _, _ in data)
    if n_points <= len(free):
        raise ValueError('need more data points than free parameters')
    start = np.log([1.0 if name == HEATING_SCALE else getattr(pumps[0].model, name) for name in free])
    scale_free = HEATING_SCALE in free

    def scale(log_values):
        return float(np.exp(log_values[free.index(HEATING_SCALE)])) if scale_free else 1.0

    def models(log_values):
        shared = {name: value for name, value in zip(free, np.exp(log_values), strict=True) if name != HEATING_SCALE}
        return [dataclasses.replace(pump.model, **shared) for pump in pumps]

    def pump_residuals(k, model, s):
        t, y, e = data[k]
        return (s * lattice_temperature_rise(model, pumps[k].fluence_mj_cm2, t) - y) / e

    def residuals(log_values):
        s = scale(log_values)
        return np.concatenate([pump_residuals(k, model, s) for k, model in enumerate(models(log_values))])

    at_start = residuals(start)
    inert = [
        name
        for k, name in enumerate(free)
        if np.array_equal(residuals(start + np.log(2) * (np.arange(len(free)) == k)), at_start)
    ]
    if inert:
        raise ValueError(f'{", ".join(inert)} do(es) not change dT(t) of any pump: hold it fixed')
    bounds = (np.log(LOG_BOUNDS[0]), np.log(LOG_BOUNDS[1]))
    result = least_squares(residuals, np.clip(start, *bounds), bounds=bounds, x_scale=1.0, diff_step=1e-4)
    dof = max(n_points - len(free), 1)
    chi2 = float(result.fun @ result.fun / dof)
    inverse = np.linalg.pinv(result.jac.T @ result.jac)
    blocks = np.cumsum([0] + [t.size for t, _, _ in data])
    # dr/d offset_k = -1/e on pump k's residuals
    offset_sensitivity = np.array(
        [inverse @ result.jac[blocks[k] : blocks[k + 1]].T @ (1.0 / e) for k, (_, _, e) in enumerate(data)]
    )
    statistical = inverse * max(chi2, 1.0) + (offset_sensitivity.T * offset_err**2) @ offset_sensitivity
    step, fitted_models, fitted_scale = 1e-3, models(result.x), scale(result.x)
    sensitivity = np.zeros((len(pumps), len(free)))
    for k, model in enumerate(fitted_models):  # dr/d log sigma_k is zero outside pump k's residuals
        up, down = (dataclasses.replace(model, sigma_cm2=model.sigma_cm2 * np.exp(h)) for h in (step, -step))
        column = (pump_residuals(k, up, fitted_scale) - pump_residuals(k, down, fitted_scale)) / (2 * step)
        sensitivity[k] = -inverse @ result.jac[blocks[k] : blocks[k + 1]].T @ column
    scaled_data = np.concatenate([y / e for _, y, e in data])  # dr/d log(scale of every measured dT) = -y/e
    scale_sensitivity = inverse @ result.jac.T @ scaled_data
    log_sigma_var = np.log1p(sigma_rel_err**2)  # variance of log sigma for a log-normal sigma
    # a free s measures the scale: its error is in s's statistical CI, and adding the prior would count it twice
    log_scale_var = 0.0 if scale_free else np.log1p(scale_rel_err**2)
    total = (
        statistical
        + (sensitivity.T * log_sigma_var) @ sensitivity
        + np.outer(scale_sensitivity, scale_sensitivity) * log_scale_var
    )
    z = stats.norm.ppf(0.5 + confidence / 2)

    def intervals(covariance):
        sigma = np.sqrt(np.clip(np.diag(covariance), 0.0, None))
        return {
            name: (float(np.exp(x - z * s)), float(np.exp(x + z * s)))
            for name, x, s in zip(free, result.x, sigma, strict=True)
        }

    curves = [y + e * result.fun[blocks[k] : blocks[k + 1]] for k, (_, y, e) in enumerate(data)]
    chi2_by_pump = tuple(
        float(np.sum(((c - y) / e) ** 2) / max(t.size, 1)) for c, (t, y, e) in zip(curves, data, strict=True)
    )
    return HeatingFit(
        free=tuple(free),
        values=dict(zip(free, np.exp(result.x).tolist(), strict=True)),
        ci=intervals(total),
        ci_statistical=intervals(statistical),
        confidence=confidence,
        sigma_rel_err=tuple(sigma_rel_err.tolist()),
        sigma_sensitivity=sensitivity,
        scale_rel_err=float(scale_rel_err),
        scale_sensitivity=scale_sensitivity,
        offset_err=tuple(offset_err.tolist()),
        offset_sensitivity=offset_sensitivity,
        chi2_reduced=chi2,
        chi2_by_pump=chi2_by_pump,
        heating_scale=fitted_scale,
        models=tuple(fitted_models),
        fitted_k=tuple(curves),
        n_evaluations=int(result.nfev),
        success=bool(result.success),
        message=str(result.message),
    )
