"""Calcfunctions of ``qdots.vibrations``: normal modes, Raman and IR spectra from a CP2K vibrational analysis.

Kernels: :mod:`aiida_qdots.analysis.vibrations` (on :mod:`~aiida_qdots.analysis.normal_modes`); files read by
:mod:`aiida_qdots.readers.cp2k_vibrations`. Wavenumbers in cm^-1, Raman activities in angstrom^4/amu, IR
intensities in km/mol.
"""

from __future__ import annotations

import fnmatch
import io

import numpy as np
from aiida import orm
from aiida.engine import calcfunction

from aiida_qdots.analysis.peaks import compare_spectra
from aiida_qdots.analysis.spectra import line_fwhm_cm1
from aiida_qdots.analysis.vibrations import (
    broadened_spectrum,
    central_differences,
    degenerate_sums,
    dominant_modes,
    mode_frames,
    nearest_modes,
    vibrational_spectra,
)
from aiida_qdots.common.errors import QdotsInputError
from aiida_qdots.common.units import BOHR_ANGSTROM, SPEED_OF_LIGHT_CM_FS
from aiida_qdots.common.validation import parameter_number
from aiida_qdots.readers.cp2k_vibrations import (
    CP2K_MASSES,
    cartesian_hessian,
    raman_file_index,
    read_dipoles,
    read_hessian_file,
    read_molden_vibrations,
    read_polarizability,
    read_vib_summary,
    split_displacements,
    write_mode_extxyz,
    write_molden,
)

PROJECT = 'aiida'
"""aiida-cp2k's CP2K project name: the prefix of every file CP2K writes."""
RETRIEVE = [
    f'{PROJECT}-Hessian-1.hess',
    f'{PROJECT}-VIBRATIONS-1.mol',
    f'{PROJECT}-r-0.out',
    f'{PROJECT}-r-0-raman-1_*.data',
]
"""Files of a CP2K vibrational analysis that the analysis reads (add to ``additional_retrieve_list``)."""


def _files(retrieved: orm.FolderData, pattern: str) -> list[str]:
    return sorted(fnmatch.filter(retrieved.base.repository.list_object_names(), pattern))


def read_retrieved(retrieved: orm.FolderData, n_atoms: int, dx_bohr: float) -> dict:
    """Arrays of a retrieved CP2K vibrational analysis: mass-weighted Hessian, Molden data, Cartesian derivatives
    of the polarizability (angstrom^2) and dipole (e) when present, and CP2K's own ``VIB|`` table."""
    repository = retrieved.base.repository
    missing = [p for p in RETRIEVE[:3] if not _files(retrieved, p)]
    if missing:
        raise ValueError(f'retrieved folder <{retrieved.pk}> lacks {", ".join(missing)}')
    step = dx_bohr * BOHR_ANGSTROM
    data = {
        'hessian_au': read_hessian_file(repository.get_object_content(RETRIEVE[0], mode='rb')),
        'molden': read_molden_vibrations(repository.get_object_content(RETRIEVE[1])),
        'cp2k': read_vib_summary(repository.get_object_content('aiida.out')),
    }
    raman = sorted(_files(retrieved, RETRIEVE[3]), key=raman_file_index)
    if raman:
        tensors = np.array([read_polarizability(repository.get_object_content(name)) for name in raman])
        plus, minus, data['polarizability'] = split_displacements(tensors, n_atoms)
        data['dalpha'] = central_differences(plus, minus, step)
    dipoles = read_dipoles(repository.get_object_content(RETRIEVE[2]))
    if len(dipoles):
        plus, minus, data['dipole'] = split_displacements(dipoles, n_atoms)
        data['dmu'] = central_differences(plus, minus, step)
    return data


def _cross_check(result: dict, cp2k: dict) -> dict:
    """Largest differences between the package's and CP2K's own wavenumbers, and between their Raman activities and
    IR intensities summed over degenerate sets (single modes of a set depend on its arbitrary basis)."""
    check = {}
    theirs_w = cp2k.get('wavenumbers', np.zeros(0))
    if len(theirs_w) != len(result['wavenumbers']):
        return check
    check['max_abs_difference_wavenumbers'] = float(np.abs(np.sort(result['wavenumbers']) - np.sort(theirs_w)).max())
    for key in ('raman_activities', 'ir_intensities'):
        if key in result and key in cp2k:
            ours = degenerate_sums(result['wavenumbers'], result[key])
            theirs = degenerate_sums(result['wavenumbers'], cp2k[key][np.argsort(np.argsort(theirs_w))])
            if len(ours) == len(theirs):
                check[f'max_abs_difference_{key}'] = float(np.abs(ours - theirs).max())
    return check


