"""Radially averaged electron-diffraction patterns I(Q, t) per pump set: reading, validation and writing.

CSV (a header, one row per set, delay and Q point):

=====================  ======================================================================
column                 meaning
=====================  ======================================================================
fluence_mj_cm2         pump fluence (mJ/cm^2), > 0
wavelength_nm          pump wavelength (nm), > 0
delay_ps               pump-probe delay (ps); negative delays are the pre-pump reference
q_inv_angstrom         Q = 4 pi sin(theta) / lambda (1/angstrom), > 0
intensity              radially averaged I(Q, t) (detector unit, > 0)
intensity_err          its standard error (> 0)
=====================  ======================================================================

NPZ (or HDF5 ``.h5``/``.hdf5`` when h5py is installed): arrays ``fluence_mj_cm2`` (S,), ``wavelength_nm`` (S,),
``delay_ps`` (D,), ``q_inv_angstrom`` (Q,), ``intensity`` and ``intensity_err`` (S, D, Q). Every set has every
delay and Q point. Errors are :class:`~aiida_qdots.common.validation.RuleViolation` naming the file, the row (from 1
after the header) or array index, and the rule.
"""

from __future__ import annotations

import io
import pathlib

import numpy as np
import pandas as pd

from aiida_qdots.common.errors import QdotsInputError
from aiida_qdots.common.validation import PATTERN_BOUNDS, check_pattern_arrays, check_text, check_values, fail

PATTERN_COLUMNS = ('fluence_mj_cm2', 'wavelength_nm', 'delay_ps', 'q_inv_angstrom', 'intensity', 'intensity_err')
SET_ARRAYS = ('fluence_mj_cm2', 'wavelength_nm')
BINARY_SUFFIXES = ('.npz', '.h5', '.hdf5')


def is_pattern_file(path: str | pathlib.Path) -> bool:
    """Whether ``path`` holds patterns I(Q, t) (NPZ/HDF5, or a CSV whose header has an ``intensity`` column) rather
    than a peak table I(t)/I0."""
    path = pathlib.Path(path)
    if path.suffix.lower() in BINARY_SUFFIXES:
        return True
    if path.suffix.lower() == '.json' or not path.is_file():
        return False
    with open(path, 'rb') as handle:
        head = handle.readline().decode('utf-8-sig', errors='replace')
    return 'intensity' in [c.strip() for c in head.split(',')]


def _csv(path: pathlib.Path) -> dict:
    text = check_text(path.read_bytes(), path.name)
    try:
        table = pd.read_csv(io.StringIO(text))
    except (ValueError, pd.errors.ParserError) as error:
        fail(path.name, None, f'not a valid CSV table: {" ".join(str(error).split())}', 'format')
    missing = [c for c in PATTERN_COLUMNS if c not in table.columns]
    if missing:
        fail(path.name, None, f'missing column(s) {", ".join(missing)}; expected {", ".join(PATTERN_COLUMNS)}', 'shape')
    table = table[list(PATTERN_COLUMNS)]
    for column in PATTERN_COLUMNS:
        values = pd.to_numeric(table[column], errors='coerce').to_numpy(dtype=float)
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            where = f'row {bad[0] + 1}, column {column!r}'
            fail(path.name, where, f'not a finite number: {table[column].iloc[bad[0]]!r}', 'finite')
        low, high = PATTERN_BOUNDS[column]
        bad = np.flatnonzero((values < low) if column == 'delay_ps' else (values <= low))
        if bad.size:
            fail(
                path.name,
                f'row {bad[0] + 1}, column {column!r}',
                f'must be > {low:g}, got {values[bad[0]]:g}',
                'bounds',
            )
        bad = np.flatnonzero(values > high)
        if bad.size:
            where = f'row {bad[0] + 1}, column {column!r}'
            fail(path.name, where, f'{values[bad[0]]:g} is beyond {high:g}: check its unit', 'bounds')
        table[column] = values
    keys = ['fluence_mj_cm2', 'wavelength_nm', 'delay_ps', 'q_inv_angstrom']
    duplicated = np.flatnonzero(table.duplicated(keys).to_numpy())
    if duplicated.size:
        fail(path.name, f'row {duplicated[0] + 1}', 'duplicate (set, delay, Q) row', 'order')
    sets = table[list(SET_ARRAYS)].drop_duplicates().to_numpy()
    delays, q = np.sort(table['delay_ps'].unique()), np.sort(table['q_inv_angstrom'].unique())
    if len(table) != len(sets) * delays.size * q.size:
        fail(
            path.name,
            None,
            f'{len(table)} rows for {len(sets)} set(s) x {delays.size} delays x {q.size} Q: every set needs every '
            'delay and Q point',
            'shape',
        )
    ordered = table.sort_values(keys).set_index(list(SET_ARRAYS))
    order = [ordered.loc[tuple(s)] for s in sets]
    shape = (len(sets), delays.size, q.size)
    return {
        'fluence_mj_cm2': sets[:, 0],
        'wavelength_nm': sets[:, 1],
        'delay_ps': delays,
        'q_inv_angstrom': q,
        'intensity': np.concatenate([o['intensity'].to_numpy() for o in order]).reshape(shape),
        'intensity_err': np.concatenate([o['intensity_err'].to_numpy() for o in order]).reshape(shape),
    }


