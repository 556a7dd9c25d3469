"""Store foreign AIMD trajectories and their per-frame orbital energies as AiiDA nodes.

* :func:`import_trajectory` reads a trajectory (see :mod:`aiida_qdots.structures.trajectories`) and stores one
  ``TrajectoryData``: positions (angstrom), velocities (angstrom/fs) when the source has them, cells (angstrom)
  when it has them, and times ``index * timestep_fs`` in fs (not aiida-core's default ps; see the ``units``
  attribute). The source file's name and SHA-256, the format and the time step are attributes.
* :func:`import_levels` stores a CSV of per-frame HOMO/LUMO energies (eV) as ``SinglefileData`` and runs the
  calcfunction :func:`levels_from_csv` on it and the trajectory, so the graph reads csv + trajectory -> levels.

Everything is parsed and validated before the first node is stored: bad input leaves the database untouched.
"""

from __future__ import annotations

import io
import math
import pathlib

import numpy as np
from aiida import orm
from aiida.engine import calcfunction

from aiida_qdots.common.errors import QdotsInputError
from aiida_qdots.common.nodes import resolve_node
from aiida_qdots.structures.trajectories import (
    ParsedLevels,
    ParsedTrajectory,
    check_frame_times,
    levels_frame_indices,
    parse_levels_csv,
    read_trajectory,
)

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


def import_trajectory(
    path: str | pathlib.Path,
    timestep_fs: float,
    label: str | None = None,
    fmt: str | None = None,
    velocity_path: str | pathlib.Path | None = None,
) -> orm.TrajectoryData:
    """Read the trajectory at ``path`` (format ``fmt`` or detected from the name) and store it.

    ``timestep_fs`` is the time between stored frames in fs. For CP2K, ``velocity_path`` defaults to the
    ``-vel-`` file beside the ``-pos-`` file. Returns the stored TrajectoryData; raises
    :class:`QdotsInputError` (or its subclass TrajectoryFormatError) before storing anything on bad input.
    """
    timestep = check_timestep(timestep_fs)
    parsed = read_trajectory(path, fmt=fmt, velocity_path=velocity_path)
    return trajectory_node(parsed, timestep, label).store()


# ----------------------------------------------------------------------------------------- orbital levels


def load_trajectory(trajectory: orm.TrajectoryData | int | str) -> orm.TrajectoryData:
    """A stored TrajectoryData given as a node, a PK or a UUID; :class:`QdotsInputError` otherwise."""
    node = resolve_node(trajectory, orm.TrajectoryData, 'trajectory')
    if not node.is_stored:
        raise QdotsInputError('the trajectory must be stored before levels are attached to it')
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


def _trajectory_labels(trajectory: orm.TrajectoryData) -> list[str] | None:
    if 'frame_labels' not in trajectory.get_arraynames():
        return None
    return [str(x) for x in trajectory.get_array('frame_labels')]


def _validated_levels(
    content: bytes, name: str, trajectory: orm.TrajectoryData, stride: int, first_frame: int | None
) -> tuple[ParsedLevels, np.ndarray, float]:
    """Parse the CSV and map its rows onto ``trajectory``: (levels, 0-based frame indices, time step in fs)."""
    timestep = trajectory_timestep(trajectory)
    levels = parse_levels_csv(content, name, stride, first_frame)
    indices = levels_frame_indices(levels, trajectory.numsteps, _trajectory_labels(trajectory))
    return levels, indices, timestep


def _levels_node(
    levels: ParsedLevels, indices: np.ndarray, timestep: float, trajectory: orm.TrajectoryData, labelled: bool
) -> orm.ArrayData:
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
            'columns': dict(levels.columns),
            'gap_source': 'csv' if levels.gap_from_csv else 'lumo - homo',
            'frame_mapping': 'trajectory frame labels' if labelled else 'frame number K is trajectory index K - 1',
        }
    )
    node.label = f'levels of {trajectory.label}' if trajectory.label else 'levels'
    node.description = (
        f'HOMO/LUMO energies (eV) of {levels.n_rows} frames, every {levels.stride} frames from frame '
        f'{levels.first_frame}, from {levels.source_name}'
    )
    return node


@calcfunction
def levels_from_csv(
    csv: orm.SinglefileData, trajectory: orm.TrajectoryData, stride: orm.Int, first_frame: orm.Int
) -> orm.ArrayData:
    """Per-frame orbital energies (eV) of ``trajectory`` read from ``csv``, sampled every ``stride`` frames
    starting at frame number ``first_frame`` (see :func:`import_levels`).
    """
    levels, indices, timestep = _validated_levels(
        csv.get_content('rb'), csv.filename, trajectory, stride.value, first_frame.value
    )
    return _levels_node(levels, indices, timestep, trajectory, _trajectory_labels(trajectory) is not None)


def import_levels(
    csv_path: str | pathlib.Path,
    trajectory: orm.TrajectoryData | int | str,
    stride: int,
    first_frame: int | None = None,
) -> orm.ArrayData:
    """Store a CSV of per-frame orbital energies (eV) and link it to ``trajectory`` (node, PK or UUID).

    ``stride``: the CSV has one row every ``stride`` trajectory frames. ``first_frame``: the frame number of the
    first row (default: from its label, e.g. ``st10001``, or 1 without labels). Frame number K maps to trajectory
    index K - 1, or, when the trajectory has frame labels, to the frame whose label carries K. The result has
    arrays ``homo``, ``lumo``, ``gap`` (and ``lumo_plus1``, ``lumo_lumo_plus1_gap``, ``frame_labels`` when
    present), ``frame_index`` (0-based) and ``time_fs`` (= index * time step). The CSV is validated in full
    before anything is stored.
    """
    node = load_trajectory(trajectory)
    path = pathlib.Path(csv_path)
    try:
        content = path.read_bytes()
    except OSError as exc:
        raise QdotsInputError(f'{path}: cannot read: {exc.strerror or exc}') from None
    levels, _, _ = _validated_levels(content, path.name, node, stride, first_frame)
    csv_node = orm.SinglefileData(io.BytesIO(content), filename=path.name)
    return levels_from_csv(csv_node, node, orm.Int(levels.stride), orm.Int(levels.first_frame))
