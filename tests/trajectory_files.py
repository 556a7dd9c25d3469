"""Writers of small trajectory files in the real formats (extended XYZ, POSCAR, XDATCAR, CP2K) for the tests."""

from __future__ import annotations

import pathlib

import numpy as np

SYMBOLS = ['Cd', 'Cd', 'Se', 'Cl']
CELL = np.diag([10.0, 11.0, 12.0])


def frames(n_frames: int = 5, n_atoms: int = 4, seed: int = 7) -> np.ndarray:
    """Reproducible positions (T, N, 3) in angstrom inside :data:`CELL`."""
    rng = np.random.default_rng(seed)
    base = rng.uniform(1.0, 9.0, size=(n_atoms, 3))
    return base[None] + 0.05 * rng.standard_normal((n_frames, n_atoms, 3))


def extxyz_text(positions: np.ndarray, symbols=SYMBOLS, labels: bool = True, lattice: bool = True) -> str:
    out = []
    for k, frame in enumerate(positions):
        comment = []
        if lattice:
            comment.append('Lattice="' + ' '.join(f'{x:.10f}' for x in CELL.ravel()) + '"')
        comment.append('Properties=species:S:1:pos:R:3 pbc="F F F"')
        if labels:
            comment.append(f'source_frame=st{k + 1}')
        out.append(f'{len(symbols)}\n{" ".join(comment)}\n')
        out.extend(f'{s} {x:.16f} {y:.16f} {z:.16f}\n' for s, (x, y, z) in zip(symbols, frame, strict=True))
    return ''.join(out)


def poscar_text(
    symbols: list[str],
    cell: np.ndarray,
    positions: np.ndarray,
    cartesian: bool = False,
    scale: float = 1.0,
    comment: str = 'frame',
) -> str:
    """A VASP 5 POSCAR; ``cell`` and Cartesian ``positions`` are the unscaled values written to the file."""
    species = list(dict.fromkeys(symbols))
    lines = [comment, f'{scale:.10f}']
    lines += ['  ' + ' '.join(f'{x:.10f}' for x in row) for row in cell]
    lines += ['  ' + '  '.join(species), '  ' + '  '.join(str(symbols.count(s)) for s in species)]
    lines.append('Cartesian' if cartesian else 'Direct')
    coords = positions if cartesian else positions @ np.linalg.inv(cell)
    lines += [' '.join(f'{x:.10f}' for x in row) for row in coords]
    return '\n'.join(lines) + '\n'


def xdatcar_text(
    symbols: list[str], cells: np.ndarray, positions: np.ndarray, variable: bool = False, cartesian: bool = False
) -> str:
    """A VASP 5 XDATCAR with one header (fixed cell) or a header before every configuration (variable cell)."""
    species = list(dict.fromkeys(symbols))
    mode = 'Cartesian' if cartesian else 'Direct'

    def header(cell):
        rows = [f'    {" ".join(f"{x:12.6f}" for x in row)}' for row in cell]
        return [
            'unknown system',
            '           1',
            *rows,
            '   ' + '   '.join(species),
            '   ' + '   '.join(f'{symbols.count(s):3d}' for s in species),
        ]

    lines = header(cells[0])
    for k, (cell, pos) in enumerate(zip(cells, positions, strict=True)):
        if variable and k > 0:
            lines += header(cell)
        lines.append(f'{mode} configuration=  {k + 1:5d}')
        coords = pos if cartesian else pos @ np.linalg.inv(cell)
        lines += ['  ' + ' '.join(f'{x:11.8f}' for x in row) for row in coords]
    return '\n'.join(lines) + '\n'


def cp2k_text(symbols: list[str], values: np.ndarray, steps, dt_fs: float = 0.5) -> str:
    """CP2K's XYZ trajectory layout (positions in angstrom or velocities in bohr/au_time)."""
    out = []
    for step, frame in zip(steps, values, strict=True):
        energy = -1234.5678901234 - step
        out.append(f'{len(symbols):8d}\n i = {step:8d}, time = {step * dt_fs:12.3f}, E = {energy:20.10f}\n')
        out.extend(f'  {s:2s} {x:20.10f} {y:20.10f} {z:20.10f}\n' for s, (x, y, z) in zip(symbols, frame, strict=True))
    return ''.join(out)


def write(path: pathlib.Path, text: str) -> pathlib.Path:
    path.write_text(text)
    return path
