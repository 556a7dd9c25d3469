"""Calcfunctions for the RMSF and power-spectrum analysis of a stored trajectory (any TrajectoryData).

The trajectory follows the package's conventions: positions in angstrom, velocities (optional) in angstrom/fs,
``times`` in fs, and either a ``timestep_fs`` attribute or evenly spaced ``times`` (imported trajectories,
``qdots.lammps`` and CP2K AIMD outputs all qualify). The kernels are :mod:`aiida_qdots.analysis.fluctuations`
and :mod:`aiida_qdots.analysis.spectra`; :data:`ANALYSIS_DEFAULTS` lists the parameters.

Graph: trajectory + parameters -> :func:`trajectory_rmsf` -> ``rmsf`` (ArrayData);
trajectory + parameters -> :func:`trajectory_spectra` -> ``spectra`` (ArrayData);
rmsf + spectra + parameters -> :func:`analysis_summary` -> ``summary`` (Dict).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from aiida import orm
from aiida.engine import calcfunction

from aiida_qdots.analysis.convergence import THRESHOLDS, combined_verdict, mean_verdict, spectrum_verdict
from aiida_qdots.analysis.fluctuations import rmsf as rmsf_kernel
from aiida_qdots.analysis.fluctuations import unwrap_positions
from aiida_qdots.analysis.spectra import (
    WINDOWS,
    band_fractions,
    central_difference_velocities,
    kinetic_temperature,
    main_peak,
    power_spectrum,
)
from aiida_qdots.common.errors import QdotsInputError
from aiida_qdots.common.validation import parameter_number
from aiida_qdots.structures.trajectory_nodes import trajectory_timestep

MIN_FRAMES = 16
"""Fewest frames an analysis window may have."""

VELOCITY_SOURCES = ('auto', 'trajectory', 'positions')

ANALYSIS_DEFAULTS: dict[str, Any] = {
    'last_frames': None,
    'start_frame': None,
    'stop_frame': None,
    'acoustic_cutoff_cm1': 120.0,
    'spectrum_window': 'hann',
    'max_lag_fs': None,
    'velocities': 'auto',
    'remove_com_velocity': True,
    'mass_weighted_fit': True,
    'fit_tolerance_angstrom': 1e-6,
    'fit_max_iterations': 100,
    'peak_min_cm1': 0.0,
}
"""Analysis parameters and their defaults.

* ``last_frames``: analyze the last N frames; or ``start_frame`` / ``stop_frame`` (0-based, stop excluded,
  negative values count from the end); default the whole trajectory. Not both forms at once.
* ``acoustic_cutoff_cm1``: acoustic / optical boundary (cm^-1).
* ``spectrum_window``: lag window on the VACF, ``hann`` or ``none``; ``max_lag_fs``: longest lag (fs), default
  the whole window.
