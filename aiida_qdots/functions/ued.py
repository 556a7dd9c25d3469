"""Calcfunctions of the UED analysis: Debye-Waller fits, lattice temperature, kinetic-model fit.

Graph: UED data -> :func:`debye_waller_analysis` -> ``debye_waller``; + ``msd_slope`` (a ``qdots.phonons``
output or a user Dict) -> :func:`lattice_temperature_from_dw` -> ``lattice_temperature``; + ``model`` ->
:func:`fit_heating` -> ``fit`` (Dict) and ``fit_curves``. Kernels: :mod:`aiida_qdots.analysis.debye_waller` and
:mod:`aiida_qdots.analysis.kinetics`. Delays in ps, du2 in angstrom^2 (3D), temperatures in K.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from aiida import orm
from aiida.engine import calcfunction

from aiida_qdots.analysis.debye_waller import debye_waller_fit, lattice_temperature
from aiida_qdots.analysis.kinetics import KineticModel, fit_lattice_heating, gillespie, master_equation
from aiida_qdots.common.output_keys import (
    MSD_SLOPE_KEY,
    MSD_SLOPE_KEYS,
    MSD_SLOPE_STDERR_KEY,
    MSD_SLOPE_WEIGHTING_KEY,
)

MODEL_KEYS = tuple(field.name for field in dataclasses.fields(KineticModel))


def validate_msd_slope(value, _ctx=None):
    slope = value.get_dict()
    missing = [key for key in MSD_SLOPE_KEYS if key not in slope]
    if missing:
        return f'msd_slope lacks {", ".join(missing)} (3D d<u^2>/dT in A^2/K and its standard error)'
    if not slope[MSD_SLOPE_KEY] > 0 or slope[MSD_SLOPE_STDERR_KEY] < 0:
        return f'msd_slope must be positive with a non-negative error, got {slope}'


def validate_model(value, _ctx=None):
    model = value.get_dict()
    unknown = set(model) - set(MODEL_KEYS) - {'trapping_wavelengths_nm', 'fit_from_ps', 'by_wavelength_nm'}
    for overrides in model.get('by_wavelength_nm', {}).values():
        unknown |= set(overrides) - set(MODEL_KEYS)
    if unknown:
        return f'unknown model parameter(s) {", ".join(sorted(unknown))}; known: {", ".join(MODEL_KEYS)}'
    try:
        for overrides in [{}, *model.get('by_wavelength_nm', {}).values()]:
            KineticModel(**{**{k: v for k, v in model.items() if k in MODEL_KEYS}, **overrides})
    except (TypeError, ValueError) as error:
        return f'invalid kinetic model: {error}'


@calcfunction
def debye_waller_analysis(data: orm.ArrayData, parameters: orm.Dict) -> orm.ArrayData:
    """Per set and delay: du2 = 3 x slope of -ln(I/I0) vs Q^2 (zero intercept, weighted), and the Q^4 linearity test
    (``alpha`` in parameters); flagged delays are listed in the ``flagged_delays_ps`` attribute per set."""
    alpha = float(parameters.get_dict().get('alpha', 0.01))
    q, delays = data.get_array('q_inv_angstrom'), data.get_array('delay_ps')
    ratio, error = data.get_array('intensity_ratio'), data.get_array('intensity_ratio_err')
    fits = [debye_waller_fit(q, ratio[s], error[s], alpha=alpha) for s in range(ratio.shape[0])]
    node = orm.ArrayData()
    node.set_array('delay_ps', delays)
    for name in ('du2', 'du2_err', 'chi2', 'p_linear', 'q4_coefficient', 'q4_z', 'p_curvature', 'flagged'):
        node.set_array(name, np.array([getattr(fit, name) for fit in fits]))
    node.base.attributes.set_many(
        {
            'sets': data.base.attributes.get('sets'),
            'alpha': alpha,
            'dof': fits[0].dof,
            'flagged_delays_ps': [delays[fit.flagged].tolist() for fit in fits],
            'units': {'du2': 'angstrom^2', 'delay_ps': 'ps', 'q4_coefficient': 'angstrom^4'},
            'convention': '-ln(I/I0) = Q^2 du2 / 3 (3D mean-square displacement); curvature test: y = b Q^2 + c Q^4',
        }
    )
    return node


@calcfunction
def lattice_temperature_from_dw(debye_waller: orm.ArrayData, msd_slope: orm.Dict) -> orm.ArrayData:
    """dT(t) = du2(t) / (d<u^2>/dT) per set (K), errors of du2 and of the slope propagated; the slope is the
    ``msd_slope``'s main one (``qdots.phonons``: electron-scattering weighted), its weighting recorded."""
    slope = msd_slope.get_dict()
    delta_t, error = lattice_temperature(
        debye_waller.get_array('du2'),
        debye_waller.get_array('du2_err'),
        slope[MSD_SLOPE_KEY],
        slope[MSD_SLOPE_STDERR_KEY],
    )
    node = orm.ArrayData()
    node.set_array('delay_ps', debye_waller.get_array('delay_ps'))
    node.set_array('delta_t_k', delta_t)
    node.set_array('delta_t_err_k', error)
    node.base.attributes.set_many(
        {
            'sets': debye_waller.base.attributes.get('sets'),
            MSD_SLOPE_KEY: slope[MSD_SLOPE_KEY],
            MSD_SLOPE_STDERR_KEY: slope[MSD_SLOPE_STDERR_KEY],
            MSD_SLOPE_WEIGHTING_KEY: slope.get(MSD_SLOPE_WEIGHTING_KEY, 'as given'),
            'units': {'delta_t_k': 'K', 'delay_ps': 'ps'},
        }
    )
    return node


