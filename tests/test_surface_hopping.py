"""DISH and FSSH in the classical path approximation: propagators, Rabi oscillations, backends, population
conservation, DISH rates against the quantum-Zeno and golden-rule limits, detailed balance, recombination fits.

Regimes compared (constant coupling V = hbar d, decoherence events every tau_eff, the DISH clock interval):
* quantum Zeno, dE tau / hbar << 1 and V tau / hbar << 1: k = V^2 tau_eff / hbar^2;
* golden rule, dE tau / hbar >> 1 with gap noise that randomises the phase accumulated between events:
  k = 2 V^2 <dE^-2> / tau_eff (golden rule with the decoherence-broadened Lorentzian, in its wing).
With |c_1|^2 just below 1, the clock fires at the first step with t >= tau / |c_1|^2, i.e.
tau_eff = ceil(tau / dt) dt when tau / dt is not an integer.
"""

import importlib.util
import math
import pathlib

import numpy as np
import pytest
from scipy.linalg import expm
from scipy.signal import lfilter

from aiida_qdots.analysis import surface_hopping as sh
from aiida_qdots.analysis.dephasing import dephasing_analysis
from aiida_qdots.common.units import HBAR_EV_FS, KB_EV_K
from aiida_qdots.readers.levels import parse_levels_csv

BACKENDS = ['python', 'numpy'] + (['numba'] if importlib.util.find_spec('numba') else [])


def hamiltonian_matrix(energies, nac):
    return np.diag(energies).astype(complex) - 1j * HBAR_EV_FS * nac


def constant_two_state(gap, coupling_ev, n_frames=20):
    return sh.two_state_model(np.full(n_frames, gap), coupling_ev / HBAR_EV_FS)


def ou_noise(n, dt, sigma, tau_c, seed):
    rng = np.random.default_rng(seed)
    a = math.exp(-dt / tau_c)
    kicks = rng.standard_normal(n) * sigma * math.sqrt(1 - a * a)
    kicks[0] = rng.standard_normal() * sigma
    return lfilter([1.0], [1.0, -a], kicks)


# ------------------------------------------------------------------------------------------- propagators


def test_two_state_propagator_is_the_matrix_exponential():
    rng = np.random.default_rng(0)
    e0, e1, d = rng.normal(0, 1, 6), rng.normal(1, 1, 6), rng.normal(0, 0.05, 6)
    u = sh.propagator_2x2(e0, e1, d, 0.7)
    for k in range(6):
        h = hamiltonian_matrix([e0[k], e1[k]], np.array([[0, d[k]], [-d[k], 0]]))
        np.testing.assert_allclose(u[k], expm(-1j * h * 0.7 / HBAR_EV_FS), atol=1e-13)
        np.testing.assert_allclose(u[k] @ u[k].conj().T, np.eye(2), atol=1e-14)
    np.testing.assert_allclose(sh.propagator_2x2(0.3, 0.3, 0.0, 1.0), np.exp(-0.3j / HBAR_EV_FS) * np.eye(2))


def test_step_propagators_for_three_states_and_substeps():
    rng = np.random.default_rng(1)
    energies = rng.normal(0, 0.3, (5, 3))
    a = rng.normal(0, 0.02, (4, 3, 3))
    nacs = a - np.swapaxes(a, 1, 2)
    u = sh.step_propagators(energies, nacs, 0.5)
    for k in range(4):
        h = hamiltonian_matrix((energies[k] + energies[k + 1]) / 2, nacs[k])
        np.testing.assert_allclose(u[k], expm(-1j * h * 0.5 / HBAR_EV_FS), atol=1e-13)
    fine = sh.step_propagators(energies, nacs, 0.5, substeps=4)
    for k in range(4):
        expected = np.eye(3)
        for m in range(4):
            em = energies[k] + (m + 0.5) / 4 * (energies[k + 1] - energies[k])
            expected = expm(-1j * hamiltonian_matrix(em, nacs[k]) * 0.125 / HBAR_EV_FS) @ expected
        np.testing.assert_allclose(fine[k], expected, atol=1e-13)
    with pytest.raises(ValueError, match='antisymmetric'):
        sh.step_propagators(energies, np.abs(nacs), 0.5)


