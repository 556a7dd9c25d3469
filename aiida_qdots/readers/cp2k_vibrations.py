"""CP2K ``VIBRATIONAL_ANALYSIS`` output (2023.1): the binary mass-weighted Hessian, the Molden [FREQ] file, the
per-displacement polarizability files of ``&LINRES &POLAR DO_RAMAN``, the dipoles of ``&PRINT &MOMENTS`` and
CP2K's own ``VIB|`` summary. Also writers of a mode as a Molden [FREQ] file and as a multi-frame extxyz.

CP2K evaluates the displacements in one replica (``NPROC_REP`` >= the number of ranks) in this order:
+DX along every Cartesian coordinate (atom-major, x y z), then -DX along each, then the undisplaced structure.
"""

from __future__ import annotations

import re
import struct

import numpy as np

from aiida_qdots.common.units import BOHR_ANGSTROM, HARTREE_EV

CP2K_MASSES = {
    'H': 1.00794,
    'C': 12.0107,
    'N': 14.0067,
    'O': 15.9994,
    'S': 32.065,
    'Cl': 35.453,
    'Se': 78.96,
    'Cd': 112.411,
}
"""Atomic masses (amu) of CP2K 2023.1's element table for the elements of the studies and test molecules."""

HESSIAN_FILE_SCALE = 1.0e-6
"""CP2K writes the mass-weighted Hessian in units of 1e-6 hartree / (bohr^2 electron mass)."""

ELECTRON_MASS_AMU = 5.48579909065e-4
HARTREE_CM1 = 219474.6313632
"""One hartree in cm^-1: omega (a.u.) -> wavenumber."""

DEBYE_E_ANGSTROM = 0.20819434
"""One debye in e angstrom."""

VIB_ROWS = {
    'Frequency (cm^-1)': 'wavenumbers',
    'IR int (KM/Mole)': 'ir_intensities',
    'Raman (A^4/amu)': 'raman_activities',
    'Depol Ratio (P)': 'depolarization_ratios',
}
TB_DIPOLE = re.compile(r'TB_DIPOLE\| Moment \[a\.u\.\]\s+(\S+)\s+(\S+)\s+(\S+)')
DFT_DIPOLE = re.compile(r'Dipole moment \[Debye\]\s*\n\s*X=\s*(\S+)\s+Y=\s*(\S+)\s+Z=\s*(\S+)')


def read_hessian_file(content: bytes) -> np.ndarray:
    """The mass-weighted Hessian (3N, 3N) in hartree / (bohr^2 electron mass) of a CP2K ``*-Hessian-1.hess`` file
    (Fortran unformatted sequential records, one row each)."""
    rows, offset = [], 0
    while offset < len(content):
        (length,) = struct.unpack('<i', content[offset : offset + 4])
        rows.append(np.frombuffer(content[offset + 4 : offset + 4 + length], dtype='<f8'))
        offset += length + 8
    hessian = np.array(rows)
    if hessian.ndim != 2 or hessian.shape[0] != hessian.shape[1]:
        raise ValueError(f'not a square Hessian: {len(rows)} records of lengths {sorted({len(r) for r in rows})}')
    return hessian * HESSIAN_FILE_SCALE


def cartesian_hessian(mass_weighted_au: np.ndarray, masses_amu: np.ndarray) -> np.ndarray:
    """Cartesian Hessian in eV/angstrom^2 from CP2K's mass-weighted one (hartree / (bohr^2 electron mass)) and the
    masses (amu) CP2K weighted it with."""
    sqrt_m = np.repeat(np.sqrt(np.asarray(masses_amu, dtype=float) / ELECTRON_MASS_AMU), 3)
    return mass_weighted_au * np.outer(sqrt_m, sqrt_m) * HARTREE_EV / BOHR_ANGSTROM**2


def read_polarizability(text: str) -> np.ndarray:
    """The 3x3 polarizability tensor (angstrom^3) of a CP2K ``*-raman-*.data`` file (or a POLAR block)."""
    block = text.split('(Angstrom^3)', 1)
    if len(block) != 2:
        raise ValueError('no "POLARIZABILITY TENSOR (Angstrom^3)" block')
    rows = [line.split()[-3:] for line in block[1].splitlines()[1:4]]
    (xx, yy, zz), (xy, xz, yz), (yx, zx, zy) = np.array(rows, dtype=float)
    return np.array([[xx, xy, xz], [yx, yy, yz], [zx, zy, zz]])


def raman_file_index(name: str) -> int:
    """Displacement index k of ``<project>-r-0-raman-1_<k>.data`` (1-based; 6N+1 is the undisplaced structure)."""
    match = re.search(r'raman-\d+_(\d+)\.data$', name)
    if match is None:
        raise ValueError(f'not a CP2K Raman data file name: {name}')
    return int(match.group(1))


