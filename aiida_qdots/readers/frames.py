"""The trajectory every reader returns, in the package's units."""

from __future__ import annotations

import dataclasses
import pathlib

import numpy as np


@dataclasses.dataclass
class ParsedTrajectory:
    """A trajectory read from a foreign file, in the package's units.

    ``positions`` (T, N, 3) angstrom; ``velocities`` (T, N, 3) angstrom/fs or None; ``cells`` (T, 3, 3)
    angstrom (rows are lattice vectors) or None; ``frame_labels`` the per-frame names given by the source
    (``source_frame`` values, POSCAR file stems) or None; ``steps`` the MD step numbers given by the source
    (CP2K ``i``, XDATCAR configuration numbers) or None; ``times_fs`` the time stamps given by the source (fs)
    or None. ``sha256`` is the hex digest of the source file; for a folder, of its ``sha256sum``-style
    manifest (one ``<hex>  <name>\\n`` line per frame file, in frame order).
    """

    symbols: list[str]
    positions: np.ndarray
    source: pathlib.Path
    sha256: str
    fmt: str
    velocities: np.ndarray | None = None
    cells: np.ndarray | None = None
    pbc: tuple[bool, bool, bool] = (False, False, False)
    frame_labels: list[str] | None = None
    steps: np.ndarray | None = None
    times_fs: np.ndarray | None = None
    velocity_source: pathlib.Path | None = None
    velocity_sha256: str | None = None

    @property
    def n_frames(self) -> int:
        return self.positions.shape[0]

    @property
    def n_atoms(self) -> int:
        return self.positions.shape[1]