def test_rabi_oscillation_of_the_tdse_propagator():
    """Constant gap dE and coupling V: c(t) = exp(-i H t / hbar) c(0), |c_1|^2 = (4V^2/Omega^2) sin^2(Omega t/2hbar)."""
    gap, coupling, dt = 0.1, 0.02, 0.25
    energies, nacs = constant_two_state(gap, coupling)
    u = sh.step_propagators(energies, nacs, dt)[0]
    h = hamiltonian_matrix([0.0, gap], nacs[0])
    c = np.array([1.0, 0.0], dtype=complex)
    for step in range(1, 401):
        c = u @ c
        if step % 50 == 0:
            t = step * dt
            np.testing.assert_allclose(c, expm(-1j * h * t / HBAR_EV_FS) @ [1, 0], atol=1e-12)
            assert abs(c[1]) ** 2 == pytest.approx(sh.rabi_population(t, gap, coupling), abs=1e-12)
    omega = math.hypot(gap, 2 * coupling)
    assert sh.rabi_population(math.pi * HBAR_EV_FS / omega, gap, coupling) == pytest.approx(4 * coupling**2 / omega**2)


@pytest.mark.parametrize('backend', BACKENDS)
def test_rabi_without_decoherence_dish_and_fssh(backend):
    gap, coupling, dt = 0.1, 0.02, 0.1
    energies, nacs = constant_two_state(gap, coupling)
    rabi = sh.rabi_population(np.arange(101) * 10 * dt, gap, coupling)
    coherent = sh.dish(
        energies, nacs, dt, np.inf, n_steps=1000, initial_state=0, n_realisations=3, record_every=10, backend=backend
    )
    np.testing.assert_allclose(coherent.wavefunction_populations[:, 1], rabi, atol=1e-12)
    assert coherent.n_decoherence_events.sum() == 0 and coherent.n_hops.sum() == 0
    assert np.all(coherent.populations[:, 0] == 1.0)
    n_real = 4000 if backend != 'python' else 400
    fssh = sh.fssh(
        energies,
        nacs,
        dt,
        n_steps=1000,
        initial_state=0,
        n_realisations=n_real,
        record_every=10,
        temperature_k=None,
        backend=backend,
    )
    np.testing.assert_allclose(fssh.wavefunction_populations[:, 1], rabi, atol=1e-12)
    # fewest switches keeps the fraction of trajectories in S1 equal to |c_1|^2 (binomial noise only)
    assert np.max(np.abs(fssh.populations[:, 1] - rabi)) < 5 * math.sqrt(0.14 * 0.86 / n_real) + 1e-3
    assert fssh.n_hops.sum() > 0 and fssh.n_rejected_hops.sum() == 0


def test_trajectory_is_iterated_modulo_its_length():
    """A coherent run 2.5 x longer than the stored Hamiltonian applies the interval propagators cyclically."""
    rng = np.random.default_rng(2)
    gap = 0.2 + 0.05 * rng.standard_normal(41)
    energies, nacs = sh.two_state_model(gap, 0.01 * rng.standard_normal(40) / HBAR_EV_FS)
    u = sh.step_propagators(energies, nacs, 0.5)
    start = 17
    c = np.array([0.0, 1.0], dtype=complex)
    for s in range(100):
        c = u[(start + s) % 40] @ c
    result = sh.dish(
        energies,
        nacs,
        0.5,
        np.inf,
        n_steps=100,
        initial_frames=[start],
        n_realisations=1,
        record_every=100,
        backend='numpy',
    )
    np.testing.assert_allclose(result.wavefunction_populations[-1], np.abs(c) ** 2, atol=1e-13)
    assert result.initial_frames.tolist() == [start]


