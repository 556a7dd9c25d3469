"""Structural descriptors of finite clusters. Pure NumPy; lengths in angstrom."""

from __future__ import annotations

import numpy as np


def mean_bond_length(
    positions: np.ndarray, symbols: list[str], a: str, b: str, cutoff: float = 3.2
) -> tuple[float, int]:
    """Mean a-b distance (angstrom) over pairs closer than ``cutoff``, and the number of such bonds."""
    symbols = np.asarray(symbols)
    pa, pb = positions[symbols == a], positions[symbols == b]
    dist = np.linalg.norm(pa[:, None, :] - pb[None, :, :], axis=-1)
    if a == b:
        dist = dist[np.triu_indices(len(pa), k=1)]
    bonds = dist[dist < cutoff]
    if bonds.size == 0:
        raise ValueError(f'no {a}-{b} pair closer than {cutoff} A')
    return float(bonds.mean()), int(bonds.size)


def radius_of_gyration(positions: np.ndarray, masses: np.ndarray | None = None) -> float:
    """sqrt(sum m |r - r_com|^2 / sum m) in angstrom; unweighted when ``masses`` is None."""
    weights = np.ones(len(positions)) if masses is None else np.asarray(masses, dtype=float)
    centre = weights @ positions / weights.sum()
    return float(np.sqrt(weights @ ((positions - centre) ** 2).sum(axis=1) / weights.sum()))
