"""Radially averaged diffraction patterns I(Q, t) as AiiDA nodes (read by :mod:`aiida_qdots.readers.ued_patterns`,
which describes the formats), and the synthetic demo patterns made by the forward model from two MD states of a
particle.

The node is an ArrayData with ``delay_ps`` (D,), ``q_inv_angstrom`` (Q,), ``intensity`` and ``intensity_err``
(S, D, Q), optionally ``normalisation`` (Q,): the particle's N <f>^2 (angstrom^2) when known (synthetic sets),
which makes dF the forward model's 'faber-ziman' reduced intensity, and ``self_scattering`` (Q,): its N <f^2>
(angstrom^2), the part of I(Q) the Debye-Waller factor does not damp (the peak route's peak Q); attributes
``kind`` = 'ued_patterns', ``sets``, ``units``, ``source`` (file name and sha256) and ``synthetic`` (false, or
every generating parameter).
"""

from __future__ import annotations

import dataclasses
import pathlib

import numpy as np
from aiida import orm

from aiida_qdots.analysis.bragg_slope import bragg_du2_slope
from aiida_qdots.analysis.dg_temperature import heating_response, ratio_of
from aiida_qdots.analysis.diffraction import debye_pattern
from aiida_qdots.analysis.kinetics import gillespie
from aiida_qdots.common.files import file_sha256
from aiida_qdots.common.validation import PATTERN_ARRAYS, check_pattern_arrays
from aiida_qdots.data.ued import DEMO_DELAYS_PS, SEED_SETS
from aiida_qdots.readers.ued_patterns import read_patterns

PATTERN_KIND = 'ued_patterns'
PATTERN_DELAYS_PS = np.concatenate([np.arange(-50.0, 0.0, 5.0), DEMO_DELAYS_PS[DEMO_DELAYS_PS >= 0]])
"""The demo's delays (ps): ten pre-pump patterns, whose mean I0 divides every later one (its noise is a factor
common to all delays), then those of the peak-table demo."""
PATTERN_UNITS = {
    'fluence': 'mJ/cm^2',
    'wavelength': 'nm',
    'delay': 'ps',
    'q': '1/angstrom (4 pi sin(theta)/lambda)',
    'intensity': 'detector unit (synthetic: angstrom^2 per particle)',
}


def is_pattern_node(node) -> bool:
    """Whether ``node`` holds patterns I(Q, t) (else it may be a peak table I(t)/I0)."""
    return isinstance(node, orm.ArrayData) and node.base.attributes.get('kind', None) == PATTERN_KIND


def patterns_to_node(
    arrays: dict, source: dict, synthetic: dict | bool = False, normalisation=None, self_scattering=None
) -> orm.ArrayData:
    """The (unstored) pattern ArrayData of validated ``arrays`` (see :data:`PATTERN_ARRAYS`)."""
    check_pattern_arrays(source.get('file') or 'patterns', *(arrays[name] for name in PATTERN_ARRAYS))
    node = orm.ArrayData()
    for name in PATTERN_ARRAYS:
        node.set_array(name, np.asarray(arrays[name], dtype=float))
    for name, values in (('normalisation', normalisation), ('self_scattering', self_scattering)):
        if values is not None:
            node.set_array(name, np.asarray(values, dtype=float))
    node.base.attributes.set_many(
        {
            'kind': PATTERN_KIND,
            'sets': [
                {'fluence_mj_cm2': float(f), 'wavelength_nm': float(w)}
                for f, w in zip(arrays['fluence_mj_cm2'], arrays['wavelength_nm'], strict=True)
            ],
            'units': PATTERN_UNITS,
            'source': source,
            'synthetic': synthetic,
            'convention': 'intensity[set, delay, Q] = radially averaged I(Q, t); negative delays: pre-pump reference',
        }
    )
    return node


def import_patterns(path: str | pathlib.Path, label: str | None = None) -> orm.ArrayData:
    """Read, validate and store a pattern file (CSV, NPZ, HDF5); the node records the file's name and sha256."""
    path = pathlib.Path(path)
    node = patterns_to_node(read_patterns(path), {'file': path.name, 'sha256': file_sha256(path)})
    node.label = label or path.stem
    return node.store()


