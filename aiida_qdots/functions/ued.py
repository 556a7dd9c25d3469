"""Calcfunctions of the UED analysis: the synthetic demo set, Debye-Waller fits, lattice temperature, kinetic-model
fit.

Graph: UED data -> :func:`debye_waller_analysis` -> ``debye_waller``; + ``msd_slope`` (a ``qdots.phonons``
output or a user Dict) -> :func:`lattice_temperature_from_dw` -> ``lattice_temperature``; + ``model`` ->
:func:`fit_heating` -> ``fit`` (Dict) and ``fit_curves``. The synthetic demo set is made by
:func:`synthetic_ued_data` from the same ``msd_slope`` Dict the analysis reads. Kernels:
:mod:`aiida_qdots.analysis.debye_waller` and :mod:`aiida_qdots.analysis.kinetics`. Delays in ps, du2 in
angstrom^2 (3D), temperatures in K.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from aiida import orm
from aiida.engine import calcfunction

from aiida_qdots.analysis.debye_waller import debye_waller_fit, lattice_temperature, reference_du2_error
from aiida_qdots.analysis.kinetics import (
    FITTABLE,
    HEATING_SCALE,
    KineticModel,
    Pump,
    fit_lattice_heating,
    gillespie,
    master_equation,
)
from aiida_qdots.common.output_keys import (
    BRAGG_WEIGHTING,
    DT_SCALE_REL_ERR_KEY,
    MAIN_SLOPE_KEY,
    MSD_SLOPE_BY_WEIGHTING_KEY,
    MSD_SLOPE_KEY,
    MSD_SLOPE_KEYS,
    MSD_SLOPE_STDERR_KEY,
    MSD_SLOPE_WEIGHTING_KEY,
)
from aiida_qdots.common.validation import RuleViolation
from aiida_qdots.data.ued import synthetic_table, table_to_node

MODEL_KEYS = tuple(field.name for field in dataclasses.fields(KineticModel))
FIT_KEYS = ('free', 'fit_from_ps', 'by_wavelength_nm', 'sigma_rel_err')
"""Keys of the ``model`` Dict besides the KineticModel's: what is fitted, from which delay, per-pump values."""
DEFAULT_FREE = ('tau_auger_ps', 'tau_trap_ps')
FREE = tuple(name for name in FITTABLE if name != 'sigma_cm2')
"""What ``fit_heating`` may fit: <N> stays fixed by the cross-section; ``heating_scale`` is the dT scale s."""
SYNTHETIC_OPTIONS = ('noise', 'n_trajectories', 'seed')


def validate_msd_slope(value, _ctx=None):
    slope = value.get_dict()
    missing = [key for key in MSD_SLOPE_KEYS if key not in slope]
    if missing:
        return f'msd_slope lacks {", ".join(missing)} (3D d<u^2>/dT in A^2/K and its standard error)'
    if not slope[MSD_SLOPE_KEY] > 0 or slope[MSD_SLOPE_STDERR_KEY] < 0:
        return f'msd_slope must be positive with a non-negative error, got {slope}'


PUMP_KEY_EXAMPLE = '510'


def is_wavelength_key(key) -> bool:
    """``key`` names a pump wavelength as :func:`pump_settings` looks it up: a positive number of nm written
    ``f'{w:g}'`` ('510', '512.5'; not '510.0', '510nm' or 510)."""
    try:
        return isinstance(key, str) and 0 < float(key) < np.inf and f'{float(key):g}' == key
    except ValueError:
        return False