def _binary(path: pathlib.Path) -> dict:
    try:
        if path.suffix.lower() == '.npz':
            with np.load(path, allow_pickle=False) as archive:
                arrays = {name: np.asarray(archive[name]) for name in archive.files}
        else:
            import h5py

            with h5py.File(path, 'r') as handle:
                arrays = {name: np.asarray(handle[name]) for name in handle if isinstance(handle[name], h5py.Dataset)}
    except ImportError:
        fail(path.name, None, 'reading HDF5 needs h5py (pip install h5py), or save the patterns as NPZ', 'format')
    except (OSError, ValueError, EOFError) as error:
        fail(path.name, None, f'not a readable {path.suffix} file: {" ".join(str(error).split())}', 'format')
    missing = [name for name in PATTERN_COLUMNS if name not in arrays]
    if missing:
        fail(path.name, None, f'missing array(s) {", ".join(missing)}; expected {", ".join(PATTERN_COLUMNS)}', 'shape')
    for name in PATTERN_COLUMNS:
        if not np.issubdtype(arrays[name].dtype, np.number):
            fail(path.name, f'array {name!r}', f'holds {arrays[name].dtype}, not numbers', 'format')
        arrays[name] = arrays[name].astype(float)
    for name in SET_ARRAYS:
        values, (low, high) = np.atleast_1d(arrays[name]), PATTERN_BOUNDS[name]
        if values.shape != (arrays['intensity'].shape[0],) or arrays['intensity'].ndim != 3:
            fail(path.name, f'array {name!r}', f'shape {values.shape}, expected one value per set', 'shape')
        check_values(values, path.name, name, '', high, ('set',))
        if (values <= low).any():
            fail(path.name, f'array {name!r}', f'must be > {low:g}, got {values.min():g}', 'bounds')
    return {name: arrays[name] for name in PATTERN_COLUMNS}


def read_patterns(path: str | pathlib.Path) -> dict[str, np.ndarray]:
    """Read and validate a pattern file (CSV, NPZ or HDF5; see the module docstring): the arrays of
    :data:`PATTERN_COLUMNS`, sets in file order, delays and Q increasing."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise QdotsInputError(f'{path}: no such file')
    arrays = _binary(path) if path.suffix.lower() in BINARY_SUFFIXES else _csv(path)
    check_pattern_arrays(
        path.name, *(arrays[name] for name in ('delay_ps', 'q_inv_angstrom', 'intensity')), arrays['intensity_err']
    )
    return arrays


def write_patterns(path: str | pathlib.Path, arrays: dict) -> pathlib.Path:
    """Write the arrays of :data:`PATTERN_COLUMNS` as CSV (one row per set, delay, Q) or NPZ, by the suffix."""
    path = pathlib.Path(path)
    if path.suffix.lower() == '.npz':
        np.savez(path, **{name: np.asarray(arrays[name], dtype=float) for name in PATTERN_COLUMNS})
        return path
    n_sets, n_delays, n_q = np.shape(arrays['intensity'])
    s, d, k = (grid.ravel() for grid in np.meshgrid(range(n_sets), range(n_delays), range(n_q), indexing='ij'))
    columns = {
        'fluence_mj_cm2': np.asarray(arrays['fluence_mj_cm2'], float)[s],
        'wavelength_nm': np.asarray(arrays['wavelength_nm'], float)[s],
        'delay_ps': np.asarray(arrays['delay_ps'], float)[d],
        'q_inv_angstrom': np.asarray(arrays['q_inv_angstrom'], float)[k],
        'intensity': np.asarray(arrays['intensity'], float).ravel(),
        'intensity_err': np.asarray(arrays['intensity_err'], float).ravel(),
    }
    pd.DataFrame(columns).to_csv(path, index=False, float_format='%.17g')
    return path
