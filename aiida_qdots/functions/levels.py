"""Calcfunction for the fluctuation and dephasing analysis of stored per-frame orbital energies.

Input: any ArrayData with per-frame arrays ``homo`` and ``lumo`` (eV), optionally ``gap`` (eV; else LUMO - HOMO),
and ``time_fs`` (fs) or the attributes ``stride`` and ``timestep_fs`` (levels imported by
:func:`aiida_qdots.structures.importers.import_levels` have all of them). Rows may be missing: the times lie on a
uniform grid (step ``stride x timestep_fs`` when known, else the smallest spacing) with holes, and every statistic
uses the exact time lags (:func:`aiida_qdots.analysis.electronic.sampling_grid`). The kernels are
:mod:`aiida_qdots.analysis.electronic` (mean, std, block-averaged SEM) and :mod:`aiida_qdots.analysis.dephasing`
(gap autocorrelation, cumulant, dephasing function, decay times in every convention).

Graph: levels + parameters -> :func:`analyze_levels` -> ``summary`` (Dict) and ``dephasing`` (ArrayData).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from aiida import orm
from aiida.engine import calcfunction

from aiida_qdots.analysis.convergence import THRESHOLDS, level_verdict
from aiida_qdots.analysis.dephasing import (
    CONVENTIONS,
    ESTIMATORS,
    FIT_FLOOR,
    MIN_FIT_POINTS,
    PAPER_CONVENTION,
    dephasing_analysis,
)
from aiida_qdots.analysis.electronic import MIN_BLOCKS, level_statistics, sampling_grid
from aiida_qdots.common.errors import QdotsInputError
from aiida_qdots.common.nodes import resolve_node

LEVELS_ANALYSIS_DEFAULTS: dict[str, Any] = {
    'last_frames': None,
    'max_lag_fs': None,
    'estimator': 'biased',
    'fit_floor': FIT_FLOOR,
    'fit_max_fs': None,
    'min_blocks': MIN_BLOCKS,
}
"""Parameters of :func:`analyze_levels` and their defaults.

* ``last_frames``: analyze the last N rows (sampled frames) of the levels; default all.
* ``max_lag_fs``: longest lag of the autocorrelation / dephasing function (fs); default half the window.
* ``estimator``: ``biased`` (1/N, default) or ``unbiased`` (1/(N-k)) autocorrelation.
* ``fit_floor``: the dephasing fits stop at the first lag with D(t) <= fit_floor; ``fit_max_fs`` (fs) replaces
  that rule by a fixed window.
