"""Point-group operations of finite clusters and orbits of site subsets under them.

Pure NumPy; no AiiDA import. Coordinates in angstrom.
"""

from __future__ import annotations

import itertools

import numpy as np


def _frame(a: np.ndarray, b: np.ndarray, handedness: float = 1.0) -> np.ndarray:
    """Orthonormal frame (rows) built from two non-collinear vectors; ``handedness`` flips e3."""
    e1 = a / np.linalg.norm(a)
    e2 = b - np.dot(b, e1) * e1
    e2 /= np.linalg.norm(e2)
    return np.array([e1, e2, handedness * np.cross(e1, e2)])


def _match(positions: np.ndarray, numbers: np.ndarray, moved: np.ndarray, tol: float) -> np.ndarray | None:
    """Permutation p with moved[i] == positions[p[i]] (same species) within ``tol``, else None."""
    dist = np.linalg.norm(moved[:, None, :] - positions[None, :, :], axis=-1)
    dist[numbers[:, None] != numbers[None, :]] = np.inf
    perm = dist.argmin(axis=1)
    if dist[np.arange(len(perm)), perm].max() > tol or len(set(perm.tolist())) != len(perm):
        return None
    return perm


def point_group_operations(
    positions: np.ndarray, numbers: np.ndarray, tol: float = 0.05
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Find every orthogonal operation (proper and improper) that maps a cluster onto itself.

    The cluster is centred on its (unweighted) centroid. Two reference atoms that are not
    collinear with the centre are taken from the smallest shell of equivalent atoms; each
    candidate image pair (same species, same radii, same separation) fixes a rotation and its
    mirror image, which are kept when every atom lands on an atom of the same species within
    ``tol`` (angstrom).

    Returns the 3x3 matrices (acting on column vectors) and, for each, the atom permutation
    ``perm`` with ``R @ r_i == r_perm[i]``. The identity is always first.
    """
    pos = np.asarray(positions, dtype=float)
    pos = pos - pos.mean(axis=0)
    numbers = np.asarray(numbers)
    radii = np.linalg.norm(pos, axis=1)
    shell_keys = np.round(radii / tol).astype(int) * 1000 + numbers
    candidates = [i for i in np.argsort(radii) if radii[i] > tol]
    if not candidates:
        return [np.eye(3)], [np.arange(len(pos))]
    counts = {key: np.sum(shell_keys == key) for key in shell_keys[candidates]}
    ref_key = min(counts, key=lambda k: (counts[k], k))
    shell = [i for i in candidates if shell_keys[i] == ref_key]
    # Second reference atom: any atom off the axis through the first one.
    a = shell[0]
    b = next((j for j in candidates if np.linalg.norm(np.cross(pos[a], pos[j])) > 10 * tol * radii[j]), None)
    if b is None:  # linear molecule: only the axis matters, enumerate the two orientations
        ops = [np.eye(3), -np.eye(3)]
    else:
        same_b = [j for j in candidates if shell_keys[j] == shell_keys[b]]
        ref = _frame(pos[a], pos[b])
        dab = np.linalg.norm(pos[a] - pos[b])
        ops = []
        for a2, b2 in itertools.product(shell, same_b):
            if a2 == b2 or abs(np.linalg.norm(pos[a2] - pos[b2]) - dab) > tol:
                continue
            for hand in (1.0, -1.0):
                ops.append(_frame(pos[a2], pos[b2], hand).T @ ref)
    found: list[np.ndarray] = []
    perms: list[np.ndarray] = []
    for rot in ops:
        perm = _match(pos, numbers, pos @ rot.T, tol)
        if perm is not None and not any(np.allclose(rot, r, atol=1e-6) for r in found):
            found.append(rot)
            perms.append(perm)
    order = sorted(range(len(found)), key=lambda k: not np.allclose(found[k], np.eye(3), atol=1e-6))
    return [found[k] for k in order], [perms[k] for k in order]


def subset_orbits(site_perms: list[np.ndarray], n_sites: int, size: int) -> list[list[tuple[int, ...]]]:
    """Partition all ``size``-subsets of ``n_sites`` sites into orbits under a permutation group.

    ``site_perms`` are permutations of ``range(n_sites)``. Each orbit is returned as a sorted list
    of sorted tuples, and the orbits are ordered by their smallest member, which makes the order
    (and so any index given to an orbit) independent of the order of the group's elements.
    """
    perms = np.asarray(site_perms)
    seen: set[tuple[int, ...]] = set()
    orbits = []
    for subset in itertools.combinations(range(n_sites), size):
        if subset in seen:
            continue
        images = {tuple(sorted(perm[list(subset)].tolist())) for perm in perms}
        seen.update(images)
        orbits.append(sorted(images))
    return sorted(orbits, key=lambda orbit: orbit[0])
