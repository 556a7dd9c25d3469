"""Ultrafast electron diffraction (UED) tables: reading and validation.

File format (CSV with a header, or JSON: a list of objects with the same keys), one row per set, delay and peak:

=====================  ======================================================================
column                 meaning
=====================  ======================================================================
fluence_mj_cm2         pump fluence (mJ/cm^2), > 0
wavelength_nm          pump wavelength (nm), > 0
delay_ps               pump-probe delay (ps); increasing within each (set, peak)
peak                   reflection label, e.g. 100, 002, 101
q_inv_angstrom         Q = 2 pi / d of the peak (1/angstrom), > 0, one value per peak
intensity_ratio        I(t) / I0 of the peak (> 0)
intensity_ratio_err    its standard error (> 0)
=====================  ======================================================================

A set is one (fluence, wavelength) pair; values must lie within
:data:`~aiida_qdots.common.validation.UED_BOUNDS`. Errors are :class:`~aiida_qdots.common.validation.RuleViolation`
naming the file, the row (1-based after the header), the column and the rule.
"""

from __future__ import annotations

import io
import json
import pathlib

import numpy as np
import pandas as pd

from aiida_qdots.common.errors import QdotsInputError
from aiida_qdots.common.validation import UED_BOUNDS, check_text, fail

COLUMNS = (
    'fluence_mj_cm2',
    'wavelength_nm',
    'delay_ps',
    'peak',
    'q_inv_angstrom',
    'intensity_ratio',
    'intensity_ratio_err',
)


def _fail(path, row: int | None, column: str | None, message: str, rule: str):
    where = ', '.join(
        part for part in (f'row {row}' if row is not None else '', f'column {column!r}' if column else '') if part
    )
    fail(str(path), where or None, message, rule)


def _load(path: pathlib.Path) -> pd.DataFrame:
    """The table of a CSV or JSON file, its text checked first (not empty, UTF-8, no binary data)."""
    try:
        text = check_text(path.read_bytes(), str(path))
    except OSError as exc:
        raise QdotsInputError(f'{path}: cannot read: {exc.strerror or exc}') from None
    try:
        if path.suffix.lower() != '.json':
            return pd.read_csv(io.StringIO(text), dtype={'peak': str})
        records = json.loads(text)
    except (ValueError, pd.errors.ParserError) as error:
        _fail(path, None, None, f'not a valid {path.suffix or "CSV"} table: {" ".join(str(error).split())}', 'format')
    if not isinstance(records, list) or not all(isinstance(record, dict) for record in records):
        _fail(path, None, None, 'a JSON UED file is a list of objects, one per row', 'shape')
    return pd.DataFrame(records)


def _check_units(path, columns) -> None:
    """Missing columns, with the hint that a column of the same quantity in other units is not converted."""
    missing = [column for column in COLUMNS if column not in columns]
    if not missing:
        return
    for column in missing:
        stem = column.split('_')[0]
        other = next((c for c in map(str, columns) if c.split('_')[0] == stem and c not in COLUMNS), None)
        if other is not None:
            _fail(path, None, other, f'is not in the unit the format names: give {column}', 'units')
    _fail(path, None, None, f'missing column(s) {", ".join(missing)}; expected {", ".join(COLUMNS)}', 'shape')


def read_ued_table(path: str | pathlib.Path) -> pd.DataFrame:
    """Read and validate a UED file (CSV or JSON, see the module docstring); rows are numbered from 1 after the
    header in error messages. Values must be finite and within
    :data:`~aiida_qdots.common.validation.UED_BOUNDS`."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise QdotsInputError(f'{path}: no such file')
    table = _load(path)
    _check_units(path, table.columns)
    if table.empty:
        _fail(path, None, None, 'no data rows', 'size')
    table = table[list(COLUMNS)].copy()
    table['peak'] = table['peak'].astype(str).str.strip()
    for column in COLUMNS:
        if column == 'peak':
            continue
        values = pd.to_numeric(table[column], errors='coerce')
        bad = np.flatnonzero(~np.isfinite(values.to_numpy(dtype=float)))
        if bad.size:
            _fail(path, int(bad[0]) + 1, column, f'not a finite number: {table[column].iloc[bad[0]]!r}', 'finite')
        table[column] = values.astype(float)
        low, high = UED_BOUNDS[column]
        array = table[column].to_numpy()
        bad = np.flatnonzero((array < low) if column == 'delay_ps' else (array <= low))
        if bad.size:
            _fail(path, int(bad[0]) + 1, column, f'must be > {low:g}, got {array[bad[0]]:g}', 'bounds')
        bad = np.flatnonzero(array > high)
        if bad.size:
            _fail(path, int(bad[0]) + 1, column, f'{array[bad[0]]:g} is beyond {high:g}: check its unit', 'bounds')
    keys = ['fluence_mj_cm2', 'wavelength_nm', 'peak', 'delay_ps']
    duplicated = np.flatnonzero(table.duplicated(keys).to_numpy())
    if duplicated.size:
        _fail(path, int(duplicated[0]) + 1, 'delay_ps', 'duplicate (set, peak, delay) row', 'order')
    for _, group in table.groupby(['fluence_mj_cm2', 'wavelength_nm', 'peak'], sort=False):
        steps = np.diff(group['delay_ps'].to_numpy())
        if np.any(steps <= 0):
            row = int(group.index[int(np.flatnonzero(steps <= 0)[0]) + 1]) + 1
            _fail(path, row, 'delay_ps', 'delays must increase within each (fluence, wavelength, peak)', 'order')
    for peak, group in table.groupby('peak'):
        if group['q_inv_angstrom'].nunique() > 1:
            _fail(path, int(group.index[1]) + 1, 'q_inv_angstrom', f'peak {peak} has more than one Q', 'shape')
    return table
