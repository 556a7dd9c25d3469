"""Benchmark: Gillespie events per second, vectorised over trajectories vs a plain Python SSA loop, and the full fit.

Measured in one process on the demo model (aiida_qdots.data.ued.DEMO_SETS: 400 nm, and 340 nm with trapping):

1. :func:`aiida_qdots.analysis.kinetics.gillespie` with ``--trajectories`` trajectories to 1.5 ns;
2. a plain per-trajectory Python SSA loop (same model, same event rules, ``random`` module) on
   ``--python-trajectories``; both mean deposited energies are compared with the master equation;
3. the fit of tau_AR and sigma to the demo's 400 nm dT(t) (master equation, least squares) from a poor start.

Usage: ``python benchmarks/bench_kinetics.py [--trajectories 200000] [--python-trajectories 5000]``
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import random
import time

import numpy as np

from aiida_qdots.analysis.kinetics import fit_lattice_heating, gillespie, master_equation
from aiida_qdots.data.ued import DEMO_SETS


def python_ssa(model, fluence: float, n_trajectories: int, t_max: float, seed: int) -> tuple[float, int]:
    """Mean deposited energy (eV) at t_max and the number of events, one trajectory and one event at a time."""
    rng = random.Random(seed)
    mean, total_energy, events = model.mean_pairs(fluence), 0.0, 0
    for _ in range(n_trajectories):
        limit, hot, p = math.exp(-mean), 0, 1.0  # Knuth's Poisson sampler
        while True:
            p *= rng.random()
            if p <= limit:
                break
            hot += 1
        free, t = 0, 0.0
        while True:
            rates = [
                hot / model.tau_cool_ps,
                hot / model.tau_trap_ps,
                free * (free - 1) / 2 / model.tau_auger_ps,
                free / model.tau_radiative_ps,
            ]
            total = sum(rates)
            if total == 0:
                break
            t += rng.expovariate(total)
            if t > t_max:
                break
            threshold, kind = rng.random() * total, 0
            while kind < 3 and threshold > rates[kind]:
                threshold -= rates[kind]
                kind += 1
            events += 1
            if kind <= 1:
                hot -= 1
                free += kind == 0
                total_energy += model.excess_ev
            else:
                free -= 1
                total_energy += model.gap_ev if kind == 2 else 0.0
    return total_energy / n_trajectories, events


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--trajectories', type=int, default=200000)
    parser.add_argument('--python-trajectories', type=int, default=5000)
    args = parser.parse_args()
    t_max = 1500.0
    for pump in DEMO_SETS:
        model, fluence = pump.model, pump.fluence_mj_cm2
        exact = master_equation(model, fluence, [t_max])['energy_ev'][0]
        start = time.perf_counter()
        run = gillespie(model, fluence, args.trajectories, t_max, seed=1)
        vector_time = time.perf_counter() - start
        start = time.perf_counter()
        python_mean, python_events = python_ssa(model, fluence, args.python_trajectories, t_max, seed=1)
        python_time = time.perf_counter() - start
        vector_rate, python_rate = run.n_events / vector_time, python_events / python_time
        print(
            f'{model.wavelength_nm:g} nm: vectorised {run.n_events} events in {vector_time:.2f} s = '
            f'{vector_rate:.3g} events/s; Python loop {python_events} events in {python_time:.2f} s = '
            f'{python_rate:.3g} events/s; ratio {vector_rate / python_rate:.0f}x'
        )
        print(
            f'   mean energy at {t_max:g} ps: master equation {exact:.4f} eV, vectorised '
            f'{run.mean_energy([t_max])[0]:.4f} eV, Python loop {python_mean:.4f} eV'
        )
    model = DEMO_SETS[0].model
    times = np.concatenate([np.arange(0.0, 50.0, 5.0), np.arange(50.0, 1501.0, 50.0)])
    truth = master_equation(model, 2.1, times)['delta_t_k']
    noisy = truth + np.random.default_rng(0).normal(0.0, 0.4, times.size)
    start = time.perf_counter()
    fit = fit_lattice_heating(
        times, noisy, np.full(times.size, 0.4), 2.1, dataclasses.replace(model, tau_auger_ps=300.0, sigma_cm2=6e-16)
    )
    print(
        f'fit of tau_AR and sigma ({fit.n_evaluations} model evaluations): {time.perf_counter() - start:.2f} s; '
        f'tau_AR {fit.values["tau_auger_ps"]:.0f} ps, 95% CI {fit.ci["tau_auger_ps"][0]:.0f}-'
        f'{fit.ci["tau_auger_ps"][1]:.0f} (truth 625)'
    )


if __name__ == '__main__':
    main()