def synthetic_patterns(
    cold,
    hot,
    symbols,
    temperatures_k,
    sets=SEED_SETS,
    delays_ps=PATTERN_DELAYS_PS,
    q_range=(1.0, 8.0),
    q_step: float = 0.01,
    noise: float = 1e-4,
    n_trajectories: int = 100000,
    seed: int = 7,
    check_peaks: dict | None = None,
) -> tuple[dict, dict, dict]:
    """Patterns I(Q, t) of the seed's pump sets from two MD states of the particle, ``cold`` and ``hot`` (frames
    (F, N, 3) angstrom) at ``temperatures_k`` (K, hot above cold): Gillespie dT(t) of each set ->
    I(Q, T_cold + dT) = S + D_cold (D_hot / D_cold)^(dT / dT_md), S the self scattering N <f^2>, D = I - S the pair
    scattering of each state's mean Debye pattern I, dT_md = T_hot - T_cold (linear in dT where D changes sign or
    changes by more than a factor 2: :func:`~aiida_qdots.analysis.dg_temperature.heating_response`), +
    Gaussian noise of ``noise`` x I(Q). Exact when the pair scattering is damped by exp(-Q^2 u^2/3) with u^2 linear
    in T (independent harmonic displacements), the Debye-Waller form the peak route assumes; the heating itself is
    the MD's own (each atom as it moves at the two temperatures), not a model of it. Returns the
    arrays, the particle's N <f>^2 and N <f^2> (the keyword arguments of :func:`patterns_to_node`) and the generator's
    parameters; with ``check_peaks`` (q_range, prominence, max_peaks of the peak route), ``peak_route_check`` holds
    the slope of the du2 that the peak route reads between the two states (:func:`bragg_du2_slope`, 4 blocks of
    frames each): the d(du2)/dT that makes these patterns' dT."""
    t_cold, t_hot = (float(t) for t in temperatures_k)
    if not t_hot > t_cold:
        raise ValueError(f'the hot MD state must be hotter than the cold one, got {t_cold:.1f} K and {t_hot:.1f} K')
    rng = np.random.default_rng(seed)
    delays = np.asarray(delays_ps, dtype=float)
    q = np.arange(q_range[0], q_range[1] + 0.5 * q_step, q_step)
    heating = []
    for k, pump in enumerate(sets):
        run = gillespie(pump.model, pump.fluence_mj_cm2, n_trajectories, float(delays.max()), seed=seed + k)
        energy = np.where(delays >= 0, run.mean_energy(np.clip(delays, 0, None)), 0.0)
        heating.append(energy / pump.model.heat_capacity_ev_k)
    heating = np.array(heating)
    states = [debye_pattern(frames, symbols, q) for frames in (cold, hot)]
    self_scattering = states[0].n_atoms * states[0].mean_f2
    distinct_cold, distinct_hot = (state.intensity - self_scattering for state in states)
    # the Debye-Waller factor damps the pair (distinct) scattering, the self scattering stays: the dG route's law
    fraction = heating / (t_hot - t_cold)
    response = heating_response(ratio_of(distinct_hot, distinct_cold), fraction)[0]
    distinct = distinct_cold + (distinct_hot - distinct_cold) * response
    clean = self_scattering + distinct
    check = None
    if check_peaks is not None:
        try:
            check = bragg_du2_slope([cold, hot], [t_cold, t_hot], symbols, q, **check_peaks, reference_k=t_cold)
        except ValueError as error:  # too few peaks or frames: the route itself will say so
            check = {'error': str(error)}
    error = noise * clean
    arrays = {
        'fluence_mj_cm2': np.array([s.fluence_mj_cm2 for s in sets]),
        'wavelength_nm': np.array([s.model.wavelength_nm for s in sets]),
        'delay_ps': delays,
        'q_inv_angstrom': q,
        'intensity': clean + rng.normal(0.0, 1.0, clean.shape) * error,
        'intensity_err': error,
    }
    parameters = {
        'generator': 'aiida_qdots.data.ued_patterns.synthetic_patterns (Gillespie dT(t), Debye forward model of two '
        'MD states, I(T_cold + dT) = S + D_cold (D_hot/D_cold)^(dT/(T_hot - T_cold)), D = I - S the pair scattering)',
        'sets': [
            {
                'fluence_mj_cm2': s.fluence_mj_cm2,
                **{k: (None if v == np.inf else v) for k, v in dataclasses.asdict(s.model).items()},
                'mean_initial_pairs': s.model.mean_pairs(s.fluence_mj_cm2),
                'heat_capacity_ev_k': s.model.heat_capacity_ev_k,
            }
            for s in sets
        ],
        'delta_t_k': heating.tolist(),
        'md_temperatures_k': [t_cold, t_hot],
        'max_heating_fraction': float(fraction.max()),
        'n_frames': [int(np.shape(cold)[0]), int(np.shape(hot)[0])],
        'n_atoms': len(symbols),
        'q_range_inv_angstrom': list(q_range),
        'q_step_inv_angstrom': q_step,
        'noise_relative': noise,
        'n_trajectories': n_trajectories,
        'seed': seed,
        'peak_route_check': check,
    }
    norm = states[0].n_atoms * states[0].mean_f_squared
    return arrays, {'normalisation': norm, 'self_scattering': self_scattering}, parameters
