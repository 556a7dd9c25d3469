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

from aiida_qdots.analysis.vibrations import (
    broadened_spectrum,
    central_differences,
    degenerate_sums,
    mode_frames,
    nearest_modes,
    vibrational_spectra,
)
from aiida_qdots.common.units import BOHR_ANGSTROM
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
