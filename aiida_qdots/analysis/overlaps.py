"""Molecular-orbital time-overlaps <psi_i(t)|psi_j(t+dt)> from CP2K MOLDEN files, with PySCF integrals.

Runs next to CP2K's output (``python -m aiida_qdots.analysis.overlaps``) so that only the small
arrays travel: orbital energies (eV) and overlaps for an orbital window around the gap. The AO
cross-overlap between two geometries is PySCF's ``intor_cross('int1e_ovlp', mol_t, mol_t+dt)`` in
the basis the MOLDEN file itself carries, so CP2K's AO order and normalisation are used as written;
the check C^T S C = 1 at every frame catches any mismatch.
"""

from __future__ import annotations

import argparse
import pathlib
import re

import numpy as np

from aiida_qdots.analysis.nac import ORTHONORMALITY_TOLERANCE, OrthonormalityError, check_orthonormality
from aiida_qdots.common.units import HARTREE_EV

MOLDEN_STEP = re.compile(r'-(\d+)\.molden$')
__all__ = ['OrthonormalityError', 'time_overlaps']


def molden_files(folder: str | pathlib.Path) -> list[pathlib.Path]:
    """CP2K MOLDEN files (``<project>-MOS-1_<step>.molden``) in ``folder``, ordered by MD step."""
    files = [p for p in pathlib.Path(folder).glob('*.molden') if MOLDEN_STEP.search(p.name.replace('_', '-'))]
    return sorted(files, key=lambda p: int(MOLDEN_STEP.search(p.name.replace('_', '-')).group(1)))


def load_orbitals(path: str | pathlib.Path):
    """(mol, energies in eV, coefficients AO x MO, occupations) of one MOLDEN file."""
    from pyscf.tools import molden

    mol, energies, coefficients, occupations, _, _ = molden.load(str(path))
    return mol, np.asarray(energies) * HARTREE_EV, np.asarray(coefficients), np.asarray(occupations)


def orbital_window(occupations: np.ndarray, below: int, above: int) -> np.ndarray:
    """Indices of ``below`` orbitals up to the HOMO and ``above`` from the LUMO (closed shell)."""
    homo = int(np.rint(occupations.sum() / 2.0)) - 1
    if homo - below + 1 < 0 or homo + above >= len(occupations):
        raise ValueError(
            f'window of {below} occupied + {above} virtual orbitals around HOMO {homo} does not fit in '
            f'{len(occupations)} orbitals (print more ADDED_MOS)'
        )
    return np.arange(homo - below + 1, homo + above + 1)


def orbital_metric(mol, coefficients: np.ndarray) -> np.ndarray:
    """C^T S C of the given orbitals in the AO overlap S of ``mol`` (the identity for orthonormal orbitals)."""
    return coefficients.T @ mol.intor('int1e_ovlp') @ coefficients


def time_overlaps(
    paths: list[pathlib.Path], below: int, above: int, tolerance: float = ORTHONORMALITY_TOLERANCE
) -> dict[str, np.ndarray]:
    """Orbital energies and consecutive-frame overlaps for a window of ``below`` + ``above`` orbitals.

    Returns ``energies`` (frames x window, eV), ``overlaps`` (frames-1 x window x window) with
    ``overlaps[t, i, j] = <psi_i(t)|psi_j(t+1)>``, ``orthonormality_error`` per frame, ``homo_index``
    (position of the HOMO in the window) and ``orbital_index`` (0-based MO indices of the window at
    the first frame). Raises :class:`OrthonormalityError` when a frame's C^T S C deviates from 1 by
    more than ``tolerance``.
    """
    if len(paths) < 2:
        raise ValueError(f'need at least 2 MOLDEN frames, got {len(paths)}')
    from pyscf import gto

    energies, overlaps, errors = [], [], []
    previous = None
    window = None
    for path in paths:
        mol, energy, coefficients, occupations = load_orbitals(path)
        window = orbital_window(occupations, below, above)
        block = coefficients[:, window]
        error = check_orthonormality(orbital_metric(mol, block), tolerance, label=path.name)
        if previous is not None:
            prev_mol, prev_block = previous
            overlaps.append(prev_block.T @ gto.intor_cross('int1e_ovlp', prev_mol, mol) @ block)
        energies.append(energy[window])
        errors.append(error)
        previous = (mol, block)
    return {
        'energies': np.array(energies),
        'overlaps': np.array(overlaps),
        'orthonormality_error': np.array(errors),
        'homo_index': np.array(below - 1),
        'orbital_index': window,
    }


def main(argv: list[str] | None = None) -> None:
    """Command line used by the ``qdots.overlaps`` CalcJob: write ``overlaps.npz`` from a folder of MOLDEN files."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('folder', help='folder holding <project>-MOS-1_<step>.molden files')
    parser.add_argument('--below', type=int, required=True, help='orbitals up to and including the HOMO')
    parser.add_argument('--above', type=int, required=True, help='orbitals from the LUMO up')
    parser.add_argument('--output', default='overlaps.npz')
    parser.add_argument(
        '--previous', default=None, help="the previous chunk's folder: its last MOLDEN file is prepended as step 0"
    )
    args = parser.parse_args(argv)
    paths = molden_files(args.folder)
    steps = [int(MOLDEN_STEP.search(p.name.replace('_', '-')).group(1)) for p in paths]
    if args.previous is not None:
        previous = molden_files(args.previous)
        if not previous:
            raise ValueError(f'no MOLDEN file in the previous folder {args.previous}')
        paths, steps = [previous[-1], *paths], [0, *steps]
    result = time_overlaps(paths, args.below, args.above)
    steps = np.array(steps)
    np.savez_compressed(args.output, steps=steps, **result)
    print(
        f'{len(paths)} frames, window {args.below}+{args.above}, '
        f'max orthonormality error {result["orthonormality_error"].max():.2e}'
    )


if __name__ == '__main__':
    main()
