"""Root-mean-square fluctuations (RMSF) of finite clusters after removing rigid-body motion. Pure NumPy.

Conventions (lengths in angstrom, masses in amu):

* Each frame is centred on its weighted centroid (the centre of mass with the default mass weights), then
  rotated onto a reference by the weighted Kabsch fit (the proper rotation, det = +1, minimising
  ``sum_n w_n |R x_n - r_n|^2``).
* The reference is iterated: frame 0 first, then the mean of the aligned frames; every frame is re-aligned
  to the new mean until the root-mean-square change of the mean over atoms is below ``tolerance``.
* ``RMSF_n = sqrt(<|x_n(t) - <x_n>|^2>_t)`` over the aligned frames, ``<x_n>`` being the converged mean
  structure; the per-element value is the arithmetic mean of the per-atom RMSF over that element's atoms.
* ``msd_by_element[e](t)``: the mean over the element's atoms of ``|x_n(t) - <x_n>|^2`` in each frame (angstrom^2);
  its time average is the element's mean-square fluctuation, and its blocking error says whether the window has
  sampled the motion (:func:`aiida_qdots.analysis.convergence.mean_verdict`).

Memory stays bounded: frames are processed in chunks of about :data:`CHUNK_VALUES` numbers, and no aligned
copy of the trajectory is kept (:func:`apply_alignment` makes one on request).
"""

from __future__ import annotations

import dataclasses

import numpy as np

CHUNK_VALUES = 1 << 21
"""Frames are processed in chunks of about this many coordinates (float64: 16 MiB per temporary array)."""


@dataclasses.dataclass
class Alignment:
    """Rigid-body alignment of a trajectory to its mean structure.

    ``aligned(t) = (positions[t] - centres[t]) @ rotations[t]``; ``centres`` (T, 3) angstrom are the weighted
    centroids; ``rotations`` (T, 3, 3) proper rotations; ``mean_structure`` (N, 3) angstrom, centred at the
    origin; ``change`` the RMS change of the mean in the last iteration (angstrom).
    """

    rotations: np.ndarray
    centres: np.ndarray
    mean_structure: np.ndarray
    weights: np.ndarray
    iterations: int
    converged: bool
    change: float


@dataclasses.dataclass
class RmsfResult:
    """Per-atom and per-element RMSF (angstrom) of a trajectory, with the alignment diagnostics.

    ``elements`` in order of first appearance; ``rmsf_by_element`` / ``rmsf_by_element_std``: mean and
    standard deviation over the element's atoms of the per-atom RMSF. ``residual_rotation_deg`` and
    ``residual_translation`` are the largest rigid-body motion (degrees, angstrom) a further Kabsch fit would
    still remove from any aligned frame (see :func:`rigid_body_residual`); ``msd_by_element`` (T,) per element the
    per-frame mean-square fluctuation (angstrom^2, module docstring).
    """

    rmsf: np.ndarray
    mean_structure: np.ndarray
    symbols: list[str]
    masses: np.ndarray
    elements: list[str]
    rmsf_by_element: dict[str, float]
    rmsf_by_element_std: dict[str, float]
    n_frames: int
    iterations: int
    converged: bool
    change: float
    mass_weighted: bool
    residual_rotation_deg: float
    residual_translation: float
    msd_by_element: dict[str, np.ndarray]


def atomic_masses(symbols: list[str] | np.ndarray) -> np.ndarray:
    """Standard atomic weights (amu) of ``symbols``, from ASE's table."""
    from ase.data import atomic_masses as table
    from ase.data import atomic_numbers

    try:
        return np.array([table[atomic_numbers[str(s)]] for s in symbols], dtype=float)
    except KeyError as exc:
        raise ValueError(f'unknown chemical symbol {exc.args[0]!r}') from None


def element_indices(symbols: list[str] | np.ndarray) -> dict[str, np.ndarray]:
    """Element -> indices of its atoms, elements in order of first appearance."""
    symbols = np.asarray([str(s) for s in symbols])
    return {e: np.flatnonzero(symbols == e) for e in dict.fromkeys(symbols.tolist())}


