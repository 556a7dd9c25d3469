"""Statistics of per-frame orbital energies (HOMO, LUMO, gap) along an MD trajectory. Pure NumPy.

Conventions (energies in eV, times in fs):

* ``std`` is the population standard deviation (``ddof=0``) of the per-frame values, the "fluctuation" the
  studies report.
* ``sem`` is the standard error of the mean from block averaging (Flyvbjerg & Petersen, J. Chem. Phys. 91, 461
  (1989)), because consecutive MD frames are correlated. Block lengths B = 1, 2, 4, ... are tried while the
  series still gives at least ``min_blocks`` whole blocks (the last ``N mod B`` frames are dropped). For each B,
  ``SEM_B = std(block means, ddof=1) / sqrt(n_B)`` with ``n_B`` blocks, and its own statistical error is
  ``SEM_B / sqrt(2 (n_B - 1))``. **Block-size rule:** the chosen B is the smallest one whose estimate is within
  one statistical error of the next one, ``SEM_2B - SEM_B <= SEM_2B / sqrt(2 (n_2B - 1))`` (the start of the
  plateau); when no admissible B passes, the largest admissible B is used and ``converged`` is False.
* ``statistical_inefficiency = (SEM / SEM_1)^2``: the number of frames per independent sample.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Mapping

import numpy as np

MIN_BLOCKS = 16
"""Fewest whole blocks a block length may leave (the SEM of fewer block means is itself too uncertain)."""

LEVEL_NAMES = ('homo', 'lumo', 'gap')
"""The per-frame series summarised by :func:`level_statistics` when present."""


@dataclasses.dataclass
class BlockingEstimate:
    """One row of the blocking analysis: block length (frames), number of blocks, SEM and its error (eV)."""

    block_size: int
    n_blocks: int
    sem: float
    sem_error: float


@dataclasses.dataclass
class SeriesStatistics:
    """Mean, standard deviation (ddof=0) and block-averaged standard error of the mean of one series (eV).

    ``block_size`` (frames) and ``n_blocks`` are those chosen by the rule of the module docstring;
    ``converged`` says whether the plateau criterion was met; ``blocking`` holds every block length tried.
    """

    mean: float
    std: float
    sem: float
    sem_error: float
    block_size: int
    n_blocks: int
    converged: bool
    statistical_inefficiency: float
    minimum: float
    maximum: float
    n_samples: int
    blocking: list[BlockingEstimate]

    def as_dict(self, unit: str = 'ev') -> dict:
        """Plain-number summary (keys carry the unit suffix ``_ev`` for energies)."""
        return {
            f'mean_{unit}': self.mean,
            f'std_{unit}': self.std,
            f'sem_{unit}': self.sem,
            f'sem_error_{unit}': self.sem_error,
            f'min_{unit}': self.minimum,
            f'max_{unit}': self.maximum,
            'sem_block_size': self.block_size,
            'sem_n_blocks': self.n_blocks,
            'sem_converged': self.converged,
            'statistical_inefficiency': self.statistical_inefficiency,
            'n_samples': self.n_samples,
        }


def as_series(values, name: str = 'series', min_length: int = 2) -> np.ndarray:
    """``values`` as a finite 1-D float array of at least ``min_length`` samples; ValueError naming ``name``."""
    x = np.asarray(values, dtype=float)
    if x.ndim != 1:
        raise ValueError(f'{name} must be one-dimensional, got shape {x.shape}')
    if x.size < min_length:
        raise ValueError(f'{name} needs at least {min_length} samples, got {x.size}')
    bad = np.flatnonzero(~np.isfinite(x))
    if bad.size:
        raise ValueError(f'{name}: sample {int(bad[0])} is not finite ({x[bad[0]]})')
    return x


def blocking_table(x, min_blocks: int = MIN_BLOCKS) -> list[BlockingEstimate]:
    """SEM estimates of the mean of ``x`` for block lengths 1, 2, 4, ... leaving at least ``min_blocks`` blocks."""
    x = as_series(x, min_length=max(2, min_blocks))
    rows = []
    size = 1
    while x.size // size >= max(2, min_blocks):
        n_blocks = x.size // size
        means = x[: n_blocks * size].reshape(n_blocks, size).mean(axis=1)
        sem = float(np.std(means, ddof=1) / np.sqrt(n_blocks))
        rows.append(BlockingEstimate(size, n_blocks, sem, float(sem / np.sqrt(2.0 * (n_blocks - 1)))))
        size *= 2
    return rows


def choose_block(rows: list[BlockingEstimate]) -> tuple[BlockingEstimate, bool]:
    """The blocking row picked by the plateau rule of the module docstring, and whether the rule was met."""
    for row, following in itertools.pairwise(rows):
        if following.sem - row.sem <= following.sem_error:
            return row, True
    return rows[-1], False


def series_statistics(values, name: str = 'series', min_blocks: int = MIN_BLOCKS) -> SeriesStatistics:
    """Mean, std (ddof=0), block-averaged SEM of one per-frame series (see the module docstring)."""
    x = as_series(values, name, min_length=max(2, min_blocks))
    rows = blocking_table(x, min_blocks)
    chosen, converged = choose_block(rows)
    naive = rows[0].sem
    inefficiency = (chosen.sem / naive) ** 2 if naive > 0 else 1.0
    return SeriesStatistics(
        mean=float(x.mean()),
        std=float(x.std()),
        sem=chosen.sem,
        sem_error=chosen.sem_error,
        block_size=chosen.block_size,
        n_blocks=chosen.n_blocks,
        converged=converged,
        statistical_inefficiency=float(inefficiency),
        minimum=float(x.min()),
        maximum=float(x.max()),
        n_samples=int(x.size),
        blocking=rows,
    )


def gap_series(homo, lumo) -> np.ndarray:
    """Per-frame HOMO-LUMO gap LUMO - HOMO (eV); ValueError when the shapes differ or LUMO is not above HOMO."""
    homo = as_series(homo, 'homo', 1)
    lumo = as_series(lumo, 'lumo', 1)
    if homo.shape != lumo.shape:
        raise ValueError(f'homo and lumo differ in length: {homo.size} vs {lumo.size}')
    gap = lumo - homo
    bad = np.flatnonzero(gap <= 0)
    if bad.size:
        raise ValueError(f'frame {int(bad[0])}: LUMO {lumo[bad[0]]:g} eV is not above HOMO {homo[bad[0]]:g} eV')
    return gap


def fluctuations(values) -> np.ndarray:
    """``values`` minus their mean (eV): the fluctuation series whose autocorrelation enters the dephasing."""
    x = as_series(values)
    return x - x.mean()


def uniform_timestep(time_fs, rtol: float = 1e-6) -> float:
    """The constant spacing (fs) of ``time_fs``; ValueError when the times are not evenly spaced and increasing."""
    t = as_series(time_fs, 'time_fs')
    steps = np.diff(t)
    if steps[0] <= 0 or not np.allclose(steps, steps[0], rtol=rtol, atol=0.0):
        k = int(np.flatnonzero(~np.isclose(steps, steps[0], rtol=rtol, atol=0.0))[0]) if steps[0] > 0 else 0
        raise ValueError(
            f'times are not evenly spaced and increasing: step {k} is {steps[k]:g} fs, the first is {steps[0]:g} fs'
        )
    return float(steps.mean())


def level_statistics(levels: Mapping[str, np.ndarray], min_blocks: int = MIN_BLOCKS) -> dict[str, SeriesStatistics]:
    """:class:`SeriesStatistics` (eV) of each of ``homo``, ``lumo`` and ``gap`` in ``levels``.

    ``gap`` is LUMO - HOMO when ``levels`` has HOMO and LUMO but no gap.
    """
    series = {name: levels[name] for name in LEVEL_NAMES if name in levels}
    if 'gap' not in series and 'homo' in series and 'lumo' in series:
        series['gap'] = gap_series(series['homo'], series['lumo'])
    if not series:
        raise ValueError(f'levels have none of {list(LEVEL_NAMES)}; got {sorted(levels)}')
    return {name: series_statistics(values, name, min_blocks) for name, values in series.items()}
