"""Benchmark: DISH trajectory-steps per second, vectorised (numba / NumPy) vs a plain per-trajectory Python loop.

The Hamiltonian is the S0/S1 model on the real Cd28Se17Cl22 gap (HOMO/LUMO labels every 2 fs, linearly
interpolated to the 1 fs AIMD step), with a *synthetic* HOMO-LUMO NAC (the shared data have no wavefunctions):
Gaussian noise smoothed over ``--nac-correlation-fs`` (a Gaussian kernel, periodic, so that like a real NAC it
has no spectral weight at the gap frequency), scaled to a mean |hbar d| of ``--nac-mev`` (default 1.06 meV, the
paper's Cd0 value). The decoherence time is the paper-convention (Gaussian-fit) dephasing time of the same gap.

Measured in one process:

1. the production run, ``--duration-ns`` (1 ns) x ``--realisations`` (1000: ``--initial-times`` x the rest),
   with the default backend (numba when installed, its compilation timed separately);
2. the NumPy backend (vectorised over realisations) on ``--numpy-steps`` steps of the same realisations;
3. the plain per-trajectory Python loop (the reference backend: the same per-realisation code, interpreted) on
   ``--python-realisations`` x ``--python-steps``; its hops are compared with the vectorised run's.

Prints trajectory-steps per second of each, the ratios to the Python loop, the 1 ns wall time and the fitted
recombination time with its bootstrap interval (illustrative: the NAC is synthetic). Goal (issue 20): 2.7-3.1e7
trajectory-steps/s (1 ns x 1000 realisations in 32 s).

The labels CSV is found as described in ``benchmarks/_common.py``; without it, a generated gap of the same length
and statistics stands in (the output says so).

Usage: ``python benchmarks/bench_dish.py [--data-dir DIR | --levels FILE] [--duration-ns 1] [--realisations 1000]
[--threads 2]``
"""

from __future__ import annotations

import argparse
import math
import pathlib
import time

import numpy as np
from _common import Result, add_data_options, find_shared_file, synthetic_gap

LEVELS = 'Cl_QD_elec_1-10k.csv'
GOAL_RATE = 2.7e7
QUICK = ['--duration-ns', '0.01', '--realisations', '100', '--numpy-steps', '2000', '--python-steps', '2000']


