"""Store foreign AIMD trajectories and their per-frame orbital energies as AiiDA nodes.

Each import reads its file with :mod:`aiida_qdots.readers` and builds its node with
:mod:`aiida_qdots.structures.trajectory_nodes`:

* :func:`import_trajectory` stores one ``TrajectoryData`` (see :func:`~.trajectory_nodes.trajectory_node`).
* :func:`import_levels` stores a CSV of per-frame HOMO/LUMO energies (eV) as ``SinglefileData`` and runs the
  calcfunction :func:`levels_from_csv` on it and the trajectory, so the graph reads csv + trajectory -> levels.

Everything is parsed and validated before the first node is stored: bad input leaves the database untouched.
"""

from __future__ import annotations

import io
import pathlib

from aiida import orm
from aiida.engine import calcfunction

from aiida_qdots.common.errors import QdotsInputError
from aiida_qdots.common.nodes import resolve_node
from aiida_qdots.common.validation import check_timestep
from aiida_qdots.readers.trajectory import read_trajectory
from aiida_qdots.structures.trajectory_nodes import (
    levels_node,
    trajectory_labels,
    trajectory_node,
    validated_levels,
)


def import_trajectory(
    path: str | pathlib.Path,
    timestep_fs: float,
    label: str | None = None,
    fmt: str | None = None,
    velocity_path: str | pathlib.Path | None = None,
) -> orm.TrajectoryData:
    """Read the trajectory at ``path`` (format ``fmt`` or detected from the name) and store it.

    ``timestep_fs`` is the time between stored frames in fs (within
    :data:`~aiida_qdots.common.validation.TIMESTEP_RANGE_FS`). For CP2K, ``velocity_path`` defaults to the
    ``-vel-`` file beside the ``-pos-`` file. Returns the stored TrajectoryData; raises
    :class:`QdotsInputError` (or its subclass TrajectoryFormatError) before storing anything on bad input.
    """
    timestep = check_timestep(timestep_fs, f'{pathlib.Path(path).name}: --timestep')
    parsed = read_trajectory(path, fmt=fmt, velocity_path=velocity_path)
    return trajectory_node(parsed, timestep, label).store()


def load_trajectory(trajectory: orm.TrajectoryData | int | str) -> orm.TrajectoryData:
    """A stored TrajectoryData given as a node, a PK or a UUID; :class:`QdotsInputError` otherwise."""
    node = resolve_node(trajectory, orm.TrajectoryData, 'trajectory')
    if not node.is_stored:
        raise QdotsInputError('the trajectory must be stored before levels are attached to it')
    return node


@calcfunction
def levels_from_csv(
    csv: orm.SinglefileData, trajectory: orm.TrajectoryData, stride: orm.Int, first_frame: orm.Int
) -> orm.ArrayData:
    """Per-frame orbital energies (eV) of ``trajectory`` read from ``csv``, sampled every ``stride`` frames
    starting at frame number ``first_frame`` (see :func:`import_levels`).
    """
    levels, indices, timestep = validated_levels(
        csv.get_content('rb'), csv.filename, trajectory, stride.value, first_frame.value
    )
    return levels_node(levels, indices, timestep, trajectory, trajectory_labels(trajectory) is not None)


def import_levels(
    csv_path: str | pathlib.Path,
    trajectory: orm.TrajectoryData | int | str,
    stride: int,
    first_frame: int | None = None,
) -> orm.ArrayData:
    """Store a CSV of per-frame orbital energies (eV) and link it to ``trajectory`` (node, PK or UUID).

    ``stride``: the CSV has one row every ``stride`` trajectory frames (rows of missing frames may be absent; the
    labels give the times, attribute ``n_missing_frames``). ``first_frame``: the frame number of the
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
    levels, _, _ = validated_levels(content, path.name, node, stride, first_frame)
    csv_node = orm.SinglefileData(io.BytesIO(content), filename=path.name)
    return levels_from_csv(csv_node, node, orm.Int(levels.stride), orm.Int(levels.first_frame))
