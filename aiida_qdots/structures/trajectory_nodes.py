"""Arrays read from foreign files (:mod:`aiida_qdots.readers`) turned into AiiDA nodes.

* :func:`trajectory_node`: a :class:`~aiida_qdots.readers.frames.ParsedTrajectory` as ``TrajectoryData``:
  positions (angstrom), velocities (angstrom/fs) when the source has them, cells (angstrom) with explicit
  ``pbc`` when it has them, and times ``index * timestep_fs`` in fs (not aiida-core's default ps; see the
  ``units`` attribute). The source file's name and SHA-256, the format and the time step are attributes.
* :func:`validated_levels` reads a levels CSV and maps its rows onto a stored trajectory's frames;
  :func:`levels_node` stores those per-frame orbital energies (eV) as ``ArrayData``.
* :func:`trajectory_timestep`: the time between a stored trajectory's frames (fs).
"""

from __future__ import annotations

import math

import numpy as np
from aiida import orm

from aiida_qdots.common.errors import QdotsInputError
from aiida_qdots.readers.frames import ParsedTrajectory
from aiida_qdots.readers.levels import ParsedLevels, levels_frame_indices, parse_levels_csv
from aiida_qdots.readers.trajectory import check_frame_times

TRAJECTORY_UNITS = {'positions': 'angstrom', 'cells': 'angstrom', 'velocities': 'angstrom/fs', 'time': 'fs'}
"""Units of the arrays of an imported TrajectoryData (its ``units`` attribute)."""

LEVELS_UNITS = {'energy': 'eV', 'time': 'fs'}
"""Units of the arrays of an imported levels ArrayData (its ``units`` attribute)."""


def check_timestep(timestep_fs: float) -> float:
    """Return the time between stored frames (fs) as a float; :class:`QdotsInputError` unless finite and > 0."""
    try:
        value = float(timestep_fs)
    except (TypeError, ValueError):
        raise QdotsInputError(f'time step must be a number of fs, got {timestep_fs!r}') from None
    if not math.isfinite(value) or value <= 0:
        raise QdotsInputError(f'time step must be a positive number of fs, got {timestep_fs!r}')
    return value


def trajectory_node(parsed: ParsedTrajectory, timestep_fs: float, label: str | None = None) -> orm.TrajectoryData:
    """An unstored TrajectoryData holding ``parsed``, with times ``index * timestep_fs`` (fs) and provenance
    attributes; the source's own time stamps (CP2K) must agree with ``timestep_fs``.
    """
    timestep = check_timestep(timestep_fs)
    check_frame_times(parsed, timestep)
    node = orm.TrajectoryData()
    node.set_trajectory(
        symbols=list(parsed.symbols),
        positions=np.ascontiguousarray(parsed.positions, dtype=float),
        stepids=parsed.steps.astype(int) if parsed.steps is not None else None,
        cells=parsed.cells,
        times=np.arange(parsed.n_frames, dtype=float) * timestep,
        velocities=parsed.velocities,
        pbc=tuple(bool(p) for p in parsed.pbc),
    )
    if parsed.frame_labels is not None:
        node.set_array('frame_labels', np.array(parsed.frame_labels, dtype=str))
    if parsed.times_fs is not None:
        node.set_array('source_times_fs', np.asarray(parsed.times_fs, dtype=float))
    attributes = {
        'source_filename': parsed.source.name,
        'source_sha256': parsed.sha256,
        'source_sha256_of': 'sha256sum manifest of the frame files' if parsed.source.is_dir() else 'file',
        'source_format': parsed.fmt,
        'timestep_fs': timestep,
        'units': dict(TRAJECTORY_UNITS),
        'n_frames': parsed.n_frames,
        'n_atoms': parsed.n_atoms,
        'has_velocities': parsed.velocities is not None,
    }
    if parsed.velocity_source is not None:
        attributes['velocity_source_filename'] = parsed.velocity_source.name
        attributes['velocity_source_sha256'] = parsed.velocity_sha256
    node.base.attributes.set_many(attributes)
    counts = {s: parsed.symbols.count(s) for s in dict.fromkeys(parsed.symbols)}
    formula = ''.join(f'{s}{n}' for s, n in counts.items())
    node.label = label if label is not None else parsed.source.name
    node.description = (
        f'{formula}: {parsed.n_frames} frames {timestep:g} fs apart, imported from {parsed.source.name} ({parsed.fmt})'
    )
    return node