@calcfunction
def analyze_vibrations(retrieved: orm.FolderData, structure: orm.StructureData, parameters: orm.Dict) -> dict:
    """Normal modes, Raman and IR spectra, mode character and animations of the mode nearest the main optical peak
    from a retrieved CP2K vibrational analysis of ``structure``; ``parameters``: ``dx_bohr`` and the protocol's
    ``analysis`` settings."""
    p = parameters.get_dict()
    atoms = structure.get_ase()
    symbols = atoms.get_chemical_symbols()
    masses = np.array([CP2K_MASSES[s] for s in symbols])
    data = read_retrieved(retrieved, len(atoms), p['dx_bohr'])
    if data['molden']['symbols'] != symbols:
        raise ValueError('the Molden file and the structure list different atoms')
    hessian = cartesian_hessian(data['hessian_au'], masses)
    result = vibrational_spectra(
        hessian,
        masses,
        atoms.positions,
        symbols,
        data.get('dalpha'),
        data.get('dmu'),
        p['hwhm_cm1'],
        p['minimum_cm1'],
        p['core_threshold'],
    )
    wavenumbers = result['wavenumbers']
    modes = orm.ArrayData()
    arrays = {
        'wavenumbers': wavenumbers,
        'eigenvectors': result['eigenvectors'],
        'masses': masses,
        'positions': atoms.positions,
        'hessian': hessian,
        'core_fraction': result['core_fraction'],
    }
    arrays.update({f'participation_{e}': v for e, v in result['participation'].items()})
    optional = ('raman_activities', 'depolarization_ratios', 'ir_intensities')
    arrays.update({k: result[k] for k in optional if k in result})
    for name, values in arrays.items():
        modes.set_array(name, np.asarray(values))
    modes.base.attributes.set('assignments', result['assignments'])
    modes.base.attributes.set('symbols', symbols)
    modes.base.attributes.set('formula', structure.get_formula())
    modes.base.attributes.set(
        'units',
        {'wavenumbers': 'cm^-1', 'raman_activities': 'angstrom^4/amu', 'ir_intensities': 'km/mol',
         'hessian': 'eV/angstrom^2', 'masses': 'amu (CP2K 2023.1 table)'},
    )  # fmt: skip
    grid = np.arange(0.0, p['spectrum_max_cm1'], 0.5)
    spectrum = orm.ArrayData()
    spectrum.set_array('wavenumbers', grid)
    for key, name in (('raman_activities', 'raman'), ('ir_intensities', 'ir')):
        if key in result:
            spectrum.set_array(name, broadened_spectrum(wavenumbers, result[key], grid, p['hwhm_cm1']))
    spectrum.base.attributes.set('hwhm_cm1', p['hwhm_cm1'])
    spectrum.base.attributes.set('convention', 'area-normalised Gaussians; Raman activity 45 a^2 + 7 g^2')
    n_imaginary = int(np.sum(wavenumbers < -p['max_imaginary_cm1']))
    summary = {
        'n_modes': len(wavenumbers),
        'n_imaginary': n_imaginary,
        'lowest_cm1': float(wavenumbers.min()),
        'rigid_max_cm1': result['rigid_max_cm1'],
        'max_imaginary_cm1': p['max_imaginary_cm1'],
        'hwhm_cm1': p['hwhm_cm1'],
        'cp2k_check': _cross_check(result, data['cp2k']),
    }
    outputs = {'modes': modes, 'spectrum': spectrum}
    peak = result.get('main_peak_cm1', float('nan'))
    if np.isfinite(peak):
        summary['raman_peak_cm1'] = peak
        near = nearest_modes(wavenumbers, peak, p['nearest_modes'])
        summary['peak_modes'] = [
            {
                'index': int(m),
                'wavenumber_cm1': float(wavenumbers[m]),
                'raman_activity': float(result['raman_activities'][m]),
                'participation': {e: float(v[m]) for e, v in result['participation'].items()},
                'assignment': result['assignments'][m],
            }
            for m in near
        ]
        vector = result['eigenvectors'][:, near[0]]
        frames, pattern = mode_frames(atoms.positions, vector, masses, p['animation_amplitude'])
        text = write_mode_extxyz(symbols, frames, pattern, f'wavenumber_cm1={wavenumbers[near[0]]:.2f}')
        outputs['animation'] = orm.SinglefileData(io.BytesIO(text.encode()), filename='mode.extxyz')
    patterns = (result['eigenvectors'] / np.repeat(np.sqrt(masses), 3)[:, None]).T.reshape(len(wavenumbers), -1, 3)
    molden = write_molden(symbols, atoms.positions, wavenumbers, patterns)
    outputs['molden'] = orm.SinglefileData(io.BytesIO(molden.encode()), filename='vibrations.molden')
    outputs['summary'] = orm.Dict(summary)
    return outputs


