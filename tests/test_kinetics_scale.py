"""The free heating scale s of the kinetic-model fit (dT_data = s dT_model, shared by the pumps): exact recovery of
noise-free data, the symmetry that makes the d<u^2>/dT error move s alone, and the coverage of its CIs."""

import dataclasses

import numpy as np
import pytest

from aiida_qdots.analysis.kinetics import HEATING_SCALE, Pump, fit_lattice_heating, master_equation
from aiida_qdots.data.ued import DEMO_DELAYS_PS, SEED_SETS

TRUTH = {'tau_auger_ps': 625.0, 'tau_trap_ps': 5.0, HEATING_SCALE: 0.8}
FREE = ('tau_auger_ps', 'tau_trap_ps', HEATING_SCALE)
DELAYS = DEMO_DELAYS_PS[DEMO_DELAYS_PS >= 0]
CLEAN = [master_equation(pump.model, pump.fluence_mj_cm2, DELAYS)['delta_t_k'] for pump in SEED_SETS]
"""The seed's two pumps (510 / 340 nm, tau_AR 625 ps, tau_trap 5 ps, <N> 21) by the master equation."""


def scaled_pumps(scale=TRUTH[HEATING_SCALE], noise_k=0.3, rng=None):
    """Both seed pumps' dT(t) times ``scale`` (+ Gaussian noise when ``rng``), fitted from tau_AR 400 ps and
    tau_trap 10 ps with <N> fixed at the true cross-sections."""
    pumps = []
    for pump, clean in zip(SEED_SETS, CLEAN, strict=True):
        measured = scale * clean + (0.0 if rng is None else rng.normal(0.0, noise_k, DELAYS.size))
        start = dataclasses.replace(pump.model, tau_auger_ps=400.0, tau_trap_ps=10.0)
        pumps.append(Pump(DELAYS, measured, np.full(DELAYS.size, noise_k), pump.fluence_mj_cm2, start))
    return pumps


def test_free_scale_recovers_noise_free_constants_and_takes_the_slope_error():
    """Noise-free s dT_model(t), s = 0.8: tau_AR, tau_trap and s come back exactly, as s x 1.25 when the data are
    scaled by 1.25 (a common factor of the data is s's alone); the slope's error then leaves every CI unchanged,
    while with s held at 1 the same data give a tau_AR four times the truth, far outside its statistical CI."""
    fit = fit_lattice_heating(scaled_pumps(), FREE, 0.2, scale_rel_err=0.5)
    assert fit.success and fit.chi2_reduced < 1e-12
    for name, truth in TRUTH.items():
        assert fit.values[name] == pytest.approx(truth, rel=1e-6), fit.values
    assert fit.heating_scale == fit.values[HEATING_SCALE]
    np.testing.assert_allclose(fit.scale_sensitivity, [0.0, 0.0, 1.0], atol=1e-4)  # a finite-difference Jacobian
    assert fit.ci == fit_lattice_heating(scaled_pumps(), FREE, 0.2).ci  # the slope's error is not counted twice
    for curve, clean in zip(fit.fitted_k, CLEAN, strict=True):
        np.testing.assert_allclose(curve, 0.8 * clean, rtol=1e-6, atol=1e-9)
    larger = fit_lattice_heating(scaled_pumps(scale=0.8 * 1.25), FREE)
    assert larger.values[HEATING_SCALE] == pytest.approx(1.0, rel=1e-6)
    for name in FREE[:2]:
        assert larger.values[name] == pytest.approx(TRUTH[name], rel=1e-6)
    fixed = fit_lattice_heating(scaled_pumps(rng=np.random.default_rng(0)), FREE[:2])
    assert fixed.heating_scale == 1.0 and HEATING_SCALE not in fixed.values
    assert fixed.ci_statistical['tau_auger_ps'][0] > 3 * TRUTH['tau_auger_ps'], fixed.values


def test_free_scale_intervals_hold_the_truth_at_about_the_nominal_rate():
    """Twelve noise draws (0.3 K on 11-12 K plateaus, as the seed-conditions demo): each statistical 95 % CI of
    tau_AR, tau_trap and s holds the truth in at least 10 of 12 draws (P = 0.98 at the nominal 95 %); identifiable:
    every interval of tau_AR narrower than a factor 1.5."""
    rng, held = np.random.default_rng(11), dict.fromkeys(FREE, 0)
    for _ in range(12):
        fit = fit_lattice_heating(scaled_pumps(rng=rng), FREE)
        assert fit.success and fit.chi2_reduced < 2.0
        low, high = fit.ci_statistical['tau_auger_ps']
        assert high / low < 1.5, fit.ci_statistical
        for name, truth in TRUTH.items():
            low, high = fit.ci_statistical[name]
            held[name] += low < truth < high
    assert min(held.values()) >= 10, held
