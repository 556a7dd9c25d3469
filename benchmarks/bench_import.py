"""Benchmark: import of the 15 000-frame Cd28Se17Cl22 AIMD trajectory (extxyz.gz) against ASE.

Measures, in one process and in this order:

1. parsing with :func:`aiida_qdots.readers.trajectory.read_trajectory` straight from the ``.gz``
   (wall time, growth of the peak resident set size);
2. the full :func:`aiida_qdots.structures.importers.import_trajectory` (parse + store a TrajectoryData) into a
   throw-away ``core.sqlite_temp`` profile (wall time, peak RSS);
3. optionally the parse again under ``tracemalloc`` (peak Python/NumPy heap; slower while tracing);
4. ``ase.io.read(decompressed, index=':')`` on a decompressed copy in a temporary folder (the decompression is
   timed apart), and the ratio of ASE's time to ours.

The file is found as described in ``benchmarks/_common.py``; without it, a generated trajectory of the same layout
(``--frames`` frames x 67 atoms) is written to a temporary folder first, which the output says. No goal: the
ratio to ASE is informative.

Usage: ``python benchmarks/bench_import.py [--data-dir DIR | --path FILE] [--timestep 1.0] [--no-tracemalloc]``
"""

from __future__ import annotations

import argparse
import gzip
import pathlib
import resource
import shutil
import tempfile
import time
import tracemalloc

from _common import CLUSTER_SYMBOLS, Result, add_data_options, find_shared_file, synthetic_trajectory, write_extxyz_gz

TRAJECTORY = 'cl_aimd_frames_1-15000.extxyz.gz'
QUICK = ['--frames', '1000', '--no-tracemalloc', '--generated']


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far (MiB; Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(argv: list[str] | None = None) -> list[Result]:
    """Run the benchmark with command-line arguments ``argv``; print it and return its result."""
    parser = argparse.ArgumentParser(prog=pathlib.Path(__file__).name, description=__doc__.splitlines()[0])
    parser.add_argument('--path', type=pathlib.Path, default=None, help=f'the trajectory (default: {TRAJECTORY})')
    add_data_options(parser)
    parser.add_argument('--frames', type=int, default=15_000, help='frames of the generated trajectory')
    parser.add_argument('--timestep', type=float, default=1.0, help='fs between frames')
    parser.add_argument('--no-tracemalloc', action='store_true', help='skip the (slow) traced parse')
    args = parser.parse_args(argv)
    path = find_shared_file(TRAJECTORY, args, args.path)
    source = 'shared AIMD'
    with tempfile.TemporaryDirectory() as folder:
        if path is None:
            source = 'generated'
            path = pathlib.Path(folder) / 'generated_frames.extxyz.gz'
            write_extxyz_gz(path, synthetic_trajectory(args.frames, args.timestep), CLUSTER_SYMBOLS)
            print(f'shared data not used (--data-dir DIR for them): generated {args.frames} frames x 67 atoms')
        return measure(path, args, source)


def measure(path: pathlib.Path, args: argparse.Namespace, source: str) -> list[Result]:
    """Time parse, import and ASE on ``path`` (``source`` names its origin); print the table."""

    import numpy as np  # noqa: F401  (imported before the baseline so it does not count as parser memory)

    from aiida_qdots.readers.trajectory import read_trajectory

    rows = []
    base_rss = peak_rss_mib()
    start = time.perf_counter()
    parsed = read_trajectory(path)
    t_parse = time.perf_counter() - start
    rss_parse = peak_rss_mib()
    shape = parsed.positions.shape
    rows.append(('qdots parse (from .gz)', t_parse, f'peak RSS {rss_parse:.0f} MiB (+{rss_parse - base_rss:.0f})'))
    del parsed

    from aiida import load_profile
    from aiida.storage.sqlite_temp import SqliteTempBackend

    from aiida_qdots.structures.importers import import_trajectory

    with tempfile.TemporaryDirectory() as tmp:
        load_profile(SqliteTempBackend.create_profile(filepath=pathlib.Path(tmp) / 'repo'), allow_switch=True)
        start = time.perf_counter()
        node = import_trajectory(path, args.timestep)
        t_import = time.perf_counter() - start
        rows.append(
            (
                'qdots import_trajectory (parse + store)',
                t_import,
                f'peak RSS {peak_rss_mib():.0f} MiB, node PK {node.pk}',
            )
        )

        if not args.no_tracemalloc:
            tracemalloc.start()
            start = time.perf_counter()
            read_trajectory(path)
            t_traced = time.perf_counter() - start
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            rows.append(('qdots parse under tracemalloc', t_traced, f'peak traced heap {peak / 2**20:.0f} MiB'))

        import ase.io

        plain = pathlib.Path(tmp) / path.name.removesuffix('.gz')
        start = time.perf_counter()
        with gzip.open(path, 'rb') as src, open(plain, 'wb') as dst:
            shutil.copyfileobj(src, dst, 1 << 22)
        t_unzip = time.perf_counter() - start
        rows.append(('decompress to a temporary file', t_unzip, f'{plain.stat().st_size / 2**20:.0f} MiB'))
        start = time.perf_counter()
        images = ase.io.read(plain, index=':')
        t_ase = time.perf_counter() - start
        rows.append(
            ("ase.io.read(decompressed, index=':')", t_ase, f'{len(images)} frames, peak RSS {peak_rss_mib():.0f} MiB')
        )

    print(f'{path.name}: {shape[0]} frames x {shape[1]} atoms')
    for name, seconds, note in rows:
        print(f'  {name:<42} {seconds:8.2f} s   {note}')
    print(f'  ASE read / qdots parse:              {t_ase / t_parse:6.2f}x')
    print(f'  ASE read / qdots import (with store): {t_ase / t_import:6.2f}x')
    print(f'  (decompress + ASE) / qdots parse:     {(t_unzip + t_ase) / t_parse:6.2f}x')
    return [
        Result(
            'trajectory parse (extxyz.gz)',
            f'{t_parse:.2f} s',
            t_ase / t_parse,
            'ase.io.read on the decompressed file',
            'none (informative)',
            None,
            f'{shape[0]} frames x {shape[1]} atoms, {source}',
        )
    ]


if __name__ == '__main__':
    run()