def validate_model(value, _ctx=None):
    model = value.get_dict()
    unknown = set(model) - set(MODEL_KEYS) - set(FIT_KEYS)
    for overrides in model.get('by_wavelength_nm', {}).values():
        unknown |= set(overrides) - set(MODEL_KEYS) - {'sigma_rel_err'}
    if unknown:
        return (
            f'unknown model parameter(s) {", ".join(sorted(unknown))}; known: {", ".join(MODEL_KEYS + FIT_KEYS)} '
            '(by_wavelength_nm: the KineticModel parameters and sigma_rel_err)'
        )
    bad_keys = [key for key in model.get('by_wavelength_nm', {}) if not is_wavelength_key(key)]
    if bad_keys:
        return f'by_wavelength_nm keys must be wavelengths in nm written like {PUMP_KEY_EXAMPLE!r}, got {bad_keys}'
    free = model.get('free', DEFAULT_FREE)
    if not free or set(free) - set(FREE):
        return f'free must name parameters among {", ".join(FREE)} (<N> stays fixed by sigma), got {free}'
    try:
        KineticModel(**{k: v for k, v in model.items() if k in MODEL_KEYS})
        for wavelength in model.get('by_wavelength_nm', {}):
            KineticModel(**pump_settings(model, float(wavelength))[0])
    except (TypeError, ValueError) as error:
        return f'invalid kinetic model: {error}'
    errors = [model.get('sigma_rel_err', 0.0)]
    errors += [o['sigma_rel_err'] for o in model.get('by_wavelength_nm', {}).values() if 'sigma_rel_err' in o]
    if not all(isinstance(e, int | float) and e >= 0 for e in errors):
        return f'sigma_rel_err must be a non-negative number, got {errors}'


def pump_parameters(overrides: dict) -> dict:
    """The KineticModel parameters among one pump's ``by_wavelength_nm`` entries."""
    return {k: v for k, v in overrides.items() if k in MODEL_KEYS}


@calcfunction
def synthetic_ued_data(msd_slope: orm.Dict, parameters: orm.Dict) -> orm.ArrayData:
    """The synthetic demo set at the seed's conditions (:data:`aiida_qdots.data.ued.SEED_SETS`), made with the
    d<u^2>/dT of ``msd_slope`` that the Debye-Waller route of its analysis divides by (:func:`used_slope` of the
    default ``slope_weighting``: peak heights here follow exp(-Q^2 du2/3) with that du2); ``noise``,
    ``n_trajectories`` and ``seed`` of :func:`aiida_qdots.data.ued.synthetic_table` in ``parameters``."""
    options = parameters.get_dict()
    unknown = set(options) - set(SYNTHETIC_OPTIONS)
    if unknown:
        raise ValueError(f'unknown synthetic-set option(s) {", ".join(sorted(unknown))}; known: {SYNTHETIC_OPTIONS}')
    slope, weighting = used_slope(msd_slope.get_dict(), BRAGG_WEIGHTING)
    table, generator = synthetic_table(slope[MSD_SLOPE_KEY], **options)
    generator.update(
        {
            'slope_stderr_a2_per_k': slope[MSD_SLOPE_STDERR_KEY],
            'slope_weighting': weighting,
            'slope_from': msd_slope.uuid,
        }
    )
    node = table_to_node(table, {'file': None, 'sha256': None}, synthetic=generator)
    node.label = 'synthetic UED demo (not measured data)'
    node.description = 'Generated by the aiida-qdots forward model; see the synthetic attribute for its parameters.'
    return node


def synthetic_ued(msd_slope: orm.Dict, **options) -> orm.ArrayData:
    """Run :func:`synthetic_ued_data` with ``options`` and return the stored set."""
    problem = validate_msd_slope(msd_slope)
    if problem:
        raise ValueError(problem)
    return synthetic_ued_data(msd_slope, orm.Dict(options))


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
    if 'intensity_ratio_ref_err' in data.get_arraynames():  # a table integrated from patterns: I0's common error
        reference = data.get_array('intensity_ratio_ref_err')
        node.set_array(
            'du2_ref_err',
            np.array([reference_du2_error(q, ratio[s], error[s], reference[s]) for s in range(len(fits))]),
        )
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


def validate_parameters(value, _ctx=None):
    weighting = value.get_dict().get('slope_weighting', BRAGG_WEIGHTING)
    if not isinstance(weighting, str) or not weighting:
        return f'slope_weighting must name an msd_slope weighting (e.g. {BRAGG_WEIGHTING!r}), got {weighting!r}'


def used_slope(msd_slope: dict, weighting: str) -> tuple[dict, str]:
    """The slope and standard error the Debye-Waller route divides by: the ``weighting`` entry of the msd_slope's
    ``by_weighting`` when it has one, else its main slope; and the name of the weighting used."""
    by_weighting = msd_slope.get(MSD_SLOPE_BY_WEIGHTING_KEY, {})
    if weighting in by_weighting:
        return {k: by_weighting[weighting][k] for k in MSD_SLOPE_KEYS}, weighting
    return {k: msd_slope[k] for k in MSD_SLOPE_KEYS}, msd_slope.get(MSD_SLOPE_WEIGHTING_KEY, 'as given')


