"""The rules every imported file and every launched input passes before anything is stored or submitted.

Pure (NumPy and ``ase.data`` only): the readers call these on the arrays they parse, the importers and ``launch``
on the arrays of the nodes they are given. A broken rule raises :class:`RuleViolation`, one line naming the
source (file or node), the place (frame, row, atom) and the rule (a key of :data:`RULES`)::

    three.extxyz, frame 1, atom 2: coordinate 1e+308 angstrom is beyond +-10000 angstrom [rule: bounds]
"""

from __future__ import annotations

import math

import numpy as np
from ase.data import chemical_symbols

from aiida_qdots.common.errors import QdotsInputError, TrajectoryFormatError

MAX_COORDINATE_ANGSTROM = 1.0e4
"""Largest |coordinate| or |cell component| (angstrom): far beyond any nanocrystal or simulation box."""
MIN_DISTANCE_ANGSTROM = 0.5
"""Smallest distance between two atoms of one frame (angstrom); H2 has 0.74. Coordinates in nm fail it."""
MAX_SPEED_ANGSTROM_FS = 1.0
"""Largest |velocity component| (angstrom/fs = 1e5 m/s); thermal H at 1000 K moves at ~0.05 angstrom/fs."""
TIMESTEP_RANGE_FS = (1.0e-3, 1.0e5)
"""Bounds of the time between stored frames (fs): a time step in s or ps falls outside."""
MAX_ORBITAL_ENERGY_EV = 100.0
"""Largest |frontier-orbital energy| (eV); typical HOMO/LUMO energies in meV fall outside."""
UED_BOUNDS = {
    'fluence_mj_cm2': (0.0, 1.0e3),
    'wavelength_nm': (100.0, 2.0e4),
    'delay_ps': (-1.0e6, 1.0e6),
    'q_inv_angstrom': (0.0, 50.0),
    'intensity_ratio': (0.0, 10.0),
    'intensity_ratio_err': (0.0, 10.0),
}
"""Physical bounds of each UED quantity in the unit its name gives: > low (>= for the delay) and <= high."""
UED_ARRAYS = ('delay_ps', 'q_inv_angstrom', 'intensity_ratio', 'intensity_ratio_err')
"""The arrays of a UED node, in the order :func:`check_ued_arrays` takes them."""
MIN_UED_DELAYS = 3
"""Delays at or after time zero each UED set needs: the kinetic fit has 2 free parameters and needs more points."""
MIN_UED_PEAKS = 3
"""Peaks a UED set needs: the Debye-Waller fit and its Q^4 linearity test."""

ELEMENTS = frozenset(chemical_symbols[1:])
"""Chemical element symbols H ... Og (``X``, ASE's dummy atom, is not one)."""

RULES = {
    'text': 'a text file in UTF-8, not empty and without binary data',
    'format': "the file follows its format's syntax (atom counts, comment lines, columns, headers)",
    'element': 'every species is a chemical element symbol (H ... Og)',
    'finite': 'every number is finite (no NaN or inf)',
    'bounds': 'every value lies within physical bounds for its quantity and unit',
    'distance': f'no two atoms of a frame closer than {MIN_DISTANCE_ANGSTROM} angstrom',
    'shape': 'arrays have the shapes their format requires',
    'order': 'time axes and frame labels strictly increase: no duplicated or unsorted frames or rows',
    'units': 'quantities are in the units the format names',
    'size': 'enough points for the analysis that uses them',
    'model': "the analysis's model has every value the data need (the absorption cross-section of each UED pump "
    'wavelength)',
}
"""Rule name -> what it demands (docs/robustness.md lists them with their bounds)."""


class RuleViolation(TrajectoryFormatError):
    """An input breaks one of :data:`RULES`; ``rule`` names it, the message the source and the place."""

    def __init__(self, message: str, rule: str):
        self.rule = rule
        super().__init__(f'{message} [rule: {rule}]')


def fail(source: str, place: str | None, detail: str, rule: str):
    """Raise the :class:`RuleViolation` ``<source>[, <place>]: <detail> [rule: <rule>]``."""
    raise RuleViolation(f'{source}{", " + place if place else ""}: {detail}', rule)


