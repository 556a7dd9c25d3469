"""The dG route's lattice temperature: dT(t) read from the measured dG(r, t) against the MD heating response, processed
as the data are, so that the kinetic model can be fitted to the dG route as to the Debye-Waller route.

Graph: ``delta_pdf`` (:func:`~aiida_qdots.functions.ued_patterns.pattern_difference_pdf`) + the MD ``diffraction`` of
``qdots.phonons`` (+ its runs' thermo for their measured temperatures, + its two-block error) ->
:func:`dg_lattice_temperature` -> a ``lattice_temperature`` node that
:func:`~aiida_qdots.functions.ued.fit_heating` reads. Q in 1/angstrom, r in angstrom, dG in 1/angstrom^2, T in K.
"""

from __future__ import annotations

import numpy as np
from aiida import orm
from aiida.engine import calcfunction

from aiida_qdots.analysis.dg_temperature import (
    DW_RATIO_RANGE,
    fit_heating_fraction,
    fraction_error,
    heating_response,
    ratio_of,
)
from aiida_qdots.analysis.diffraction import window_function
from aiida_qdots.analysis.ued_patterns import difference_pdf, smooth_baseline
from aiida_qdots.common.output_keys import DT_SCALE_REL_ERR_KEY
from aiida_qdots.functions.ued_patterns import md_temperatures, pattern_settings

NODE_NORMALISATION = 'N <f>^2 of the node'
"""How :func:`~aiida_qdots.functions.ued_patterns.pattern_difference_pdf` records a faber-ziman normalisation."""


def md_response(delta_pdf: orm.ArrayData, md: orm.ArrayData) -> tuple[np.ndarray, np.ndarray]:
    """The MD's heating on the data's Q grid, normalised as the data were: dF_1(Q) = F_hot - F_cold (the MD's
    faber-ziman ``delta_reduced`` when the data were divided by N <f>^2, else Q (I_hot - I_cold) / the smooth baseline
    of I_cold on the data's grid, what the data's I0 was divided by), and rho(Q) = F_hot / F_cold, the change of the
    pair scattering, whatever the normalisation."""
    q, q_md = delta_pdf.get_array('q_inv_angstrom'), md.get_array('q_inv_angstrom')
    q_min, q_max = delta_pdf.base.attributes.get('q_range_inv_angstrom')
    by = delta_pdf.base.attributes.get('normalised_by')
    needed = q[(q >= q_min) & (q <= q_max)] if by == NODE_NORMALISATION else q
    if needed.min() < q_md.min() - 1e-9 or needed.max() > q_md.max() + 1e-9:
        raise ValueError(
            f'the MD diffraction covers Q = {q_md.min():g}-{q_md.max():g} 1/A; the patterns need '
            f'{needed.min():g}-{needed.max():g} 1/A: give qdots.phonons (pdf.diffraction.q_range) at least that range'
        )
    cold, hot = (np.interp(q, q_md, md.get_array(f'reduced_{name}')) for name in ('cold', 'hot'))
    rho = ratio_of(hot, cold)
    if by == NODE_NORMALISATION:
        normalisation = md.base.attributes.get('normalisation')
        if normalisation != 'faber-ziman':
            raise ValueError(f'the patterns are faber-ziman normalised, the MD diffraction {normalisation!r}')
        return np.interp(q, q_md, md.get_array('delta_reduced')), rho
    cold, hot = (np.interp(q, q_md, md.get_array(f'intensity_{name}')) for name in ('cold', 'hot'))
    return q * (hot - cold) / smooth_baseline(q, cold), rho


def template_scale_error(md: orm.ArrayData, md_error: orm.ArrayData | None, r_range) -> tuple[float, str]:
    """Relative standard error of the MD dG's amplitude over ``r_range`` from its two frame blocks (the
    ``diffraction_block_error`` node): |a_1 - a_2| / (a_1 + a_2), a_b each block's least-squares amplitude on the
    full dG; 0 and why when no blocks are given."""
    if md_error is None:
        return 0.0, 'not estimated: the MD diffraction has no frame blocks (not made by analyze_diffraction)'
    r = md.get_array('r_angstrom')
    full = np.where((r >= r_range[0]) & (r <= r_range[1]), md.get_array('delta_g'), 0.0)
    first, second = md_error.get_array('delta_g_blocks') @ full / (full @ full)
    return float(abs(first - second) / abs(first + second)), 'two frame blocks of the MD runs (1 degree of freedom)'


