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

A set is one (fluence, wavelength) pair. Errors are :class:`~aiida_qdots.common.errors.QdotsInputError`
naming the file, the row (1-based after the header) and the column.
"""

from __future__ import annotations

import json
import pathlib

import numpy as np
import pandas as pd

from aiida_qdots.common.errors import QdotsInputError

COLUMNS = (
    'fluence_mj_cm2',
    'wavelength_nm',
    'delay_ps',
    'peak',
    'q_inv_angstrom',
    'intensity_ratio',
    'intensity_ratio_err',
)
POSITIVE = ('fluence_mj_cm2', 'wavelength_nm', 'q_inv_angstrom', 'intensity_ratio', 'intensity_ratio_err')


def _fail(path, row: int | None, column: str | None, message: str):
    where = ', '.join(
        part for part in (f'row {row}' if row is not None else '', f'column {column!r}' if column else '') if part
    )
    raise QdotsInputError(f'{path}: {where + ": " if where else ""}{message}')


def read_ued_table(path: str | pathlib.Path) -> pd.DataFrame:
    """Read and validate a UED file (CSV or JSON, see the module docstring); rows are numbered from 1 after the
    header in error messages."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise QdotsInputError(f'{path}: no such file')
    try:
        table = (
            pd.DataFrame(json.loads(path.read_text()))
            if path.suffix.lower() == '.json'
            else pd.read_csv(path, dtype={'peak': str})
        )
    except (ValueError, pd.errors.ParserError) as error:
        raise QdotsInputError(f'{path}: not a valid {path.suffix or "CSV"} table: {error}') from error
    missing = [column for column in COLUMNS if column not in table.columns]
    if missing:
        _fail(path, None, None, f'missing column(s) {", ".join(missing)}; expected {", ".join(COLUMNS)}')
    if table.empty:
        _fail(path, None, None, 'no data rows')
    table = table[list(COLUMNS)].copy()
    table['peak'] = table['peak'].astype(str).str.strip()
    for column in COLUMNS:
        if column == 'peak':
            continue
        values = pd.to_numeric(table[column], errors='coerce')
        bad = np.flatnonzero(~np.isfinite(values.to_numpy(dtype=float)))
        if bad.size:
            _fail(path, int(bad[0]) + 1, column, f'not a finite number: {table[column].iloc[bad[0]]!r}')
        table[column] = values.astype(float)
        if column in POSITIVE:
            bad = np.flatnonzero(table[column].to_numpy() <= 0)
            if bad.size:
                _fail(path, int(bad[0]) + 1, column, f'must be > 0, got {table[column].iloc[bad[0]]}')
    keys = ['fluence_mj_cm2', 'wavelength_nm', 'peak', 'delay_ps']
    duplicated = np.flatnonzero(table.duplicated(keys).to_numpy())
    if duplicated.size:
        _fail(path, int(duplicated[0]) + 1, 'delay_ps', 'duplicate (set, peak, delay) row')
    for _, group in table.groupby(['fluence_mj_cm2', 'wavelength_nm', 'peak'], sort=False):
        steps = np.diff(group['delay_ps'].to_numpy())
        if np.any(steps <= 0):
            row = int(group.index[int(np.flatnonzero(steps <= 0)[0]) + 1]) + 1
            _fail(path, row, 'delay_ps', 'delays must increase within each (fluence, wavelength, peak)')
    for peak, group in table.groupby('peak'):
        if group['q_inv_angstrom'].nunique() > 1:
            _fail(path, int(group.index[1]) + 1, 'q_inv_angstrom', f'peak {peak} has more than one Q')
    return table
