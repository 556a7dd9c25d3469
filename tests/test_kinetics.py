"""Kinetic models (Gillespie SSA vs master equation, hot-hole trapping paths, Poisson start, energy conservation)
and Debye-Waller fits."""

import dataclasses

import numba
import numpy as np
import pytest
from scipy import linalg, stats

from aiida_qdots.analysis.debye_waller import (
    debye_waller_fit,
    intensity_ratio,
    lattice_temperature,
    wurtzite_q,
    wurtzite_reflections,
)
from aiida_qdots.analysis.kinetics import KineticModel, Pump, fit_lattice_heating, gillespie, master_equation
from aiida_qdots.analysis.kinetics_master import augmented_generator, state_index, states
from aiida_qdots.data.ued import DEMO_DELAYS_PS, SEED_MODEL, SEED_SETS

TIMES = np.array([0.0, 5.0, 50.0, 200.0, 600.0, 1500.0])
DEMO_MODEL = KineticModel(tau_auger_ps=625.0, sigma_cm2=9.5e-16, diameter_nm=5.4, wavelength_nm=400.0)
"""A 5.4 nm CdSe core at 400 nm (<N> = 4.0 at 2.1 mJ/cm^2), no trapping."""
TRAPPING = dataclasses.replace(DEMO_MODEL, wavelength_nm=340.0, tau_cool_ps=5.0, tau_trap_ps=4.0)
CORE_SHELL_510 = dataclasses.replace(SEED_MODEL, tau_trap_ps=4.0)
"""Photoexcited holes (0.22 x 0.43 eV) below the barrier, Auger-made holes (E_gap) above it; 3:1 branching."""
CORE_ONLY_340 = dataclasses.replace(TRAPPING, trap_barrier_ev=0.2, auger_hole_fraction=0.5, tau_radiative_ps=2000.0)
"""Both kinds of hot hole trap; 1:1 branching; radiative decay fast enough to matter."""


def assert_moments_agree(samples, mean, variance, label):
    """Sample mean and variance (over axis 1, one row per time) within 4 standard errors of the exact ones."""
    n = samples.shape[1]
    deviation = samples - samples.mean(axis=1, keepdims=True)
    sample_variance = (deviation**2).sum(axis=1) / (n - 1)
    mean_error = np.sqrt(np.clip(variance, 0.0, None) / n)
    variance_error = np.sqrt(np.clip((deviation**4).mean(axis=1) - sample_variance**2, 0.0, None) / n)
    assert np.all(np.abs(samples.mean(axis=1) - mean) <= 4 * mean_error + 1e-9), (label, samples.mean(1), mean)
    assert np.all(np.abs(sample_variance - variance) <= 4 * variance_error + 1e-9), (label, sample_variance, variance)


@pytest.mark.parametrize(
    ('model', 'hot_start'),
    [
        (dataclasses.replace(DEMO_MODEL, tau_radiative_ps=3000.0), False),
        (DEMO_MODEL, True),
        (TRAPPING, True),
        (CORE_SHELL_510, True),
        (CORE_ONLY_340, True),
        (CORE_ONLY_340, False),
    ],
    ids=['auger-chain', 'demo-400nm', 'demo-340nm-trapping', 'core-shell-510nm', 'core-only-340nm', 'core-only-free'],
)
def test_ssa_agrees_with_master_equation_in_mean_and_variance(model, hot_start):
    exact = master_equation(model, 2.1, TIMES, hot_start=hot_start, variance=True)
    run = gillespie(model, 2.1, 40000, TIMES[-1], seed=3, hot_start=hot_start)
    assert exact['energy_ev'][0] == 0.0 and run.mean_energy(TIMES)[0] == 0.0
    observables = {
        'energy': (run.deposited_energy(TIMES), 'energy_ev', 'energy_var_ev2'),
        'free': (run.free_pairs(TIMES), 'free_pairs', 'free_pairs_var'),
        'trapped': (run.trapped_pairs(TIMES), 'trapped_pairs', 'trapped_pairs_var'),
    }
    for label, (samples, mean_key, var_key) in observables.items():
        assert_moments_agree(samples, exact[mean_key], exact[var_key], label)
    np.testing.assert_allclose(run.mean_energy(TIMES), run.deposited_energy(TIMES).mean(axis=1), rtol=1e-10)
    np.testing.assert_allclose(run.mean_free_pairs(TIMES), run.free_pairs(TIMES).mean(axis=1), rtol=1e-10)
    np.testing.assert_array_equal(run.free_pairs([TIMES[-1]])[0], run.free)
    np.testing.assert_array_equal(run.trapped_pairs([TIMES[-1]])[0], run.trapped)