@calcfunction
def lattice_temperature_from_dw(
    debye_waller: orm.ArrayData, msd_slope: orm.Dict, parameters: orm.Dict | None = None
) -> orm.ArrayData:
    """dT(t) = du2(t) / (d<u^2>/dT) per set (K): ``delta_t_err_k`` with the errors of du2 and of the slope
    propagated, ``delta_t_stat_err_k`` with those of du2 alone (the slope's is one factor common to every delay). The
    slope is the ``msd_slope``'s ``slope_weighting`` entry (``parameters``; default 'bragg_peaks', the slope of the
    du2 the peak route reads), else its main one (``qdots.phonons``: electron-scattering weighted); the weighting
    used is recorded, and the main slope beside it (the mean <u^2> the dG route's distortion estimate needs)."""
    requested = (parameters.get_dict() if parameters is not None else {}).get('slope_weighting', BRAGG_WEIGHTING)
    main = msd_slope.get_dict()
    slope, weighting = used_slope(main, requested)
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
    node.set_array('delta_t_stat_err_k', debye_waller.get_array('du2_err') / slope[MSD_SLOPE_KEY])
    if 'du2_ref_err' in debye_waller.get_arraynames():
        node.set_array('delta_t_ref_err_k', debye_waller.get_array('du2_ref_err') / slope[MSD_SLOPE_KEY])
    node.base.attributes.set_many(
        {
            'sets': debye_waller.base.attributes.get('sets'),
            MSD_SLOPE_KEY: slope[MSD_SLOPE_KEY],
            MSD_SLOPE_STDERR_KEY: slope[MSD_SLOPE_STDERR_KEY],
            MSD_SLOPE_WEIGHTING_KEY: weighting,
            'slope_weighting_requested': requested,
            MAIN_SLOPE_KEY: main[MSD_SLOPE_KEY],
            'units': {'delta_t_k': 'K', 'delay_ps': 'ps'},
        }
    )
    return node


def pump_settings(settings: dict, wavelength_nm: float) -> tuple[dict, float]:
    """The KineticModel parameters of a pump at ``wavelength_nm`` (those of the ``model`` Dict ``settings`` with the
    wavelength's ``by_wavelength_nm`` values) and the relative uncertainty of its cross-section."""
    overrides = settings.get('by_wavelength_nm', {}).get(f'{wavelength_nm:g}', {})
    base = {k: v for k, v in settings.items() if k in MODEL_KEYS}
    parameters = {**base, **pump_parameters(overrides), 'wavelength_nm': wavelength_nm}
    return parameters, float(overrides.get('sigma_rel_err', settings.get('sigma_rel_err', 0.0)))


def pump_problem(settings: dict, sets: list[dict], source: str) -> str | None:
    """One line naming the first of ``sets`` (pump wavelength and fluence) that the ``model`` Dict ``settings`` cannot
    fit, or None: a wavelength without an absorption cross-section ``sigma_cm2`` (each set's <N> is fixed by it) or
    whose model is invalid (e.g. photons below the gap). Such a set would fail inside the workchain, so ``qdots.ued``
    refuses it before anything runs."""
    for index, pump in enumerate(sets):
        wavelength = f'{pump["wavelength_nm"]:g}'
        place = f'{source}, set {index} ({wavelength} nm, {pump["fluence_mj_cm2"]:g} mJ/cm^2)'
        parameters = pump_settings(settings, pump['wavelength_nm'])[0]
        if 'sigma_cm2' not in parameters:
            known = sorted((k for k, v in settings.get('by_wavelength_nm', {}).items() if 'sigma_cm2' in v), key=float)
            detail = (
                f'the kinetic model has no absorption cross-section for {wavelength} nm (only for '
                f"{', '.join(known) or 'no'} nm): give model.by_wavelength_nm['{wavelength}'].sigma_cm2 (cm^2) and "
                'sigma_rel_err, e.g. with `launch ued --overrides` (docs/ued.md)'
            )
            return str(RuleViolation(f'{place}: {detail}', 'model'))
        try:
            KineticModel(**parameters)
        except ValueError as error:
            return str(RuleViolation(f'{place}: invalid kinetic model: {error}', 'model'))
    return None