def check_text(content: bytes, source: str) -> str:
    """``content`` decoded as UTF-8 (a byte-order mark is dropped); :class:`RuleViolation` when it is empty, holds
    NUL bytes (binary data) or is not UTF-8 (e.g. UTF-16 or Latin-1)."""
    if not content.strip():
        fail(source, None, 'file is empty', 'text')
    check_text_head(content, source)
    return content.decode('utf-8-sig')


def check_text_head(head: bytes, source: str) -> None:
    """The first bytes of a text file: no UTF-16 byte-order mark, no NUL byte (binary data), and UTF-8 (a character
    cut by the end of ``head`` is allowed)."""
    if head.startswith((b'\xff\xfe', b'\xfe\xff')):
        fail(source, None, 'not a UTF-8 text file (it is UTF-16; save it as UTF-8)', 'text')
    nul = head.find(b'\x00')
    if nul >= 0:
        fail(source, f'byte {nul}', 'NUL byte: binary data, not a text file', 'text')
    try:
        head.decode('utf-8')
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 3 or exc.reason != 'unexpected end of data':
            line = head[: exc.start].count(b'\n') + 1
            fail(source, None, f'not a UTF-8 text file (byte 0x{head[exc.start]:02x} on line {line})', 'text')


def check_symbols(symbols, source: str) -> None:
    """Every symbol is a chemical element (``Cd``, ``Se``; not ``Xx``, ``X`` or ``cd``)."""
    for k, symbol in enumerate(symbols):
        if symbol not in ELEMENTS:
            fail(source, f'atom {k}', f'{symbol!r} is not a chemical element symbol', 'element')


def _first_bad(mask: np.ndarray) -> tuple[int, ...]:
    return tuple(int(i) for i in np.argwhere(mask)[0])


def check_values(values, source: str, what: str, unit: str, bound: float, places=('frame', 'atom')) -> None:
    """Every entry of ``values`` is finite and |value| <= ``bound`` (in ``unit``); the error names the first bad
    entry by its leading indices (``places``: names of the axes, e.g. frame and atom)."""
    values = np.asarray(values, dtype=float)
    for mask, rule in ((~np.isfinite(values), 'finite'), (np.abs(values) > bound, 'bounds')):
        if mask.any():
            index = _first_bad(mask)
            place = ', '.join(f'{name} {i}' for name, i in zip(places, index, strict=False)) or None
            value = values[index]
            unit_text = f' {unit}' if unit else ''
            detail = (
                f'{what} is {value}'
                if rule == 'finite'
                else f'{what} {value:g}{unit_text} is beyond +-{bound:g}{unit_text}'
            )
            fail(source, place, detail, rule)


def check_positions(positions, source: str, labels=None) -> None:
    """Positions (T, N, 3) angstrom: finite, within +-:data:`MAX_COORDINATE_ANGSTROM`, and no two atoms of a frame
    closer than :data:`MIN_DISTANCE_ANGSTROM` (periodic images are not considered). ``labels`` name the frames."""
    positions = np.asarray(positions, dtype=float)
    if positions.ndim != 3 or positions.shape[2] != 3 or 0 in positions.shape[:2]:
        fail(source, None, f'positions have shape {positions.shape}, expected (frames, atoms, 3)', 'shape')
    check_values(positions, source, 'coordinate', 'angstrom', MAX_COORDINATE_ANGSTROM)
    if positions.shape[1] < 2:
        return
    for frame, i, j, distance in _close_pairs(positions):
        name = f'frame {frame}' + (f' ({labels[frame]})' if labels is not None else '')
        fail(
            source,
            f'{name}, atoms {i} and {j}',
            f'{distance:.3g} angstrom apart, closer than {MIN_DISTANCE_ANGSTROM} angstrom '
            '(coordinates must be in angstrom)',
            'distance',
        )