# ------------------------------------------------------------------------------------------- backends, conservation


def three_state_noise(n_frames=300, seed=3):
    rng = np.random.default_rng(seed)
    base = np.array([0.0, 0.05, 0.12])
    energies = base + 0.02 * rng.standard_normal((n_frames, 3))
    a = 0.04 / HBAR_EV_FS * rng.standard_normal((n_frames - 1, 3, 3))
    return energies, a - np.swapaxes(a, 1, 2)


@pytest.mark.parametrize('method', ['dish', 'fssh'])
def test_backends_give_identical_hops(method):
    """Counter-based random numbers: the plain-Python loop, NumPy and numba runs give the same hops."""
    energies, nacs = three_state_noise()
    tau = np.array([[np.inf, 4.0, 6.0], [4.0, np.inf, 5.0], [6.0, 5.0, np.inf]])
    options = dict(
        n_steps=1500, initial_state=2, initial_frames=3, n_realisations=4, temperature_k=600.0, record_every=7, seed=11
    )
    runs = {}
    for backend in BACKENDS:
        if method == 'dish':
            runs[backend] = sh.dish(energies, nacs, 0.5, tau, backend=backend, **options)
        else:
            runs[backend] = sh.fssh(energies, nacs, 0.5, backend=backend, **options)
    reference = runs['python']
    assert reference.n_hops.sum() > 10 and reference.n_rejected_hops.sum() > 0
    if method == 'dish':
        assert reference.n_decoherence_events.sum() > 100
    for backend, run in runs.items():
        assert run.backend == backend
        np.testing.assert_array_equal(run.active, reference.active)
        np.testing.assert_array_equal(run.n_hops, reference.n_hops)
        np.testing.assert_array_equal(run.n_decoherence_events, reference.n_decoherence_events)
        np.testing.assert_allclose(run.wavefunction_populations, reference.wavefunction_populations, atol=1e-12)
        sh.check_population_conservation(run)


def test_population_conservation_on_the_real_gap(shared_data_dir):
    """S0/S1 on the real Cd28Se17Cl22 gap (2 fs), decoherence time from its dephasing analysis, a 1 meV NAC."""
    path = pathlib.Path(shared_data_dir) / 'Cl_QD_elec_1-10k.csv'
    gap = parse_levels_csv(path.read_bytes(), path.name, 2).energies['gap']
    tau = dephasing_analysis(gap, 2.0).times_fs['gaussian_cumulant']
    rng = np.random.default_rng(5)
    energies, nacs = sh.two_state_model(gap, 1e-3 / HBAR_EV_FS * rng.standard_normal(gap.size - 1))
    result = sh.dish(energies, nacs, 2.0, tau, n_steps=12_000, initial_frames=10, n_realisations=20)
    report = sh.check_population_conservation(result)
    assert report['max_norm_error'] < 1e-12
    np.testing.assert_allclose(result.populations.sum(axis=1), 1.0, atol=1e-15)
    assert result.n_steps > result.n_intervals  # iterated past the end of the stored trajectory
    assert result.n_decoherence_events.mean() > 12_000 * 2.0 / (2 * tau)
    corrupted = sh.dish(energies, nacs, 2.0, tau, n_steps=10, n_realisations=2)
    corrupted.max_norm_error = 1e-3
    with pytest.raises(ValueError, match='not conserved'):
        sh.check_population_conservation(corrupted)


# ------------------------------------------------------------------------------------------- DISH rates