# ------------------------------------------------------------------------------ comparison with an AIMD spectrum

COMPARISON_DEFAULTS = {'window_cm1': None, 'tolerance_cm1': None, 'min_prominence': 0.05, 'aimd_spectrum': 'total'}
"""Parameters of :func:`compare_raman_aimd`: ``window_cm1`` [low, high] where peaks are sought (default, also for
either end given as None: from the AIMD resolution to the end of the shorter spectrum); ``tolerance_cm1`` the
largest difference of a pair (default: the larger of the AIMD resolution and the Raman FWHM, 2 HWHM);
``min_prominence`` the smallest peak prominence as a fraction of the spectrum's maximum in the window;
``aimd_spectrum`` ``total`` or an element's spectrum."""
COMPARISON_KEYS = tuple(COMPARISON_DEFAULTS)
NAMES = ('raman', 'aimd')
"""The two spectra of a comparison, in the order of :func:`~aiida_qdots.analysis.peaks.compare_spectra`."""


def aimd_resolution_cm1(spectra: orm.ArrayData) -> float:
    """FWHM (cm^-1) of one pure line in the power spectra ``spectra`` (:func:`~aiida_qdots.analysis.spectra.
    line_fwhm_cm1`): the resolution of the AIMD spectrum, about 1/(c x its longest lag)."""
    attributes = spectra.base.attributes
    window = attributes.get('window')
    n_lags = round(attributes.get('max_lag_fs') / window['timestep_fs']) + 1
    return line_fwhm_cm1(window['n_frames'], n_lags, window['timestep_fs'], attributes.get('lag_window'))


def comparison_inputs(
    spectrum: orm.ArrayData, modes: orm.ArrayData, spectra: orm.ArrayData, values: dict | None = None
) -> dict:
    """The parameters of a Raman/AIMD comparison checked against the nodes and completed (see
    :data:`COMPARISON_DEFAULTS`), with the AIMD resolution; :class:`QdotsInputError` on bad input."""
    values = dict(values or {})
    unknown = sorted(set(values) - set(COMPARISON_KEYS))
    if unknown:
        raise QdotsInputError(f'unknown comparison parameter(s) {unknown}; known: {list(COMPARISON_KEYS)}')
    if 'raman' not in spectrum.get_arraynames() or 'raman_activities' not in modes.get_arraynames():
        raise QdotsInputError(f'vibrations <{spectrum.pk}> has no Raman spectrum (run without polarizabilities)')
    if spectra.base.attributes.get('analysis', None) != 'power_spectrum':
        raise QdotsInputError(f'node <{spectra.pk}> is not the spectra output of an AIMD analysis')
    symbols = modes.base.attributes.get('symbols')
    counts = {e: symbols.count(e) for e in dict.fromkeys(symbols)}
    aimd_counts = spectra.base.attributes.get('n_atoms_by_element')
    if counts != aimd_counts:
        formula = ''.join(f'{e}{n}' for e, n in counts.items())
        aimd_formula = ''.join(f'{e}{n}' for e, n in aimd_counts.items())
        raise QdotsInputError(f'the vibrations are of {formula}, the AIMD spectra of {aimd_formula}: not one cluster')
    p = {**COMPARISON_DEFAULTS, **{k: v for k, v in values.items() if v is not None}}
    if p['aimd_spectrum'] not in ('total', *aimd_counts):
        raise QdotsInputError(f'aimd_spectrum must be one of {["total", *aimd_counts]}, got {p["aimd_spectrum"]!r}')
    p['min_prominence'] = parameter_number(p['min_prominence'], 'min_prominence')
    if not 0 < p['min_prominence'] <= 1:
        raise QdotsInputError(f'min_prominence must lie in (0, 1], got {p["min_prominence"]}')
    resolution = aimd_resolution_cm1(spectra)
    hwhm = spectrum.base.attributes.get('hwhm_cm1')
    top = min(spectrum.get_array('wavenumbers')[-1], spectra.get_array('frequency_cm1')[-1])
    window = [None, None] if p['window_cm1'] is None else p['window_cm1']
    if not isinstance(window, list | tuple) or len(window) != 2:
        raise QdotsInputError(f'window_cm1 must be [low, high] in cm^-1, got {window!r}')
    low, high = (
        parameter_number(d if v is None else v, 'window_cm1') for v, d in zip(window, (resolution, top), strict=True)
    )
    if not 0 <= low < high <= top:
        raise QdotsInputError(f'window_cm1 [{low:g}, {high:g}] must be increasing within [0, {top:g}] cm^-1')
    p['window_cm1'] = [low, high]
    p['tolerance_cm1'] = max(resolution, 2 * hwhm) if p['tolerance_cm1'] is None else p['tolerance_cm1']
    p['tolerance_cm1'] = parameter_number(p['tolerance_cm1'], 'tolerance_cm1')
    if p['tolerance_cm1'] < 0:
        raise QdotsInputError(f'tolerance_cm1 must be >= 0 cm^-1, got {p["tolerance_cm1"]}')
    return {**p, 'aimd_resolution_cm1': resolution, 'raman_hwhm_cm1': hwhm}


