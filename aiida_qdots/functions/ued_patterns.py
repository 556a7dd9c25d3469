"""Calcfunctions of the two routes from one pattern node I(Q, t) (``aiida-qdots import ued`` of a pattern file, or
the synthetic demo made here from MD frames).

Graph: patterns -> :func:`pattern_peak_table` -> a UED peak table (I(t)/I0), the input of the Debye-Waller chain
of :mod:`aiida_qdots.functions.ued`; patterns -> :func:`pattern_difference_pdf` -> dG(r, t) -> :func:`dg_kinetics`
(+ the Debye-Waller route's ``lattice_temperature`` and ``fit``, + the MD ``diffraction`` of ``qdots.phonons``) ->
losses at the seed's distances, their ratio, exponential fits with CIs, distortion per trapped hole. Kernels:
:mod:`aiida_qdots.analysis.ued_patterns`, :mod:`aiida_qdots.analysis.dg_kinetics`. Q in 1/angstrom, r in angstrom,
delays in ps.
"""

from __future__ import annotations

import numpy as np
from aiida import orm
from aiida.engine import calcfunction

from aiida_qdots.analysis.dg_kinetics import (
    SEED_DISTANCES,
    distortion_per_hole,
    fit_exponential,
    ratio,
    sine_transform_error,
    values_at,
)
from aiida_qdots.analysis.diffraction import WINDOWS, window_function
from aiida_qdots.analysis.kinetics import KineticModel, master_equation
from aiida_qdots.analysis.thermal_msd import energy_temperatures, nve_energy
from aiida_qdots.analysis.ued_patterns import (
    difference_pdf,
    difference_reduced,
    peak_ratios,
    reference,
    smooth_baseline,
)
from aiida_qdots.common.output_keys import BRAGG_WEIGHTING, MAIN_SLOPE_KEY, MSD_SLOPE_KEY, MSD_SLOPE_STDERR_KEY
from aiida_qdots.data.ued import UNITS
from aiida_qdots.data.ued_patterns import patterns_to_node, synthetic_patterns
from aiida_qdots.functions.ued import used_slope

PATTERN_DEFAULTS = {
    'q_range': [1.5, 8.0],
    'window': 'lorch',
    'r_max': 10.0,
    'r_step': 0.02,
    'distances': list(SEED_DISTANCES),
    'half_width': 0.1,
    'fit_from_ps': 0.0,
    'prominence': 0.02,
    'max_peaks': 12,
    'atoms_per_hole': 4,
    'distortion_window_ps': [20.0, 200.0],
    'temperature_r_range': [3.0, 10.0],
}
"""Settings of the pattern routes (Q in 1/angstrom, r in angstrom, delays in ps): the transform's range and window,
the dG grid, the distances (the first and last make the ratio) and their half-width, the fits' first delay, peak
finding, the distortion estimate (atoms a trapped hole displaces, delays averaged), and the r range over which the
dG route reads dT against the MD heating response (above the nearest-neighbour shell, where a trapped hole's local
distortion acts)."""
SYNTHETIC_PATTERN_OPTIONS = (
    'q_range', 'q_step', 'noise', 'n_trajectories', 'seed', 'max_frames', 'nve_start_fs', 'temperatures_k'
)  # fmt: skip


ENERGY_SCALE = (
    'energy (Dulong-Petit): reference run at its kinetic temperature, others + total-energy difference / 3 N k_B'
)
"""How MD runs' temperatures are measured when their thermo is given (:func:`energy_temperatures`)."""


def nve_thermo(thermo: orm.ArrayData) -> dict:
    """:func:`nve_energy` of the NVE phase of a ``qdots.lammps`` MD run's ``thermo`` output (eV, K)."""
    phases = [block['phase'] for block in thermo.base.attributes.get('blocks')]
    if 'nve' not in phases:
        raise ValueError(f'thermo <{thermo.pk}> has no NVE phase (phases {phases})')
    rows = thermo.get_array('block') == phases.index('nve')
    return nve_energy(thermo.get_array('TotEng')[rows], thermo.get_array('Temp')[rows])


