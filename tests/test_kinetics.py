"""Kinetic models (Gillespie SSA vs master equation, Poisson start, energy conservation) and Debye-Waller fits."""

import dataclasses

import numpy as np
import pytest
from scipy import stats

from aiida_qdots.analysis.debye_waller import (
    debye_waller_fit,
    intensity_ratio,
    lattice_temperature,
    wurtzite_q,
    wurtzite_reflections,
)
from aiida_qdots.analysis.kinetics import KineticModel, fit_lattice_heating, gillespie, master_equation
from aiida_qdots.data.ued import DEMO_MODEL

TIMES = np.array([0.0, 5.0, 50.0, 200.0, 600.0, 1500.0])


def test_pure_auger_chain_ssa_agrees_with_master_equation():
    model = dataclasses.replace(DEMO_MODEL, tau_radiative_ps=3000.0)
    exact = master_equation(model, 2.1, TIMES, hot_start=False)
    run = gillespie(model, 2.1, 40000, TIMES[-1], seed=3, hot_start=False)
    energy = run.mean_energy(TIMES)
    free = run.mean_free_pairs(TIMES) + run.n0.mean()
    assert exact['energy_ev'][0] == 0.0 and energy[0] == 0.0
    scale = model.gap_ev * model.mean_pairs(2.1) / np.sqrt(run.n0.size)  # bound on the per-time SEM
    assert np.all(np.abs(energy - exact['energy_ev']) < 4 * scale)
    assert np.all(np.abs(free - exact['free_pairs']) < 4 * model.mean_pairs(2.1) / np.sqrt(run.n0.size))


def test_full_model_with_trapping_ssa_agrees_with_master_equation():
    model = dataclasses.replace(DEMO_MODEL, wavelength_nm=340.0, tau_cool_ps=5.0, tau_trap_ps=4.0)
    exact = master_equation(model, 2.1, TIMES)
    run = gillespie(model, 2.1, 40000, TIMES[-1], seed=11)
    final = run.deposited_energy()
    z = (final.mean() - exact['energy_ev'][-1]) / (final.std(ddof=1) / np.sqrt(final.size))
    assert abs(z) < 4
    np.testing.assert_allclose(run.mean_energy(TIMES), exact['energy_ev'], rtol=0.03, atol=0.05)


def test_initial_pairs_are_poisson():
    mean = DEMO_MODEL.mean_pairs(2.1)
    run = gillespie(DEMO_MODEL, 2.1, 100000, 1.0, seed=5)
    counts = np.bincount(run.n0, minlength=15)[:15]
    expected = stats.poisson.pmf(np.arange(15), mean) * run.n0.size
    keep = expected > 20
    chi2 = np.sum((counts[keep] - expected[keep]) ** 2 / expected[keep])
    assert stats.chi2.sf(chi2, keep.sum() - 1) > 1e-3
    assert run.n0.mean() == pytest.approx(mean, rel=0.01) and run.n0.var() == pytest.approx(mean, rel=0.03)


def test_energy_is_conserved_per_trajectory():
    """N0 E_ph = lattice energy + E_gap (radiative + trapped + remaining free + hot ones still hot, minus excess)."""
    model = dataclasses.replace(
        DEMO_MODEL, wavelength_nm=340.0, tau_cool_ps=5.0, tau_trap_ps=4.0, tau_radiative_ps=500.0
    )
    run = gillespie(model, 2.1, 5000, 800.0, seed=2)
    radiative = np.bincount(run.event_trajectory[run.event_kind == 3], minlength=run.n0.size)
    lattice = run.deposited_energy()
    unreleased = model.gap_ev * (radiative + run.trapped + run.free) + model.photon_ev * run.hot
    np.testing.assert_allclose(lattice + unreleased, run.n0 * model.photon_ev, rtol=1e-12, atol=1e-9)
    assert set(np.unique(run.event_kind)) == {0, 1, 2, 3}


def test_trapping_suppresses_auger_heating_about_fourfold():
    trap = dataclasses.replace(DEMO_MODEL, wavelength_nm=340.0, tau_cool_ps=5.0, tau_trap_ps=4.0)
    no_trap = dataclasses.replace(trap, tau_trap_ps=np.inf)
    t = [10.0, 1500.0]
    a, b = master_equation(trap, 2.1, t)['delta_t_k'], master_equation(no_trap, 2.1, t)['delta_t_k']
    assert 3.0 < (b[1] - b[0]) / (a[1] - a[0]) < 5.0
    plateau = master_equation(DEMO_MODEL, 2.1, [1500.0])['delta_t_k'][0]
    assert plateau == pytest.approx(13.0, abs=0.5)  # the demo reproduces the seed's ~13 K at 2.1 mJ/cm^2


def test_fit_recovers_known_parameters_within_their_intervals():
    rng = np.random.default_rng(0)
    t = np.concatenate([np.arange(0.0, 50.0, 5.0), np.arange(50.0, 1501.0, 50.0)])
    truth = master_equation(DEMO_MODEL, 2.1, t)['delta_t_k']
    error = np.full(t.size, 0.4)
    start = dataclasses.replace(DEMO_MODEL, tau_auger_ps=300.0, sigma_cm2=6e-16)
    fit = fit_lattice_heating(t, truth + rng.normal(0, 0.4, t.size), error, 2.1, start)
    assert fit.success
    for name, true in (('tau_auger_ps', 625.0), ('sigma_cm2', 9.5e-16)):
        low, high = fit.ci[name]
        assert low < true < high, (name, fit.values[name], fit.ci[name])
    assert fit.chi2_reduced < 2.0


def test_model_rejects_unphysical_parameters():
    with pytest.raises(ValueError, match='below the gap'):
        KineticModel(wavelength_nm=800.0, gap_ev=2.0)
    with pytest.raises(ValueError, match='tau_auger_ps must be positive'):
        KineticModel(tau_auger_ps=0.0)


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
