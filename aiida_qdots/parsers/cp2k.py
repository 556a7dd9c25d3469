"""``qdots.cp2k``: aiida-cp2k's base parser plus the SCF-convergence check it lacks and MD velocities/energies."""

from __future__ import annotations

import re

import numpy as np
from aiida import orm
from aiida_cp2k.parsers import Cp2kBaseParser

from aiida_qdots.common.units import CP2K_VELOCITY_ANGSTROM_FS, HARTREE_EV

MD_FILES = {'positions': 'aiida-pos-1.xyz', 'velocities': 'aiida-vel-1.xyz', 'energies': 'aiida-1.ener'}

SCF_CONVERGED = re.compile(r'\*\*\* SCF run converged in|outer SCF loop converged in')
SCF_FAILED = re.compile(r'SCF run NOT converged|outer SCF loop FAILED to converge')


def final_scf_converged(output: str) -> bool | None:
    """Whether the last SCF in a CP2K output converged; None when the output has no SCF at all.

    CP2K 2023.1 with an OUTER_SCF section only warns when the SCF fails and goes on with the
    unconverged energy, so the last SCF verdict decides (earlier MD/GEO_OPT steps may have failed
    and recovered).
    """
    last_ok = max((m.start() for m in SCF_CONVERGED.finditer(output)), default=-1)
    last_failed = max((m.start() for m in SCF_FAILED.finditer(output)), default=-1)
    if last_ok < 0 and last_failed < 0:
        return None
    return last_ok > last_failed


def _xyz_frames(text: str) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Symbols, step numbers and (T, N, 3) coordinates of the complete frames of a CP2K xyz file.

    A trailing frame cut short (a killed run: missing lines or a half-written last line) is dropped.
    """
    lines = text.splitlines()
    if not lines:
        return [], np.zeros(0, dtype=int), np.zeros((0, 0, 3))
    n_atoms = int(lines[0])
    n_frames = len(lines) // (n_atoms + 2)
    if n_frames and len(lines[n_frames * (n_atoms + 2) - 1].split()) < 4:
        n_frames -= 1
    block = np.array(lines[: n_frames * (n_atoms + 2)], dtype=object).reshape(n_frames, n_atoms + 2)
    steps = np.array([int(header.split(',')[0].split('=')[1]) for header in block[:, 1]])
    rows = [line.split() for line in block[:, 2:].ravel()]
    symbols = [row[0] for row in rows[:n_atoms]]
    coords = np.array([row[1:4] for row in rows], dtype=float).reshape(n_frames, n_atoms, 3)
    return symbols, steps, coords


def parse_md_output(pos_text: str, vel_text: str, ener_text: str) -> dict[str, np.ndarray | list[str]]:
    """Frames present in all three CP2K MD files (positions, velocities, ``.ener``), by step number.

    Returns symbols, ``steps``, ``positions`` (angstrom), ``velocities`` (angstrom/fs, from bohr per
    atomic time unit), ``times`` (fs), ``kinetic_energy``, ``potential_energy``, ``conserved_energy``
    (eV) and ``temperature`` (K).
    """
    symbols, pos_steps, positions = _xyz_frames(pos_text)
    _, vel_steps, velocities = _xyz_frames(vel_text)
    rows = [line.split() for line in ener_text.splitlines() if line.strip() and not line.lstrip().startswith('#')]
    ener = np.array([row[:6] for row in rows if len(row) >= 6], dtype=float).reshape(-1, 6)
    common = np.intersect1d(np.intersect1d(pos_steps, vel_steps), ener[:, 0].astype(int))
    pick = {
        name: {int(s): k for k, s in enumerate(steps)}
        for name, steps in (('pos', pos_steps), ('vel', vel_steps), ('ener', ener[:, 0].astype(int)))
    }
    ipos = [pick['pos'][s] for s in common]
    ivel = [pick['vel'][s] for s in common]
    iener = [pick['ener'][s] for s in common]
    return {
        'symbols': symbols,
        'steps': common,
        'positions': positions[ipos],
        'velocities': velocities[ivel] * CP2K_VELOCITY_ANGSTROM_FS,
        'times': ener[iener, 1],
        'kinetic_energy': ener[iener, 2] * HARTREE_EV,
        'temperature': ener[iener, 3],
        'potential_energy': ener[iener, 4] * HARTREE_EV,
        'conserved_energy': ener[iener, 5] * HARTREE_EV,
    }


MO_BLOCK = 'MO| EIGENVALUES AND OCCUPATION NUMBERS'
RESTART_GUESS_BLOCK = ' AFTER SCF STEP 0'
"""Suffix of the block CP2K prints for a wavefunction read with SCF_GUESS RESTART, before the frame's SCF."""
MO_ROW = re.compile(r'^ MO\|\s+(\d+)\s+(\S+)\s+(\S+)\s+(\S+)\s*$', re.MULTILINE)


