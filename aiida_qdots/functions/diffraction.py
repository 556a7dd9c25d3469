"""Calcfunction of the electron-diffraction forward model: MD frames at two temperatures -> I(Q), F(Q), G(r), dG(r).

Kernel: :mod:`aiida_qdots.analysis.diffraction` (Debye equation with Kirkland electron scattering factors, the
experiment's reduced intensity and windowed sine transform). Trajectories are ``qdots.lammps`` outputs; only NVE
frames (time >= ``nve_start_fs``) are used. Q in 1/angstrom, r in angstrom.
"""

from __future__ import annotations

import numpy as np
from aiida import orm
from aiida.engine import calcfunction

from aiida_qdots.analysis.diffraction import FORM_FACTORS, NORMALISATIONS, WINDOWS, diffraction_curves
from aiida_qdots.analysis.pdf import pdf_peaks
from aiida_qdots.functions.phonons import nve_frames, spread_frames

DIFFRACTION_DEFAULTS = {
    'q_range': [1.0, 12.0],
    'q_step': 0.01,
    'window': 'lorch',
    'normalisation': 'faber-ziman',
    'histogram_dr': 1e-3,
    'r_max': 10.0,
    'r_step': 0.01,
    'max_frames': 200,
}
"""Settings of :func:`analyze_diffraction` (Q in 1/angstrom, r in angstrom); ``q_range`` is the measured range."""


def validate_diffraction(settings: dict) -> str | None:
    """One line on what is wrong with diffraction ``settings`` (merged on :data:`DIFFRACTION_DEFAULTS`), else None."""
    p = {**DIFFRACTION_DEFAULTS, **settings}
    try:
        q_min, q_max = (float(x) for x in p['q_range'])
        q_step = float(p['q_step'])
    except (TypeError, ValueError):
        return (
            f'diffraction q_range must be [q_min, q_max] and q_step a number (1/A), got {p["q_range"]}, {p["q_step"]}'
        )
    if not 0 < q_min < q_max or not 0 < q_step < q_max - q_min:
        return (
            f'diffraction needs 0 < q_min < q_max and 0 < q_step < q_max - q_min (1/A), got {[q_min, q_max]}, {q_step}'
        )
    if p['window'] not in WINDOWS or p['normalisation'] not in NORMALISATIONS:
        return f'diffraction window must be one of {WINDOWS} and normalisation one of {NORMALISATIONS}'
    if not 0 < float(p['histogram_dr']) <= 0.01 or not 0 < float(p['r_step']) < float(p['r_max']):
        return 'diffraction needs 0 < histogram_dr <= 0.01 A and 0 < r_step < r_max (A)'
    return None


def _grids(p: dict) -> tuple[np.ndarray, np.ndarray]:
    q_min, q_max = (float(x) for x in p['q_range'])
    q = np.arange(q_min, q_max + 0.5 * float(p['q_step']), float(p['q_step']))
    r = np.arange(float(p['r_step']), float(p['r_max']) + 0.5 * float(p['r_step']), float(p['r_step']))
    return q, r


def _frames(trajectory: orm.TrajectoryData, p: dict) -> np.ndarray:
    """The NVE frames of ``trajectory``, thinned evenly to at most ~``max_frames``."""
    positions, _, _ = nve_frames(trajectory, float(p['nve_start_fs']))
    return positions[spread_frames(len(positions), p['max_frames'])]


def _curves(positions, trajectory, p: dict, q, r) -> dict[str, np.ndarray]:
    symbols = [str(s) for s in trajectory.symbols]
    q_range = tuple(float(x) for x in p['q_range'])
    return diffraction_curves(
        positions, symbols, q, r, q_range, p['window'], p['normalisation'], float(p['histogram_dr'])
    )


