"""Benchmark: mode projection vs a bare BLAS matmul of the same shape, G(r) of a 10 000-atom frame, LAMMPS speed.

1. :func:`aiida_qdots.analysis.mode_lifetimes.project_velocities` of a 3 000-atom particle over ``--frames``
   (10 000) frames onto all 9 000 modes, against one bare ``numpy.matmul`` of the same (frames, 3N) x (3N, 3N)
   shape timed in the same run; velocities are generated chunk by chunk and only the (frames, modes) result is
   kept, so memory stays bounded (peak RSS printed).
2. :func:`aiida_qdots.analysis.pdf.reduced_pdf` of one frame of a ~10 000-atom (8.2 nm) wurtzite particle to
   10 A, and the same histogram by all-pairs ``scipy.spatial.distance.pdist`` as the baseline.
3. LAMMPS atom-steps/s for the default SW force field on a 3 nm particle (``lmp``, 1 and 2 MPI ranks), run
   directly from a generated qdots MD script (skipped, saying so, when ``lmp`` or ``mpirun`` is not on PATH).

Every input is generated. Goals (issue 20): projection at bare-matmul speed (ratio <= 1.2 allowing for timing
noise), G(r) of the 10 224-atom frame in 0.14 s.

Usage: ``python benchmarks/bench_phonons.py [--atoms 3000] [--frames 10000] [--diameter 82] [--skip-lammps]``
"""

from __future__ import annotations

import argparse
import os
import pathlib
import resource
import shutil
import subprocess
import tempfile
import time

import numpy as np
from _common import Result
from scipy.spatial.distance import pdist

from aiida_qdots.analysis.mode_lifetimes import project_velocities
from aiida_qdots.analysis.pdf import electron_weights, reduced_pdf
from aiida_qdots.structures.nanocrystals import build_nanocrystal

PROJECTION_GOAL = 1.2
PDF_GOAL_S = 0.14
QUICK = ['--atoms', '300', '--frames', '1000', '--diameter', '30', '--skip-lammps']


def bench_projection(n_atoms: int, n_frames: int, chunk: int) -> Result:
    rng = np.random.default_rng(0)
    masses = rng.uniform(30, 120, n_atoms)
    eigenvectors, _ = np.linalg.qr(rng.normal(size=(3 * n_atoms, 3 * n_atoms)))
    with tempfile.TemporaryDirectory() as folder:
        velocities = np.lib.format.open_memmap(
            pathlib.Path(folder) / 'v.npy', mode='w+', dtype=np.float64, shape=(n_frames, n_atoms, 3)
        )
        for start in range(0, n_frames, chunk):
            velocities[start : start + chunk] = rng.normal(size=(min(chunk, n_frames - start), n_atoms, 3))
        start = time.perf_counter()
        projected = project_velocities(velocities, masses, eigenvectors, chunk_frames=chunk)
        ours = time.perf_counter() - start
        block = np.asarray(velocities[:chunk]).reshape(chunk, -1)
        del velocities
    start = time.perf_counter()
    for _ in range(0, n_frames, chunk):
        np.matmul(block, eigenvectors)
    bare = time.perf_counter() - start
    print(
        f'projection {n_frames} frames x {n_atoms} atoms -> {projected.shape[1]} modes: {ours:.2f} s; bare BLAS '
        f'matmul of the same shape {bare:.2f} s; ratio {ours / bare:.2f} (goal <= {PROJECTION_GOAL:g}); peak RSS '
        f'{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB (velocities on disk, memory-mapped)'
    )
    return Result(
        'mode projection',
        f'{ours:.2f} s',
        ours / bare,
        'bare BLAS matmul of the same shape (time ratio)',
        f'bare-matmul speed (ratio <= {PROJECTION_GOAL:g})',
        ours / bare <= PROJECTION_GOAL if n_atoms >= 3000 and n_frames >= 10_000 else None,
        f'{n_frames} frames x {n_atoms} atoms -> {projected.shape[1]} modes',
    )