def read_dipoles(output: str) -> np.ndarray:
    """Dipole moments (K, 3) in e angstrom, in the order printed (xTB ``TB_DIPOLE`` in a.u. or DFT in debye)."""
    tb = TB_DIPOLE.findall(output)
    if tb:
        return np.array(tb, dtype=float) * BOHR_ANGSTROM
    return np.array(DFT_DIPOLE.findall(output), dtype=float).reshape(-1, 3) * DEBYE_E_ANGSTROM


def split_displacements(values: np.ndarray, n_atoms: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(+DX values, -DX values, undisplaced value) of the 6N+1 values of a CP2K vibrational analysis."""
    values = np.asarray(values, dtype=float)
    n = 3 * n_atoms
    if len(values) != 2 * n + 1:
        raise ValueError(f'expected {2 * n + 1} values (6N+1) for {n_atoms} atoms, found {len(values)}')
    return values[:n], values[n : 2 * n], values[2 * n]


def read_vib_summary(output: str) -> dict[str, np.ndarray]:
    """CP2K's own ``VIB|`` table: wavenumbers (cm^-1), IR intensities (km/mol), Raman activities (angstrom^4/amu)
    and depolarization ratios (plane-polarized), one entry per mode (rows absent from the output are omitted)."""
    columns: dict[str, list[float]] = {}
    for line in output.splitlines():
        if not line.startswith(' VIB|'):
            continue
        for label, key in VIB_ROWS.items():
            if line[5:].startswith(label):
                values = line[5 + len(label) :].split()  # CP2K prints *** for a value too wide for its field
                columns.setdefault(key, []).extend(float('nan') if '*' in v else float(v) for v in values)
    return {key: np.array(values) for key, values in columns.items()}


def read_molden_vibrations(text: str) -> dict:
    """Symbols, positions (angstrom), wavenumbers (cm^-1) and Cartesian mode displacements (M, N, 3) of a Molden
    file with [FREQ], [FR-COORD] (bohr) and [FR-NORM-COORD] sections (CP2K's ``MOLDEN_VIB``, :func:`write_molden`)."""
    sections = {
        m.group(1).upper(): m.group(2)
        for m in re.finditer(r'\[([A-Z-]+)\][^\n]*\n(.*?)(?=^\s*\[|\Z)', text, re.S | re.M)
    }
    missing = {'FREQ', 'FR-COORD', 'FR-NORM-COORD'} - set(sections)
    if missing:
        raise ValueError(f'Molden file without {", ".join(sorted(missing))}')
    wavenumbers = np.array(sections['FREQ'].split(), dtype=float)
    rows = [line.split() for line in sections['FR-COORD'].strip().splitlines()]
    symbols = [row[0] for row in rows]
    positions = np.array([row[1:4] for row in rows], dtype=float) * BOHR_ANGSTROM
    numbers = [line.split() for line in sections['FR-NORM-COORD'].strip().splitlines() if 'vibration' not in line]
    modes = np.array(numbers, dtype=float).reshape(len(wavenumbers), len(symbols), 3)
    return {'symbols': symbols, 'positions': positions, 'wavenumbers': wavenumbers, 'modes': modes}


def write_molden(symbols: list[str], positions: np.ndarray, wavenumbers: np.ndarray, modes: np.ndarray) -> str:
    """Molden [FREQ] file (Jmol, Molden, Avogadro animate it) of modes (M, N, 3) at ``positions`` (angstrom)."""
    bohr = np.asarray(positions, dtype=float) / BOHR_ANGSTROM
    lines = ['[Molden Format]', '[FREQ]', *(f'{w:14.6f}' for w in wavenumbers), '[FR-COORD]']
    lines += [f'{s:<3} {x:14.8f} {y:14.8f} {z:14.8f}' for s, (x, y, z) in zip(symbols, bohr, strict=True)]
    lines.append('[FR-NORM-COORD]')
    for m, mode in enumerate(np.asarray(modes, dtype=float), start=1):
        lines.append(f'vibration {m}')
        lines += [f'{x:14.8f} {y:14.8f} {z:14.8f}' for x, y, z in mode]
    return '\n'.join(lines) + '\n'


def write_mode_extxyz(symbols: list[str], frames: np.ndarray, pattern: np.ndarray, comment: str = '') -> str:
    """Multi-frame extended XYZ (ASE, OVITO) of a mode's animation frames (F, N, 3) with its displacement pattern
    (N, 3) as the per-atom ``mode`` vector of every frame."""
    out = []
    for index, frame in enumerate(np.asarray(frames, dtype=float)):
        out.append(str(len(symbols)))
        out.append(f'Properties=species:S:1:pos:R:3:mode:R:3 frame={index} pbc="F F F" {comment}'.rstrip())
        out += [
            f'{s:<3} {p[0]:.8f} {p[1]:.8f} {p[2]:.8f} {d[0]:.8f} {d[1]:.8f} {d[2]:.8f}'
            for s, p, d in zip(symbols, frame, pattern, strict=True)
        ]
    return '\n'.join(out) + '\n'
