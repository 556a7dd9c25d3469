"""Calcfunctions of ``qdots.electronic``: the frames to re-evaluate, the levels of all chunks, their statistics."""

from __future__ import annotations

import numpy as np
from aiida import orm
from aiida.engine import calcfunction

from aiida_qdots.analysis.convergence import THRESHOLDS, level_verdict
from aiida_qdots.analysis.electronic import MIN_BLOCKS, sampling_grid, series_statistics
from aiida_qdots.structures.trajectory_nodes import trajectory_times

LEVEL_ARRAYS = ('homo', 'lumo', 'lumo_plus1', 'gap')


@calcfunction
def select_frames(trajectory: orm.TrajectoryData, indices: orm.List) -> orm.TrajectoryData:
    """The frames ``indices`` of ``trajectory`` (positions, cells; step ids = original frame indices)."""
    index = np.array(indices.get_list(), dtype=int)
    cells = trajectory.get_cells()
    subset = orm.TrajectoryData()
    subset.set_trajectory(
        symbols=trajectory.symbols,
        positions=trajectory.get_positions()[index],
        stepids=index,
        cells=None if cells is None else cells[index],
        times=trajectory_times(trajectory)[index],
        pbc=None if cells is None else trajectory.pbc,
    )
    return subset


@calcfunction
def collect_levels(selection: orm.List, times: orm.List, **chunks: orm.ArrayData) -> orm.ArrayData:
    """Per-frame HOMO, LUMO, LUMO+1 and gap (eV) of all chunks, in frame order, with frame indices and times."""
    ordered = [chunks[key] for key in sorted(chunks)]
    levels = orm.ArrayData()
    for name in LEVEL_ARRAYS:
        levels.set_array(name, np.concatenate([chunk.get_array(name) for chunk in ordered]))
    levels.set_array('frame_index', np.array(selection.get_list(), dtype=int))
    levels.set_array('time_fs', np.array(times.get_list(), dtype=float))
    levels.base.attributes.set('units', {'energy': 'eV', 'time': 'fs'})
    levels.base.attributes.set('source', 'CP2K REFTRAJ re-evaluation (qdots.electronic)')
    return levels


@calcfunction
def level_statistics(levels: orm.ArrayData) -> orm.Dict:
    """Mean, standard deviation (ddof=0) and block-averaged standard error (eV) of each level and the gap, with a
    convergence verdict per series (``convergence``; :mod:`aiida_qdots.analysis.convergence`) on the grid of the
    frame indices (exact lags when frames are missing).
    """
    n_frames = len(levels.get_array('gap'))
    min_blocks = max(2, min(MIN_BLOCKS, n_frames // 2))
    positions = sampling_grid(levels.get_array('frame_index'))[1]
    series = {name: levels.get_array(name) for name in LEVEL_ARRAYS}
    stats = {name: series_statistics(x, name, min_blocks, positions).as_dict() for name, x in series.items()}
    return orm.Dict(
        {
            **stats,
            'n_frames': n_frames,
            'units': 'eV',
            'convergence': {name: level_verdict(name, x, positions).as_dict() for name, x in series.items()},
            'thresholds': dict(THRESHOLDS),
        }
    )
