"""The dG route's dT(t): the projection on the MD dG per kelvin recovers a known amplitude, its error propagated
through the sine transform equals the spread of Monte Carlo noise draws, and a template that cannot be processed as
the data are is refused in one line."""

import numpy as np
import pytest

from aiida_qdots.analysis.dg_kinetics import projected_error, temperature_weights
from aiida_qdots.analysis.diffraction import sine_transform, window_function

Q = np.arange(1.0, 8.005, 0.01)
R = np.arange(0.02, 10.01, 0.02)
Q_RANGE = (1.5, 8.0)


def _template_reduced() -> np.ndarray:
    """A heating-like dF(Q) per kelvin: damped oscillations growing with Q (d/dT of exp(-Q^2 u^2/3) sin(Q d)/Q d)."""
    return -1e-4 * Q**2 * (np.sin(2.6 * Q) + 0.5 * np.sin(4.3 * Q)) * np.exp(-0.01 * Q**2)


def test_projection_recovers_a_known_temperature_and_its_error_is_the_monte_carlo_spread():
    template = sine_transform(Q, _template_reduced(), R, *Q_RANGE)
    weights = temperature_weights(R, template, (3.0, 10.0))
    assert sine_transform(Q, 7.3 * _template_reduced(), R, *Q_RANGE) @ weights == pytest.approx(7.3, rel=1e-12)
    rng = np.random.default_rng(3)
    f_err = 2e-4 * (1.0 + Q / 4.0)  # independent per Q, larger at high Q as in measured patterns
    draws = rng.normal(0.0, f_err, (4000, Q.size))
    read = sine_transform(Q, 7.3 * _template_reduced() + draws, R, *Q_RANGE) @ weights
    inside = Q[(Q >= Q_RANGE[0]) & (Q <= Q_RANGE[1])]
    predicted = projected_error(Q, f_err, weights, R, Q_RANGE, window_function(inside, Q_RANGE[1]))
    # the standard deviation of 4 000 draws is known to 1.1 %: 5 % is > 4 of its standard errors
    assert read.std(ddof=1) == pytest.approx(float(predicted), rel=0.05)
    assert read.mean() == pytest.approx(7.3, abs=4 * predicted / np.sqrt(4000))


def test_projection_refuses_a_template_without_signal_in_its_range():
    template = np.where(R < 2.0, 1.0, 0.0)
    with pytest.raises(ValueError, match='MD dG per kelvin is zero over r = 3-10'):
        temperature_weights(R, template, (3.0, 10.0))


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