def test_mean_free_pairs_counts_pairs_from_a_free_start():
    run = gillespie(DEMO_MODEL, 2.1, 2000, 1500.0, seed=4, hot_start=False)
    assert run.mean_free_pairs([0.0])[0] == pytest.approx(run.n0.mean())
    assert run.mean_free_pairs([1500.0])[0] == pytest.approx(run.free.mean())


def test_master_equation_matches_the_matrix_exponential():
    """CRAM propagation, and the hand-off to the states without hot pairs, against scipy's dense expm."""
    model, fluence = CORE_ONLY_340, 1.0
    exact = master_equation(model, fluence, TIMES, variance=True)
    n_max = int(exact['n_max'])
    lower, diag, _ = augmented_generator(model, n_max, variance=True)
    generator = lower.toarray() + np.diag(diag)
    hot, free = states(n_max)
    counts = np.arange(n_max + 1)
    start = np.zeros(diag.size)
    start[state_index(n_max, counts, 0)] = stats.poisson.pmf(counts, model.mean_pairs(fluence))
    reference = np.array([linalg.expm(generator * t) @ start for t in TIMES])
    np.testing.assert_allclose(exact['energy_ev'], reference[:, hot.size], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(exact['free_pairs'], reference[:, : hot.size] @ free, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(exact['energy_var_ev2'] + exact['energy_ev'] ** 2, reference[:, -2], rtol=1e-10)
    np.testing.assert_allclose(exact['trapped_pairs_var'] + exact['trapped_pairs'] ** 2, reference[:, -1], rtol=1e-10)


def test_barrier_and_branching_decide_which_hot_holes_trap():
    rates = CORE_SHELL_510.rates()
    assert CORE_SHELL_510.hole_excess_ev < CORE_SHELL_510.trap_barrier_ev < CORE_SHELL_510.gap_ev
    assert rates.trap == 0.0  # photoexcited holes at 510 nm: below the barrier
    assert rates.auger_trapping == pytest.approx(0.25 * 0.25 / (0.25 + 2.0))  # 3:1, then trapping vs cooling
    run = gillespie(CORE_SHELL_510, 2.1, 2000, 1500.0, seed=1)
    kinds = set(np.unique(run.event_kind))
    assert 1 not in kinds and 4 in kinds
    assert TRAPPING.rates().trap == 0.25 and TRAPPING.rates().auger_trapping == 0.0  # today's model by default
    high = dataclasses.replace(CORE_ONLY_340, trap_barrier_ev=2.5)
    assert high.rates().trap == 0.0 and high.rates().auger_trapping == 0.0
    assert master_equation(high, 2.1, [1500.0])['trapped_pairs'][0] == 0.0


def test_auger_hole_trapping_slows_the_heating_it_competes_with():
    """Auger-made holes that trap take their pairs out of the Auger chain: less heating, more trapped pairs."""
    no_holes = dataclasses.replace(CORE_SHELL_510, auger_hole_fraction=0.0)
    t = [10.0, 1500.0]
    with_holes, without = master_equation(CORE_SHELL_510, 2.1, t), master_equation(no_holes, 2.1, t)
    assert without['trapped_pairs'][1] == 0.0 and with_holes['trapped_pairs'][1] > 0.3
    assert with_holes['energy_ev'][1] < without['energy_ev'][1]


def test_initial_pairs_are_poisson():
    mean = DEMO_MODEL.mean_pairs(2.1)
    run = gillespie(DEMO_MODEL, 2.1, 100000, 1.0, seed=5)
    counts = np.bincount(run.n0, minlength=15)[:15]
    expected = stats.poisson.pmf(np.arange(15), mean) * run.n0.size
    keep = expected > 20
    chi2 = np.sum((counts[keep] - expected[keep]) ** 2 / expected[keep])
    assert stats.chi2.sf(chi2, keep.sum() - 1) > 1e-3
    assert run.n0.mean() == pytest.approx(mean, rel=0.01) and run.n0.var() == pytest.approx(mean, rel=0.03)


def test_same_seed_gives_the_same_events_on_any_number_of_threads():
    threads = numba.get_num_threads()
    runs = []
    for count in (1, threads):
        numba.set_num_threads(count)
        runs.append(gillespie(CORE_ONLY_340, 2.1, 3000, 1500.0, seed=9))
    numba.set_num_threads(threads)
    for name in ('event_time_ps', 'event_kind', 'event_trajectory', 'hot', 'free', 'trapped'):
        np.testing.assert_array_equal(getattr(runs[0], name), getattr(runs[1], name))
    other = gillespie(CORE_ONLY_340, 2.1, 3000, 1500.0, seed=10)
    assert not np.array_equal(other.deposited_energy(), runs[0].deposited_energy())


def test_energy_is_conserved_per_trajectory():
    """N0 E_ph = lattice energy + E_gap (radiative + trapped + remaining free) + E_ph (still hot)."""
    model = dataclasses.replace(CORE_ONLY_340, tau_radiative_ps=500.0)
    run = gillespie(model, 2.1, 5000, 800.0, seed=2)
    radiative = np.bincount(run.event_trajectory[run.event_kind == 3], minlength=run.n0.size)
    lattice = run.deposited_energy()
    unreleased = model.gap_ev * (radiative + run.trapped + run.free) + model.photon_ev * run.hot
    np.testing.assert_allclose(lattice + unreleased, run.n0 * model.photon_ev, rtol=1e-12, atol=1e-9)
    assert set(np.unique(run.event_kind)) == {0, 1, 2, 3, 4}


def test_trapping_suppresses_auger_heating_about_fourfold():
    no_trap = dataclasses.replace(TRAPPING, tau_trap_ps=np.inf)
    t = [10.0, 1500.0]
    a, b = master_equation(TRAPPING, 2.1, t)['delta_t_k'], master_equation(no_trap, 2.1, t)['delta_t_k']
    assert 3.0 < (b[1] - b[0]) / (a[1] - a[0]) < 5.0


def test_seed_conditions_heat_gradually_at_510_nm_and_trap_at_340_nm():
    """<N> = 10 per mJ/cm^2 at 510 nm; the heat capacity is 3 k_B per atom of the particle the package builds; at
    340 nm (same <N>) the photoexcited holes trap and the slow (Auger) heating after 20 ps is suppressed."""
    from aiida_qdots.structures.nanocrystals import build_nanocrystal

    assert len(build_nanocrystal(40.0, shell_monolayers=8, max_atoms=20000)) == SEED_MODEL.n_atoms
    assert SEED_MODEL.heat_capacity_ev_k == pytest.approx(3 * 8.617333262e-5 * SEED_MODEL.n_atoms)
    blue, red = SEED_SETS[1], SEED_SETS[0]
    assert red.model.mean_pairs(red.fluence_mj_cm2) == pytest.approx(10.0 * 2.1)
    assert blue.model.mean_pairs(blue.fluence_mj_cm2) == pytest.approx(10.0 * 2.1)
    assert red.model.rates().trap == 0.0 and blue.model.rates().trap > 0.0  # the barrier decides
    t = [20.0, 1500.0]
    slow = [np.diff(master_equation(s.model, s.fluence_mj_cm2, t)['delta_t_k'])[0] for s in (red, blue)]
    assert slow[0] > 2.0 * slow[1]


def auger_events(n_free: int, q: float) -> np.ndarray:
    """Expected Auger events f(c) of a cascade from c free pairs that stops below two, each event removing one pair
    (probability 1 - q) or two (its hot hole traps, probability q): f(c) = 1 + (1 - q) f(c - 1) + q f(c - 2)."""
    f = np.zeros(n_free + 1)
    for c in range(2, n_free + 1):
        f[c] = 1.0 + (1.0 - q) * f[c - 1] + q * f[c - 2]
    return f


@pytest.mark.parametrize('pump', SEED_SETS, ids=['510nm', '340nm'])
def test_seed_plateau_is_the_closed_form_energy_balance(pump):
    """dT(t -> inf) without radiative decay = [<N> (E_ph - E_gap) + E_gap E f(M)] / (3 N_atoms k_B), written out from
    the constants: every pair deposits its excess (cooled or trapped), a photoexcited hole traps with probability
    p = k_trap / (k_trap + k_cool) when above the barrier, so M ~ Poisson(<N> (1 - p)) pairs enter the cascade, each
    Auger event deposits E_gap (:func:`auger_events`). It never exceeds <N> E_ph / C (all absorbed energy as heat)."""
    kb_ev_k, hc_ev_nm = 8.617333262e-5, 1239.84198
    model = dataclasses.replace(pump.model, tau_radiative_ps=1e15)
    mean = 10.0 * 2.1  # the seed's <N> = 10 per mJ/cm^2 at 2.1 mJ/cm^2; the 340 nm set is pumped to the same <N>
    photon = hc_ev_nm / model.wavelength_nm
    excess = photon - 2.0
    k_cool, k_trap = 1.0 / model.tau_cool_ps, 1.0 / 5.0
    p = k_trap / (k_trap + k_cool) if 0.22 * excess > 0.2 else 0.0
    q = 0.25 * k_trap / (k_trap + k_cool)  # Auger hot holes (E_gap above the barrier), 3:1 electrons : holes
    counts = np.arange(150)
    energy = mean * excess + 2.0 * stats.poisson.pmf(counts, mean * (1 - p)) @ auger_events(149, q)
    heat_capacity = 3 * 16466 * kb_ev_k
    plateau = master_equation(model, pump.fluence_mj_cm2, [1e7])['delta_t_k'][0]
    assert plateau == pytest.approx(energy / heat_capacity, rel=1e-6)
    assert plateau < mean * photon / heat_capacity
    measured = master_equation(pump.model, pump.fluence_mj_cm2, [1500.0])['delta_t_k'][0]  # the demo's last delay
    assert 0.95 * plateau < measured < plateau  # the last Auger step (c = 2 -> 1) takes tau_AR = 625 ps


def seed_pumps(rng, noise_k=0.3, sigma_factors=(1.0, 1.0)):
    """dT(t) of the seed's two pumps by the master equation with Gaussian noise, and fit models starting away from
    the truth (tau_AR 400 ps, tau_trap 10 ps) whose cross-sections are the truth's times ``sigma_factors``."""
    t = DEMO_DELAYS_PS[DEMO_DELAYS_PS >= 0]
    pumps = []
    for pump, factor in zip(SEED_SETS, sigma_factors, strict=True):
        clean = master_equation(pump.model, pump.fluence_mj_cm2, t)['delta_t_k']
        start = dataclasses.replace(
            pump.model, tau_auger_ps=400.0, tau_trap_ps=10.0, sigma_cm2=factor * pump.model.sigma_cm2
        )
        noisy = clean + rng.normal(0.0, noise_k, t.size)
        pumps.append(Pump(t, noisy, np.full(t.size, noise_k), pump.fluence_mj_cm2, start))
    return pumps


def test_joint_fit_recovers_tau_auger_and_tau_trap_within_their_intervals():
    """Both seed pumps, <N> fixed by the true cross-sections: tau_AR and tau_trap inside their statistical CIs,
    which the cross-sections' 20 % uncertainty widens."""
    fit = fit_lattice_heating(seed_pumps(np.random.default_rng(0)), ('tau_auger_ps', 'tau_trap_ps'), 0.2)
    assert fit.success and fit.chi2_reduced < 2.0
    for name in fit.free:
        truth = getattr(SEED_MODEL, name)
        low, high = fit.ci_statistical[name]
        assert low < truth < high and high / low < 1.5, (name, fit.values[name], fit.ci_statistical[name])
        assert fit.ci[name][0] < low and high < fit.ci[name][1]
    above_every_hole = dataclasses.replace(SEED_MODEL, trap_barrier_ev=2.5)
    pump = dataclasses.replace(seed_pumps(np.random.default_rng(0))[0], model=above_every_hole)
    with pytest.raises(ValueError, match=r'tau_trap_ps do\(es\) not change'):
        fit_lattice_heating([pump], ('tau_auger_ps', 'tau_trap_ps'))


@pytest.mark.parametrize('source', ['cross-section', 'dT scale', 'dT offset'])
def test_uncertainty_propagates_like_refits_with_sampled_values(source):
    """The linear propagation of the cross-section's (or of a scale common to all dT, the Debye-Waller slope's, or of
    an offset common to a pump's delays, its pre-pump reference's) uncertainty against the spread of refits of the
    same data with that value drawn from its distribution (small uncertainty: the linear regime)."""
    rel, offset, rng = 0.03, 0.2, np.random.default_rng(1)
    pump = seed_pumps(rng)[0]
    if source == 'cross-section':
        fit = fit_lattice_heating([pump], ('tau_auger_ps',), rel)
        propagated = fit.sigma_sensitivity[0, 0]
    elif source == 'dT scale':
        fit = fit_lattice_heating([pump], ('tau_auger_ps',), scale_rel_err=rel)
        propagated = fit.scale_sensitivity[0]
    else:
        fit = fit_lattice_heating([pump], ('tau_auger_ps',), offset_err=offset)
        propagated = fit.offset_sensitivity[0, 0]
        statistical = np.log(fit.ci_statistical['tau_auger_ps'])
        without = np.log(fit_lattice_heating([pump], ('tau_auger_ps',)).ci_statistical['tau_auger_ps'])
        z = stats.norm.ppf(0.975)  # the offset adds in quadrature to the data's own interval
        assert (np.diff(statistical)[0] / (2 * z)) ** 2 == pytest.approx(
            (np.diff(without)[0] / (2 * z)) ** 2 + (propagated * offset) ** 2, rel=1e-6
        )
    log_sd = np.sqrt(np.log1p(rel**2))
    refits = []
    for draw in rng.normal(0.0, 1.0, 24):
        if source == 'cross-section':
            factor = np.exp(draw * log_sd)
            drawn = dataclasses.replace(
                pump, model=dataclasses.replace(pump.model, sigma_cm2=factor * pump.model.sigma_cm2)
            )
        elif source == 'dT scale':
            drawn = dataclasses.replace(pump, delta_t_k=np.exp(draw * log_sd) * pump.delta_t_k)
        else:
            drawn = dataclasses.replace(pump, delta_t_k=pump.delta_t_k + draw * offset)
        refits.append(fit_lattice_heating([drawn]).values['tau_auger_ps'])
    sampled = np.std(np.log(refits), ddof=1)
    assert sampled == pytest.approx(abs(propagated) * (offset if source == 'dT offset' else log_sd), rel=0.35)


def test_model_rejects_unphysical_parameters():
    with pytest.raises(ValueError, match='below the gap'):
        KineticModel(wavelength_nm=800.0, gap_ev=2.0)
    with pytest.raises(ValueError, match='tau_auger_ps must be positive'):
        KineticModel(tau_auger_ps=0.0)
    with pytest.raises(ValueError, match='auger_hole_fraction must be within'):
        KineticModel(auger_hole_fraction=1.5)
    with pytest.raises(ValueError, match='trap_barrier_ev must be non-negative'):
        KineticModel(trap_barrier_ev=-0.1)
    with pytest.raises(ValueError, match='n_atoms must be non-negative'):
        KineticModel(n_atoms=-1)
    with pytest.raises(ValueError, match='times must be non-negative'):
        master_equation(DEMO_MODEL, 2.1, [-1.0])
    with pytest.raises(ValueError, match='n0 must be non-negative'):
        gillespie(DEMO_MODEL, 2.1, 2, 10.0, n0=[1, -1])


def test_wurtzite_reflections_and_debye_waller_fit():
    reflections = wurtzite_reflections(4.0)
    assert reflections[:4] == [(1, 0, 0), (0, 0, 2), (1, 0, 1), (1, 0, 2)] and (0, 0, 1) not in reflections
    q = wurtzite_q(reflections)
    assert q[0] == pytest.approx(2 * np.pi / (4.30 * np.sqrt(3) / 2))  # d(100) = a sqrt(3)/2
    du2 = np.array([0.0, 1e-3, 2e-3])
    ratio = intensity_ratio(q, du2)
    fit = debye_waller_fit(q, ratio, np.full(ratio.shape, 1e-4))
    np.testing.assert_allclose(fit.du2, du2, atol=1e-12)
    assert not fit.flagged.any()
    disordered = ratio * np.exp(-2e-4 * q**4)  # extra high-Q loss: not Debye-Waller heating
    assert debye_waller_fit(q, disordered, np.full(ratio.shape, 1e-4)).flagged.all()
    delta_t, error = lattice_temperature(fit.du2, fit.du2_err, 1e-4, 1e-5)
    np.testing.assert_allclose(delta_t, [0.0, 10.0, 20.0], atol=1e-8)
    assert error[2] == pytest.approx(np.hypot(fit.du2_err[2] / 1e-4, 2.0))