def run(argv: list[str] | None = None) -> list[Result]:
    """Run the benchmark with command-line arguments ``argv``; print it and return its result."""
    parser = argparse.ArgumentParser(prog=pathlib.Path(__file__).name, description=__doc__.splitlines()[0])
    parser.add_argument('--levels', type=pathlib.Path, default=None, help=f'the labels CSV (default: {LEVELS})')
    add_data_options(parser)
    parser.add_argument('--duration-ns', type=float, default=1.0)
    parser.add_argument('--realisations', type=int, default=1000)
    parser.add_argument('--initial-times', type=int, default=10)
    parser.add_argument('--numpy-steps', type=int, default=20_000)
    parser.add_argument('--python-steps', type=int, default=20_000)
    parser.add_argument('--python-realisations', type=int, default=2)
    parser.add_argument('--nac-mev', type=float, default=1.06)
    parser.add_argument('--nac-correlation-fs', type=float, default=10.0)
    parser.add_argument('--threads', type=int, default=None, help='numba threads (default: all cores)')
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args(argv)
    path = find_shared_file(LEVELS, args, args.levels)

    from scipy.ndimage import gaussian_filter1d

    from aiida_qdots.analysis import surface_hopping as sh
    from aiida_qdots.analysis.dephasing import dephasing_analysis
    from aiida_qdots.common.units import HBAR_EV_FS
    from aiida_qdots.readers.levels import parse_levels_csv

    if path is None:
        gap_2fs, source = synthetic_gap(5000), 'generated gap'
        print('shared data not used (--data-dir DIR for them): a generated gap of 5000 frames, 2 fs apart')
    else:
        gap_2fs, source = parse_levels_csv(path.read_bytes(), path.name, 2).energies['gap'], 'real gap'
    tau = dephasing_analysis(gap_2fs, 2.0).times_fs['gaussian_cumulant']
    gap = np.interp(np.arange(2 * gap_2fs.size - 1), 2 * np.arange(gap_2fs.size), gap_2fs)  # 1 fs MD step
    dt = 1.0
    rng = np.random.default_rng(args.seed)
    smooth = gaussian_filter1d(rng.standard_normal(gap.size - 1), args.nac_correlation_fs / dt, mode='wrap')
    coupling = smooth * args.nac_mev * 1e-3 / np.abs(smooth).mean()  # hbar d (eV), mean |hbar d| = nac_mev
    energies, nacs = sh.two_state_model(gap, coupling / HBAR_EV_FS)
    steps = round(args.duration_ns * 1e6 / dt)
    per_time = max(1, args.realisations // args.initial_times)
    common = dict(initial_frames=args.initial_times, n_realisations=per_time, temperature_k=300.0, seed=args.seed)
    n_real = per_time * args.initial_times
    print(
        f'Hamiltonian: S0/S1 on the {source} ({gap.size} frames at {dt:g} fs, mean {gap.mean():.3f} eV, '
        f'sigma {gap.std():.3f} eV), synthetic NAC mean |hbar d| = {args.nac_mev:g} meV, '
        f'decoherence time (gaussian_cumulant) {tau:.2f} fs'
    )

    try:
        import numba
    except ImportError:
        numba = None
    backend = 'numba' if numba is not None else 'numpy'
    if numba is not None:
        if args.threads:
            numba.set_num_threads(args.threads)
        start = time.perf_counter()
        sh.dish(energies, nacs, dt, tau, n_steps=10, backend='numba', **common)
        print(f'numba: {numba.get_num_threads()} threads, compile/load {time.perf_counter() - start:.2f} s')
    else:
        print('numba is not installed: the production run uses the NumPy backend')

    start = time.perf_counter()
    result = sh.dish(energies, nacs, dt, tau, n_steps=steps, backend=backend, **common)
    production = time.perf_counter() - start
    rate_fast = result.trajectory_steps / production
    print(
        f'{backend}: {args.duration_ns:g} ns x {n_real} realisations ({result.trajectory_steps:.3g} '
        f'trajectory-steps) in {production:.2f} s = {rate_fast:.3g} trajectory-steps/s'
    )

    start = time.perf_counter()
    numpy_run = sh.dish(energies, nacs, dt, tau, n_steps=args.numpy_steps, backend='numpy', **common)
    rate_numpy = numpy_run.trajectory_steps / (time.perf_counter() - start)
    print(f'numpy (vectorised over {n_real} realisations): {rate_numpy:.3g} trajectory-steps/s')

    few = dict(common, initial_frames=[0], n_realisations=args.python_realisations)
    start = time.perf_counter()
    loop = sh.dish(energies, nacs, dt, tau, n_steps=args.python_steps, backend='python', **few)
    rate_loop = loop.trajectory_steps / (time.perf_counter() - start)
    print(f'plain Python per-trajectory loop: {rate_loop:.3g} trajectory-steps/s')
    check = sh.dish(energies, nacs, dt, tau, n_steps=args.python_steps, backend=backend, **few)
    same = np.array_equal(check.active, loop.active) and np.array_equal(
        check.n_decoherence_events, loop.n_decoherence_events
    )
    print(
        f'same hops and decoherence events as the Python loop: {same} ({int(loop.n_decoherence_events.sum())} events)'
    )
    print(
        f'ratio {backend} / Python loop: {rate_fast / rate_loop:.0f}x;  numpy / Python loop: '
        f'{rate_numpy / rate_loop:.0f}x'
    )
    print(f'1 ns x 1000 realisations at this speed: {1e9 / rate_fast:.1f} s')

    report = sh.check_population_conservation(result)
    fit = sh.fit_recombination(result, n_bootstrap=1000)
    print(
        f'population conservation: max norm error {report["max_norm_error"]:.2e}; hops {int(result.n_hops.sum())}, '
        f'decoherence events per realisation {result.n_decoherence_events.mean():.0f}'
    )
    print(
        f'recombination (synthetic NAC): tau = {fit.tau_ns:.2f} ns, 95 % interval {fit.ci_ns[0]:.2f}-'
        f'{fit.ci_ns[1]:.2f} ns; golden-rule estimate 2<V^2><dE^-2>/tau_eff = '
        f'{1e-6 / sh.golden_rule_rate(np.sqrt(np.mean(coupling**2)), gap, math.ceil(tau / dt) * dt):.2f} ns'
    )
    full_size = steps >= 1_000_000 and n_real >= 1000
    return [
        Result(
            f'DISH ({backend})',
            f'{rate_fast:.3g} trajectory-steps/s',
            rate_fast / rate_loop,
            'plain-Python per-trajectory loop',
            '2.7-3.1e7 trajectory-steps/s at 1 ns x 1000',
            rate_fast >= GOAL_RATE if full_size else None,
            f'{args.duration_ns:g} ns x {n_real} realisations, {source}',
        )
    ]


if __name__ == '__main__':
    run()
