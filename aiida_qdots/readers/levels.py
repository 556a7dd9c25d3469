"""Per-frame orbital energies (HOMO, LUMO, ...; eV) from a CSV table, validated and mapped onto trajectory frames.

The table (``aiida-qdots import levels``): required columns HOMO and LUMO, optional LUMO+1, a gap (``Bandgap``)
and the LUMO to LUMO+1 gap, headers optionally with ``(eV)``; an optional label column (``Files``) whose labels
end in the frame number (``st1``, ``st3``, ...). Errors are
:class:`~aiida_qdots.common.validation.RuleViolation` naming the row, the line, the column and the rule.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import re

import numpy as np

from aiida_qdots.common.errors import QdotsInputError
from aiida_qdots.common.validation import RuleViolation, check_energy, check_frame_labels, check_text

LEVEL_COLUMNS = {
    'homo': 'homo',
    'lumo': 'lumo',
    'lumo+1': 'lumo_plus1',
    'lumoplus1': 'lumo_plus1',
    'gap': 'gap',
    'bandgap': 'gap',
    'homo-lumogap': 'gap',
    'lumo-lumo+1gap': 'lumo_lumo_plus1_gap',
    'lumo+1-lumogap': 'lumo_lumo_plus1_gap',
}
"""Normalized CSV header (lower case, no spaces, unit removed) -> array name."""

LABEL_COLUMNS = ('files', 'file', 'frame', 'frames', 'label', 'structure', 'snapshot')
REQUIRED_LEVELS = ('homo', 'lumo')
GAP_TOLERANCE_EV = 1e-3
"""A gap column must equal the difference of its orbital energies within this (eV)."""


@dataclasses.dataclass
class ParsedLevels:
    """Per-frame orbital energies (eV) from a CSV table.

    ``energies`` maps array names (``homo``, ``lumo``, ``lumo_plus1``, ``gap``, ``lumo_lumo_plus1_gap``) to
    (M,) float arrays; ``gap`` is LUMO - HOMO when the table has no gap column. ``frame_numbers`` are the
    numbers in the frame labels (``st1`` -> 1), or ``first_frame + row * stride`` without a label column.
    ``columns`` maps each array name to its CSV header.
    """

    energies: dict[str, np.ndarray]
    frame_numbers: np.ndarray
    frame_labels: list[str] | None
    columns: dict[str, str]
    stride: int
    first_frame: int
    source_name: str
    sha256: str
    gap_from_csv: bool

    @property
    def n_rows(self) -> int:
        return self.frame_numbers.size

    @property
    def n_missing(self) -> int:
        """Frames of the ``stride`` grid between the first and the last row that have no row."""
        return int((self.frame_numbers[-1] - self.frame_numbers[0]) // self.stride + 1 - self.n_rows)


def _header_key(header: str) -> tuple[str, str | None]:
    """(normalized name, unit or None) of a CSV header such as ``'LUMO+1 (eV)'``."""
    match = re.fullmatch(r'\s*(.*?)\s*(?:\(([^()]*)\))?\s*', header)
    name, unit = match.group(1), match.group(2)
    return re.sub(r'[\s_]+', '', name).lower(), unit.strip() if unit is not None else None


def _label_number(label: str) -> int | None:
    match = re.search(r'(\d+)\s*$', label)
    return int(match.group(1)) if match else None


def parse_levels_csv(content: bytes, name: str, stride: int, first_frame: int | None = None) -> ParsedLevels:
    """Parse and validate a CSV of per-frame orbital energies (eV) sampled every ``stride`` trajectory frames.

    Required columns HOMO and LUMO; optional LUMO+1, a gap (``Bandgap``) and the LUMO to LUMO+1 gap; an
    optional label column (``Files``) whose labels end in the frame number (``st1``, ``st3``, ...), which must
    increase by a multiple of ``stride`` from row to row (rows of failed or skipped frames may be missing: the time
    grid comes from the labels) and start at ``first_frame`` when it is given; a repeated or out-of-order frame is
    an error. Without labels the rows are frames ``first_frame`` (default 1), ``first_frame + stride``, ...
    Errors name the row (1-based, header excluded), the line and the column.
    """
    if isinstance(stride, bool) or not isinstance(stride, (int, np.integer)) or stride < 1:
        raise QdotsInputError(f'frame stride must be a positive integer, got {stride!r}')
    if first_frame is not None and (
        isinstance(first_frame, bool) or not isinstance(first_frame, (int, np.integer)) or first_frame < 0
    ):
        raise QdotsInputError(f'first frame must be a non-negative integer, got {first_frame!r}')
    sha = hashlib.sha256(content).hexdigest()
    text = check_text(content, name)
    reader = csv.reader(io.StringIO(text))
    rows, line_numbers = [], []  # line_numbers[k]: the file line on which rows[k] ends
    try:
        for row in reader:
            if any(cell.strip() for cell in row):
                rows.append(row)
                line_numbers.append(reader.line_num)
    except csv.Error as exc:
        raise RuleViolation(f'{name}: line {reader.line_num + 1}: not CSV: {exc}', 'format') from None
    if not rows:
        raise RuleViolation(f'{name}: file is empty', 'text')
    header, data = rows[0], rows[1:]
    if not data:
        raise RuleViolation(f'{name}: no data rows under the header', 'size')

    columns: dict[str, int] = {}
    label_index = None
    for index, title in enumerate(header):
        key, unit = _header_key(title)
        if key in LABEL_COLUMNS and label_index is None:
            label_index = index
            continue
        array = LEVEL_COLUMNS.get(key)
        if array is None:
            continue
        if array in columns:
            raise RuleViolation(f'{name}: columns {header[columns[array]]!r} and {title!r} both give {array}', 'shape')
        if unit is not None and unit.lower() != 'ev':
            raise RuleViolation(f'{name}: column {title!r} is in {unit}; energies must be in eV', 'units')
        columns[array] = index
    missing = [c for c in REQUIRED_LEVELS if c not in columns]
    if missing:
        raise RuleViolation(
            f'{name}: required column(s) {", ".join(m.upper() for m in missing)} not found in header {header}', 'shape'
        )

    values = {array: np.empty(len(data)) for array in columns}
    labels: list[str] = []
    numbers = np.empty(len(data), dtype=int)
    for r, row in enumerate(data):
        where = f'{name}: row {r + 1} (line {line_numbers[r + 1]})'
        if len(row) != len(header):
            raise RuleViolation(f'{where}: {len(row)} fields, the header has {len(header)}', 'shape')
        for array, index in columns.items():
            cell = row[index].strip()
            try:
                number = float(cell)
            except ValueError:
                raise RuleViolation(
                    f'{where}, column {header[index]!r}: {cell!r} is not a number'
                    if cell
                    else f'{where}, column {header[index]!r}: empty value',
                    'format',
                ) from None
            check_energy(number, name, f'row {r + 1} (line {line_numbers[r + 1]}), column {header[index]!r}', cell)
            values[array][r] = number
        if label_index is not None:
            label = row[label_index].strip()
            number = _label_number(label)
            if number is None:
                raise RuleViolation(
                    f'{where}, column {header[label_index]!r}: label {label!r} does not end in a frame number', 'format'
                )
            labels.append(label)
            numbers[r] = number
        homo, lumo = values['homo'][r], values['lumo'][r]
        if not lumo > homo:
            raise RuleViolation(
                f'{where}, column {header[columns["lumo"]]!r}: LUMO {lumo:g} eV is not above HOMO {homo:g} eV', 'bounds'
            )
        if 'lumo_plus1' in columns and values['lumo_plus1'][r] < lumo:
            raise RuleViolation(
                f'{where}, column {header[columns["lumo_plus1"]]!r}: LUMO+1 {values["lumo_plus1"][r]:g} eV is '
                f'below LUMO {lumo:g} eV',
                'bounds',
            )
        checks = [('gap', lumo - homo)]
        if 'lumo_plus1' in columns:
            checks.append(('lumo_lumo_plus1_gap', values['lumo_plus1'][r] - lumo))
        for array, expected in checks:
            if array in columns and abs(values[array][r] - expected) > GAP_TOLERANCE_EV:
                raise RuleViolation(
                    f'{where}, column {header[columns[array]]!r}: {values[array][r]:g} eV does not match the '
                    f'orbital energies ({expected:g} eV)',
                    'bounds',
                )

    label_title = header[label_index] if label_index is not None else None
    if label_index is not None:
        check_frame_labels(labels, name, place='row', offset=1)
        if first_frame is not None and numbers[0] != first_frame:
            raise RuleViolation(
                f'{name}: row 1, column {label_title!r}: first frame is {labels[0]!r} but first_frame={first_frame}',
                'order',
            )
        first_frame = int(numbers[0])
        steps = np.diff(numbers)
        bad = np.flatnonzero((steps <= 0) | (steps % stride != 0))
        if bad.size:
            r = int(bad[0]) + 1
            where = f'{name}: row {r + 1} (line {line_numbers[r + 1]}), column {label_title!r}: frame {labels[r]!r}'
            if steps[r - 1] == 0:
                raise RuleViolation(f'{where} repeats the frame of the row before ({labels[r - 1]!r})', 'order')
            if steps[r - 1] < 0:
                raise RuleViolation(
                    f'{where} comes after {labels[r - 1]!r}: frames must be in increasing order', 'order'
                )
            expected = re.sub(r'\d+\s*$', str(numbers[r - 1] + stride), labels[r - 1])
            raise RuleViolation(
                f'{where} follows {labels[r - 1]!r}, but with stride {stride} it should be {expected!r} (or a later '
                f'frame {stride}k further on, when frames are missing)',
                'order',
            )
    else:
        first_frame = 1 if first_frame is None else int(first_frame)
        numbers = first_frame + stride * np.arange(len(data))

    energies = {array: values[array] for array in columns}
    gap_from_csv = 'gap' in energies
    if not gap_from_csv:
        energies['gap'] = energies['lumo'] - energies['homo']
    return ParsedLevels(
        energies=energies,
        frame_numbers=numbers,
        frame_labels=labels if label_index is not None else None,
        columns={array: header[index] for array, index in columns.items()},
        stride=int(stride),
        first_frame=int(first_frame),
        source_name=name,
        sha256=sha,
        gap_from_csv=gap_from_csv,
    )


def levels_frame_indices(levels: ParsedLevels, n_frames: int, trajectory_labels: list[str] | None = None) -> np.ndarray:
    """0-based trajectory indices of the levels' frames.

    With ``trajectory_labels`` (the trajectory's per-frame source labels) frames are matched by the number in
    their labels; without, frame number K is trajectory frame K - 1 (``st1`` is the first frame). Every frame
    must be inside the trajectory and consecutive rows must be as many trajectory frames apart as their numbers.
    """
    numbers = levels.frame_numbers
    label = (lambda r: repr(levels.frame_labels[r])) if levels.frame_labels else (lambda r: str(numbers[r]))
    if trajectory_labels is not None:
        lookup: dict[int, int] = {}
        for index, text in enumerate(trajectory_labels):
            number = _label_number(str(text))
            if number is not None:
                lookup.setdefault(number, index)
        indices = np.array([lookup.get(int(n), -1) for n in numbers], dtype=int)
        missing = np.flatnonzero(indices < 0)
        if missing.size:
            r = int(missing[0])
            raise RuleViolation(
                f'{levels.source_name}: row {r + 1}: frame {label(r)} is not in the trajectory (its {n_frames} frames '
                f'are labelled {trajectory_labels[0]} ... {trajectory_labels[-1]})',
                'bounds',
            )
        spacing = np.flatnonzero(np.diff(indices) != np.diff(numbers))
        if spacing.size:
            r = int(spacing[0]) + 1
            raise RuleViolation(
                f'{levels.source_name}: row {r + 1}: frame {label(r)} is trajectory frame {indices[r]}, the previous '
                f'row frame {indices[r - 1]}: not {numbers[r] - numbers[r - 1]} frames apart as their labels are',
                'order',
            )
        return indices
    indices = numbers - 1
    outside = np.flatnonzero((indices < 0) | (indices >= n_frames))
    if outside.size:
        r = int(outside[0])
        raise RuleViolation(
            f'{levels.source_name}: row {r + 1}: frame {label(r)} is beyond the trajectory, which has {n_frames} '
            f'frames (numbers 1..{n_frames})',
            'bounds',
        )
    return indices.astype(int)
