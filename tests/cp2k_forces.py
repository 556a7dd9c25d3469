"""Independent finite-difference Hessian for tests: CP2K ENERGY_FORCE runs on displaced geometries, no AiiDA."""

import subprocess

import numpy as np
from aiida_cp2k.utils import Cp2kInput

from aiida_qdots.analysis.normal_modes import normal_modes
from aiida_qdots.analysis.vibrations import hessian_from_forces
from aiida_qdots.common.units import BOHR_ANGSTROM, HARTREE_EV
from aiida_qdots.protocols import cp2k_method, recursive_merge
from aiida_qdots.readers.cp2k_vibrations import CP2K_MASSES

STEP_BOHR = 0.01


def cp2k_forces(symbols, positions, cell, workdir) -> np.ndarray:
    """GFN1-xTB (``fast``) forces (N, 3) in eV/angstrom of one geometry."""
    atoms = list(zip(symbols, positions, strict=True))
    parameters = recursive_merge(
        cp2k_method(symbols, 'fast'),
        {
            'GLOBAL': {'RUN_TYPE': 'ENERGY_FORCE', 'PROJECT': 'fd'},
            'FORCE_EVAL': {
                'DFT': {'SCF': {'EPS_SCF': 1e-8}},
                'PRINT': {'FORCES': {'_': 'ON'}},
                'SUBSYS': {
                    'CELL': {'ABC': ' '.join(f'{x:.8f}' for x in np.diag(cell))},
                    'COORD': {' ': [f'{s} {x:.10f} {y:.10f} {z:.10f}' for s, (x, y, z) in atoms]},
                },
            },
        },
    )
    (workdir / 'fd.inp').write_text(Cp2kInput(parameters).render())
    output = subprocess.run(
        ['cp2k.psmp', '-i', 'fd.inp'], cwd=workdir, capture_output=True, text=True, check=True
    ).stdout
    block = output.split('ATOMIC FORCES in [a.u.]')[-1].splitlines()[3 : 3 + len(symbols)]
    return np.array([line.split()[3:6] for line in block], dtype=float) * HARTREE_EV / BOHR_ANGSTROM


def displaced_force_hessian(structure, workdir) -> np.ndarray:
    """Vibrational wavenumbers (cm^-1) from a central-difference Hessian of CP2K forces of ``structure``."""
    atoms = structure.get_ase()
    symbols, positions = atoms.get_chemical_symbols(), atoms.positions
    step = STEP_BOHR * BOHR_ANGSTROM
    forces = {}
    for sign in (1, -1):
        forces[sign] = []
        for k in range(positions.size):
            displaced = positions.ravel().copy()
            displaced[k] += sign * step
            forces[sign].append(cp2k_forces(symbols, displaced.reshape(-1, 3), atoms.cell.array, workdir))
    hessian = hessian_from_forces(np.array(forces[1]), np.array(forces[-1]), step)
    masses = np.array([CP2K_MASSES[s] for s in symbols])
    modes = normal_modes(hessian, masses, positions)
    return modes.wavenumbers_cm1[~modes.rigid_mask]