* ``min_blocks``: fewest blocks of the block-averaged standard error of the mean.
"""

MIN_LEVEL_FRAMES = 32
"""Fewest sampled frames the analysis accepts."""

SUMMARY_UNITS = {
    '*_ev': 'eV',
    'dephasing_fs': 'fs',
    'fit_window_fs': 'fs',
    'timestep_fs': 'fs',
    'window': 'rows of the levels (0-based, stop excluded); times in fs',
    'statistical_inefficiency': 'frames per independent sample',
}

STATISTICS_CONVENTIONS = {
    'std': 'population standard deviation (ddof=0) over the sampled frames',
    'sem': 'standard error of the mean by block averaging (Flyvbjerg-Petersen): block lengths 1, 2, 4, ... frames '
    'leaving >= min_blocks blocks; the smallest B with SEM_2B - SEM_B <= SEM_2B / sqrt(2 (n_2B - 1)) '
    '(plateau); else the largest B, sem_converged = false',
    'autocorrelation': 'C(k dt) = sum_t dE(t) dE(t+k) / N (biased) or / (N-k) (unbiased), dE = gap - <gap>, by '
    'zero-padded FFT, eV^2; with missing rows, the mean product of the pairs exactly k grid steps apart (times '
    'the biased factor (L-k)/L, L the grid length); a lag without pairs is interpolated (n_interpolated_lags)',
    'convergence': 'per quantity: converged, reason, n_samples, effective_samples (Sokal integrated '
    'autocorrelation time), criteria with thresholds (aiida_qdots.analysis.convergence)',
    'cumulant': 'g(t) = hbar^-2 int_0^t int_0^t1 C(t2) dt2 dt1, exact double integral of the piecewise-linear C; '
    'D(t) = exp(-g(t))',
    'fit_window': 'lags 0 <= t <= first lag with D <= fit_floor (or <= fit_max_fs); least squares on D(t)',
}

FITTED_MODELS = {
    'gaussian_cumulant': 'D(t) = exp(-(t/tau)^2/2)',
    'pyxaid_gaussian': 'D(t) = exp(-(t/tau)^2)',
    'exponential_cumulant': 'D(t) = exp(-t/tau)',
}
"""The model curve stored as ``fit_<convention>`` for each fitted convention."""

_LEVEL_ARRAYS = ('homo', 'lumo')


def levels_analysis_parameters(values: dict | None = None) -> dict[str, Any]:
    """``values`` checked and completed with :data:`LEVELS_ANALYSIS_DEFAULTS`; :class:`QdotsInputError` naming the
    key.
    """
    values = dict(values or {})
    unknown = sorted(set(values) - set(LEVELS_ANALYSIS_DEFAULTS))
    if unknown:
        raise QdotsInputError(
            f'unknown levels-analysis parameter(s) {unknown}; known: {sorted(LEVELS_ANALYSIS_DEFAULTS)}'
        )
    params = {**LEVELS_ANALYSIS_DEFAULTS, **{k: v for k, v in values.items() if v is not None}}
    for key in ('last_frames', 'min_blocks'):
        value = params[key]
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1):
            raise QdotsInputError(f'{key} must be a positive integer, got {value!r}')
    for key in ('max_lag_fs', 'fit_max_fs', 'fit_floor'):
        value = params[key]
        if value is None:
            continue
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float, np.number))
            or not math.isfinite(value)
            or value <= 0
        ):
            raise QdotsInputError(f'{key} must be a positive finite number, got {value!r}')
        params[key] = float(value)
    if not params['fit_floor'] < 1:
        raise QdotsInputError(f'fit_floor must be below 1, got {params["fit_floor"]}')
    if params['estimator'] not in ESTIMATORS:
        raise QdotsInputError(f'estimator must be one of {list(ESTIMATORS)}, got {params["estimator"]!r}')
    if params['last_frames'] is not None and params['last_frames'] < MIN_LEVEL_FRAMES:
        raise QdotsInputError(f'last_frames={params["last_frames"]}: the analysis needs at least {MIN_LEVEL_FRAMES}')
    return params


def load_levels(levels: orm.ArrayData | int | str) -> orm.ArrayData:
    """A stored per-frame levels ArrayData (node, PK or UUID) with ``homo`` and ``lumo`` arrays; QdotsInputError
    otherwise.
    """
    expected = 'an ArrayData of per-frame levels'
    node = resolve_node(levels, orm.ArrayData, 'levels', expected)
    if isinstance(node, orm.TrajectoryData):
        raise QdotsInputError(f'node {node.pk} is a {type(node).__name__}, not {expected}')
    missing = [name for name in _LEVEL_ARRAYS if name not in node.get_arraynames()]
    if missing:
        raise QdotsInputError(
            f'node {node.pk} has no {", ".join(missing)} array(s) (arrays: {sorted(node.get_arraynames())}); '
            'import levels with `aiida-qdots import levels`'
        )
    return node


def levels_grid(levels: orm.ArrayData) -> tuple[float, np.ndarray]:
    """The sampling grid of the rows: its step (fs) and each row's integer grid point, from ``time_fs`` (holes
    allowed; step ``stride x timestep_fs`` when the attributes give it, else the smallest spacing), else every
    ``stride x timestep_fs`` fs; QdotsInputError when neither is available or the times are not on a grid.
    """
    attributes = levels.base.attributes
    stride, step = attributes.get('stride', None), attributes.get('timestep_fs', None)
    nominal = None if stride is None or step is None else float(stride) * float(step)
    if nominal is not None and (not math.isfinite(nominal) or nominal <= 0):
        raise QdotsInputError(f'levels {levels.pk}: stride x timestep_fs = {nominal} is not a positive time step')
    if 'time_fs' in levels.get_arraynames():
        try:
            return sampling_grid(levels.get_array('time_fs'), nominal)
        except ValueError as exc:
            raise QdotsInputError(f'levels {levels.pk}: {exc}') from None
    if nominal is None:
        raise QdotsInputError(f'levels {levels.pk} have no time_fs array and no stride/timestep_fs attributes')
    return nominal, np.arange(levels.get_shape('homo')[0])


def check_levels(
    levels: orm.ArrayData, params: dict[str, Any]
) -> tuple[dict[str, np.ndarray], int, int, float, np.ndarray]:
    """The per-frame series of the analysis window (``homo``, ``lumo``, ``gap`` in eV), the window (start, stop
    rows), the grid step (fs) and the rows' grid points in the window (from 0); QdotsInputError when the levels
    are unusable.
    """
    arrays = {name: np.asarray(levels.get_array(name), dtype=float) for name in _LEVEL_ARRAYS}
    if 'gap' in levels.get_arraynames():
        arrays['gap'] = np.asarray(levels.get_array('gap'), dtype=float)
    else:
        arrays['gap'] = arrays['lumo'] - arrays['homo']
    sizes = {name: values.shape for name, values in arrays.items()}
    if len(set(sizes.values())) != 1 or len(next(iter(sizes.values()))) != 1:
        raise QdotsInputError(f'levels {levels.pk}: homo, lumo and gap must be 1-D arrays of one length, got {sizes}')
    n_rows = arrays['homo'].size
    for name, values in arrays.items():
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            raise QdotsInputError(f'levels {levels.pk}: {name} of row {int(bad[0])} is not finite')
    last = params['last_frames']
    if last is not None and last > n_rows:
        raise QdotsInputError(f'last_frames={last} is more than the {n_rows} rows of levels {levels.pk}')
    start = 0 if last is None else n_rows - last
    if n_rows - start < MIN_LEVEL_FRAMES:
        raise QdotsInputError(f'levels {levels.pk} have {n_rows - start} rows; the analysis needs {MIN_LEVEL_FRAMES}')
    dt, positions = levels_grid(levels)
    if positions.size != n_rows:
        raise QdotsInputError(f'levels {levels.pk}: time_fs has {positions.size} rows, the levels {n_rows}')
    positions = positions[start:] - positions[start]
    duration = int(positions[-1]) * dt
    for key in ('max_lag_fs', 'fit_max_fs'):
        if params[key] is not None and params[key] > duration:
            raise QdotsInputError(f'{key}={params[key]:g} fs is longer than the window ({duration:g} fs)')
    if params['max_lag_fs'] is not None and params['max_lag_fs'] < dt:
        raise QdotsInputError(f'max_lag_fs={params["max_lag_fs"]:g} fs is shorter than the sampling step ({dt:g} fs)')
    return {name: values[start:] for name, values in arrays.items()}, start, n_rows, dt, positions


def _number(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


@calcfunction
def analyze_levels(levels: orm.ArrayData, parameters: orm.Dict | None = None) -> dict[str, orm.Data]:
    """Mean, std and block-averaged SEM of HOMO, LUMO and gap (eV), and the gap's pure-dephasing function and
    dephasing times (fs) in every convention (:data:`aiida_qdots.analysis.dephasing.CONVENTIONS`).

    Outputs ``summary`` (Dict) and ``dephasing`` (ArrayData: ``time_fs``, ``acf`` eV^2, ``cumulant``,
    ``dephasing`` and the fitted curves ``fit_<convention>``).
    """
    params = levels_analysis_parameters(parameters.get_dict() if parameters is not None else {})
    series, start, stop, dt, positions = check_levels(levels, params)
    statistics = level_statistics(series, params['min_blocks'], positions)
    result = dephasing_analysis(
        series['gap'],
        dt,
        max_lag_fs=params['max_lag_fs'],
        estimator=params['estimator'],
        fit_floor=params['fit_floor'],
        fit_max_fs=params['fit_max_fs'],
        positions=positions,
    )
    times = {name: _number(value) for name, value in result.times_fs.items()}
    window = {
        'start_row': start,
        'stop_row': stop,
        'n_frames': stop - start,
        'timestep_fs': dt,
        'duration_fs': result.duration_fs,
        'n_missing_frames': int(positions[-1]) + 1 - (stop - start),
    }
    if 'time_fs' in levels.get_arraynames():
        window['start_time_fs'] = float(levels.get_array('time_fs')[start])
    summary: dict[str, Any] = {}
    for name, stats in statistics.items():
        summary[f'{name}_mean_ev'] = stats.mean
        summary[f'{name}_std_ev'] = stats.std
        summary[f'{name}_sem_ev'] = stats.sem
    summary.update(
        {
            'statistics': {name: stats.as_dict() for name, stats in statistics.items()},
            'dephasing_fs': times,
            'paper_convention': PAPER_CONVENTION,
            'dephasing_paper_fs': times[PAPER_CONVENTION],
            'conventions': {**CONVENTIONS, **STATISTICS_CONVENTIONS},
            'fit_rms': {name: _number(value) for name, value in result.fit_rms.items()},
            'fit_window_fs': result.fit_window_fs,
            'n_fit_points': result.n_fit_points,
            'dephasing_resolved': result.resolved,
            'dephasing_decayed': result.decayed,
            'n_interpolated_lags': result.n_interpolated_lags,
            'gap_decorrelation_fs': result.decorrelation_fs,
            'convergence': {
                **{name: level_verdict(name, series[name], positions).as_dict() for name in statistics},
                'dephasing': result.convergence.as_dict(),
            },
            'thresholds': dict(THRESHOLDS),
            'gap_sigma_ev': result.sigma_ev,
            'estimator': result.estimator,
            'fit_floor': result.fit_floor,
            'max_lag_fs': float(result.time_fs[-1]),
            'window': window,
            'units': dict(SUMMARY_UNITS),
            'levels_uuid': levels.uuid,
        }
    )
    warnings = []
    if not result.resolved:
        warnings.append(
            f'the dephasing fit window holds {result.n_fit_points} lags (< {MIN_FIT_POINTS}): the levels are sampled '
            f'every {dt:g} fs, too coarsely for a dephasing time of about {times["gaussian_short_time"]} fs'
        )
    if not result.decayed:
        warnings.append(
            f'D(t) stays above fit_floor={result.fit_floor:g} up to the longest lag ({result.time_fs[-1]:g} fs): '
            'the fits use the whole lag range; a longer window or max_lag_fs resolves the decay better'
        )
    if warnings:
        summary['warning'] = '; '.join(warnings)
    node = orm.Dict(summary)
    node.label = 'levels analysis summary'

    arrays = orm.ArrayData()
    arrays.set_array('time_fs', result.time_fs)
    arrays.set_array('acf', result.acf)
    arrays.set_array('cumulant', result.cumulant)
    arrays.set_array('dephasing', result.dephasing)
    units = {'time_fs': 'fs', 'acf': 'eV^2', 'cumulant': 'dimensionless', 'dephasing': 'dimensionless'}
    for name, curve in result.fitted.items():
        arrays.set_array(f'fit_{name}', curve)
        units[f'fit_{name}'] = 'dimensionless'
    arrays.base.attributes.set_many(
        {
            'analysis': 'pure_dephasing',
            'units': units,
            'times_fs': times,
            'paper_convention': PAPER_CONVENTION,
            'conventions': dict(CONVENTIONS),
            'fitted_models': {name: FITTED_MODELS[name] for name in result.fitted},
            'sigma_ev': result.sigma_ev,
            'mean_ev': result.mean_ev,
            'timestep_fs': dt,
            'estimator': result.estimator,
            'fit_window_fs': result.fit_window_fs,
            'n_fit_points': result.n_fit_points,
            'resolved': result.resolved,
            'series': 'gap (LUMO - HOMO)',
            'window': window,
            'levels_uuid': levels.uuid,
        }
    )
    arrays.label = 'gap dephasing'
    arrays.description = (
        f'gap autocorrelation, cumulant and dephasing function; tau ({PAPER_CONVENTION}) = '
        f'{times[PAPER_CONVENTION]} fs over {window["n_frames"]} frames {dt:g} fs apart'
    )
    return {'summary': node, 'dephasing': arrays}