def raman_aimd_table(
    spectrum: orm.ArrayData, modes: orm.ArrayData, spectra: orm.ArrayData, values: dict | None = None
) -> dict:
    """Peaks of the broadened Raman spectrum and of the AIMD power spectrum side by side
    (:func:`~aiida_qdots.analysis.peaks.compare_spectra`), each Raman peak with the mode that contributes most to it,
    its assignment and core fraction; the resolutions and parameters that qualify the differences. Stores nothing."""
    p = comparison_inputs(spectrum, modes, spectra, values)
    aimd = (spectra.get_array('frequency_cm1'), spectra.get_array(p['aimd_spectrum']))
    raman = (spectrum.get_array('wavenumbers'), spectrum.get_array('raman'))
    table = compare_spectra(
        raman, aimd, p['window_cm1'], p['tolerance_cm1'], p['aimd_resolution_cm1'], p['min_prominence'], NAMES
    )
    wavenumbers, activities = modes.get_array('wavenumbers'), modes.get_array('raman_activities')
    assignments, core = modes.base.attributes.get('assignments'), modes.get_array('core_fraction')
    for row in table['pairs'] + table['unpaired_raman']:
        (m,) = dominant_modes([row['raman_cm1']], wavenumbers, activities, p['raman_hwhm_cm1'])
        row.update(mode=int(m), mode_cm1=float(wavenumbers[m]), assignment=assignments[m], core_fraction=float(core[m]))
    attributes = spectra.base.attributes
    return {
        **table,
        'n_pairs': len(table['pairs']),
        'n_resolved': sum(row['resolved'] for row in table['pairs']),
        'parameters': {k: p[k] for k in COMPARISON_DEFAULTS},
        'aimd_resolution_cm1': p['aimd_resolution_cm1'],
        'aimd_bin_cm1': attributes.get('resolution_cm1'),
        'aimd_window': attributes.get('window'),
        'aimd_max_lag_fs': attributes.get('max_lag_fs'),
        'aimd_inverse_lag_cm1': 1.0 / (SPEED_OF_LIGHT_CM_FS * attributes.get('max_lag_fs')),
        'aimd_lag_window': attributes.get('lag_window'),
        'raman_hwhm_cm1': p['raman_hwhm_cm1'],
        'units': {
            'wavenumbers': 'cm^-1',
            'difference_cm1': 'aimd_cm1 - raman_cm1 (cm^-1)',
            'heights': "fraction of the spectrum's largest value in the window",
            'aimd_resolution_cm1': 'FWHM of one line of the AIMD estimator (about 1 / (c x longest VACF lag)): '
            'differences below it are not resolved; it bounds, and does not estimate, the uncertainty of an AIMD '
            'peak (compare windows of the trajectory for that)',
        },
    }


@calcfunction
def compare_raman_aimd(
    spectrum: orm.ArrayData, modes: orm.ArrayData, spectra: orm.ArrayData, parameters: orm.Dict
) -> orm.Dict:
    """The Raman spectrum of ``qdots.vibrations`` (``spectrum``, ``modes``) and the AIMD power spectrum of the same
    cluster (``spectra`` of ``qdots.aimd_analysis``) peak by peak (:func:`raman_aimd_table`). Check the inputs with
    :func:`comparison_inputs` first to store nothing when they are wrong."""
    node = orm.Dict(raman_aimd_table(spectrum, modes, spectra, parameters.get_dict()))
    node.label = 'Raman vs AIMD peaks'
    return node