def test_dish_rate_in_the_quantum_zeno_regime():
    coupling, gap, tau, dt = 0.005, 0.005, 10.0, 0.3  # dE tau / hbar = 0.08, V tau / hbar = 0.08
    energies, nacs = constant_two_state(gap, coupling)
    result = sh.dish(energies, nacs, dt, tau, n_steps=3000, n_realisations=4000, temperature_k=0.0, record_every=30)
    interval = math.ceil(tau / dt) * dt
    assert result.n_decoherence_events.mean() == pytest.approx(3000 * dt / interval, abs=1)
    fit = sh.fit_recombination(result, n_bootstrap=300)
    expected = sh.zeno_rate(coupling, interval)
    assert fit.rate_per_fs == pytest.approx(expected, rel=0.08)
    assert fit.ci_fs[0] < 1 / expected < fit.ci_fs[1]
    # Zeno: faster decoherence slows the transfer (k proportional to tau)
    faster = sh.dish(energies, nacs, dt, tau / 2, n_steps=3000, n_realisations=4000, temperature_k=0.0, record_every=30)
    ratio = sh.fit_recombination(faster, n_bootstrap=0).rate_per_fs / fit.rate_per_fs
    assert ratio == pytest.approx(math.ceil(tau / 2 / dt) / math.ceil(tau / dt), rel=0.12)


def test_dish_rate_in_the_golden_rule_regime():
    dt, coupling, tau = 0.5, 0.04, 10.2  # dE tau / hbar = 16, phase spread sigma tau / hbar = 3 rad
    gap = 1.0 + ou_noise(40_000, dt, 0.2, 50.0, seed=7)
    energies, nacs = sh.two_state_model(gap, coupling / HBAR_EV_FS)
    result = sh.dish(
        energies, nacs, dt, tau, n_steps=4000, initial_frames=100, n_realisations=40, temperature_k=0.0, record_every=40
    )
    interval = math.ceil(tau / dt) * dt
    fit = sh.fit_recombination(result, n_bootstrap=300)
    expected = sh.golden_rule_rate(coupling, gap, interval)
    assert fit.rate_per_fs == pytest.approx(expected, rel=0.12)
    assert fit.ci_fs[0] < 1 / expected < fit.ci_fs[1]
    # golden rule: faster decoherence speeds the transfer up (k proportional to 1 / tau)
    assert sh.zeno_rate(coupling, interval) > 20 * expected  # far from the Zeno value here


def test_dish_detailed_balance():
    """dE = k_B T: the long-time populations of DISH with Boltzmann-weighted upward hops are P1/P0 = exp(-1)."""
    temperature = 300.0
    energies, nacs = constant_two_state(KB_EV_K * temperature, 0.01)
    result = sh.dish(
        energies, nacs, 0.5, 10.0, n_steps=6000, n_realisations=4000, temperature_k=temperature, record_every=20
    )
    late = result.time_fs >= 1500.0  # ~5 relaxation times 1 / (k_down + k_up) = 300 fs in
    assert result.populations[late, 1].mean() == pytest.approx(1 / (1 + math.e), abs=0.02)  # ~4 standard errors
    assert result.n_rejected_hops.sum() > 0


def test_recombination_fit_and_bootstrap_interval():
    """Survival times drawn from exp(-t/tau): the fit recovers tau and the interval covers it."""
    rng = np.random.default_rng(8)
    tau, n_groups, per_group = 5000.0, 20, 50
    time = np.arange(0, 3001, 30.0)
    lifetimes = rng.exponential(tau, n_groups * per_group)
    active = np.where(time[None, :] < lifetimes[:, None], 1, 0).astype(np.int8)
    result = sh.SurfaceHoppingResult(
        method='dish',
        backend='numpy',
        time_fs=time,
        populations=np.stack([1 - active.mean(0), active.mean(0)], 1),
        wavefunction_populations=np.zeros((time.size, 2)),
        active=active,
        initial_frames=np.repeat(np.arange(n_groups), per_group),
        groups=np.repeat(np.arange(n_groups), per_group),
        initial_state=1,
        n_hops=np.zeros(1000, int),
        n_decoherence_events=np.zeros(1000, int),
        n_rejected_hops=np.zeros(1000, int),
        max_norm_error=0.0,
        dt_fs=1.0,
        n_steps=3000,
        record_every=30,
        n_intervals=100,
        temperature_k=300.0,
        decoherence_times_fs=None,
        seed=0,
        substeps=1,
    )
    fit = sh.fit_recombination(result, n_bootstrap=500, seed=1)
    assert fit.tau_fs == pytest.approx(tau, rel=0.1)
    assert fit.ci_fs[0] < tau < fit.ci_fs[1] and fit.ci_fs[1] - fit.ci_fs[0] < tau
    assert fit.tau_ns == fit.tau_fs / 1e6
    np.testing.assert_allclose(sh.fit_decay_rate(time, np.exp(-time / 700.0)), 1 / 700.0, rtol=1e-9)
    assert sh.fit_decay_rate(time, np.ones(time.size))[0] == 0.0