def frame_chunks(n_frames: int, n_atoms: int) -> list[slice]:
    """Slices of frames of about :data:`CHUNK_VALUES` coordinates each, covering ``n_frames``."""
    size = max(1, CHUNK_VALUES // max(1, 3 * n_atoms))
    return [slice(k, min(k + size, n_frames)) for k in range(0, n_frames, size)]


def _check_positions(positions: np.ndarray) -> np.ndarray:
    positions = np.asarray(positions, dtype=float)
    if positions.ndim != 3 or positions.shape[2] != 3:
        raise ValueError(f'positions must have shape (frames, atoms, 3), got {positions.shape}')
    if positions.shape[0] < 2 or positions.shape[1] < 2:
        raise ValueError(f'need at least 2 frames and 2 atoms, got {positions.shape[0]} x {positions.shape[1]}')
    return positions


def _weights(n_atoms: int, weights: np.ndarray | None) -> np.ndarray:
    w = np.ones(n_atoms) if weights is None else np.asarray(weights, dtype=float)
    if w.shape != (n_atoms,) or not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
        raise ValueError(f'weights must be {n_atoms} finite non-negative numbers with a positive sum')
    return w


def centroids(positions: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Weighted centroid of every frame (T, 3) in angstrom; the centre of mass when ``weights`` are masses."""
    positions = np.asarray(positions, dtype=float)
    w = _weights(positions.shape[-2], weights)
    return np.einsum('...ni,n->...i', positions, w) / w.sum()


def remove_centre_of_mass(positions: np.ndarray, masses: np.ndarray | None = None) -> np.ndarray:
    """``positions`` ((T,) N, 3) minus each frame's centre of mass (centroid when ``masses`` is None)."""
    positions = np.asarray(positions, dtype=float)
    return positions - centroids(positions, masses)[..., None, :]


def kabsch_rotations(frames: np.ndarray, reference: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Proper rotations (T, 3, 3) with ``frames[t] @ R[t]`` the weighted least-squares fit onto ``reference``.

    ``frames`` (T, N, 3) and ``reference`` (N, 3) must already be centred on the same weighted centroid.
    """
    w = _weights(reference.shape[0], weights)
    covariance = np.matmul((frames * w[None, :, None]).transpose(0, 2, 1), reference)
    return _rotations_from_covariance(covariance)


def _rotations_from_covariance(covariance: np.ndarray) -> np.ndarray:
    """Maximise trace(R^T H) over proper rotations R for each H = X^T W Y (batched Kabsch)."""
    u, _, vt = np.linalg.svd(covariance)
    d = np.sign(np.linalg.det(u @ vt))
    d[d == 0] = 1.0
    u[..., :, 2] *= d[..., None]
    return u @ vt


def rotation_angle_deg(rotations: np.ndarray) -> np.ndarray:
    """Rotation angle (degrees) of each proper rotation matrix (..., 3, 3)."""
    r = np.asarray(rotations, dtype=float)
    cosine = (np.trace(r, axis1=-2, axis2=-1) - 1.0) / 2.0
    axis = np.stack([r[..., 2, 1] - r[..., 1, 2], r[..., 0, 2] - r[..., 2, 0], r[..., 1, 0] - r[..., 0, 1]], axis=-1)
    sine = np.linalg.norm(axis, axis=-1) / 2.0  # |R - R^T| = 2 sin(angle): accurate at small angles
    return np.degrees(np.arctan2(sine, cosine))


def align_to_mean(
    positions: np.ndarray,
    weights: np.ndarray | None = None,
    tolerance: float = 1e-6,
    max_iterations: int = 100,
) -> Alignment:
    """Iterative Kabsch alignment of every frame to the mean structure.

    ``positions`` (T, N, 3) angstrom; ``weights`` (N,) for the centroid and the fit (masses for mass
    weighting; None = equal). Starts from frame 0 as reference; each iteration aligns all frames to the
    reference and replaces it by the mean of the aligned frames, until the RMS change of the mean over atoms
    is below ``tolerance`` (angstrom) or ``max_iterations`` is reached (then ``converged`` is False).
    """
    positions = _check_positions(positions)
    n_frames, n_atoms, _ = positions.shape
    w = _weights(n_atoms, weights)
    if tolerance <= 0 or max_iterations < 1:
        raise ValueError('tolerance must be > 0 and max_iterations >= 1')
    chunks = frame_chunks(n_frames, n_atoms)
    centres = centroids(positions, w)
    reference = positions[0] - centres[0]
    rotations = np.empty((n_frames, 3, 3))
    change, converged, iteration = np.inf, False, 0
    for iteration in range(1, max_iterations + 1):  # noqa: B007  (the count is reported)
        total = np.zeros((n_atoms, 3))
        for sl in chunks:
            frames = positions[sl] - centres[sl, None, :]
            rotations[sl] = kabsch_rotations(frames, reference, w)
            total += np.matmul(frames, rotations[sl]).sum(axis=0)
        mean = total / n_frames
        change = float(np.sqrt(np.mean(np.sum((mean - reference) ** 2, axis=1))))
        reference = mean
        if change < tolerance:
            converged = True
            break
    return Alignment(rotations, centres, reference, w, iteration, converged, change)


def apply_alignment(positions: np.ndarray, alignment: Alignment) -> np.ndarray:
    """The aligned trajectory (T, N, 3) angstrom: ``(positions[t] - centres[t]) @ rotations[t]``."""
    positions = np.asarray(positions, dtype=float)
    return np.matmul(positions - alignment.centres[:, None, :], alignment.rotations)


def rigid_body_residual(
    aligned: np.ndarray, reference: np.ndarray, weights: np.ndarray | None = None
) -> tuple[float, float]:
    """Largest rigid-body motion left in ``aligned`` (T, N, 3) relative to ``reference`` (N, 3).

    Returns (largest rotation angle in degrees of the Kabsch fit of any frame onto ``reference``, largest
    distance in angstrom between a frame's weighted centroid and the reference's). Both are ~0 for a trajectory
    aligned to its converged mean structure.
    """
    aligned = np.asarray(aligned, dtype=float)
    w = _weights(aligned.shape[1], weights)
    centres = centroids(aligned, w)
    offset = np.linalg.norm(centres - centroids(reference, w), axis=-1)
    rotations = kabsch_rotations(aligned - centres[:, None, :], reference - centroids(reference, w), w)
    return float(rotation_angle_deg(rotations).max()), float(offset.max())


def rmsf(
    positions: np.ndarray,
    symbols: list[str],
    masses: np.ndarray | None = None,
    mass_weighted: bool = True,
    tolerance: float = 1e-6,
    max_iterations: int = 100,
) -> RmsfResult:
    """Per-atom and per-element RMSF (angstrom) of ``positions`` (T, N, 3) after rigid-body alignment.

    Translation (centre of mass) and overall rotation are removed by :func:`align_to_mean` with mass weights
    (``masses`` in amu, default standard atomic weights of ``symbols``), or equal weights when
    ``mass_weighted`` is False. The result also carries the residual rigid-body motion after alignment.
    """
    positions = _check_positions(positions)
    n_frames, n_atoms, _ = positions.shape
    symbols = [str(s) for s in symbols]
    if len(symbols) != n_atoms:
        raise ValueError(f'{len(symbols)} symbols for {n_atoms} atoms')
    masses = atomic_masses(symbols) if masses is None else np.asarray(masses, dtype=float)
    alignment = align_to_mean(positions, masses if mass_weighted else None, tolerance, max_iterations)
    mean = alignment.mean_structure
    groups = element_indices(symbols)
    squared = np.zeros(n_atoms)
    per_frame = {e: np.empty(n_frames) for e in groups}
    worst_angle = worst_offset = 0.0
    for sl in frame_chunks(n_frames, n_atoms):
        aligned = np.matmul(positions[sl] - alignment.centres[sl, None, :], alignment.rotations[sl])
        frame_squared = np.sum((aligned - mean) ** 2, axis=2)
        squared += frame_squared.sum(axis=0)
        for e, i in groups.items():
            per_frame[e][sl] = frame_squared[:, i].mean(axis=1)
        angle, offset = rigid_body_residual(aligned, mean, alignment.weights)
        worst_angle, worst_offset = max(worst_angle, angle), max(worst_offset, offset)
    per_atom = np.sqrt(squared / n_frames)
    return RmsfResult(
        rmsf=per_atom,
        mean_structure=mean,
        symbols=symbols,
        masses=masses,
        elements=list(groups),
        rmsf_by_element={e: float(per_atom[i].mean()) for e, i in groups.items()},
        rmsf_by_element_std={e: float(per_atom[i].std()) for e, i in groups.items()},
        n_frames=n_frames,
        iterations=alignment.iterations,
        converged=alignment.converged,
        change=alignment.change,
        mass_weighted=mass_weighted,
        residual_rotation_deg=worst_angle,
        residual_translation=worst_offset,
        msd_by_element=per_frame,
    )


def unwrap_positions(positions: np.ndarray, cells: np.ndarray, pbc: tuple[bool, bool, bool]) -> np.ndarray:
    """Undo periodic wrapping: each frame-to-frame displacement is replaced by its minimum image.

    ``positions`` (T, N, 3) and ``cells`` (T, 3, 3) or (3, 3) in angstrom (rows are lattice vectors); only the
    periodic directions are unwrapped. Valid while no atom moves more than half a cell between frames.
    """
    positions = np.asarray(positions, dtype=float)
    periodic = np.asarray(pbc, dtype=bool)
    if not periodic.any() or positions.shape[0] < 2:
        return positions.copy()
    cells = np.broadcast_to(np.asarray(cells, dtype=float), (positions.shape[0], 3, 3))
    steps = np.diff(positions, axis=0)
    fractional = np.einsum('tni,tij->tnj', steps, np.linalg.inv(cells[1:]))
    fractional[..., periodic] -= np.round(fractional[..., periodic])
    steps = np.einsum('tnj,tji->tni', fractional, cells[1:])
    out = np.empty_like(positions)
    out[0] = positions[0]
    out[1:] = positions[0] + np.cumsum(steps, axis=0)
    return out