def _close_pairs(positions: np.ndarray, chunk: int = 64):
    """(frame, i, j, distance) of the closest pair in the first frame with atoms closer than
    :data:`MIN_DISTANCE_ANGSTROM`, as a one-item iterator (empty when none).

    Frames are taken ``chunk`` at a time: a pair closer than the limit in any frame of a chunk is, in the chunk's
    first frame, closer than the limit plus twice the largest displacement within the chunk, so only those pairs
    (found with a k-d tree) are compared over the chunk; an MD trajectory keeps a few per atom.
    """
    from scipy.spatial import cKDTree

    for start in range(0, positions.shape[0], chunk):
        block = positions[start : start + chunk]
        shift = np.sqrt(((block - block[:1]) ** 2).sum(axis=2).max())
        pairs = cKDTree(block[0]).query_pairs(MIN_DISTANCE_ANGSTROM + 2 * shift, output_type='ndarray')
        if not pairs.size:
            continue
        squared = sum((block[:, pairs[:, 0], c] - block[:, pairs[:, 1], c]) ** 2 for c in range(3))
        close = np.flatnonzero((squared < MIN_DISTANCE_ANGSTROM**2).any(axis=1))
        if close.size:
            k = int(np.argmin(squared[close[0]]))
            yield start + int(close[0]), int(pairs[k, 0]), int(pairs[k, 1]), float(np.sqrt(squared[close[0], k]))
            return


def check_cells(cells, source: str) -> None:
    """Cells (T, 3, 3) angstrom: finite, bounded and with a positive volume."""
    cells = np.asarray(cells, dtype=float)
    check_values(cells, source, 'cell component', 'angstrom', MAX_COORDINATE_ANGSTROM, ('frame', 'vector'))
    volumes = np.abs(np.linalg.det(cells))
    flat = np.flatnonzero(volumes < 1e-6)
    if flat.size:
        fail(source, f'frame {int(flat[0])}', 'the cell vectors are degenerate (zero volume)', 'bounds')


def check_increasing(values, source: str, what: str, place: str = 'frame', shown=None, offset: int = 0) -> None:
    """``values`` strictly increase: a repeated or smaller value is a duplicated or unsorted ``place``. ``shown``
    are the texts printed for the values (default: the values); places are numbered from ``offset``."""
    values = np.asarray(values)
    shown = list(shown) if shown is not None else [f'{v:g}' if isinstance(v, float) else str(v) for v in values]
    steps = np.diff(values)
    bad = np.flatnonzero(steps <= 0)
    if bad.size:
        k = int(bad[0]) + 1
        kind = 'duplicates' if steps[k - 1] == 0 else 'comes after'
        fail(
            source,
            f'{place} {k + offset}',
            f'{what} {shown[k]} {kind} {shown[k - 1]} of {place} {k - 1 + offset}: {what}s must strictly increase',
            'order',
        )


def label_number(label: str) -> int | None:
    """The frame number a label ends in (``st10`` -> 10), or None."""
    digits = len(label) - len(label.rstrip('0123456789'))
    return int(label[-digits:]) if digits else None


def check_frame_labels(labels, source: str, place: str = 'frame', offset: int = 0) -> None:
    """Frame labels are unique and, when each ends in a number (``st1``, ``st3``), those numbers strictly increase."""
    labels = [str(label).strip() for label in labels]
    numbers = [label_number(label) for label in labels]
    if all(n is not None for n in numbers):
        check_increasing(np.array(numbers), source, 'frame label', place, [repr(x) for x in labels], offset)
        return
    seen: dict[str, int] = {}
    for k, label in enumerate(labels):
        if label in seen:
            fail(
                source,
                f'{place} {k + offset}',
                f'frame label {label!r} repeats {place} {seen[label] + offset}',
                'order',
            )
        seen[label] = k


def check_timestep(timestep_fs, source: str = 'time step') -> float:
    """The time between stored frames (fs) as a float, finite and within :data:`TIMESTEP_RANGE_FS`."""
    try:
        value = float(timestep_fs)
    except (TypeError, ValueError):
        fail(source, None, f'time step must be a number of fs, got {timestep_fs!r}', 'finite')
    low, high = TIMESTEP_RANGE_FS
    if not np.isfinite(value) or value <= 0:
        message = f'time step must be a positive number of fs, got {timestep_fs!r}'
        fail(source, None, message, 'finite' if not np.isfinite(value) else 'bounds')
    if not low <= value <= high:
        fail(source, None, f'time step {value:g} fs is outside {low:g}..{high:g} fs: give it in fs', 'units')
    return value


