"""Benchmark: RMSF + per-element power spectra of 10 000 frames x 67 atoms (Cd28Se17Cl22 AIMD) vs a per-lag loop.

Measures, in one process, on the last ``--frames`` frames of the shared trajectory (1 fs apart; found as described
in ``benchmarks/_common.py``, else a generated trajectory of the same shape, which the output says):

1. :func:`aiida_qdots.analysis.fluctuations.rmsf` (iterated mass-weighted Kabsch alignment, per-atom/per-element);
2. central-difference velocities + :func:`aiida_qdots.analysis.spectra.power_spectrum` (mass-weighted VACF by FFT
   for each element, all lags, Hann window, spectra total and per element);
3. the baseline: the same per-element mass-weighted VACF as a straightforward loop over lags
   (``C(tau) = sum m v[:T-tau].v[tau:] / T`` for every tau), followed by the same transform to spectra.

The fast path is timed ``--repeat`` times (best and median reported; the machine may be shared); the baseline once.
Prints both, their ratio, and the agreement of the two VACFs. Goal (issue 20): RMSF + spectra of 1e4 frames in 0.5 s.

Usage: ``python benchmarks/bench_analysis.py [--data-dir DIR | --path FILE] [--frames 10000] [--repeat 5]``
"""

from __future__ import annotations

import argparse
import pathlib
import statistics
import time

import numpy as np
from _common import CLUSTER_SYMBOLS, Result, add_data_options, find_shared_file, synthetic_trajectory

TRAJECTORY = 'cl_aimd_frames_1-15000.extxyz.gz'
GOAL_S = 0.5
QUICK = ['--frames', '1000', '--repeat', '2', '--generated']


def loop_vacf(velocities: np.ndarray, masses: np.ndarray, groups: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Biased mass-weighted VACF per group by an explicit loop over lags, O(T^2 N)."""
    n_frames = velocities.shape[0]
    out = {}
    for name, atoms in groups.items():
        v = velocities[:, atoms, :]
        weights = masses[atoms][None, :, None]
        out[name] = np.array([np.sum(weights * v[: n_frames - tau] * v[tau:]) for tau in range(n_frames)]) / n_frames
    return out


def run(argv: list[str] | None = None) -> list[Result]:
    """Run the benchmark with command-line arguments ``argv``; print it and return its result."""
    parser = argparse.ArgumentParser(prog=pathlib.Path(__file__).name, description=__doc__.splitlines()[0])
    parser.add_argument('--path', type=pathlib.Path, default=None, help=f'the trajectory (default: {TRAJECTORY})')
    add_data_options(parser)
    parser.add_argument('--frames', type=int, default=10_000, help='analyze the last N frames')
    parser.add_argument('--timestep', type=float, default=1.0, help='fs between frames')
    parser.add_argument('--repeat', type=int, default=5, help='repetitions of the fast path')
    args = parser.parse_args(argv)
    path = find_shared_file(TRAJECTORY, args, args.path)

    from aiida_qdots.analysis.fluctuations import atomic_masses, element_indices, rmsf
    from aiida_qdots.analysis.spectra import (
        AMU_A2_FS2_EV,
        band_fractions,
        central_difference_velocities,
        main_peak,
        power_spectrum,
        spectral_density,
    )
    from aiida_qdots.readers.trajectory import read_trajectory

    start = time.perf_counter()
    if path is None:
        positions, symbols = synthetic_trajectory(args.frames, args.timestep), CLUSTER_SYMBOLS
        source = 'generated trajectory of the same shape (shared data not used; --data-dir DIR for them):'
    else:
        parsed = read_trajectory(path)
        positions, symbols = parsed.positions[-args.frames :], parsed.symbols
        source = f'{path.name}: last'
    t_parse = time.perf_counter() - start
    n_frames, n_atoms, _ = positions.shape

    def fast():
        fluctuations = rmsf(positions, symbols)
        velocities = central_difference_velocities(positions, args.timestep)
        return fluctuations, power_spectrum(velocities, symbols, args.timestep)

    fast()  # warm-up (FFT plans, imports)
    times, rmsf_times = [], []
    for _ in range(args.repeat):
        start = time.perf_counter()
        fluctuations = rmsf(positions, symbols)
        middle = time.perf_counter()
        spectrum = power_spectrum(central_difference_velocities(positions, args.timestep), symbols, args.timestep)
        times.append(time.perf_counter() - start)
        rmsf_times.append(middle - start)
    spectra_times = [t - r for t, r in zip(times, rmsf_times, strict=True)]

    masses = atomic_masses(symbols)
    groups = element_indices(symbols)
    velocities = central_difference_velocities(positions, args.timestep)
    velocities = velocities - np.einsum('tni,n->ti', velocities, masses)[:, None, :] / masses.sum()
    start = time.perf_counter()
    slow = loop_vacf(velocities, masses, groups)
    t_loop_vacf = time.perf_counter() - start
    start = time.perf_counter()
    for correlation in slow.values():
        spectral_density(correlation * AMU_A2_FS2_EV, args.timestep, 'hann')
    t_loop_transform = time.perf_counter() - start
    t_loop = min(rmsf_times) + t_loop_vacf + t_loop_transform

    difference = max(
        np.abs(slow[e] * AMU_A2_FS2_EV - spectrum.vacf_by_element[e]).max() / spectrum.vacf_by_element[e][0]
        for e in groups
    )
    acoustic, optical = band_fractions(spectrum.frequency_cm1, spectrum.total)
    print(
        f'{source} {n_frames} frames x {n_atoms} atoms, {args.timestep:g} fs apart '
        f'(read/generate {t_parse:.2f} s, not counted)'
    )
    print(
        '  RMSF (A): '
        + ', '.join(f'{e} {v:.4f}' for e, v in fluctuations.rmsf_by_element.items())
        + f' ({fluctuations.iterations} Kabsch iterations)'
    )
    print(
        f'  main peak {main_peak(spectrum.frequency_cm1, spectrum.total):.1f} cm^-1, acoustic {acoustic:.3f}, '
        f'optical {optical:.3f}'
    )
    print(
        f'  RMSF (iterated Kabsch)                     best {min(rmsf_times):7.3f} s   median '
        f'{statistics.median(rmsf_times):7.3f} s'
    )
    print(
        f'  velocities + spectra, FFT VACF             best {min(spectra_times):7.3f} s   median '
        f'{statistics.median(spectra_times):7.3f} s'
    )
    print(
        f'  RMSF + per-element spectra (qdots)         best {min(times):7.3f} s   median '
        f'{statistics.median(times):7.3f} s   ({args.repeat} runs)'
    )
    print(f'  per-lag loop VACF ({n_frames} lags x {len(groups)} elements) {t_loop_vacf:13.3f} s')
    print(f'  RMSF + per-element spectra with the loop   {t_loop:13.3f} s')
    print(f'  loop VACF / FFT velocities+spectra:       {t_loop_vacf / min(spectra_times):8.1f}x')
    print(f'  whole analysis, loop / FFT:               {t_loop / min(times):8.1f}x')
    print(f'  max |VACF loop - VACF FFT| / C(0):        {difference:8.1e}')
    return [
        Result(
            'RMSF + per-element spectra',
            f'{min(times):.3f} s',
            t_loop / min(times),
            'per-lag loop VACF',
            f'{GOAL_S:g} s at 1e4 frames x 67 atoms',
            min(times) <= GOAL_S if n_frames == 10_000 else None,
            f'{n_frames} frames x {n_atoms} atoms, ' + ('shared AIMD' if path else 'generated'),
        )
    ]


if __name__ == '__main__':
    run()
