"""The Debye-Waller slope as the Bragg-peak route reads it: d(du2_Bragg)/dT from MD runs at several temperatures.

The peak route (:mod:`aiida_qdots.analysis.ued_patterns`: peak windows of the reference, areas above their straight
baselines, ``peak_q`` with the self scattering, the zero-intercept fit of -ln(I/I0) against Q^2 of
:func:`aiida_qdots.analysis.debye_waller.debye_waller_fit`) measures a Bragg-weighted du2: on a small particle whose
surface atoms move more and whose neighbours move together, less than the change of the mean <u^2> (angstrom^2)
whose slope the MSD gives. Dividing its du2 by a slope of the same quantity gives the lattice temperature.

Here: the mean Debye pattern I_T(Q) of each run's frames (:func:`aiida_qdots.analysis.diffraction.debye_pattern`;
rigid-body motion does not change I(Q)), the peak route applied to them with the run closest to ``reference_k``
(300 K, the experiment's pre-pump temperature) as I0, du2_Bragg(T), and a weighted straight line
du2_Bragg = a + b T (:func:`aiida_qdots.analysis.thermal_msd.msd_temperature_slope`). Errors: each run's frames
split into ``n_blocks`` contiguous blocks, each block's pattern read against the same I0; the standard error of
du2_Bragg(T) is the spread of the blocks' du2 over sqrt(blocks) (blocks longer than the correlation time of the
pattern's fluctuations are independent). Pattern errors proportional to I (the demo's noise and
:func:`~aiida_qdots.data.ued_patterns.synthetic_patterns`) set the peaks' weights.
"""

from __future__ import annotations

import numpy as np

from aiida_qdots.analysis.debye_waller import debye_waller_fit
from aiida_qdots.analysis.diffraction import debye_pattern
from aiida_qdots.analysis.thermal_msd import msd_temperature_slope
from aiida_qdots.analysis.ued_patterns import peak_ratios

MIN_BLOCKS = 4
"""Blocks per run below which the spread of the blocks is no error estimate."""


def block_patterns(frames, symbols, q, n_blocks: int, dr: float = 1e-3) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean I(Q) (angstrom^2, per particle) of each of ``n_blocks`` contiguous blocks of ``frames`` (F, N, 3)
    angstrom: (blocks, Q), the frames in each block (blocks,), and the self scattering N <f^2> (Q,)."""
    frames = np.asarray(frames, dtype=float)
    if not MIN_BLOCKS <= n_blocks <= len(frames) // 2:
        raise ValueError(
            f'{len(frames)} frames make no {n_blocks} blocks of >= 2 frames (need {MIN_BLOCKS} <= blocks <= frames/2)'
        )
    blocks = np.array_split(np.arange(len(frames)), n_blocks)
    patterns = [debye_pattern(frames[block], symbols, q, dr) for block in blocks]
    last = patterns[-1]
    sizes = np.array([len(block) for block in blocks])
    return np.array([p.intensity for p in patterns]), sizes, last.n_atoms * last.mean_f2


def bragg_du2_slope(
    runs,
    temperatures_k,
    symbols,
    q,
    q_range,
    prominence: float = 0.02,
    max_peaks: int = 12,
    n_blocks: int = MIN_BLOCKS,
    reference_k: float = 300.0,
    dr: float = 1e-3,
) -> dict:
    """d(du2_Bragg)/dT (angstrom^2/K) of MD ``runs`` (one (F, N, 3) frame array per temperature in
    ``temperatures_k``, K) of one particle (``symbols``): peaks within ``q_range`` (1/angstrom) of the reference
    run's pattern on the uniform grid ``q``, found with ``prominence`` and ``max_peaks`` as on data. Returns the
    slope and its standard error (keys of :func:`~aiida_qdots.analysis.thermal_msd.msd_temperature_slope`),
    du2_Bragg per temperature with its block standard error, the peaks' Q, the sample sizes, and the slopes of the
    blocks one by one (their spread: a second view of the error)."""
    temperatures = np.asarray(temperatures_k, dtype=float)
    if len(runs) != temperatures.size or np.unique(temperatures).size < 2:
        raise ValueError(f'need one run per temperature and >= 2 distinct temperatures, got {temperatures.tolist()}')
    blocks, sizes, self_scattering = zip(
        *(block_patterns(frames, symbols, q, n_blocks, dr) for frames in runs), strict=True
    )
    full = np.array([sz @ b / sz.sum() for b, sz in zip(blocks, sizes, strict=True)])  # each run's mean pattern
    ref = int(np.argmin(np.abs(temperatures - reference_k)))
    patterns = np.concatenate([full[ref : ref + 1], full, np.concatenate(blocks)])
    delays = np.r_[-1.0, np.ones(len(patterns) - 1)]  # the reference run's pattern is I0 of every other
    peak_q, ratio, error, _, _ = peak_ratios(
        q, delays, patterns[None], 1e-6 * patterns[None], q_range, prominence, max_peaks, self_scattering[ref]
    )
    du2 = debye_waller_fit(peak_q, ratio[0], error[0]).du2
    du2_runs, du2_blocks = du2[1 : 1 + temperatures.size], du2[1 + temperatures.size :].reshape(-1, n_blocks)
    sem = du2_blocks.std(axis=1, ddof=1) / np.sqrt(n_blocks)
    with np.errstate(divide='ignore', invalid='ignore'):  # its relative residual divides by du2(reference) = 0
        fit = msd_temperature_slope(temperatures, du2_runs, sem)
    fit.pop('max_relative_residual')
    block_slopes = np.polyfit(temperatures, du2_blocks, 1)[0]
    return {
        **fit,
        'du2_A2': du2_runs.tolist(),
        'du2_sem_A2': sem.tolist(),
        'temperatures_K': temperatures.tolist(),
        'reference_K': float(temperatures[ref]),
        'peak_q_inv_angstrom': peak_q.tolist(),
        'n_peaks': int(peak_q.size),
        'n_frames': [int(s.sum()) for s in sizes],
        'n_blocks': int(n_blocks),
        'block_slopes_A2_per_K': block_slopes.tolist(),
        'block_slope_sem_A2_per_K': float(block_slopes.std(ddof=1) / np.sqrt(n_blocks)),
    }