def check_trajectory_arrays(
    source: str, symbols, positions, velocities=None, cells=None, labels=None, steps=None, times_fs=None
) -> None:
    """Every rule a trajectory must pass (see the check_* functions): symbols, positions (T, N, 3) angstrom,
    velocities angstrom/fs, cells (T, 3, 3) angstrom, frame labels, MD steps and times (fs) of the source."""
    positions = np.asarray(positions)
    if len(symbols) != positions.shape[1]:
        fail(source, None, f'{len(symbols)} symbols for {positions.shape[1]} atoms', 'shape')
    check_symbols(symbols, source)
    if labels is not None:
        check_frame_labels(labels, source)
    if steps is not None:
        check_increasing(np.asarray(steps), source, 'MD step')
    if times_fs is not None:
        check_values(times_fs, source, 'time', 'fs', 1e12, ('frame',))
        check_increasing(np.asarray(times_fs, dtype=float), source, 'time')
    if cells is not None:
        check_cells(cells, source)
    if velocities is not None:
        check_values(velocities, source, 'velocity component', 'angstrom/fs', MAX_SPEED_ANGSTROM_FS)
    check_positions(positions, source, labels)


def check_energy(value: float, source: str, place: str, shown: str | None = None) -> None:
    """An orbital energy (eV) is finite and within +-:data:`MAX_ORBITAL_ENERGY_EV`; ``place`` names its cell,
    ``shown`` is the value as the file wrote it."""
    if not math.isfinite(value):
        fail(source, place, f'{shown or value} is not a finite energy', 'finite')
    if abs(value) > MAX_ORBITAL_ENERGY_EV:
        fail(source, place, f'{value:g} eV is beyond +-{MAX_ORBITAL_ENERGY_EV:g} eV: energies must be in eV', 'bounds')


def check_ued_arrays(source: str, delays_ps, q_inv_angstrom, intensity_ratio, intensity_ratio_err) -> None:
    """The arrays of a UED node: delays (D,) ps strictly increasing, Q (P,) 1/angstrom, I/I0 and its errors
    (S, D, P), all finite and within :data:`UED_BOUNDS`, and a grid big enough (:func:`check_ued_grid`)."""
    delays, q = np.asarray(delays_ps, dtype=float), np.asarray(q_inv_angstrom, dtype=float)
    ratio, error = np.asarray(intensity_ratio, dtype=float), np.asarray(intensity_ratio_err, dtype=float)
    if delays.ndim != 1 or q.ndim != 1 or ratio.ndim != 3 or ratio.shape[1:] != (delays.size, q.size):
        fail(
            source, None, f'intensity_ratio {ratio.shape} is not (sets, {delays.size} delays, {q.size} peaks)', 'shape'
        )
    if error.shape != ratio.shape:
        fail(source, None, f'intensity_ratio_err {error.shape} differs from intensity_ratio {ratio.shape}', 'shape')
    places = ('set', 'delay', 'peak')
    named = [
        ('delay_ps', delays, ('delay',)),
        ('q_inv_angstrom', q, ('peak',)),
        ('intensity_ratio', ratio, places),
        ('intensity_ratio_err', error, places),
    ]
    check_bounded(source, named, UED_BOUNDS)
    check_increasing(delays, source, 'delay (ps)', 'delay')
    check_ued_grid(source, delays, q.size)


def check_bounded(source: str, named, bounds: dict) -> None:
    """Each (name, values, axis names) of ``named`` is finite, <= its high bound and, but for ``delay_ps``, > its
    low bound in ``bounds``; the error names the first bad entry by its axes."""
    for name, values, axes in named:
        low, high = bounds[name]
        check_values(values, source, name, '', high, axes)
        if name != 'delay_ps' and (values <= low).any():
            index = _first_bad(values <= low)
            place = ', '.join(f'{axis} {i}' for axis, i in zip(axes, index, strict=True))
            fail(source, place, f'{name} must be > {low:g}, got {values[index]:g}', 'bounds')