def validate_patterns_settings(settings: dict) -> str | None:
    """One line on what is wrong with pattern ``settings`` (merged on :data:`PATTERN_DEFAULTS`), else None."""
    unknown = set(settings) - set(PATTERN_DEFAULTS)
    if unknown:
        return f'unknown pattern setting(s) {", ".join(sorted(unknown))}; known: {", ".join(PATTERN_DEFAULTS)}'
    p = {**PATTERN_DEFAULTS, **settings}
    q_min, q_max = p['q_range']
    if not 0 < q_min < q_max or p['window'] not in WINDOWS:
        return f'patterns need 0 < q_min < q_max (1/A) and a window among {WINDOWS}, got {p["q_range"]}, {p["window"]}'
    if len(p['distances']) < 2 or not 0 < p['half_width'] < 1 or not 0 < p['r_step'] < p['r_max']:
        return 'patterns need >= 2 distances, 0 < half_width < 1 A and 0 < r_step < r_max (A)'
    low, high = p['temperature_r_range']
    if not 0 <= low < high <= p['r_max']:
        return f'temperature_r_range needs 0 <= low < high <= the dG grid r_max {p["r_max"]:g} A, got {low}, {high}'
    return None


def pattern_settings(parameters: orm.Dict) -> dict:
    settings = parameters.get_dict()
    error = validate_patterns_settings(settings)
    if error:
        raise ValueError(error)
    return {**PATTERN_DEFAULTS, **settings}


def peak_route_verdict(check: dict, slope: dict) -> dict:
    """``bias`` = d(du2)/dT that makes the synthetic patterns' dT (their ``peak_route_check``, the peak route's
    reading of the generator's two MD states) over the slope the Debye-Waller route divides by, - 1: the route reads
    dT x (1 + bias). ``tolerance``: the relative standard error of that ratio (both slopes'); the ``verdict`` is
    'consistent' when |bias| <= 1.96 tolerance, else 'biased' (the route's dT scale, hence tau_AR, is off beyond
    the slopes' errors). The route's slope: the msd_slope's 'bragg_peaks' one when it has it, else the main one."""
    if MSD_SLOPE_KEY not in check:
        return {'verdict': 'not checked'}
    route, weighting = used_slope(slope, BRAGG_WEIGHTING)
    ratio = check[MSD_SLOPE_KEY] / route[MSD_SLOPE_KEY]
    tolerance = float(
        np.hypot(check[MSD_SLOPE_STDERR_KEY] / check[MSD_SLOPE_KEY], route[MSD_SLOPE_STDERR_KEY] / route[MSD_SLOPE_KEY])
    )
    return {
        'bias': ratio - 1.0,
        'tolerance': tolerance,
        'route_slope_a2_per_k': route[MSD_SLOPE_KEY],
        'slope_weighting': weighting,
        'verdict': 'consistent' if abs(ratio - 1.0) <= 1.96 * tolerance else 'biased',
    }


def md_temperatures(cold: orm.TrajectoryData, hot: orm.TrajectoryData, cold_thermo, hot_thermo, nominal) -> dict:
    """The two MD states' temperatures (K): with both runs' thermo, the cold run's kinetic temperature and the hot
    one above it by the runs' total-energy difference / 3 N k_B (:func:`energy_temperatures`), else ``nominal``."""
    if cold_thermo is None or hot_thermo is None:
        if nominal is None:
            raise ValueError('give the thermo of both MD runs or temperatures_k [cold, hot] (K)')
        return {'temperatures_k': [float(t) for t in nominal], 'temperature_scale': 'nominal'}
    runs = [nve_thermo(cold_thermo), nve_thermo(hot_thermo)]
    temperatures = energy_temperatures(
        [r['total_energy_ev'] for r in runs], len(cold.symbols), 0, runs[0]['kinetic_temperature_k']
    )
    return {'temperatures_k': temperatures.tolist(), 'temperature_scale': ENERGY_SCALE, 'md_runs': runs}