def bench_pdf(diameter: float) -> Result:
    atoms = build_nanocrystal(diameter)
    symbols = atoms.get_chemical_symbols()
    start = time.perf_counter()
    reduced_pdf(atoms.positions, symbols, r_max=10.0)
    ours = time.perf_counter() - start
    w = electron_weights(symbols)
    start = time.perf_counter()
    distances = pdist(atoms.positions)
    i, j = np.triu_indices(len(atoms), 1)
    np.histogram(distances, np.arange(0, 10.01, 0.02), weights=w[i] * w[j])
    baseline = time.perf_counter() - start
    print(
        f'G(r) of a {len(atoms)}-atom frame to 10 A: {ours:.3f} s (goal < {PDF_GOAL_S:g} s at 10 224 atoms); '
        f'all-pairs pdist baseline {baseline:.3f} s; ratio {baseline / ours:.1f}x'
    )
    return Result(
        'electron-weighted G(r)',
        f'{ours:.3f} s',
        baseline / ours,
        'all-pairs pdist + histogram',
        f'{PDF_GOAL_S:g} s at 10 224 atoms',
        ours <= PDF_GOAL_S if len(atoms) >= 10_000 else None,
        f'{len(atoms)} atoms, r <= 10 A',
    )


def bench_lammps() -> Result | None:
    if shutil.which('lmp') is None or shutil.which('mpirun') is None:
        print('LAMMPS: skipped (lmp or mpirun not on PATH)')
        return None
    from aiida import load_profile, orm
    from aiida.storage.sqlite_temp import SqliteTempBackend

    load_profile(SqliteTempBackend.create_profile(), allow_switch=True)
    from aiida_qdots.calculations.lammps.force_fields import find_potential_file
    from aiida_qdots.calculations.lammps.inputs import MDSettings, md_script, write_lammps_data

    atoms = build_nanocrystal(30.0)
    structure = orm.StructureData(ase=atoms)
    force_field = orm.SinglefileData(find_potential_file('CdTeZnSeHgS0.sw'))
    force_field.base.attributes.set_many({'pair_style': 'sw', 'elements': ['Cd', 'Se', 'S'], 'units': 'metal'})
    steps = 5000
    script = md_script(structure, force_field, MDSettings(nvt_steps=0, nve_steps=steps, thermo_every=1000))
    rates = {}
    with tempfile.TemporaryDirectory() as folder:
        folder = pathlib.Path(folder)
        (folder / 'structure.data').write_text(write_lammps_data(structure))
        (folder / 'input.in').write_text(script)
        shutil.copy(find_potential_file('CdTeZnSeHgS0.sw'), folder / 'CdTeZnSeHgS0.sw')
        env = {
            **os.environ,
            'OMP_NUM_THREADS': '1',
            'OMPI_ALLOW_RUN_AS_ROOT': '1',
            'OMPI_ALLOW_RUN_AS_ROOT_CONFIRM': '1',
        }
        for ranks in (1, 2):
            start = time.perf_counter()
            subprocess.run(
                ['mpirun', '-np', str(ranks), 'lmp', '-in', 'input.in', '-log', 'none', '-screen', 'none'],
                cwd=folder,
                env=env,
                check=True,
            )
            rates[ranks] = len(atoms) * steps / (time.perf_counter() - start)
    print(
        f'LAMMPS SW MD, {len(atoms)} atoms x {steps} steps: {rates[1]:.3g} atom-steps/s on 1 rank, '
        f'{rates[2]:.3g} on 2 ranks (ratio {rates[2] / rates[1]:.2f}; wall time incl. start-up)'
    )
    return Result(
        'LAMMPS SW MD (2 ranks)',
        f'{rates[2]:.3g} atom-steps/s',
        rates[2] / rates[1],
        'the same run on 1 rank',
        'none (informative)',
        None,
        f'{len(atoms)} atoms x {steps} steps',
    )


def run(argv: list[str] | None = None) -> list[Result]:
    """Run the benchmark with command-line arguments ``argv``; print it and return its results."""
    parser = argparse.ArgumentParser(prog=pathlib.Path(__file__).name, description=__doc__.splitlines()[0])
    parser.add_argument('--atoms', type=int, default=3000, help='atoms of the projected particle')
    parser.add_argument('--frames', type=int, default=10000)
    parser.add_argument('--chunk', type=int, default=512)
    parser.add_argument('--diameter', type=float, default=82.0, help='particle of the G(r) frame (A)')
    parser.add_argument('--skip-lammps', action='store_true')
    args = parser.parse_args(argv)
    results = [bench_projection(args.atoms, args.frames, args.chunk), bench_pdf(args.diameter)]
    lammps = None if args.skip_lammps else bench_lammps()
    return results + ([lammps] if lammps else [])


if __name__ == '__main__':
    run()