def pump_models(settings: dict, sets: list[dict]) -> tuple[list[KineticModel], list[float]]:
    """Each set's KineticModel (:func:`pump_settings`) and the relative uncertainty of its cross-section;
    ValueError when a pump has no cross-section."""
    models, errors = [], []
    for pump in sets:
        parameters, error = pump_settings(settings, pump['wavelength_nm'])
        if 'sigma_cm2' not in parameters:
            raise ValueError(
                f'no absorption cross-section for {pump["wavelength_nm"]:g} nm: give sigma_cm2 in the model or in '
                f"by_wavelength_nm['{pump['wavelength_nm']:g}']"
            )
        models.append(KineticModel(**parameters))
        errors.append(error)
    return models, errors


@calcfunction
def fit_heating(temperature: orm.ArrayData, model: orm.Dict, parameters: orm.Dict) -> dict[str, orm.Data]:
    """Fit the kinetic model to every set's dT(t) at once by the master equation (delays >= ``fit_from_ps``), then
    check each fitted model's mean against a Gillespie run (``n_trajectories`` in parameters).

    The ``free`` parameters (default tau_auger_ps and tau_trap_ps) are shared by all sets: one particle. Every set
    gets the same tau_trap; the barrier (``trap_barrier_ev``) decides which hot holes can trap at each wavelength
    (tau_trap is dropped from ``free`` when no hot hole of any set can). <N> of each set stays fixed by its
    cross-section ``sigma_cm2`` (``by_wavelength_nm`` maps a wavelength, e.g. '510', to its own values), whose
    relative uncertainty ``sigma_rel_err`` is propagated into the CIs (``ci``; ``ci_statistical`` without it), as is
    that of the d<u^2>/dT that made dT (of the MD dG per kelvin, ``scale_rel_err``, for the dG route's dT), a factor
    common to all delays and sets: the fit weighs each delay by its
    error without the slope's (``delta_t_stat_err_k``). With ``heating_scale`` in ``free`` that factor is fitted
    instead (s, dT_data = s dT_model, shared by the sets: s = true slope / slope used), the time constants come from
    the shape of dT(t), and the slope's error stays out of ``ci`` (``slope_error_in_ci`` false); ``fit_curves`` are
    s dT_model, on the data's scale, and each set's ``plateau_k`` the model's (the lattice's) dT. A table integrated
    from patterns also carries the error of the pre-pump reference (``delta_t_ref_err_k``), an offset common to a
    set's delays: it leaves the per-delay errors and widens ``ci_statistical`` as one offset per set
    (``reference_offset_err_k``).
    """
    settings = model.get_dict()
    fit_from = float(settings.get('fit_from_ps', 0.0))
    n_trajectories = int(parameters.get_dict().get('n_trajectories', 2000))
    delays = temperature.get_array('delay_ps')
    delta_t, error = temperature.get_array('delta_t_k'), temperature.get_array('delta_t_stat_err_k')
    attributes = temperature.base.attributes
    slope_rel_err = attributes.get(DT_SCALE_REL_ERR_KEY, None)
    if slope_rel_err is None:  # the Debye-Waller route: dT's scale is d<u^2>/dT's
        slope_rel_err = attributes.get(MSD_SLOPE_STDERR_KEY) / attributes.get(MSD_SLOPE_KEY)
    sets = temperature.base.attributes.get('sets')
    models, sigma_errors = pump_models(settings, sets)
    rates = [m.rates() for m in models]
    can_trap = any(r.trap > 0 or r.auger_trapping > 0 for r in rates)
    free = tuple(n for n in settings.get('free', DEFAULT_FREE) if can_trap or n != 'tau_trap_ps')
    mask = delays >= fit_from
    offset = np.zeros(len(sets))
    if 'delta_t_ref_err_k' in temperature.get_arraynames():  # the reference's error: one offset per set
        reference = temperature.get_array('delta_t_ref_err_k')[:, mask]
        offset = np.median(reference, axis=1)
        error = error.copy()
        error[:, mask] = np.sqrt(np.maximum(error[:, mask] ** 2 - reference**2, (0.01 * error[:, mask]) ** 2))
    pumps = [
        Pump(delays[mask], delta_t[s, mask], error[s, mask], pump['fluence_mj_cm2'], m)
        for s, (pump, m) in enumerate(zip(sets, models, strict=True))
    ]
    fit = fit_lattice_heating(pumps, free, sigma_errors, scale_rel_err=slope_rel_err, offset_err=offset)
    curves, results = orm.ArrayData(), []
    times = np.linspace(0.0, float(delays.max()), 200)
    for s, (pump, fitted, rate) in enumerate(zip(sets, fit.models, rates, strict=True)):
        mean = master_equation(fitted, pump['fluence_mj_cm2'], times)
        run = gillespie(fitted, pump['fluence_mj_cm2'], n_trajectories, float(times[-1]), seed=s)
        energies = np.bincount(run.event_trajectory, weights=run.event_energy_ev, minlength=run.n0.size)
        sem = energies.std(ddof=1) / np.sqrt(run.n0.size)
        z = (run.mean_energy(times[-1:])[0] - mean['energy_ev'][-1]) / sem if sem > 0 else 0.0
        curves.set_array(f'time_ps_{s}', times)
        curves.set_array(f'delta_t_k_{s}', fit.heating_scale * mean['delta_t_k'])
        model_dict = dataclasses.asdict(fitted)
        model_dict['tau_trap_ps'] = None if np.isinf(model_dict['tau_trap_ps']) else model_dict['tau_trap_ps']
        results.append(
            {
                **pump,
                'hot_holes_trap': rate.trap > 0,
                'auger_holes_trap': rate.auger_trapping > 0,
                'sigma_cm2': fitted.sigma_cm2,
                'sigma_rel_err': sigma_errors[s],
                'mean_initial_pairs': fitted.mean_pairs(pump['fluence_mj_cm2']),
                'heat_capacity_ev_k': fitted.heat_capacity_ev_k,
                'sigma_sensitivity': dict(zip(fit.free, fit.sigma_sensitivity[s].tolist(), strict=True)),
                'chi2_per_point': fit.chi2_by_pump[s],
                'model': model_dict,
                'plateau_k': float(mean['delta_t_k'][-1]),
                'ssa_check': {'n_trajectories': n_trajectories, 'z_final_energy': float(z)},
            }
        )
    curves.base.attributes.set('units', {'time_ps': 'ps', 'delta_t_k': 'K'})
    curves.base.attributes.set(HEATING_SCALE, fit.heating_scale)  # the curves are s dT_model
    summary = {
        'free': list(fit.free),
        'values': fit.values,
        # a CI bound that overflows (a fit far from any sensible dT scale) is stored as None, not refused
        'ci': {k: [float(x) if np.isfinite(x) else None for x in v] for k, v in fit.ci.items()},
        'ci_statistical': {k: [float(x) if np.isfinite(x) else None for x in v] for k, v in fit.ci_statistical.items()},
        'slope_rel_err': slope_rel_err,
        HEATING_SCALE: fit.heating_scale,
        'slope_error_in_ci': HEATING_SCALE not in fit.free,
        'reference_offset_err_k': offset.tolist(),
        'slope_sensitivity': dict(zip(fit.free, fit.scale_sensitivity.tolist(), strict=True)),
        'confidence': fit.confidence,
        'chi2_reduced': fit.chi2_reduced,
        'success': fit.success,
        'message': fit.message,
        'n_evaluations': fit.n_evaluations,
        'sets': results,
        'method': 'master equation of the Auger / cooling / trapping model, fitted to all sets at once by least '
        'squares (log parameters, shared by the sets; <N> fixed by each cross-section); ci_statistical from the '
        'Jacobian covariance scaled by chi2_red when > 1 (delays weighted by the du2 errors alone) plus the '
        'pre-pump reference error as one offset per set (reference_offset_err_k); ci adds the '
        'relative uncertainties (log-normal) of the cross-sections and of d<u^2>/dT by linear propagation, '
        'd log p / d log x = -(J^T J)^-1 J^T dr / d log x (sigma_sensitivity, slope_sensitivity); with '
        'heating_scale free, dT_data = heating_scale x dT_model and the d<u^2>/dT error is fitted, not propagated',
        'units': {'tau': 'ps', 'sigma': 'cm^2', 'temperature': 'K', 'heat_capacity': 'eV/K'},
    }
    return {'fit': orm.Dict(summary), 'fit_curves': curves}