def md_states(diffraction: orm.ArrayData) -> tuple[dict, dict]:
    """What :func:`synthetic_pattern_data` takes from a ``qdots.phonons`` ``diffraction`` output: its cold and hot NVE
    frames with their runs' thermo (when the runs are ``qdots.lammps`` jobs), and the options ``nve_start_fs``,
    ``max_frames`` (the diffraction's, so that the patterns and the MD dG read the same frames) and ``temperatures_k``
    (the nominal ones, used without thermo)."""
    parameters = diffraction.creator.inputs.parameters
    states = {name: diffraction.creator.inputs[name] for name in ('cold', 'hot')}
    for name, frames in list(states.items()):
        if frames.creator is not None and 'thermo' in frames.creator.outputs:
            states[f'{name}_thermo'] = frames.creator.outputs.thermo
    options = {
        'nve_start_fs': parameters['nve_start_fs'],
        'temperatures_k': [parameters['temperature_cold_k'], parameters['temperature_hot_k']],
    }
    if 'max_frames' in parameters.keys():  # the frames the MD dG of the dG route is made of: one shape, not two
        options['max_frames'] = parameters['max_frames']
    return states, options


@calcfunction
def synthetic_pattern_data(
    cold: orm.TrajectoryData,
    hot: orm.TrajectoryData,
    msd_slope: orm.Dict,
    parameters: orm.Dict,
    cold_thermo: orm.ArrayData | None = None,
    hot_thermo: orm.ArrayData | None = None,
) -> orm.ArrayData:
    """The synthetic demo patterns at the seed's conditions, heated by the MD itself between the ``cold`` and ``hot``
    NVE frames of the particle (:func:`~aiida_qdots.data.ued_patterns.synthetic_patterns`), at the temperatures of
    :func:`md_temperatures` (the runs' ``*_thermo``, else ``temperatures_k`` in ``parameters``): every generating
    parameter is stored, with the ``peak_route_check`` and its :func:`peak_route_verdict` against the slope of
    ``msd_slope`` (the Dict the Debye-Waller route reads)."""
    options = parameters.get_dict()
    unknown = set(options) - set(SYNTHETIC_PATTERN_OPTIONS)
    if unknown:
        raise ValueError(f'unknown option(s) {", ".join(sorted(unknown))}; known: {SYNTHETIC_PATTERN_OPTIONS}')
    temperatures = md_temperatures(cold, hot, cold_thermo, hot_thermo, options.pop('temperatures_k', None))
    start, max_frames = options.pop('nve_start_fs', None), int(options.pop('max_frames', 50))
    states = []
    for frames in (cold, hot):
        positions = frames.get_array('positions')
        if start is not None:  # the NVE frames of a qdots.lammps trajectory
            positions = positions[frames.get_array('times') >= float(start) - 1e-6]
        states.append(positions[:: max(1, len(positions) // max_frames)])
    slope = msd_slope.get_dict()
    check = {k: PATTERN_DEFAULTS[k] for k in ('q_range', 'prominence', 'max_peaks')}
    arrays, scattering, generator = synthetic_patterns(
        *states, list(cold.symbols), temperatures['temperatures_k'], **options, check_peaks=check
    )
    generator.update(
        {
            **temperatures,
            'slope_from': msd_slope.uuid,
            'frames_from': [cold.uuid, hot.uuid],
            'thermo_from': [None if t is None else t.uuid for t in (cold_thermo, hot_thermo)],
        }
    )
    generator['peak_route_check'].update(peak_route_verdict(generator['peak_route_check'], slope))
    node = patterns_to_node(arrays, {'file': None, 'sha256': None}, synthetic=generator, **scattering)
    node.label = 'synthetic UED patterns (not measured data)'
    node.description = 'Generated by the aiida-qdots forward model from two MD states; see the synthetic attribute.'
    return node


@calcfunction
def pattern_peak_table(patterns: orm.ArrayData, parameters: orm.Dict) -> orm.ArrayData:
    """The Debye-Waller route's I(t)/I0 table of a pattern node: the Bragg peaks of the first set's pre-pump
    reference within ``q_range``, each integrated above the straight baseline between its flanking minima."""
    p = pattern_settings(parameters)
    q, delays = patterns.get_array('q_inv_angstrom'), patterns.get_array('delay_ps')
    self_scattering = patterns.get_array('self_scattering') if 'self_scattering' in patterns.get_arraynames() else None
    peak_q, values, errors, reference_err, windows = peak_ratios(
        q, delays, patterns.get_array('intensity'), patterns.get_array('intensity_err'), p['q_range'],
        float(p['prominence']), int(p['max_peaks']), self_scattering,
    )  # fmt: skip
    node = orm.ArrayData()
    node.set_array('delay_ps', delays)
    node.set_array('q_inv_angstrom', peak_q)
    node.set_array('intensity_ratio', values)
    node.set_array('intensity_ratio_err', errors)
    node.set_array('intensity_ratio_ref_err', reference_err)
    node.set_array('window_q_inv_angstrom', q[windows])
    node.base.attributes.set_many(
        {
            'sets': patterns.base.attributes.get('sets'),
            'peaks': [f'Q{q[k]:.3f}' for k in windows[:, 1]],
            'units': UNITS,
            'source': {'patterns': patterns.uuid},
            'synthetic': patterns.base.attributes.get('synthetic', False),
            'convention': 'intensity_ratio[set, delay, peak] = peak area above the straight baseline between its '
            'flanking minima at t over that of the mean of the negative delays; Q = the Q whose exp(-Q^2 du2/3) '
            'the area follows to first order: sqrt(A[Q^2 (I0 - S)] / A[I0]), A = area above the straight baseline, '
            'S = self scattering N <f^2> (0 when the node has none)',
            'peak_q_self_scattering': self_scattering is not None,
            'reference_error': 'intensity_ratio_ref_err[set, peak] = relative error of the I0 area, common to every '
            'delay of the set (included in intensity_ratio_err)',
        }
    )
    return node


@calcfunction
def pattern_difference_pdf(patterns: orm.ArrayData, parameters: orm.Dict) -> orm.ArrayData:
    """dF(Q, t) = Q (I(t) - I0) / D(Q) and dG(r, t) by the forward model's sine transform, with standard errors;
    D is the node's ``normalisation`` (N <f>^2) or else a smooth baseline of I0 (recorded in ``normalised_by``)."""
    p = pattern_settings(parameters)
    q, delays = patterns.get_array('q_inv_angstrom'), patterns.get_array('delay_ps')
    intensity, error = patterns.get_array('intensity'), patterns.get_array('intensity_err')
    ref, ref_err = reference(delays, intensity, error)
    if 'normalisation' in patterns.get_arraynames():
        denominator, by = np.broadcast_to(patterns.get_array('normalisation'), ref.shape), 'N <f>^2 of the node'
    else:
        denominator, by = np.array([smooth_baseline(q, row) for row in ref]), 'smooth baseline of I0 (degree 4)'
    delta_f = difference_reduced(q, intensity, ref, denominator)
    delta_f_err = q * np.sqrt(error**2 + ref_err[:, None, :] ** 2) / denominator[:, None, :]
    r = np.arange(p['r_step'], p['r_max'] + 0.5 * p['r_step'], p['r_step'])
    q_min, q_max = p['q_range']
    inside = q[(q >= q_min) & (q <= q_max)]
    node = orm.ArrayData()
    node.set_array('delay_ps', delays)
    node.set_array('q_inv_angstrom', q)
    node.set_array('r_angstrom', r)
    node.set_array('delta_reduced', delta_f)
    node.set_array('delta_reduced_err', delta_f_err)
    node.set_array('reference_reduced_err', q * ref_err / denominator)
    node.set_array('delta_g', difference_pdf(q, delta_f, r, (q_min, q_max), p['window']))
    node.set_array(
        'delta_g_err',
        sine_transform_error(q, delta_f_err, r, (q_min, q_max), window_function(inside, q_max, p['window'])),
    )
    node.base.attributes.set_many(
        {
            'sets': patterns.base.attributes.get('sets'),
            'q_range_inv_angstrom': [q_min, q_max],
            'window': p['window'],
            'normalised_by': by,
            'units': {'delta_reduced': '1/angstrom', 'delta_g': '1/angstrom^2', 'r': 'angstrom', 'delay': 'ps'},
            'convention': 'dF = Q (I(t) - I0)/D; dG(r, t) = 2/pi int_Qmin^Qmax dF W sin(Qr) dQ; I0 = mean of the '
            'negative delays; errors independent per Q point; delta_reduced_err includes the part of I0 '
            '(reference_reduced_err), common to the delays of a set',
        }
    )
    return node


def _md_response(md: orm.ArrayData, slope: float, r1: float, r2: float, half_width: float) -> tuple[float, float]:
    """Thermal ratio dG(r1)/dG(r2) and loss dG(r1) per unit du2 (1/angstrom^4) of the MD ``diffraction`` node."""
    r, dg = md.get_array('r_angstrom'), md.get_array('delta_g')
    values, _ = values_at(r, dg, np.zeros_like(dg), (r1, r2), half_width)
    cold, hot = md.base.attributes.get('temperatures_k')
    return float(values[0] / values[1]), float(values[0] / (slope * (hot - cold)))


@calcfunction
def dg_kinetics(
    delta_pdf: orm.ArrayData,
    parameters: orm.Dict,
    lattice_temperature: orm.ArrayData | None = None,
    fit: orm.Dict | None = None,
    md_diffraction: orm.ArrayData | None = None,
) -> dict[str, orm.Data]:
    """The seed's dG analyses per set: dG at the ``distances`` vs delay, the ratio of the first to the last, single
    exponential fits (95 % CI) of each and of dT(t) (``lattice_temperature``); with the MD ``md_diffraction`` and
    the kinetic ``fit``, the displacement per trapped hole (:func:`~.dg_kinetics.distortion_per_hole`)."""
    p = pattern_settings(parameters)
    delays, r = delta_pdf.get_array('delay_ps'), delta_pdf.get_array('r_angstrom')
    distances = [float(x) for x in p['distances']]
    values, errors = values_at(r, delta_pdf.get_array('delta_g'), delta_pdf.get_array('delta_g_err'), distances,
                               float(p['half_width']))  # fmt: skip
    short_long, short_long_err = ratio(values[..., 0], errors[..., 0], values[..., -1], errors[..., -1])
    start = float(p['fit_from_ps'])
    sets = delta_pdf.base.attributes.get('sets')
    series = orm.ArrayData()
    series.set_array('delay_ps', delays)
    series.set_array('delta_g_at', values)
    series.set_array('delta_g_at_err', errors)
    series.set_array('ratio', short_long)
    series.set_array('ratio_err', short_long_err)
    results = []
    for s, pump in enumerate(sets):
        entry = {**pump, 'fits': {}}
        for k, distance in enumerate(distances):
            entry['fits'][f'delta_g_{distance:g}'] = _fit(delays, values[s, :, k], errors[s, :, k], start)
        entry['fits']['ratio'] = _fit(delays, short_long[s], short_long_err[s], start)
        if lattice_temperature is not None:
            temperature = lattice_temperature.get_array('delta_t_k')[s]
            entry['fits']['delta_t'] = _fit(
                delays, temperature, lattice_temperature.get_array('delta_t_stat_err_k')[s], start
            )
        if md_diffraction is not None and fit is not None and lattice_temperature is not None:
            entry['distortion'] = _distortion(
                p, delays, values[s], errors[s], md_diffraction, fit['sets'][s], lattice_temperature, distances
            )
        results.append(entry)
    summary = {
        'sets': results,
        'distances_angstrom': distances,
        'half_width_angstrom': float(p['half_width']),
        'fit_from_ps': start,
        'model': 'y(t) = offset + amplitude exp(-(t - t0)/tau), t >= t0 = fit_from_ps; weighted least squares, CI of '
        'tau from the log-tau standard error (t distribution, scaled by sqrt(chi2_red) when > 1)',
        'units': {'tau': 'ps', 'delta_g': '1/angstrom^2', 'delta_t': 'K', 'distortion': 'angstrom'},
    }
    return {'dg_fits': orm.Dict(summary), 'dg_series': series}


def _fit(delays, values, errors, start) -> dict:
    """The fit as a Dict entry; a non-finite number (an undetermined error) becomes None."""
    try:
        fit = fit_exponential(delays, values, errors, start).as_dict()
        return {k: [_finite(x) for x in v] if isinstance(v, list) else _finite(v) for k, v in fit.items()}
    except ValueError as error:
        return {'error': str(error)}


def _finite(value):
    return None if isinstance(value, float) and not np.isfinite(value) else value


def _distortion(p, delays, values, errors, md, fitted_set, temperature, distances) -> dict:
    """Displacement per trapped hole from the mean localized loss over ``distortion_window_ps``."""
    # the MD dG per du2 of the mean <u^2>: the main slope, not the Bragg-peak one dT was made with
    attributes = temperature.base.attributes
    slope = attributes.get(MAIN_SLOPE_KEY, None) or attributes.get(MSD_SLOPE_KEY)
    thermal_ratio, loss_per_du2 = _md_response(md, slope, distances[0], distances[-1], float(p['half_width']))
    low, high = p['distortion_window_ps']
    inside = (delays >= low) & (delays <= high)
    local = values[inside, 0] - thermal_ratio * values[inside, -1]
    local_err = np.sqrt(errors[inside, 0] ** 2 + (thermal_ratio * errors[inside, -1]) ** 2)
    model = KineticModel(**{k: (np.inf if v is None else v) for k, v in fitted_set['model'].items()})
    holes = master_equation(model, fitted_set['fluence_mj_cm2'], delays[inside])['trapped_pairs']
    n_atoms = int(model.n_atoms)
    result = {
        'thermal_ratio': thermal_ratio,
        'loss_per_du2': loss_per_du2,
        'local_loss': float(local.mean()),
        'local_loss_err': float(np.sqrt((local_err**2).sum()) / local.size),
        'trapped_holes': float(holes.mean()),
        'atoms_per_hole': int(p['atoms_per_hole']),
        'n_atoms': n_atoms,
        'n_delays': int(local.size),
        'local_loss_z': float(local.mean() / (np.sqrt((local_err**2).sum()) / local.size)),
        # R_th and the loss per du2 depend on the Q range and window: the MD's should be the data's
        'md_q_range_inv_angstrom': md.base.attributes.get('q_range_inv_angstrom', None),
        'md_window': md.base.attributes.get('window', None),
    }
    try:
        delta, delta_err = distortion_per_hole(
            result['local_loss'], result['local_loss_err'], loss_per_du2, n_atoms, result['trapped_holes'],
            int(p['atoms_per_hole']),
        )  # fmt: skip
        # |z| < 1.96: the loss is consistent with heating alone at 95 %, and delta only a noise-sized value
        result.update(
            {
                'delta_angstrom': delta,
                'delta_err_angstrom': delta_err,
                'significant': abs(result['local_loss_z']) > 1.96,
            }
        )
    except ValueError as error:
        result['error'] = str(error)
    return result
