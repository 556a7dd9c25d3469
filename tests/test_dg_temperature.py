"""The dG route's dT(t): the fit of the MD's heating response recovers a known heating exactly (where a linear
template is biased by the exponential Debye-Waller law), its error propagated through the sine transform equals the
spread of Monte Carlo noise draws, and a template that cannot be processed as the data are is refused in one line."""

import numpy as np
import pytest

from aiida_qdots.analysis.dg_temperature import fit_heating_fraction, fraction_error, heating_response
from aiida_qdots.analysis.diffraction import sine_transform, window_function

Q = np.arange(1.0, 8.005, 0.01)
R = np.arange(0.02, 10.01, 0.02)
Q_RANGE = (1.5, 8.0)
R_RANGE = (3.0, 10.0)
INSIDE = Q[(Q >= Q_RANGE[0]) & (Q <= Q_RANGE[1])]
WINDOW = window_function(INSIDE, Q_RANGE[1])
F_COLD = 2.0 * (np.sin(2.6 * Q) + 0.5 * np.sin(4.3 * Q)) * np.exp(-0.01 * Q**2)
RHO = np.exp(-0.02 * Q**2 / 3)  # a Debye-Waller damping exp(-Q^2 du2/3) of the pair scattering, du2 = 0.02 A^2


def _heated(x) -> np.ndarray:
    """dF of a heating by the fraction ``x`` of the MD's: F_cold (rho^x - 1), exponential in x."""
    return F_COLD * (RHO ** np.asarray(x, dtype=float)[..., None] - 1.0)


def _fit(delta_f):
    delta_g = sine_transform(Q, delta_f, R, *Q_RANGE)
    return fit_heating_fraction(delta_g, F_COLD * (RHO - 1.0), RHO, Q, R, Q_RANGE, WINDOW, R_RANGE)


def test_heating_response_is_exponential_inside_its_range_and_linear_outside():
    phi = heating_response(np.array([0.9, 1.0, 3.0, -1.0]), np.array([0.0, 0.5, 1.0]))[0]
    np.testing.assert_allclose(phi[0], 0.0, atol=1e-15)
    np.testing.assert_allclose(phi[2], 1.0, atol=1e-15)  # x = 1 is the MD's own heating, whatever rho
    np.testing.assert_allclose(phi[1], [(0.9**0.5 - 1) / (0.9 - 1), 0.5, 0.5, 0.5])
    step = 1e-6  # d phi / dx by central differences
    numeric = (heating_response(0.9, 0.5 + step)[0] - heating_response(0.9, 0.5 - step)[0]) / (2 * step)
    np.testing.assert_allclose(heating_response(0.9, 0.5)[1], numeric, rtol=1e-8)


def test_fit_recovers_a_known_heating_where_a_linear_template_is_biased():
    truth = np.array([0.2, 0.7, 1.0, 1.3])
    fraction, _ = _fit(_heated(truth))
    np.testing.assert_allclose(fraction, truth, rtol=1e-9)
    template = sine_transform(Q, F_COLD * (RHO - 1.0), R, *Q_RANGE)
    template[(R < R_RANGE[0]) | (R > R_RANGE[1])] = 0.0
    linear = sine_transform(Q, _heated(truth), R, *Q_RANGE) @ template / (template @ template)
    assert np.abs(linear / truth - 1).max() > 2e-3  # the first-order reading is off by the law's curvature


def test_error_of_the_fit_is_the_monte_carlo_spread():
    rng = np.random.default_rng(3)
    f_err = 2e-4 * (1.0 + Q / 4.0)  # independent per Q, larger at high Q as in measured patterns
    draws = _heated(0.7) + rng.normal(0.0, f_err, (4000, Q.size))
    fraction, weights = _fit(draws)
    predicted = fraction_error(Q, f_err, weights, R, Q_RANGE, WINDOW)
    # the standard deviation of 4 000 draws is known to 1.1 %: 5 % is > 4 of its standard errors
    assert fraction.std(ddof=1) == pytest.approx(float(predicted.mean()), rel=0.05)
    assert fraction.mean() == pytest.approx(0.7, abs=4 * predicted.mean() / np.sqrt(4000))


def test_fit_refuses_a_heating_without_signal_in_its_range():
    flat = np.zeros_like(Q)
    with pytest.raises(ValueError, match='MD dG of the heating is zero over r = 3-10'):
        fit_heating_fraction(np.zeros(R.size), flat, RHO, Q, R, Q_RANGE, WINDOW, R_RANGE)


def test_dg_route_refuses_md_diffraction_over_a_shorter_q_range(aiida_profile):
    from aiida import orm

    from aiida_qdots.functions.dg_temperature import dg_lattice_temperature

    delta = orm.ArrayData()
    delta.set_array('q_inv_angstrom', Q)
    delta.set_array('r_angstrom', R)
    delta.base.attributes.set_many(
        {'q_range_inv_angstrom': list(Q_RANGE), 'window': 'lorch', 'normalised_by': 'N <f>^2 of the node'}
    )
    md = orm.ArrayData()
    md.set_array('q_inv_angstrom', np.arange(1.0, 6.0, 0.01))
    md.base.attributes.set_many({'temperatures_k': [300.0, 314.0], 'normalisation': 'faber-ziman'})
    with pytest.raises(ValueError, match=r'covers Q = 1-5\.99 1/A; the patterns need 1\.5-7\.99 1/A'):
        dg_lattice_temperature(delta, md, orm.Dict({}))
