"""Shared pieces of the benchmarks: the result row, finding the shared AIMD data, generated stand-ins for it.

The shared Cd28Se17Cl22 AIMD data (``shared/data/cd28se17cl22_aimd``: an extxyz.gz of 15 000 frames x 67 atoms
and HOMO/LUMO CSVs) are looked up in this order: ``--data-dir DIR``, the environment variable ``QDOTS_AIMD_DATA``,
then ``shared/data/cd28se17cl22_aimd`` beside the clone. When none holds the file (or with ``--generated``), a
benchmark uses generated data of the same shape and says so, or, with ``--require-data``, exits with one line
saying what to pass (exit code 2).
"""

from __future__ import annotations

import argparse
import dataclasses
import gzip
import os
import pathlib
import sys

import numpy as np

AIMD_ENV = 'QDOTS_AIMD_DATA'
BESIDE_CLONE = pathlib.Path(__file__).resolve().parents[2] / 'shared' / 'data' / 'cd28se17cl22_aimd'
CLUSTER_SYMBOLS = ['Cd'] * 28 + ['Se'] * 17 + ['Cl'] * 22
"""Cd28Se17Cl22, in the order of the shared trajectory."""


@dataclasses.dataclass
class Result:
    """One measured number of a benchmark, against its goal.

    ``ratio`` is against the baseline measured in the same run (``baseline`` says what it is); ``passed`` is None
    when the benchmark has no goal for this number.
    """

    name: str
    measured: str
    ratio: float | None
    baseline: str
    goal: str
    passed: bool | None
    data: str


def add_data_options(parser: argparse.ArgumentParser) -> None:
    """``--data-dir`` and ``--require-data`` for the benchmarks that read the shared AIMD data."""
    parser.add_argument(
        '--data-dir',
        type=pathlib.Path,
        default=None,
        help=f'folder of the shared AIMD data (default: ${AIMD_ENV}, then {BESIDE_CLONE})',
    )
    parser.add_argument(
        '--require-data',
        action='store_true',
        help='exit (code 2) when the shared data are missing instead of using generated data of the same shape',
    )
    parser.add_argument('--generated', action='store_true', help='use generated data even when the shared data exist')
    parser.set_defaults(benchmark=parser.prog)


def fail(benchmark: str, message: str) -> None:
    """Exit with one line on stderr and exit code 2 (the convention of argparse for bad arguments)."""
    print(f'{benchmark}: {message}', file=sys.stderr)
    raise SystemExit(2)


def find_shared_file(name: str, args: argparse.Namespace, explicit: pathlib.Path | None = None) -> pathlib.Path | None:
    """Path of the shared AIMD file ``name`` (or ``explicit``), None when absent and generated data may stand in."""
    if explicit is not None:
        if not explicit.is_file():
            fail(args.benchmark, f'no file {explicit}; pass an existing file, or omit the option to use generated data')
        return explicit
    if args.generated:
        return None
    folders = [args.data_dir] if args.data_dir is not None else []
    if args.data_dir is None and os.environ.get(AIMD_ENV):
        folders.append(pathlib.Path(os.environ[AIMD_ENV]))
    if args.data_dir is None:
        folders.append(BESIDE_CLONE)
    for folder in folders:
        if (folder / name).is_file():
            return folder / name
    if args.require_data or args.data_dir is not None:
        fail(
            args.benchmark,
            f'{name} not found in {", ".join(map(str, folders))}; pass --data-dir DIR (or set {AIMD_ENV}) to the '
            'folder of the shared cd28se17cl22_aimd data, or omit --data-dir/--require-data to use generated data',
        )
    return None


def synthetic_trajectory(n_frames: int, timestep_fs: float = 1.0, seed: int = 0) -> np.ndarray:
    """Positions (frames, 67, 3) in A of a Cd28Se17Cl22-sized cluster vibrating in 30 random modes of 30-300 cm^-1
    (amplitude ~0.1 A each) plus a slow rigid rotation, so alignment and spectra have work to do; 1 fs apart."""
    rng = np.random.default_rng(seed)
    n_atoms, n_modes = len(CLUSTER_SYMBOLS), 30
    equilibrium = rng.uniform(6.0, 16.0, (n_atoms, 3))
    shapes = rng.normal(0.0, 0.06, (n_modes, n_atoms, 3))
    omega = 2 * np.pi * 2.998e-5 * rng.uniform(30.0, 300.0, n_modes)  # rad/fs from cm^-1
    t = np.arange(n_frames) * timestep_fs
    amplitudes = np.cos(np.outer(t, omega) + rng.uniform(0, 2 * np.pi, n_modes))
    positions = equilibrium + np.tensordot(amplitudes, shapes, axes=1)
    angle = 1e-5 * t  # rad: a slow rotation about z through the centre
    centre = equilibrium.mean(axis=0)
    x, y = positions[..., 0] - centre[0], positions[..., 1] - centre[1]
    cos, sin = np.cos(angle)[:, None], np.sin(angle)[:, None]
    positions[..., 0], positions[..., 1] = centre[0] + cos * x - sin * y, centre[1] + sin * x + cos * y
    return positions


def write_extxyz_gz(path: pathlib.Path, positions: np.ndarray, symbols: list[str]) -> None:
    """Write frames as extended XYZ, gzip-compressed, in the layout of the shared trajectory (22 A cube, no pbc)."""
    n_atoms = len(symbols)
    lattice = ' '.join(f'{v:.10f}' for v in (22.0 * np.eye(3)).ravel())
    with gzip.open(path, 'wt', compresslevel=6) as handle:
        for index, frame in enumerate(positions, start=1):
            handle.write(
                f'{n_atoms}\nLattice="{lattice}" Properties=species:S:1:pos:R:3 pbc="F F F" source_frame=st{index}\n'
            )
            handle.write(
                ''.join(
                    f'{s} {x:.16f} {y:.16f} {z:.16f}\n' for s, (x, y, z) in zip(symbols, frame.tolist(), strict=True)
                )
            )


def synthetic_gap(n_frames: int, timestep_fs: float = 2.0, seed: int = 0) -> np.ndarray:
    """HOMO-LUMO gap (eV) shaped like the shared labels (mean 1.73 eV, sigma 0.114 eV): a 200 cm^-1 oscillation
    plus noise correlated over ~20 fs, ``timestep_fs`` apart."""
    from scipy.ndimage import gaussian_filter1d

    rng = np.random.default_rng(seed)
    noise = gaussian_filter1d(rng.standard_normal(n_frames), 10.0 / timestep_fs)
    signal = np.cos(2 * np.pi * 2.998e-5 * 200.0 * timestep_fs * np.arange(n_frames)) + 2.0 * noise / noise.std()
    return 1.73 + 0.114 * (signal - signal.mean()) / signal.std()