def trajectory_timestep(trajectory: orm.TrajectoryData) -> float:
    """Time between frames (fs): the ``timestep_fs`` attribute of an imported trajectory, else the spacing of
    its ``times`` array when that is uniform.
    """
    value = trajectory.base.attributes.get('timestep_fs', None)
    if value is not None:
        return check_timestep(value)
    times = trajectory.get_times()
    if times is None or times.size < 2:
        raise QdotsInputError(f'trajectory {trajectory.pk} has no timestep_fs attribute and no times to derive it')
    steps = np.diff(times)
    if not np.allclose(steps, steps[0], rtol=1e-6, atol=0):
        raise QdotsInputError(f'trajectory {trajectory.pk} has unevenly spaced times and no timestep_fs attribute')
    return check_timestep(steps[0])


def trajectory_labels(trajectory: orm.TrajectoryData) -> list[str] | None:
    """The per-frame source labels of ``trajectory`` (its ``frame_labels`` array), or None."""
    if 'frame_labels' not in trajectory.get_arraynames():
        return None
    return [str(x) for x in trajectory.get_array('frame_labels')]


def validated_levels(
    content: bytes, name: str, trajectory: orm.TrajectoryData, stride: int, first_frame: int | None
) -> tuple[ParsedLevels, np.ndarray, float]:
    """Parse the CSV and map its rows onto ``trajectory``: (levels, 0-based frame indices, time step in fs)."""
    timestep = trajectory_timestep(trajectory)
    levels = parse_levels_csv(content, name, stride, first_frame)
    indices = levels_frame_indices(levels, trajectory.numsteps, trajectory_labels(trajectory))
    return levels, indices, timestep


def levels_node(
    levels: ParsedLevels, indices: np.ndarray, timestep: float, trajectory: orm.TrajectoryData, labelled: bool
) -> orm.ArrayData:
    """Unstored ArrayData of ``levels`` on trajectory frames ``indices`` (``labelled``: matched by frame label)."""
    node = orm.ArrayData()
    for array, values in levels.energies.items():
        node.set_array(array, np.asarray(values, dtype=float))
    node.set_array('frame_index', indices.astype(np.int64))
    node.set_array('time_fs', indices.astype(float) * timestep)
    if levels.frame_labels is not None:
        node.set_array('frame_labels', np.array(levels.frame_labels, dtype=str))
    node.base.attributes.set_many(
        {
            'units': dict(LEVELS_UNITS),
            'stride': levels.stride,
            'first_frame': levels.first_frame,
            'source_filename': levels.source_name,
            'source_sha256': levels.sha256,
            'trajectory_uuid': trajectory.uuid,
            'timestep_fs': timestep,
            'n_frames': levels.n_rows,
            'n_missing_frames': levels.n_missing,
            'columns': dict(levels.columns),
            'gap_source': 'csv' if levels.gap_from_csv else 'lumo - homo',
            'frame_mapping': 'trajectory frame labels' if labelled else 'frame number K is trajectory index K - 1',
        }
    )
    node.label = f'levels of {trajectory.label}' if trajectory.label else 'levels'
    node.description = (
        f'HOMO/LUMO energies (eV) of {levels.n_rows} frames, every {levels.stride} frames from frame '
        f'{levels.first_frame}'
        + (f' ({levels.n_missing} missing)' if levels.n_missing else '')
        + f', from {levels.source_name}'
    )
    return node


def trajectory_times(trajectory: orm.TrajectoryData) -> np.ndarray:
    """Frame times in fs: the ``times`` array, else frame index x the ``timestep_fs`` attribute."""
    if 'times' in trajectory.get_arraynames():
        return np.asarray(trajectory.get_array('times'), dtype=float)
    timestep = trajectory.base.attributes.get('timestep_fs', None)
    if timestep is None:
        raise ValueError('the trajectory has neither a `times` array nor a `timestep_fs` attribute')
    return np.arange(trajectory.numsteps) * float(timestep)
