"""Benchmark: import of the 15 000-frame Cd28Se17Cl22 AIMD trajectory (extxyz.gz) against ASE.

Measures, in one process and in this order:

1. parsing with :func:`aiida_qdots.readers.trajectory.read_trajectory` straight from the ``.gz``
   (wall time, growth of the peak resident set size);
2. the full :func:`aiida_qdots.structures.importers.import_trajectory` (parse + store a TrajectoryData) into a
   throw-away ``core.sqlite_temp`` profile (wall time, peak RSS);
3. optionally the parse again under ``tracemalloc`` (peak Python/NumPy heap; slower while tracing);
4. ``ase.io.read(decompressed, index=':')`` on a decompressed copy in a temporary folder (the decompression is
   timed apart), and the ratio of ASE's time to ours.

Usage: ``python benchmarks/bench_import.py [--path FILE] [--timestep 1.0] [--no-tracemalloc]``
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

DEFAULT_PATH = (
    pathlib.Path(__file__).resolve().parents[2]
    / 'shared'
    / 'data'
    / 'cd28se17cl22_aimd'
    / 'cl_aimd_frames_1-15000.extxyz.gz'
)


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far (MiB; Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--path', type=pathlib.Path, default=DEFAULT_PATH)
    parser.add_argument('--timestep', type=float, default=1.0, help='fs between frames')
    parser.add_argument('--no-tracemalloc', action='store_true', help='skip the (slow) traced parse')
    args = parser.parse_args()

    import numpy as np  # noqa: F401  (imported before the baseline so it does not count as parser memory)

    from aiida_qdots.readers.trajectory import read_trajectory

    rows = []
    base_rss = peak_rss_mib()
    start = time.perf_counter()
    parsed = read_trajectory(args.path)
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
        node = import_trajectory(args.path, args.timestep)
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
            read_trajectory(args.path)
            t_traced = time.perf_counter() - start
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            rows.append(('qdots parse under tracemalloc', t_traced, f'peak traced heap {peak / 2**20:.0f} MiB'))

        import ase.io

        plain = pathlib.Path(tmp) / args.path.name.removesuffix('.gz')
        start = time.perf_counter()
        with gzip.open(args.path, 'rb') as src, open(plain, 'wb') as dst:
            shutil.copyfileobj(src, dst, 1 << 22)
        t_unzip = time.perf_counter() - start
        rows.append(('decompress to a temporary file', t_unzip, f'{plain.stat().st_size / 2**20:.0f} MiB'))
        start = time.perf_counter()
        images = ase.io.read(plain, index=':')
        t_ase = time.perf_counter() - start
        rows.append(
            ("ase.io.read(decompressed, index=':')", t_ase, f'{len(images)} frames, peak RSS {peak_rss_mib():.0f} MiB')
        )

    print(f'{args.path.name}: {shape[0]} frames x {shape[1]} atoms')
    for name, seconds, note in rows:
        print(f'  {name:<42} {seconds:8.2f} s   {note}')
    print(f'  ASE read / qdots parse:              {t_ase / t_parse:6.2f}x')
    print(f'  ASE read / qdots import (with store): {t_ase / t_import:6.2f}x')
    print(f'  (decompress + ASE) / qdots parse:     {(t_unzip + t_ase) / t_parse:6.2f}x')


if __name__ == '__main__':
    main()
