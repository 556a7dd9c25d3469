"""Benchmark: Gillespie SSA compiled over realisations vs a plain-Python SSA loop, and master-equation fits.

Runs from a fresh clone with no arguments (every input is generated). Measured in one process, on the demo's
pumps at the seed's conditions (aiida_qdots.data.ued.SEED_SETS: CdSe/CdS, 510 nm at 2.1 mJ/cm^2 with <N> = 21,
Auger hot electrons : hot holes 3:1, trapping barrier 0.2 eV: Auger-made holes trap, photoexcited ones do not;
340 nm at the same <N>, where the photoexcited holes trap too), to 1.5 ns:

1. :func:`aiida_qdots.analysis.kinetics.gillespie` on ``--trajectories`` realisations (numba's default threads,
   and one thread), against :func:`python_ssa` below, the same events one realisation at a time in plain Python
   (``random`` module), on ``--python-trajectories``; each timing is the best of ``--repeats``. Printed: events
   per second and their ratio; the same seed's statistics (mean and variance of the deposited energy and of the
   trapped pairs at 1.5 ns: SSA, Python loop and the exact master equation, with z-scores); and whether the
   same seed gives identical events on one thread and on all.
2. The joint fit of (tau_AR, tau_trap) to both pumps' noisy dT(t) from a poor start by the master equation, <N>
   fixed by the cross-sections (20 % uncertainty propagated): wall time per fit.

Goals (issue 20): SSA >= 10x the plain-Python loop; a master-equation fit under 1 s.
Usage: ``python benchmarks/bench_kinetics.py [--trajectories 200000] [--python-trajectories 5000] [--repeats 3]``
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import pathlib
import random
import time

import numba
import numpy as np
from _common import Result

from aiida_qdots.analysis.kinetics import Pump, fit_lattice_heating, gillespie, master_equation
from aiida_qdots.data.ued import SEED_SETS, SIGMA_REL_ERR

QUICK = ['--trajectories', '5000', '--python-trajectories', '500', '--repeats', '1']

T_MAX = 1500.0


def python_ssa(model, fluence: float, n_trajectories: int, t_max: float, seed: int) -> tuple[np.ndarray, int]:
    """Deposited energy (eV) and trapped pairs at ``t_max`` per realisation, and the number of events: one
    realisation and one event at a time, plain Python."""
    rng = random.Random(seed)
    mean = model.mean_pairs(fluence)
    cool, trap, pair, auger_trapping, radiative = model.rates()
    excess, gap = model.excess_ev, model.gap_ev
    out, events = np.zeros((n_trajectories, 2)), 0
    for r in range(n_trajectories):
        limit, hot, p = math.exp(-mean), 0, 1.0  # Knuth's Poisson sampler
        while True:
            p *= rng.random()
            if p <= limit:
                break
            hot += 1
        free, trapped, energy, t = 0, 0, 0.0, 0.0
        while True:
            rates = [  # list order: cooling, trapping, Auger, Auger with trapping, radiative
                hot * cool,
                hot * trap,
                free * (free - 1) * pair * (1.0 - auger_trapping),
                free * (free - 1) * pair * auger_trapping,
                free * radiative,
            ]
            total = sum(rates)
            if total == 0:
                break
            t += rng.expovariate(total)
            if t > t_max:
                break
            threshold, kind = rng.random() * total, 0
            while kind < 4 and threshold >= rates[kind]:
                threshold -= rates[kind]
                kind += 1
            events += 1
            if kind <= 1:
                hot -= 1
                free += kind == 0
                trapped += kind == 1
                energy += excess
            elif kind <= 3:  # Auger: the hot carrier relaxes (2) or the hot hole traps with its pair (3)
                free -= 1 + (kind == 3)
                trapped += kind == 3
                energy += gap
            else:
                free -= 1
        out[r] = energy, trapped
    return out, events


def best_of(repeats: int, function):
    """(shortest wall time, last result) of ``repeats`` calls."""
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return min(times), result


def z_scores(samples: np.ndarray, mean: float, variance: float) -> tuple[float, float]:
    """z of the sample mean and of the sample variance against exact values (standard errors from the sample)."""
    n = samples.size
    deviation = samples - samples.mean()
    sample_variance = deviation @ deviation / (n - 1)
    z_mean = (samples.mean() - mean) / math.sqrt(max(variance, 1e-300) / n)
    z_variance = (sample_variance - variance) / math.sqrt(max(np.mean(deviation**4) - sample_variance**2, 1e-300) / n)
    return z_mean, z_variance


def bench_ssa(label: str, pump, args) -> float:
    model, fluence = pump.model, pump.fluence_mj_cm2
    gillespie(model, fluence, 100, T_MAX, seed=1)  # compile (or load the on-disk cache) outside the timing
    threads = numba.get_num_threads()
    numba_time, run = best_of(args.repeats, lambda: gillespie(model, fluence, args.trajectories, T_MAX, seed=1))
    numba.set_num_threads(1)
    single_time, single = best_of(args.repeats, lambda: gillespie(model, fluence, args.trajectories, T_MAX, seed=1))
    numba.set_num_threads(threads)
    identical = np.array_equal(run.event_time_ps, single.event_time_ps) and np.array_equal(
        run.event_kind, single.event_kind
    )
    python_time, (python_out, python_events) = best_of(
        args.repeats, lambda: python_ssa(model, fluence, args.python_trajectories, T_MAX, seed=1)
    )
    rates = {
        f'numba x{threads}': run.n_events / numba_time,
        'numba x1': run.n_events / single_time,
        'Python': python_events / python_time,
    }
    print(
        f'{label}: {run.n_events} events in {numba_time:.3f} s ({threads} threads), {single_time:.3f} s (1 thread); '
        f'Python loop {python_events} events in {python_time:.2f} s'
    )
    print('   events/s: ' + ', '.join(f'{name} {rate:.3g}' for name, rate in rates.items()))
    ratio = rates['numba x1'] / rates['Python']
    print(
        f'   ratio against the plain-Python loop: {rates[f"numba x{threads}"] / rates["Python"]:.0f}x '
        f'({threads} threads), {ratio:.0f}x (1 thread); same seed, same events on 1 and {threads} threads: '
        f'{identical}'
    )
    exact = master_equation(model, fluence, [T_MAX], variance=True)
    observed = {
        'energy (eV)': (run.deposited_energy(), python_out[:, 0], 'energy_ev', 'energy_var_ev2'),
        'trapped pairs': (run.trapped.astype(float), python_out[:, 1], 'trapped_pairs', 'trapped_pairs_var'),
    }
    for name, (ssa, python, mean_key, var_key) in observed.items():
        mean, variance = exact[mean_key][0], exact[var_key][0]
        zs, zp = z_scores(ssa, mean, variance), z_scores(python, mean, variance)
        print(
            f'   {name} at {T_MAX:g} ps: master equation {mean:.4f} (var {variance:.4f}); SSA {ssa.mean():.4f} '
            f'(var {ssa.var(ddof=1):.4f}, z {zs[0]:+.1f}/{zs[1]:+.1f}); Python {python.mean():.4f} '
            f'(var {python.var(ddof=1):.4f}, z {zp[0]:+.1f}/{zp[1]:+.1f})'
        )
    return ratio


def bench_fit(sets) -> float:
    times = np.concatenate([np.arange(0.0, 50.0, 5.0), np.arange(50.0, T_MAX + 1.0, 50.0)])
    rng = np.random.default_rng(0)
    master_equation(sets[0].model, sets[0].fluence_mj_cm2, times[:2])  # compile (or load the cache) outside the timing
    pumps = []
    for pump in sets:
        start = time.perf_counter()
        truth = master_equation(pump.model, pump.fluence_mj_cm2, times)['delta_t_k']
        one = time.perf_counter() - start
        poor = dataclasses.replace(pump.model, tau_auger_ps=300.0, tau_trap_ps=20.0)
        noisy = truth + rng.normal(0.0, 0.4, times.size)
        pumps.append(Pump(times, noisy, np.full(times.size, 0.4), pump.fluence_mj_cm2, poor))
        print(
            f'{pump.model.wavelength_nm:g} nm: <N> = {pump.model.mean_pairs(pump.fluence_mj_cm2):.1f}, master '
            f'equation on {times.size} delays {1e3 * one:.1f} ms'
        )
    start = time.perf_counter()
    fit = fit_lattice_heating(pumps, ('tau_auger_ps', 'tau_trap_ps'), SIGMA_REL_ERR)
    elapsed = time.perf_counter() - start
    print(
        f'joint fit of tau_AR and tau_trap to {len(pumps)} pumps: {elapsed:.3f} s ({fit.n_evaluations} evaluations): '
        + ', '.join(
            f'{name} {value:.4g} (statistical 95% CI {fit.ci_statistical[name][0]:.4g}-'
            f'{fit.ci_statistical[name][1]:.4g}, truth {getattr(sets[0].model, name):g})'
            for name, value in fit.values.items()
        )
    )
    return elapsed


def run(argv: list[str] | None = None) -> list[Result]:
    """Run the benchmark with command-line arguments ``argv``; print it and return its results."""
    parser = argparse.ArgumentParser(prog=pathlib.Path(__file__).name, description=__doc__.splitlines()[0])
    parser.add_argument('--trajectories', type=int, default=200000)
    parser.add_argument('--python-trajectories', type=int, default=5000)
    parser.add_argument('--repeats', type=int, default=3)
    args = parser.parse_args(argv)
    ratios = [bench_ssa(f'seed {pump.model.wavelength_nm:g} nm', pump, args) for pump in SEED_SETS]
    fits = [bench_fit(SEED_SETS)]
    print(
        f'goals: SSA >= 10x plain Python (1 thread): min {min(ratios):.0f}x; master-equation fit < 1 s: '
        f'max {max(fits):.2f} s'
    )
    sizes = f'{args.trajectories} vs {args.python_trajectories} realisations, {len(SEED_SETS)} pumps'
    return [
        Result(
            'Gillespie SSA (1 thread, slowest pump)',
            f'{min(ratios):.0f}x',
            min(ratios),
            'plain-Python SSA loop (events/s)',
            '>= 10x',
            min(ratios) >= 10,
            sizes,
        ),
        Result(
            'master-equation fit (slowest pump)',
            f'{max(fits):.2f} s',
            None,
            '',
            '< 1 s',
            max(fits) < 1,
            f'{len(SEED_SETS)} pumps jointly, generated dT(t)',
        ),
    ]


if __name__ == '__main__':
    run()