* ``velocities``: ``auto`` (the trajectory's when it has them, else central differences of the positions),
  ``trajectory`` or ``positions``; ``remove_com_velocity``: subtract each frame's centre-of-mass velocity.
* ``mass_weighted_fit``: mass-weighted (else equal-weight) centroid and Kabsch fit;
  ``fit_tolerance_angstrom`` / ``fit_max_iterations``: convergence of the iterated mean structure.
* ``peak_min_cm1``: the main peak is searched at or above this wavenumber.
"""

_NUMBERS = ('acoustic_cutoff_cm1', 'max_lag_fs', 'fit_tolerance_angstrom', 'peak_min_cm1')
_INTEGERS = ('last_frames', 'start_frame', 'stop_frame', 'fit_max_iterations')
_BOOLEANS = ('remove_com_velocity', 'mass_weighted_fit')

SUMMARY_UNITS = {
    'rmsf_by_element': 'angstrom',
    'rmsf_mean': 'angstrom',
    'spectrum_peak_cm1': 'cm^-1',
    'spectrum_peak_by_element_cm1': 'cm^-1',
    'acoustic_cutoff_cm1': 'cm^-1',
    'peak_min_cm1': 'cm^-1',
    'acoustic_fraction': 'dimensionless',
    'optical_fraction': 'dimensionless',
    'acoustic_fraction_by_element': 'dimensionless',
    'spectral_weight_by_element': 'dimensionless',
    'kinetic_temperature_k': 'K',
    'kinetic_temperature_by_element_k': 'K',
    'window': 'frame indices (0-based, stop excluded); times in fs',
}
"""Units of the entries of the ``summary`` Dict."""

SPECTRUM_CONVENTIONS = {
    'vacf': 'C(tau) = (1/T) sum_t sum_n m_n v_n(t).v_n(t+tau) (biased estimator, mass-weighted, summed over the '
    'atoms of the group), by FFT with zero padding; in eV (amu A^2 fs^-2 x 103.6427)',
    'spectrum': 'one-sided density S(nu) = g c dt [C(0) + 2 sum_tau w(tau) C(tau) cos(2 pi nu c tau dt)], '
    'g = 1 at nu = 0 (and Nyquist), else 2',
    'normalisation': 'sum(S) * resolution_cm1 = C(0) = sum_n m_n <|v_n|^2> = 2 <E_kin> (eV); element spectra sum to '
    'the total',
    'window_hann': 'w(tau) = (1 + cos(pi tau / L)) / 2 over lags 0..L-1',
    'fractions': 'acoustic = integral of the total spectrum below the cutoff / whole integral; optical = 1 - acoustic',
    'masses': 'standard atomic weights (ASE table)',
}
RMSF_CONVENTIONS = {
    'alignment': 'each frame centred on its (mass-weighted) centroid and Kabsch-rotated onto the mean structure; '
    'the mean is iterated (frame 0, then the mean of the aligned frames) until it changes by less than '
    'the tolerance (RMS over atoms)',
    'rmsf': 'sqrt(<|x_n(t) - <x_n>|^2>_t) over the aligned frames of the window',
    'per_element': "arithmetic mean (and standard deviation) of the per-atom RMSF over the element's atoms",
    'msd_by_element': "per frame, the mean over the element's atoms of |x_n(t) - <x_n>|^2; its blocking error "
    'gives the convergence verdict of the RMSF',
}


# ------------------------------------------------------------------------------------------- parameters


def analysis_parameters(values: dict | None = None) -> dict[str, Any]:
    """``values`` checked and completed with :data:`ANALYSIS_DEFAULTS`; :class:`QdotsInputError` naming the key."""
    values = dict(values or {})
    unknown = sorted(set(values) - set(ANALYSIS_DEFAULTS))
    if unknown:
        raise QdotsInputError(f'unknown analysis parameter(s) {unknown}; known: {sorted(ANALYSIS_DEFAULTS)}')
    params = {**ANALYSIS_DEFAULTS, **{k: v for k, v in values.items() if v is not None}}
    for key in _INTEGERS:
        value = params[key]
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, np.integer))):
            raise QdotsInputError(f'{key} must be an integer, got {value!r}')
    for key in _NUMBERS:
        value = params[key]
        if value is not None:
            params[key] = parameter_number(value, key)
    for key in _BOOLEANS:
        if not isinstance(params[key], bool):
            raise QdotsInputError(f'{key} must be true or false, got {params[key]!r}')
    if params['last_frames'] is not None and (params['start_frame'] is not None or params['stop_frame'] is not None):
        raise QdotsInputError('give either last_frames or start_frame/stop_frame, not both')
    if params['last_frames'] is not None and params['last_frames'] < MIN_FRAMES:
        raise QdotsInputError(f'last_frames={params["last_frames"]}: the window needs at least {MIN_FRAMES} frames')
    if params['acoustic_cutoff_cm1'] <= 0:
        raise QdotsInputError(f'acoustic_cutoff_cm1 must be > 0 cm^-1, got {params["acoustic_cutoff_cm1"]}')
    if params['max_lag_fs'] is not None and params['max_lag_fs'] <= 0:
        raise QdotsInputError(f'max_lag_fs must be > 0 fs, got {params["max_lag_fs"]}')
    if params['peak_min_cm1'] < 0:
        raise QdotsInputError(f'peak_min_cm1 must be >= 0 cm^-1, got {params["peak_min_cm1"]}')
    if params['fit_tolerance_angstrom'] <= 0 or params['fit_max_iterations'] < 1:
        raise QdotsInputError('fit_tolerance_angstrom must be > 0 and fit_max_iterations >= 1')
    if params['spectrum_window'] not in WINDOWS:
        raise QdotsInputError(f'spectrum_window must be one of {list(WINDOWS)}, got {params["spectrum_window"]!r}')
    if params['velocities'] not in VELOCITY_SOURCES:
        raise QdotsInputError(f'velocities must be one of {list(VELOCITY_SOURCES)}, got {params["velocities"]!r}')
    return params


def analysis_window(n_frames: int, params: dict[str, Any]) -> tuple[int, int]:
    """(start, stop) frame indices (0-based, stop excluded) of the window in a trajectory of ``n_frames``."""
    if params['last_frames'] is not None:
        if params['last_frames'] > n_frames:
            raise QdotsInputError(
                f'last_frames={params["last_frames"]} is longer than the trajectory ({n_frames} frames)'
            )
        start, stop = n_frames - params['last_frames'], n_frames
    else:
        start, stop = params['start_frame'], params['stop_frame']
        for key, value in (('start_frame', start), ('stop_frame', stop)):
            if value is not None and not -n_frames <= value <= n_frames:
                raise QdotsInputError(f'{key}={value} is outside the trajectory ({n_frames} frames)')
        start = 0 if start is None else start % n_frames if start < 0 else start
        stop = n_frames if stop is None else stop % n_frames if stop < 0 else stop
    if stop - start < MIN_FRAMES:
        raise QdotsInputError(
            f'the window (frames {start}..{stop - 1}) has {max(stop - start, 0)} frames; at least {MIN_FRAMES} needed'
        )
    return start, stop


def check_trajectory(trajectory: orm.TrajectoryData, params: dict[str, Any]) -> tuple[int, int, float]:
    """(start, stop, time step in fs) of the analysis of ``trajectory``; :class:`QdotsInputError` when the
    trajectory is too short, has no time step, lacks requested velocities, or the window or ``max_lag_fs`` does
    not fit.
    """
    n_frames = trajectory.numsteps
    if n_frames < MIN_FRAMES:
        raise QdotsInputError(f'the trajectory has {n_frames} frames; the analysis needs at least {MIN_FRAMES}')
    timestep = trajectory_timestep(trajectory)
    if params['velocities'] == 'trajectory' and 'velocities' not in trajectory.get_arraynames():
        raise QdotsInputError('velocities="trajectory" but the trajectory has no velocities array')
    start, stop = analysis_window(n_frames, params)
    duration = (stop - start - 1) * timestep
    if params['max_lag_fs'] is not None and params['max_lag_fs'] > duration + 1e-9 * timestep:
        raise QdotsInputError(f'max_lag_fs={params["max_lag_fs"]:g} is longer than the window ({duration:g} fs)')
    return start, stop, timestep


def _window_positions(trajectory: orm.TrajectoryData, start: int, stop: int, margin: int = 0):
    """Positions (angstrom) of frames start - margin .. stop + margin (clipped), unwrapped when periodic, and
    the offset of frame ``start`` in them.
    """
    lo, hi = max(start - margin, 0), min(stop + margin, trajectory.numsteps)
    positions = trajectory.get_positions()[lo:hi]
    pbc = tuple(bool(p) for p in trajectory.pbc) if 'cells' in trajectory.get_arraynames() else (False,) * 3
    if any(pbc):
        positions = unwrap_positions(positions, trajectory.get_cells()[lo:hi], pbc)
    bad = np.flatnonzero(~np.isfinite(positions).all(axis=(1, 2)))
    if bad.size:
        raise QdotsInputError(f'frame {lo + int(bad[0])} has non-finite positions')
    return positions, start - lo, any(pbc)


def _window_info(start: int, stop: int, timestep: float) -> dict[str, Any]:
    return {
        'start_frame': start,
        'stop_frame': stop,
        'n_frames': stop - start,
        'timestep_fs': timestep,
        'start_time_fs': start * timestep,
        'duration_fs': (stop - start - 1) * timestep,
    }


def window_velocities(
    trajectory: orm.TrajectoryData, params: dict[str, Any], start: int, stop: int, timestep: float
) -> tuple[np.ndarray, str]:
    """Velocities (angstrom/fs) of the window and their source: the trajectory's, or central differences of
    the positions that use the frames just outside the window when there are any.
    """
    stored = 'velocities' in trajectory.get_arraynames()
    if params['velocities'] == 'trajectory' or (params['velocities'] == 'auto' and stored):
        velocities = trajectory.get_velocities()[start:stop]
        bad = np.flatnonzero(~np.isfinite(velocities).all(axis=(1, 2)))
        if bad.size:
            raise QdotsInputError(f'frame {start + int(bad[0])} has non-finite velocities')
        return np.asarray(velocities, dtype=float), 'trajectory'
    positions, offset, _ = _window_positions(trajectory, start, stop, margin=1)
    velocities = central_difference_velocities(positions, timestep)[offset : offset + stop - start]
    return velocities, 'central differences of positions'


# ------------------------------------------------------------------------------------------- calcfunctions


@calcfunction
def trajectory_rmsf(trajectory: orm.TrajectoryData, parameters: orm.Dict) -> orm.ArrayData:
    """Per-atom and per-element RMSF (angstrom) over the window chosen by ``parameters``, after removing the
    centre-of-mass translation and the overall rotation (iterated Kabsch fit to the mean structure).
    """
    params = analysis_parameters(parameters.get_dict())
    start, stop, timestep = check_trajectory(trajectory, params)
    positions, _, unwrapped = _window_positions(trajectory, start, stop)
    result = rmsf_kernel(
        positions,
        trajectory.symbols,
        mass_weighted=params['mass_weighted_fit'],
        tolerance=params['fit_tolerance_angstrom'],
        max_iterations=params['fit_max_iterations'],
    )
    node = orm.ArrayData()
    node.set_array('rmsf', result.rmsf)
    node.set_array('symbols', np.array(result.symbols, dtype=str))
    node.set_array('masses', result.masses)
    node.set_array('mean_structure', result.mean_structure)
    node.set_array('elements', np.array(result.elements, dtype=str))
    node.set_array('rmsf_by_element', np.array([result.rmsf_by_element[e] for e in result.elements]))
    node.set_array('rmsf_by_element_std', np.array([result.rmsf_by_element_std[e] for e in result.elements]))
    node.set_array('msd_by_element', np.stack([result.msd_by_element[e] for e in result.elements], axis=1))
    verdicts = {e: mean_verdict(f'RMSF of {e}', result.msd_by_element[e], exponent=0.5) for e in result.elements}
    node.base.attributes.set_many(
        {
            'analysis': 'rmsf',
            'units': {
                'rmsf': 'angstrom',
                'mean_structure': 'angstrom',
                'masses': 'amu',
                'rmsf_by_element': 'angstrom',
                'rmsf_by_element_std': 'angstrom',
                'msd_by_element': 'angstrom^2 (frames, elements)',
            },
            'rmsf_by_element': result.rmsf_by_element,
            'rmsf_by_element_std': result.rmsf_by_element_std,
            'rmsf_mean': float(result.rmsf.mean()),
            'elements': result.elements,
            'window': _window_info(start, stop, timestep),
            'mass_weighted_fit': result.mass_weighted,
            'kabsch_iterations': result.iterations,
            'kabsch_converged': result.converged,
            'kabsch_change_angstrom': result.change,
            'fit_tolerance_angstrom': params['fit_tolerance_angstrom'],
            'residual_rotation_deg': result.residual_rotation_deg,
            'residual_translation_angstrom': result.residual_translation,
            'unwrapped_periodic_images': unwrapped,
            'conventions': dict(RMSF_CONVENTIONS),
            'convergence': combined_verdict('rmsf', verdicts).as_dict(),
            'convergence_by_element': {e: v.as_dict() for e, v in verdicts.items()},
            'trajectory_uuid': trajectory.uuid,
        }
    )
    node.label = f'RMSF of {trajectory.label}' if trajectory.label else 'RMSF'
    node.description = (
        'RMSF (A): '
        + ', '.join(f'{e} {v:.3f}' for e, v in result.rmsf_by_element.items())
        + f' over frames {start}..{stop - 1}'
    )
    return node


@calcfunction
def trajectory_spectra(trajectory: orm.TrajectoryData, parameters: orm.Dict) -> orm.ArrayData:
    """Mass-weighted VACF and vibrational power spectrum (eV per cm^-1), total and per element, over the window
    chosen by ``parameters`` (see :mod:`aiida_qdots.analysis.spectra` for the estimator and normalisation).
    """
    params = analysis_parameters(parameters.get_dict())
    start, stop, timestep = check_trajectory(trajectory, params)
    velocities, source = window_velocities(trajectory, params, start, stop, timestep)
    spectrum = power_spectrum(
        velocities,
        trajectory.symbols,
        timestep,
        window=params['spectrum_window'],
        max_lag_fs=params['max_lag_fs'],
        remove_com=params['remove_com_velocity'],
    )
    node = orm.ArrayData()
    node.set_array('frequency_cm1', spectrum.frequency_cm1)
    node.set_array('total', spectrum.total)
    node.set_array('lag_fs', spectrum.lag_fs)
    node.set_array('vacf_total', spectrum.vacf_total)
    for element in spectrum.elements:
        node.set_array(element, spectrum.by_element[element])
        node.set_array(f'vacf_{element}', spectrum.vacf_by_element[element])
    n_atoms = sum(spectrum.n_atoms_by_element.values())
    constraints = 3 if spectrum.com_velocity_removed else 0
    units = {'frequency_cm1': 'cm^-1', 'total': 'eV/cm^-1', 'lag_fs': 'fs', 'vacf_total': 'eV'}
    for element in spectrum.elements:
        units[element] = 'eV/cm^-1'
        units[f'vacf_{element}'] = 'eV'
    node.base.attributes.set_many(
        {
            'analysis': 'power_spectrum',
            'units': units,
            'elements': spectrum.elements,
            'n_atoms_by_element': spectrum.n_atoms_by_element,
            'window': _window_info(start, stop, timestep),
            'estimator': 'biased',
            'lag_window': spectrum.window,
            'max_lag_fs': spectrum.max_lag_fs,
            'resolution_cm1': spectrum.resolution_cm1,
            'integral_total_ev': spectrum.integral_total,
            'integral_by_element_ev': spectrum.integral_by_element,
            'kinetic_temperature_k': kinetic_temperature(spectrum.integral_total, n_atoms, constraints),
            'kinetic_temperature_by_element_k': {
                e: kinetic_temperature(spectrum.integral_by_element[e], spectrum.n_atoms_by_element[e])
                for e in spectrum.elements
            },
            'kinetic_temperature_dof': f'3N - {constraints}' if constraints else '3N (3 N_e per element)',
            'velocity_source': source,
            'com_velocity_removed': spectrum.com_velocity_removed,
            'conventions': dict(SPECTRUM_CONVENTIONS),
            'trajectory_uuid': trajectory.uuid,
        }
    )
    node.label = f'power spectra of {trajectory.label}' if trajectory.label else 'power spectra'
    node.description = (
        f'mass-weighted VACF power spectra (eV/cm^-1), total and {", ".join(spectrum.elements)}, frames '
        f'{start}..{stop - 1}, {spectrum.window} window, velocities from {source}'
    )
    return node


def spectrum_summary(spectra: orm.ArrayData, cutoff_cm1: float, peak_min_cm1: float = 0.0) -> dict[str, Any]:
    """Main peaks (cm^-1) and acoustic/optical fractions of a ``spectra`` node's total and element spectra."""
    frequency = spectra.get_array('frequency_cm1')
    total = spectra.get_array('total')
    elements = spectra.base.attributes.get('elements')
    acoustic, optical = band_fractions(frequency, total, cutoff_cm1)
    integral = spectra.base.attributes.get('integral_total_ev')
    return {
        'spectrum_peak_cm1': main_peak(frequency, total, peak_min_cm1),
        'spectrum_peak_by_element_cm1': {e: main_peak(frequency, spectra.get_array(e), peak_min_cm1) for e in elements},
        'acoustic_fraction': acoustic,
        'optical_fraction': optical,
        'acoustic_fraction_by_element': {
            e: band_fractions(frequency, spectra.get_array(e), cutoff_cm1)[0] for e in elements
        },
        'spectral_weight_by_element': {
            e: spectra.base.attributes.get('integral_by_element_ev')[e] / integral for e in elements
        },
    }


@calcfunction
def analysis_summary(rmsf: orm.ArrayData, spectra: orm.ArrayData, parameters: orm.Dict) -> orm.Dict:
    """Per-element mean RMSF (angstrom), main spectral peak (cm^-1) and acoustic/optical fractions of the total
    power spectrum (boundary ``acoustic_cutoff_cm1``), with the window, units and conventions.
    """
    params = analysis_parameters(parameters.get_dict())
    cutoff = params['acoustic_cutoff_cm1']
    attributes = spectra.base.attributes
    window = attributes.get('window')
    spectra_verdict = spectrum_verdict(
        attributes.get('resolution_cm1'), cutoff, window['n_frames'], window['duration_fs']
    )
    summary = {
        'rmsf_by_element': rmsf.base.attributes.get('rmsf_by_element'),
        'rmsf_mean': rmsf.base.attributes.get('rmsf_mean'),
        **spectrum_summary(spectra, cutoff, params['peak_min_cm1']),
        'acoustic_cutoff_cm1': cutoff,
        'peak_min_cm1': params['peak_min_cm1'],
        'kinetic_temperature_k': attributes.get('kinetic_temperature_k'),
        'kinetic_temperature_by_element_k': attributes.get('kinetic_temperature_by_element_k'),
        'velocity_source': attributes.get('velocity_source'),
        'window': rmsf.base.attributes.get('window'),
        'kabsch_converged': rmsf.base.attributes.get('kabsch_converged'),
        'n_frames': window['n_frames'],
        'convergence': {
            'rmsf': rmsf.base.attributes.get('convergence', None),
            'rmsf_by_element': rmsf.base.attributes.get('convergence_by_element', None),
            'spectra': spectra_verdict.as_dict(),
        },
        'thresholds': dict(THRESHOLDS),
        'units': dict(SUMMARY_UNITS),
        'conventions': {
            **RMSF_CONVENTIONS,
            **SPECTRUM_CONVENTIONS,
            'lag_window': attributes.get('lag_window'),
            'max_lag_fs': attributes.get('max_lag_fs'),
            'spectral_weight_by_element': "the element's share of the total integral (2 <E_kin>)",
            'acoustic_fraction_by_element': "fraction of the element's own spectrum below the cutoff",
            'peak': 'highest bin of the spectrum at or above peak_min_cm1, refined by a parabola through 3 bins',
        },
        'trajectory_uuid': rmsf.base.attributes.get('trajectory_uuid'),
    }
    node = orm.Dict(summary)
    node.label = 'AIMD analysis summary'
    return node
