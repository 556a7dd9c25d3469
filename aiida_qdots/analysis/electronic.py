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
* **Series with holes** (frames that failed or were skipped): the samples sit at integer ``positions`` of a
  uniform grid (:func:`sampling_grid`, from the frame times). A block of length B then covers B grid points,
  whatever number of samples it holds (empty blocks are skipped), and autocorrelations average the products of
  the pairs at each exact lag (:func:`lag_autocorrelation`); without holes both reduce to the plain estimators.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Mapping

import numpy as np
from scipy import fft as sfft

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


def blocking_table(x, min_blocks: int = MIN_BLOCKS, positions=None) -> list[BlockingEstimate]:
    """SEM estimates of the mean of ``x`` for block lengths 1, 2, 4, ... (grid points) leaving at least
    ``min_blocks`` non-empty blocks; ``positions`` (integer grid points of the samples, default 0, 1, ...) place a
    series with holes on its grid.
    """
    x = as_series(x, min_length=max(2, min_blocks))
    cells = np.arange(x.size) if positions is None else grid_positions(positions, x.size)
    cells = cells - cells[0]
    rows = []
    size = 1
    while (cells[-1] + 1) // size >= max(2, min_blocks):
        whole = cells < (cells[-1] + 1) // size * size
        block = cells[whole] // size
        counts = np.bincount(block)
        used = counts > 0
        means = np.bincount(block, weights=x[whole])[used] / counts[used]
        n_blocks = int(used.sum())
        if n_blocks < max(2, min_blocks):
            break
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


def series_statistics(values, name: str = 'series', min_blocks: int = MIN_BLOCKS, positions=None) -> SeriesStatistics:
    """Mean, std (ddof=0), block-averaged SEM of one per-frame series, sampled at the grid ``positions`` (default
    0, 1, ...; see the module docstring).
    """
    x = as_series(values, name, min_length=max(2, min_blocks))
    rows = blocking_table(x, min_blocks, positions)
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


def sampling_grid(time_fs, step_fs: float | None = None, rtol: float = 1e-6) -> tuple[float, np.ndarray]:
    """The uniform grid under the sample times ``time_fs`` (fs): its step (fs) and the integer grid point of each
    sample, counted from the first. The step is ``step_fs`` when given, else the smallest spacing; every spacing
    must be a whole multiple of it (missing frames are holes of the grid). ValueError when the times repeat,
    go backwards or fall between grid points.
    """
    t = as_series(time_fs, 'time_fs')
    steps = np.diff(t)
    bad = np.flatnonzero(steps <= 0)
    if bad.size:
        k = int(bad[0])
        word = 'repeats' if steps[k] == 0 else 'goes back to'
        raise ValueError(f'sample {k + 1} {word} {t[k + 1]:g} fs after {t[k]:g} fs: times must increase')
    step = float(steps.min()) if step_fs is None else float(step_fs)
    if not math.isfinite(step) or step <= 0:
        raise ValueError(f'the grid step must be a positive time, got {step_fs!r}')
    multiples = steps / step
    off = np.flatnonzero(np.abs(multiples - np.round(multiples)) > rtol * np.maximum(multiples, 1.0))
    if off.size or np.any(np.round(multiples) < 1):
        k = int(off[0]) if off.size else int(np.flatnonzero(np.round(multiples) < 1)[0])
        raise ValueError(
            f'samples {k} and {k + 1} are {steps[k]:g} fs apart, not a whole number of grid steps of {step:g} fs'
        )
    return step, np.concatenate([[0], np.cumsum(np.round(multiples).astype(int))])


def grid_positions(positions, n_samples: int) -> np.ndarray:
    """``positions`` as a strictly increasing integer array of ``n_samples`` grid points; ValueError otherwise."""
    cells = np.asarray(positions)
    if cells.shape != (n_samples,) or not np.issubdtype(cells.dtype, np.integer):
        raise ValueError(f'positions must be {n_samples} integer grid points, got {cells.dtype} {cells.shape}')
    if n_samples > 1 and np.any(np.diff(cells) <= 0):
        raise ValueError('grid positions must increase strictly')
    return cells.astype(np.int64)


def lag_autocorrelation(values, positions=None, n_lags: int | None = None, estimator: str = 'biased'):
    """Unnormalised autocorrelation (units of ``values`` squared) of the fluctuations of ``values`` sampled at the
    integer grid ``positions`` (default 0, 1, ...; holes allowed), at exact lags 0 .. n_lags - 1 grid steps
    (default all), and the number of sample pairs behind each lag.

    Each lag averages the products of the pairs exactly that many grid steps apart (zero-padded FFT of the
    series and of its mask); ``biased`` multiplies that average by (L - k) / L, L the grid length, which gives
    the 1/N estimator on a series without holes; ``unbiased`` is the plain pair average. Lags without any pair
    are NaN.
    """
    x = as_series(values)
    cells = np.arange(x.size) if positions is None else grid_positions(positions, x.size)
    cells = cells - cells[0]
    length = int(cells[-1]) + 1
    n_lags = length if n_lags is None else int(n_lags)
    if not 1 <= n_lags <= length:
        raise ValueError(f'n_lags must be between 1 and the grid length {length}, got {n_lags}')
    if estimator not in ('biased', 'unbiased'):
        raise ValueError(f"estimator must be 'biased' or 'unbiased', got {estimator!r}")
    size = sfft.next_fast_len(length + n_lags - 1, real=True)
    series = np.zeros(length)
    mask = np.zeros(length)
    series[cells] = x - x.mean()
    mask[cells] = 1.0
    spectra = sfft.rfft(np.stack([series, mask]), size)
    products, pairs = sfft.irfft(spectra * np.conj(spectra), size)[:, :n_lags]
    pairs = np.rint(pairs).astype(int)
    with np.errstate(invalid='ignore', divide='ignore'):
        acf = np.where(pairs > 0, products / pairs, np.nan)
    if estimator == 'biased':
        acf = acf * (length - np.arange(n_lags)) / length
    return acf, pairs


def level_statistics(
    levels: Mapping[str, np.ndarray], min_blocks: int = MIN_BLOCKS, positions=None
) -> dict[str, SeriesStatistics]:
    """:class:`SeriesStatistics` (eV) of each of ``homo``, ``lumo`` and ``gap`` in ``levels`` sampled at the grid
    ``positions`` (default 0, 1, ...).

    ``gap`` is LUMO - HOMO when ``levels`` has HOMO and LUMO but no gap.
    """
    series = {name: levels[name] for name in LEVEL_NAMES if name in levels}
    if 'gap' not in series and 'homo' in series and 'lumo' in series:
        series['gap'] = gap_series(series['homo'], series['lumo'])
    if not series:
        raise ValueError(f'levels have none of {list(LEVEL_NAMES)}; got {sorted(levels)}')
    return {name: series_statistics(values, name, min_blocks, positions) for name, values in series.items()}