def check_ued_grid(source: str, delays_ps, n_peaks: int) -> None:
    """A UED set's grid is big enough for ``launch ued``: :data:`MIN_UED_PEAKS` peaks and :data:`MIN_UED_DELAYS`
    delays (ps) at or after time zero, where the kinetic fit starts."""
    if n_peaks < MIN_UED_PEAKS:
        fail(source, None, f'{n_peaks} peak(s); the Debye-Waller fit needs at least {MIN_UED_PEAKS}', 'size')
    delays = np.asarray(delays_ps, dtype=float)
    fitted = int(np.count_nonzero(delays >= 0.0))
    if fitted < MIN_UED_DELAYS:
        fail(
            source,
            None,
            f'{fitted} delay(s) at or after 0 ps; the kinetic fit needs at least {MIN_UED_DELAYS}',
            'size',
        )


PATTERN_BOUNDS = {
    'fluence_mj_cm2': UED_BOUNDS['fluence_mj_cm2'],
    'wavelength_nm': UED_BOUNDS['wavelength_nm'],
    'delay_ps': UED_BOUNDS['delay_ps'],
    'q_inv_angstrom': (0.0, 50.0),
    'intensity': (0.0, 1.0e15),
    'intensity_err': (0.0, 1.0e15),
}
"""Bounds of each quantity of a radially averaged pattern file (> low, >= for the delay, and <= high); intensities
are in the detector's arbitrary unit, positive."""
PATTERN_ARRAYS = ('delay_ps', 'q_inv_angstrom', 'intensity', 'intensity_err')
"""The arrays of a pattern node I(Q, t), in the order :func:`check_pattern_arrays` takes them."""
MIN_PATTERN_Q = 20
"""Q points a pattern needs: its peaks are found and integrated, and it is sine-transformed to dG(r)."""


def check_pattern_arrays(source: str, delays_ps, q_inv_angstrom, intensity, intensity_err) -> None:
    """The arrays of radially averaged patterns: delays (D,) ps and Q (Q,) 1/angstrom strictly increasing,
    I(Q, t) and its errors (sets, D, Q) finite, positive and within :data:`PATTERN_BOUNDS`; at least one delay
    before time zero (the pre-pump reference), :data:`MIN_UED_DELAYS` at or after it and :data:`MIN_PATTERN_Q`
    Q points."""
    delays, q = np.asarray(delays_ps, dtype=float), np.asarray(q_inv_angstrom, dtype=float)
    values, errors = np.asarray(intensity, dtype=float), np.asarray(intensity_err, dtype=float)
    if delays.ndim != 1 or q.ndim != 1 or values.ndim != 3 or values.shape[1:] != (delays.size, q.size):
        fail(source, None, f'intensity {values.shape} is not (sets, {delays.size} delays, {q.size} Q)', 'shape')
    if errors.shape != values.shape:
        fail(source, None, f'intensity_err {errors.shape} differs from intensity {values.shape}', 'shape')
    grid = ('set', 'delay', 'Q')
    named = [
        ('delay_ps', delays, ('delay',)),
        ('q_inv_angstrom', q, ('Q',)),
        ('intensity', values, grid),
        ('intensity_err', errors, grid),
    ]
    check_bounded(source, named, PATTERN_BOUNDS)
    check_increasing(delays, source, 'delay (ps)', 'delay')
    check_increasing(q, source, 'Q (1/angstrom)', 'Q')
    if q.size < MIN_PATTERN_Q:
        fail(source, None, f'{q.size} Q point(s); peak finding and dG(r) need at least {MIN_PATTERN_Q}', 'size')
    if not (delays < 0).any():
        fail(source, None, 'no delay before time zero: the pre-pump reference I0(Q) needs one', 'size')
    check_ued_grid(source, delays, MIN_UED_PEAKS)


def parameter_number(value, name: str) -> float:
    """A workflow parameter ``name`` as a float: a finite int or float (not a bool), else :class:`QdotsInputError`."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.number) or not math.isfinite(value):
        raise QdotsInputError(f'{name} must be a finite number, got {value!r}')
    return float(value)
