"""HOMO -> LUMO recombination from an NAMD Hamiltonian: NACs -> dephasing -> DISH -> exp(-t/tau) fit.

One pure function, :func:`recombination_analysis`, shared by the in-process calcfunction of ``qdots.namd``
and by the ``qdots.dish`` CalcJob (``python -m aiida_qdots.analysis.recombination``), so both routes give
the same numbers for the same inputs and seed.

Inputs are the assembled Hamiltonian of ``qdots.namd``: ``energies`` (frames, orbitals) in eV,
``overlaps`` (frames - 1, orbitals, orbitals) with ``overlaps[t, i, j] = <psi_i(t)|psi_j(t+1)>``, and the
window index of the HOMO. Times in fs, energies in eV, NACs in 1/fs (reported as hbar|d| in meV).
"""

from __future__ import annotations

import argparse
import json
import pathlib

import numpy as np

from aiida_qdots.analysis.convergence import CONFIDENCE, THRESHOLDS, mean_verdict, recombination_verdict
from aiida_qdots.analysis.dephasing import PAPER_CONVENTION, dephasing_analysis, pair_dephasing_times
from aiida_qdots.analysis.nac import nac_energy, nacs_from_overlaps
from aiida_qdots.analysis.surface_hopping import check_population_conservation, dish, fit_recombination, two_state_model

NAC_CONVENTION = 'd_ij = (<i(t)|j(t+dt)> - <j(t)|i(t+dt)>)/(2 dt) after phase correction; reported hbar|d|'
METHOD = 'DISH (Jaeger, Fischer, Prezhdo 2012), classical path approximation, 2 states (S0, S1 = HOMO->LUMO)'
REQUIRED_PARAMETERS = ('timestep_fs', 'duration_fs', 'n_realisations', 'initial_frames')


def _finite(value: float) -> float | None:
    """``value``, or None where it is infinite (no hop in the run: the time is beyond what was simulated)."""
    return float(value) if np.isfinite(value) else None