@calcfunction
def dg_lattice_temperature(
    delta_pdf: orm.ArrayData,
    md_diffraction: orm.ArrayData,
    parameters: orm.Dict,
    md_error: orm.ArrayData | None = None,
    cold: orm.TrajectoryData | None = None,
    hot: orm.TrajectoryData | None = None,
    cold_thermo: orm.ArrayData | None = None,
    hot_thermo: orm.ArrayData | None = None,
) -> orm.ArrayData:
    """dT(t) of each set: the fit over ``temperature_r_range`` of the MD's heating response to dG(r, t)
    (:func:`~aiida_qdots.analysis.dg_temperature.fit_heating_fraction`: the Debye-Waller form, exponential in dT),
    the MD processed as the data were (``md_diffraction`` on the data's Q grid, transformed with their range, window
    and normalisation), dT in kelvin of the runs' measured temperature difference when ``cold``/``hot`` and their
    thermo are given, else of the nominal one. Errors: the data's per-Q errors propagated exactly through the
    transform and the fit's linearisation (``delta_t_stat_err_k``; its part from the pre-pump reference, common to a
    set's delays, ``delta_t_ref_err_k``), and the MD dG's relative error (``md_error`` blocks), a scale common to
    every delay."""
    p = pattern_settings(parameters)
    r_range = [float(x) for x in p['temperature_r_range']]
    attributes = delta_pdf.base.attributes
    q, r = delta_pdf.get_array('q_inv_angstrom'), delta_pdf.get_array('r_angstrom')
    q_range, window = attributes.get('q_range_inv_angstrom'), attributes.get('window')
    nominal = md_diffraction.base.attributes.get('temperatures_k')
    if cold is not None and hot is not None:
        temperatures = md_temperatures(cold, hot, cold_thermo, hot_thermo, nominal)
    else:
        temperatures = {'temperatures_k': [float(t) for t in nominal], 'temperature_scale': 'nominal'}
    md_cold, md_hot = temperatures['temperatures_k']
    if not md_hot > md_cold:
        raise ValueError(f'the MD hot state ({md_hot:.1f} K) is not hotter than the cold one ({md_cold:.1f} K)')
    full, rho = md_response(delta_pdf, md_diffraction)
    span = md_hot - md_cold
    inside = q[(q >= q_range[0]) & (q <= q_range[1])]
    window_values = window_function(inside, q_range[1], window)
    delta_g = delta_pdf.get_array('delta_g')
    fraction, weights = fit_heating_fraction(delta_g, full, rho, q, r, q_range, window_values, r_range)
    delta_t = fraction * span
    stat = span * fraction_error(q, delta_pdf.get_array('delta_reduced_err'), weights, r, q_range, window_values)
    reference = delta_pdf.get_array('reference_reduced_err')[:, None, :]
    ref = span * fraction_error(q, reference, weights, r, q_range, window_values)
    scale_rel_err, scale_source = template_scale_error(md_diffraction, md_error, r_range)
    used = (r >= r_range[0]) & (r <= r_range[1])
    model = difference_pdf(q, full * heating_response(rho, fraction)[0], r, q_range, window)
    residual = delta_g[..., used] - model[..., used]
    signal = (delta_g[..., used] ** 2).sum(axis=(1, 2))
    node = orm.ArrayData()
    node.set_array('delay_ps', delta_pdf.get_array('delay_ps'))
    node.set_array('delta_t_k', delta_t)
    node.set_array('delta_t_stat_err_k', stat)
    node.set_array('delta_t_ref_err_k', ref)
    node.set_array('delta_t_err_k', np.sqrt(stat**2 + (scale_rel_err * delta_t) ** 2))
    node.set_array('r_angstrom', r)
    node.set_array('md_delta_g_per_k', difference_pdf(q, full, r, q_range, window) / span)
    node.base.attributes.set_many(
        {
            'sets': attributes.get('sets'),
            DT_SCALE_REL_ERR_KEY: scale_rel_err,
            'scale_error_source': scale_source,
            **{f'md_{k}': v for k, v in temperatures.items()},
            'r_range_angstrom': r_range,
            'q_range_inv_angstrom': q_range,
            'window': window,
            'normalised_by': attributes.get('normalised_by'),
            # share of the data's dG over r_range that dT x the MD shape explains, per set (1: heating alone)
            'explained_fraction': (1.0 - (residual**2).sum(axis=(1, 2)) / signal).tolist(),
            'units': {'delta_t': 'K', 'md_delta_g_per_k': '1/(angstrom^2 K)', 'r': 'angstrom', 'delay': 'ps'},
            'response': 'dF(Q; x) = (F_hot - F_cold) (rho^x - 1)/(rho - 1), rho = F_hot/F_cold in '
            f'{list(DW_RATIO_RANGE)} (Debye-Waller, exponential in dT), else (F_hot - F_cold) x; x = dT/(T_hot - '
            'T_cold)',
            'convention': 'dT(t): least squares of the transformed response to dG(r, t) over r_range (Gauss-Newton); '
            'md_delta_g_per_k its first order per kelvin; delta_t_err_k adds the MD scale error to the statistical '
            'one',
        }
    )
    return node