@calcfunction
def fit_heating(temperature: orm.ArrayData, model: orm.Dict, parameters: orm.Dict) -> dict[str, orm.Data]:
    """Fit the kinetic model to each set's dT(t) by the master equation, then check the fitted model's mean against
    a Gillespie run (``n_trajectories`` in parameters).

    Sets whose wavelength is in ``model['trapping_wavelengths_nm']`` fit (tau_trap_ps, sigma_cm2) with tau_AR from
    the fit of the non-trapping sets (the trapping competes with Auger heating, so tau_AR must come from elsewhere);
    other sets fit (tau_auger_ps, sigma_cm2). ``model['by_wavelength_nm']`` maps a wavelength ('340') to fixed
    parameters of that pump (e.g. its hot-hole cooling time). Only delays >= ``fit_from_ps`` (default 0) are fitted.
    """
    settings = model.get_dict()
    trapping = {float(w) for w in settings.get('trapping_wavelengths_nm', [])}
    fit_from = float(settings.get('fit_from_ps', 0.0))
    base = {k: v for k, v in settings.items() if k in MODEL_KEYS}
    n_trajectories = int(parameters.get_dict().get('n_trajectories', 2000))
    delays = temperature.get_array('delay_ps')
    delta_t, error = temperature.get_array('delta_t_k'), temperature.get_array('delta_t_err_k')
    sets = temperature.base.attributes.get('sets')
    order = sorted(range(len(sets)), key=lambda s: float(sets[s]['wavelength_nm']) in trapping)
    results, curves, tau_auger = [None] * len(sets), orm.ArrayData(), None
    mask = delays >= fit_from
    for s in order:
        pump = sets[s]
        traps = float(pump['wavelength_nm']) in trapping
        start = KineticModel(
            **{
                **base,
                **settings.get('by_wavelength_nm', {}).get(f'{pump["wavelength_nm"]:g}', {}),
                'wavelength_nm': pump['wavelength_nm'],
                **({'tau_auger_ps': tau_auger} if traps and tau_auger else {}),
                **({} if traps else {'tau_trap_ps': np.inf}),
            }
        )
        if traps and not np.isfinite(start.tau_trap_ps):
            start = dataclasses.replace(start, tau_trap_ps=5.0)
        free = ('tau_trap_ps', 'sigma_cm2') if traps else ('tau_auger_ps', 'sigma_cm2')
        fit = fit_lattice_heating(delays[mask], delta_t[s, mask], error[s, mask], pump['fluence_mj_cm2'], start, free)
        if not traps:
            tau_auger = tau_auger or fit.values['tau_auger_ps']
        times = np.linspace(0.0, float(delays.max()), 200)
        mean = master_equation(fit.model, pump['fluence_mj_cm2'], times)
        run = gillespie(fit.model, pump['fluence_mj_cm2'], n_trajectories, float(times[-1]), seed=s)
        energies = np.bincount(run.event_trajectory, weights=run.event_energy_ev, minlength=run.n0.size)
        sem = energies.std(ddof=1) / np.sqrt(run.n0.size)
        z = (run.mean_energy(times[-1:])[0] - mean['energy_ev'][-1]) / sem if sem > 0 else 0.0
        curves.set_array(f'time_ps_{s}', times)
        curves.set_array(f'delta_t_k_{s}', mean['delta_t_k'])
        model_dict = dataclasses.asdict(fit.model)
        model_dict['tau_trap_ps'] = None if np.isinf(model_dict['tau_trap_ps']) else model_dict['tau_trap_ps']
        results[s] = {
            **pump,
            'trapping': traps,
            'free': list(fit.free),
            'values': fit.values,
            'ci': {k: list(v) for k, v in fit.ci.items()},
            'confidence': fit.confidence,
            'chi2_reduced': fit.chi2_reduced,
            'success': fit.success,
            'message': fit.message,
            'n_evaluations': fit.n_evaluations,
            'model': model_dict,
            'plateau_k': float(mean['delta_t_k'][-1]),
            'mean_initial_pairs': fit.model.mean_pairs(pump['fluence_mj_cm2']),
            'ssa_check': {'n_trajectories': n_trajectories, 'z_final_energy': float(z)},
        }
    curves.base.attributes.set('units', {'time_ps': 'ps', 'delta_t_k': 'K'})
    summary = {
        'sets': results,
        'method': 'master equation of the Auger / cooling / trapping model fitted by '
        'least squares (log parameters), CI from the scaled Jacobian covariance',
        'units': {'tau': 'ps', 'sigma': 'cm^2', 'temperature': 'K'},
    }
    return {'fit': orm.Dict(summary), 'fit_curves': curves}
