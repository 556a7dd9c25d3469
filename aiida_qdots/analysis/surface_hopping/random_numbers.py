"""Counter-based random numbers (splitmix64): the uniform number of a realisation at counter c is a function of its
key and c alone, so a realisation's hops do not depend on the backend, the thread count or the other realisations.
The kernels draw at counters 4 s + 1, 4 s + 2 and 4 s + 3 on step s (package docstring).
"""

from __future__ import annotations

import numpy as np

MASK = (1 << 64) - 1
GAMMA = 0x9E3779B97F4A7C15
MIX1 = 0xBF58476D1CE4E5B9
MIX2 = 0x94D049BB133111EB


def _mix(z: int) -> int:
    z = ((z ^ (z >> 30)) * MIX1) & MASK
    z = ((z ^ (z >> 27)) * MIX2) & MASK
    return z ^ (z >> 31)


def realisation_keys(seed: int, n: int) -> np.ndarray:
    """Per-realisation keys (uint64) of the counter-based random numbers for ``seed``."""
    base = _mix((int(seed) * GAMMA + 0x632BE59BD9B4E019) & MASK)
    return np.array([_mix((base + (r + 1) * GAMMA) & MASK) for r in range(n)], dtype=np.uint64)


def uniform_python(key: int, counter: int) -> float:
    """Uniform number in [0, 1) of realisation ``key`` at ``counter`` (53 random bits)."""
    return (_mix((key + counter * GAMMA) & MASK) >> 11) * 2.0**-53


def uniform_numpy(keys: np.ndarray, counter: int) -> np.ndarray:
    """:func:`uniform_python` for every key of ``keys`` (uint64) at the same ``counter``."""
    z = keys + np.uint64((counter * GAMMA) & MASK)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(MIX1)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(MIX2)
    z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(float) * 2.0**-53