@calcfunction
def analyze_diffraction(parameters: orm.Dict, cold: orm.TrajectoryData, hot: orm.TrajectoryData) -> orm.ArrayData:
    """Electron diffraction of the NVE frames at two temperatures: I(Q), F(Q), G(r) of each and their differences
    (hot - cold), processed over ``q_range`` with ``window`` as a measured pattern would be."""
    p = {**DIFFRACTION_DEFAULTS, **parameters.get_dict()}
    error = validate_diffraction(p)
    if error:
        raise ValueError(error)
    q_min, q_max = (float(x) for x in p['q_range'])
    q, r = _grids(p)
    node = orm.ArrayData()
    node.set_array('q_inv_angstrom', q)
    node.set_array('r_angstrom', r)
    curves, frames_used = {}, []
    for name, trajectory in (('cold', cold), ('hot', hot)):
        positions = _frames(trajectory, p)
        frames_used.append(len(positions))
        curves[name] = _curves(positions, trajectory, p, q, r)
        for key in ('intensity', 'reduced', 'g'):
            node.set_array(f'{key}_{name}', curves[name][key])
    node.set_array('mean_f2', curves['cold']['mean_f2'])
    for key in ('intensity', 'reduced', 'g'):
        node.set_array(f'delta_{key}', curves['hot'][key] - curves['cold'][key])
    node.base.attributes.set_many(
        {
            'temperatures_k': [p.get('temperature_cold_k'), p.get('temperature_hot_k')],
            'q_range_inv_angstrom': [q_min, q_max],
            'window': p['window'],
            'normalisation': p['normalisation'],
            'histogram_dr_angstrom': float(p['histogram_dr']),
            'n_frames': frames_used,
            'form_factors': FORM_FACTORS,
            'peaks_cold_angstrom': pdf_peaks(r, curves['cold']['g']).tolist(),
            'units': {
                'q': '1/angstrom',
                'r': 'angstrom',
                'intensity': 'angstrom^2 (per particle)',
                'mean_f2': 'angstrom^2 (per atom)',
                'reduced': '1/angstrom',
                'g': '1/angstrom^2',
            },
            'convention': 'Q = 4 pi sin(theta)/lambda; I = sum_ij f_i f_j sin(Q r_ij)/(Q r_ij); '
            + ('F = Q (I/N - <f^2>)/<f>^2' if p['normalisation'] == 'faber-ziman' else 'F = sM = Q (I/N - <f^2>)/<f^2>')
            + f'; G(r) = 2/pi int_Qmin^Qmax F W sin(Qr) dQ, W = {p["window"]}; delta = hot - cold',
        }
    )
    return node


@calcfunction
def diffraction_block_error(parameters: orm.Dict, cold: orm.TrajectoryData, hot: orm.TrajectoryData) -> orm.ArrayData:
    """Standard error of :func:`analyze_diffraction`'s dG(r) (same inputs) from two blocks: dG of the first and of
    the second half of the frames it uses, err = |dG_1 - dG_2| / 2 (1/angstrom^2), the standard error of the mean of
    two independent blocks (an underestimate when the halves are correlated)."""
    p = {**DIFFRACTION_DEFAULTS, **parameters.get_dict()}
    q, r = _grids(p)
    halves = []
    for trajectory in (cold, hot):
        positions = _frames(trajectory, p)
        if len(positions) < 2:
            raise ValueError(f'trajectory <{trajectory.pk}> has fewer than 2 NVE frames: no blocks')
        half = len(positions) // 2
        halves.append([_curves(block, trajectory, p, q, r)['g'] for block in (positions[:half], positions[half:])])
    blocks = [hot_g - cold_g for cold_g, hot_g in zip(*halves, strict=True)]
    node = orm.ArrayData()
    node.set_array('r_angstrom', r)
    node.set_array('delta_g_blocks', np.array(blocks))
    node.set_array('delta_g_stderr', np.abs(blocks[0] - blocks[1]) / 2)
    node.base.attributes.set_many(
        {
            'n_blocks': 2,
            'units': {'r': 'angstrom', 'g': '1/angstrom^2'},
            'convention': 'delta_g_stderr = |dG(first half) - dG(second half)| / 2 of the frames analyze_diffraction '
            'uses; delta = hot - cold',
        }
    )
    return node


def stored_block_error(diffraction: orm.ArrayData) -> orm.ArrayData | None:
    """The stored :func:`diffraction_block_error` of an :func:`analyze_diffraction` output, computed (and stored) when
    missing; None when the node was not made by :func:`analyze_diffraction` (no frames to split)."""
    creator = diffraction.creator
    if creator is None or creator.process_label != analyze_diffraction.__name__:
        return None
    inputs = {link.link_label: link.node for link in creator.base.links.get_incoming().all()}
    query = orm.QueryBuilder().append(orm.Data, filters={'id': inputs['parameters'].pk}, tag='p')
    query.append(
        orm.CalcFunctionNode,
        with_incoming='p',
        filters={'attributes.process_label': diffraction_block_error.__name__, 'attributes.exit_status': 0},
        tag='f',
    )
    query.append(orm.ArrayData, with_incoming='f', project='*')
    return query.first(flat=True) or diffraction_block_error(inputs['parameters'], inputs['cold'], inputs['hot'])