def parse_mo_blocks(output: str) -> dict[str, np.ndarray]:
    """Orbital energies of every ``&PRINT &MO`` block in a CP2K output (one block per SCF'd frame; the block of a
    restart guess, "AFTER SCF STEP 0", is not a frame).

    Closed-shell only. The HOMO is orbital ``round(sum of occupations / 2)`` (1-based), which holds
    under Fermi smearing too. Returns ``eigenvalues`` and ``occupations`` (frames x orbitals, eV),
    ``homo``, ``lumo``, ``lumo_plus1``, ``gap`` (eV) and ``homo_index`` (0-based).
    """
    eigenvalues, occupations = [], []
    for block in output.split(MO_BLOCK)[1:]:
        if block.startswith(RESTART_GUESS_BLOCK):
            continue
        rows = np.array(MO_ROW.findall(block), dtype=float)
        if rows.size == 0:
            continue
        eigenvalues.append(rows[:, 2])
        occupations.append(rows[:, 3])
    if not eigenvalues:
        return {}
    n_mo = min(len(e) for e in eigenvalues)
    eig = np.array([e[:n_mo] for e in eigenvalues])
    occ = np.array([o[:n_mo] for o in occupations])
    homo_index = np.rint(occ.sum(axis=1) / 2.0).astype(int) - 1
    if np.any(homo_index + 2 >= n_mo):
        raise ValueError(f'only {n_mo} orbitals printed: add ADDED_MOS so that LUMO+1 exists')
    rows = np.arange(len(eig))
    return {
        'eigenvalues': eig,
        'occupations': occ,
        'homo_index': homo_index,
        'homo': eig[rows, homo_index],
        'lumo': eig[rows, homo_index + 1],
        'lumo_plus1': eig[rows, homo_index + 2],
        'gap': eig[rows, homo_index + 1] - eig[rows, homo_index],
    }


MD_ARRAY_UNITS = {
    'positions': 'angstrom',
    'velocities': 'angstrom/fs',
    'times': 'fs',
    'kinetic_energy': 'eV',
    'potential_energy': 'eV',
    'conserved_energy': 'eV',
    'temperature': 'K',
}


def md_trajectory_node(frames: dict, cell: np.ndarray | None = None, pbc=(False, False, False)) -> orm.TrajectoryData:
    """TrajectoryData of :func:`parse_md_output` frames; energies and temperature as extra arrays."""
    trajectory = orm.TrajectoryData()
    n_frames = len(frames['steps'])
    cells = None if cell is None else np.repeat(np.asarray(cell)[None], n_frames, axis=0)
    trajectory.set_trajectory(
        symbols=frames['symbols'],
        positions=frames['positions'],
        stepids=frames['steps'],
        cells=cells,
        times=frames['times'],
        velocities=frames['velocities'],
        pbc=pbc,
    )
    for name in ('kinetic_energy', 'potential_energy', 'conserved_energy', 'temperature'):
        trajectory.set_array(name, frames[name])
    trajectory.base.attributes.set('units', MD_ARRAY_UNITS)
    if n_frames > 1:
        trajectory.base.attributes.set('timestep_fs', float(np.median(np.diff(frames['times']))))
    return trajectory


def mo_energies_node(levels: dict[str, np.ndarray]) -> orm.ArrayData:
    """ArrayData of :func:`parse_mo_blocks` output, one row per frame, energies in eV."""
    node = orm.ArrayData()
    for name, values in levels.items():
        node.set_array(name, values)
    node.base.attributes.set('units', {'energy': 'eV'})
    node.base.attributes.set('convention', 'closed shell; HOMO = round(sum(occupations)/2), 1-based orbital index')
    return node


class Cp2kEnergyParser(Cp2kBaseParser):
    """Parse energy and final structure like ``cp2k_base_parser``, and fail on an unconverged final SCF.

    An unconverged final SCF returns ``ERROR_SCF_NOT_CONVERGED`` (the outputs parsed so far are kept),
    which ``cp2k.base``'s restart handler continues from the wavefunction restart file. When the MD
    position, velocity and energy files were retrieved (add them to ``additional_retrieve_list``),
    their common frames become the output ``md_trajectory``, also for a run killed mid-way.
    """

    def parse(self, **kwargs):
        exit_code = super().parse(**kwargs)
        names = self.retrieved.base.repository.list_object_names()
        if all(name in names for name in MD_FILES.values()):
            texts = {key: self.retrieved.base.repository.get_object_content(name) for key, name in MD_FILES.items()}
            frames = parse_md_output(texts['positions'], texts['velocities'], texts['energies'])
            if len(frames['steps']):
                structure = self.node.inputs.structure if 'structure' in self.node.inputs else None
                cell, pbc = (structure.cell, structure.pbc) if structure else (None, (False, False, False))
                self.out('md_trajectory', md_trajectory_node(frames, cell, pbc))
        output = self.retrieved.base.repository.get_object_content(self.node.base.attributes.get('output_filename'))
        if MO_BLOCK in output:
            try:
                levels = parse_mo_blocks(output)
            except ValueError as exc:
                self.logger.error(str(exc))
                return self.exit_codes.ERROR_OUTPUT_READ
            if levels:
                self.out('mo_energies', mo_energies_node(levels))
        if exit_code is not None and exit_code.status:
            return exit_code
        if final_scf_converged(output) is False:
            self.logger.error('the final SCF did not converge; CP2K went on with an unconverged energy')
            return self.exit_codes.ERROR_SCF_NOT_CONVERGED
        return exit_code