def recombination_analysis(
    energies: np.ndarray, overlaps: np.ndarray, homo_index: int, parameters: dict
) -> tuple[dict, dict[str, np.ndarray]]:
    """NACs (phase-corrected), S0/S1 dephasing and DISH recombination of the HOMO -> LUMO excitation.

    S1 - S0 = E_LUMO - E_HOMO and d_01 = d_HOMO,LUMO (1/fs); the decoherence time is the dephasing time of that
    gap in ``parameters['convention']`` (default the paper's Gaussian cumulant fit). DISH runs
    ``n_realisations`` from each of ``initial_frames`` start intervals for ``duration_fs``, iterating the
    Hamiltonian modulo its length. ``parameters`` also takes ``temperature_k`` (300), ``seed`` (0) and
    ``n_bootstrap`` (500). Returns (JSON-able summary, arrays). The summary carries a verdict per quantity
    (``convergence``: mean |NAC|, dephasing, recombination; :mod:`aiida_qdots.analysis.convergence`) and, when no
    realisation hopped, ``recombination_lower_bound_ns`` at ``lower_bound_confidence`` (the zero-count rule).
    """
    missing = [key for key in REQUIRED_PARAMETERS if key not in parameters]
    if missing:
        raise ValueError(f'recombination parameters lack {", ".join(missing)}')
    dt = float(parameters['timestep_fs'])
    homo = int(homo_index)
    result = nacs_from_overlaps(overlaps, dt, energies, phase_correction=True)
    nac_hl = result.nac[:, homo, homo + 1]
    gap = energies[:, homo + 1] - energies[:, homo]
    two_energies, two_nacs = two_state_model(gap, nac_hl)
    convention = parameters.get('convention', PAPER_CONVENTION)
    dephasing = dephasing_analysis(gap, dt)
    tau = pair_dephasing_times(two_energies, dt, convention)
    run = dish(
        two_energies,
        two_nacs,
        dt,
        tau,
        duration_fs=float(parameters['duration_fs']),
        n_realisations=int(parameters['n_realisations']),
        initial_frames=int(parameters['initial_frames']),
        temperature_k=parameters.get('temperature_k', 300.0),
        seed=int(parameters.get('seed', 0)),
    )
    conservation = check_population_conservation(run)
    fit = fit_recombination(run, n_bootstrap=int(parameters.get('n_bootstrap', 500)))
    n_hopped = int(np.count_nonzero(run.n_hops))
    recombination, lower_bound_fs = recombination_verdict(n_hopped, run.n_realisations, run.n_steps * run.dt_fs)
    summary = {
        'mean_abs_nac_mev': float(nac_energy(np.abs(nac_hl), unit='mev').mean()),
        'nac_convention': NAC_CONVENTION,
        'gap_mean_ev': float(gap.mean()),
        'gap_std_ev': float(gap.std()),
        'dephasing_fs': {k: (None if v is None else float(v)) for k, v in dephasing.times_fs.items()},
        'decoherence_convention': convention,
        'decoherence_time_fs': float(tau[0, 1]),
        'recombination_tau_ns': _finite(fit.tau_ns),
        'recombination_ci_ns': [_finite(v) for v in fit.ci_ns],
        'confidence': fit.confidence,
        'fit_model': fit.model,
        'method': METHOD,
        'n_realisations': int(parameters['n_realisations']),
        'initial_frames': int(parameters['initial_frames']),
        'duration_fs': float(parameters['duration_fs']),
        'population_conservation': conservation,
        'min_diagonal_overlap': result.min_diagonal_overlap,
        'n_nac_samples': int(nac_hl.size),
        'n_hopped': n_hopped,
        'n_realisations_total': run.n_realisations,
        'recombination_lower_bound_ns': None if lower_bound_fs is None else lower_bound_fs / 1e6,
        'lower_bound_confidence': CONFIDENCE if lower_bound_fs is not None else None,
        'convergence': {
            'nac': mean_verdict('mean |NAC|', np.abs(nac_hl)).as_dict(),
            'dephasing': dephasing.convergence.as_dict(),
            'recombination': recombination.as_dict(),
        },
        'thresholds': dict(THRESHOLDS),
        'units': {'nac': 'meV', 'time': 'fs (recombination in ns)', 'energy': 'eV'},
    }
    arrays = {
        'nac_homo_lumo_per_fs': nac_hl,
        'gap_ev': gap,
        'population_time_fs': fit.time_fs,
        'excited_population': fit.population,
        'fitted_population': fit.fitted,
        'nac_window_per_fs': result.nac,
        'dephasing_time_fs': dephasing.time_fs,
        'dephasing_function': dephasing.dephasing,
        'gap_acf_ev2': dephasing.acf,
    }
    arrays.update({f'dephasing_fit_{name}': curve for name, curve in dephasing.fitted.items()})
    return summary, arrays


def main(argv: list[str] | None = None) -> None:
    """Command line used by the ``qdots.dish`` CalcJob: Hamiltonian .npz + parameters .json -> results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('hamiltonian', help='.npz with energies, overlaps and homo_index')
    parser.add_argument('parameters', help='.json with timestep_fs, duration_fs, n_realisations, initial_frames, ...')
    parser.add_argument('--arrays', default='recombination.npz')
    parser.add_argument('--summary', default='recombination.json')
    args = parser.parse_args(argv)
    with np.load(args.hamiltonian) as data:
        energies, overlaps, homo = data['energies'], data['overlaps'], int(data['homo_index'])
    parameters = json.loads(pathlib.Path(args.parameters).read_text())
    summary, arrays = recombination_analysis(energies, overlaps, homo, parameters)
    np.savez_compressed(args.arrays, **arrays)
    pathlib.Path(args.summary).write_text(json.dumps(summary, indent=1))
    print(
        f'{energies.shape[0]} frames, {summary["n_realisations"]} x {summary["initial_frames"]} DISH runs of '
        f'{summary["duration_fs"]:g} fs: tau = {summary["recombination_tau_ns"]} ns'
    )


if __name__ == '__main__':
    main()
