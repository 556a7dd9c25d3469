"""Calcfunctions of ``qdots.aimd``: the production trajectory from its segments, and the MD checks."""

from __future__ import annotations

import numpy as np
from aiida import orm
from aiida.engine import calcfunction

from aiida_qdots.analysis.convergence import stationarity_verdict
from aiida_qdots.parsers.cp2k import MD_ARRAY_UNITS

EV_PER_PS = 'eV/atom/ps'


def _frames(trajectories: dict) -> dict[str, np.ndarray]:
    """Frames of several MD trajectories, sorted by step, each step once (the first run that wrote it)."""
    names = [
        'positions',
        'velocities',
        'times',
        *[k for k in MD_ARRAY_UNITS if k not in ('positions', 'velocities', 'times')],
    ]
    ordered = sorted(trajectories.values(), key=lambda t: t.ctime)
    steps = np.concatenate([t.get_stepids() for t in ordered])
    data = {name: np.concatenate([t.get_array(name) for t in ordered]) for name in names}
    _, first = np.unique(steps, return_index=True)
    return {'steps': steps[first], **{name: values[first] for name, values in data.items()}}


@calcfunction
def merge_md_trajectories(window: orm.Dict, **trajectories: orm.TrajectoryData) -> orm.TrajectoryData:
    """Frames of the segment trajectories with ``first_step <= step <= last_step``, one per step."""
    frames = _frames(trajectories)
    keep = (frames['steps'] >= window['first_step']) & (frames['steps'] <= window['last_step'])
    sample = next(iter(trajectories.values()))
    merged = orm.TrajectoryData()
    cells = sample.get_cells()
    merged.set_trajectory(
        symbols=sample.symbols,
        positions=frames['positions'][keep],
        stepids=frames['steps'][keep],
        cells=None if cells is None else np.repeat(cells[:1], keep.sum(), axis=0),
        times=frames['times'][keep],
        velocities=frames['velocities'][keep],
        pbc=sample.pbc,
    )
    for name in ('kinetic_energy', 'potential_energy', 'conserved_energy', 'temperature'):
        merged.set_array(name, frames[name][keep])
    merged.base.attributes.set('units', MD_ARRAY_UNITS)
    merged.base.attributes.set('timestep_fs', float(window['timestep_fs']))
    merged.base.attributes.set('stage', window['stage'])
    return merged


@calcfunction
def md_checks(plan: orm.List, **trajectories: orm.TrajectoryData) -> orm.Dict:
    """Thermostat, integrator and equilibrium checks per stage block.

    Every block: mean and std of the temperature over its second half (``mean_temperature_K``,
    ``std_temperature_K``). NVT: whether that mean is within 10 % of the target. NVE: the drift of the
    conserved energy (slope of a linear fit, eV per atom per ps) and its standard deviation per atom; the mean
    temperature over the whole block and over its first and second halves, the linear trend (K/ps) and the
    ``stationarity`` verdict (:func:`~aiida_qdots.analysis.convergence.stationarity_verdict`): a block whose
    temperature still rises or falls is not an equilibrium window. The production block's verdict is also stored
    as ``production_stationarity``.
    """
    frames = _frames(trajectories)
    n_atoms = frames['positions'].shape[1]
    blocks: dict[tuple, dict] = {}
    for segment in plan.get_list():
        key = (segment['stage'], segment['temperature'])
        block = blocks.setdefault(key, {**segment})
        block['last_step'] = segment['last_step']
    results = []
    for (stage, target), block in blocks.items():
        mask = (frames['steps'] >= block['first_step']) & (frames['steps'] <= block['last_step'])
        half = mask & (frames['steps'] >= (block['first_step'] + block['last_step']) / 2)
        temperature = frames['temperature'][half]
        entry = {
            'stage': stage,
            'ensemble': block['ensemble'],
            'target_temperature_K': target,
            'first_step': block['first_step'],
            'last_step': block['last_step'],
            'n_frames': int(mask.sum()),
            'mean_temperature_K': float(temperature.mean()),
            'std_temperature_K': float(temperature.std()),
        }
        if block['ensemble'] == 'NVT':
            entry['within_10_percent'] = bool(abs(entry['mean_temperature_K'] - target) <= 0.1 * target)
        else:
            times_ps = frames['times'][mask] / 1000.0
            conserved = frames['conserved_energy'][mask] / n_atoms
            entry['drift_ev_per_atom_ps'] = float(np.polyfit(times_ps, conserved, 1)[0])
            entry['conserved_std_ev_per_atom'] = float(conserved.std())
            stationarity, numbers = stationarity_verdict(frames['temperature'][mask], frames['times'][mask])
            entry.update(
                {
                    'block_mean_temperature_K': numbers['mean'],
                    'first_half_mean_temperature_K': numbers.get('first_half_mean'),
                    'second_half_mean_temperature_K': numbers.get('second_half_mean'),
                    'temperature_trend_K_per_ps': numbers.get('trend_per_ps'),
                    'stationarity': stationarity.as_dict(),
                }
            )
        results.append(entry)
    passed = all(e.get('within_10_percent', True) for e in results)
    production = [e for e in results if e['stage'] == 'production' and 'stationarity' in e]
    checks = {
        'blocks': results,
        'nvt_temperatures_within_10_percent': passed,
        'units': {'temperature': 'K', 'drift': EV_PER_PS, 'energy': 'eV/atom', 'trend': 'K/ps'},
    }
    if production:
        checks['production_stationarity'] = production[-1]['stationarity']
    return orm.Dict(checks)