def test_input_checks():
    energies, nacs = constant_two_state(0.1, 0.01)
    with pytest.raises(ValueError, match='exactly one'):
        sh.dish(energies, nacs, 1.0, 5.0)
    with pytest.raises(ValueError, match='symmetric'):
        sh.dish(energies, nacs, 1.0, [[np.inf, 5.0], [6.0, np.inf]], n_steps=5)
    with pytest.raises(ValueError, match='positive'):
        sh.dish(energies, nacs, 1.0, -1.0, n_steps=5)
    with pytest.raises(ValueError, match='initial frames'):
        sh.dish(energies, nacs, 1.0, 5.0, n_steps=5, initial_frames=[19])
    with pytest.raises(ValueError, match='shape'):
        sh.fssh(energies, nacs[:-1], 1.0, n_steps=5)
    assert sh.initial_intervals(19, 4).tolist() == [0, 4, 9, 14]


def rotating_overlaps(n_frames, angle):
    """Overlaps <i(t)|j(t+1)> of two orbitals rotating by ``angle`` (rad) per step: d_01 = angle / dt."""
    c, s = math.cos(angle), math.sin(angle)
    return np.broadcast_to(np.array([[c, s], [-s, c]]), (n_frames - 1, 2, 2)).copy()


@pytest.mark.parametrize('angle', [0.0, 0.2])
def test_recombination_summary_carries_verdicts_and_the_zero_hop_bound(angle):
    """Without coupling no realisation hops: the summary gives the zero-count lower bound N T / ln 20 (95 %)
    instead of an empty time; with strong coupling enough realisations hop for a converged verdict.
    """
    from aiida_qdots.analysis.convergence import MIN_HOPS
    from aiida_qdots.analysis.recombination import recombination_analysis

    n_frames, duration = 400, 2000.0
    gap = 1.7 + ou_noise(n_frames, 1.0, 0.05, 5.0, seed=1)
    energies = np.stack([np.full(n_frames, -5.0), -5.0 + gap], axis=1)
    parameters = {'timestep_fs': 1.0, 'duration_fs': duration, 'n_realisations': 50, 'initial_frames': 4}
    summary, _ = recombination_analysis(energies, rotating_overlaps(n_frames, angle), 0, parameters)
    verdicts = summary['convergence']
    assert set(verdicts) == {'nac', 'dephasing', 'recombination'} and summary['n_realisations_total'] == 200
    assert summary['n_nac_samples'] == n_frames - 1 and verdicts['nac']['n_samples'] == n_frames - 1
    if angle == 0.0:
        assert summary['n_hopped'] == 0 and summary['recombination_tau_ns'] is None
        assert summary['recombination_lower_bound_ns'] == pytest.approx(200 * duration / math.log(20) / 1e6)
        assert summary['lower_bound_confidence'] == 0.95 and not verdicts['recombination']['converged']
        assert 'tau >= ' in verdicts['recombination']['reason']
    else:
        assert summary['n_hopped'] >= MIN_HOPS and verdicts['recombination']['converged']
        assert summary['recombination_lower_bound_ns'] is None and summary['recombination_tau_ns'] > 0
