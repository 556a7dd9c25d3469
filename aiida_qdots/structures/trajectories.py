"""Readers for foreign AIMD trajectories and per-frame orbital-energy tables.

Formats (``fmt``):

* ``extxyz``: extended XYZ (plain XYZ too), optionally gzip-compressed; parsed here directly, streaming,
  because ASE's reader on ``.gz`` files seeks through the compressed stream and is very slow.
* ``poscar-folder``: a folder of VASP 5 POSCAR files, one frame each, ordered by the natural number in the
  file name (``st1.vasp``, ``st2.vasp``, ..., ``st10.vasp``).
* ``xdatcar``: VASP 5 XDATCAR, fixed or variable cell, ``Direct`` or ``Cartesian`` configurations.
* ``cp2k``: CP2K ``<project>-pos-1.xyz`` (angstrom), with the optional ``<project>-vel-1.xyz`` beside it
  (bohr/au_time, converted to angstrom/fs); the step and time of each frame come from CP2K's comment line
  ``i = <step>, time = <fs>, E = <hartree>``.

Every reader returns a :class:`ParsedTrajectory` with positions in angstrom, velocities in angstrom/fs,
cells in angstrom (rows are lattice vectors) and the SHA-256 of the source. Errors are
:class:`~aiida_qdots.common.errors.TrajectoryFormatError` naming the file, the frame (0-based index) and,
where it applies, the 1-based line. Any file may be gzip-compressed (detected from its first bytes).

Pure Python/NumPy; no AiiDA import.
"""

from __future__ import annotations

import csv
import dataclasses
import gzip
import hashlib
import io
import itertools
import math
import pathlib
import re
from collections.abc import Callable, Iterator
from typing import BinaryIO

import numpy as np

from aiida_qdots.common.errors import QdotsInputError, TrajectoryFormatError
from aiida_qdots.common.files import file_sha256
from aiida_qdots.common.units import CP2K_VELOCITY_ANGSTROM_FS

FORMATS = ('extxyz', 'poscar-folder', 'xdatcar', 'cp2k')
FORMAT_ALIASES = {'xyz': 'extxyz', 'poscar': 'poscar-folder', 'vasp': 'poscar-folder', 'cp2k-xyz': 'cp2k'}

"""Factor from CP2K's velocity unit (bohr per atomic time unit) to angstrom/fs (about 21.877)."""

EXTXYZ_LABEL_KEY = 'source_frame'
"""Comment-line key whose value is kept as the per-frame source label of an extended-XYZ frame."""

POSCAR_SUFFIXES = ('.vasp', '.poscar')
TIME_TOLERANCE_FS = 2e-3
"""CP2K prints times with three decimals: frame intervals are compared to the time step within this (fs)."""


@dataclasses.dataclass
class ParsedTrajectory:
    """A trajectory read from a foreign file, in the package's units.

    ``positions`` (T, N, 3) angstrom; ``velocities`` (T, N, 3) angstrom/fs or None; ``cells`` (T, 3, 3)
    angstrom (rows are lattice vectors) or None; ``frame_labels`` the per-frame names given by the source
    (``source_frame`` values, POSCAR file stems) or None; ``steps`` the MD step numbers given by the source
    (CP2K ``i``, XDATCAR configuration numbers) or None; ``times_fs`` the time stamps given by the source (fs)
    or None. ``sha256`` is the hex digest of the source file; for a folder, of its ``sha256sum``-style
    manifest (one ``<hex>  <name>\\n`` line per frame file, in frame order).
    """

    symbols: list[str]
    positions: np.ndarray
    source: pathlib.Path
    sha256: str
    fmt: str
    velocities: np.ndarray | None = None
    cells: np.ndarray | None = None
    pbc: tuple[bool, bool, bool] = (False, False, False)
    frame_labels: list[str] | None = None
    steps: np.ndarray | None = None
    times_fs: np.ndarray | None = None
    velocity_source: pathlib.Path | None = None
    velocity_sha256: str | None = None

    @property
    def n_frames(self) -> int:
        return self.positions.shape[0]

    @property
    def n_atoms(self) -> int:
        return self.positions.shape[1]


# ----------------------------------------------------------------------------------------------- helpers


def _error(path: pathlib.Path, message: str, frame: int | None = None, line: int | None = None):
    where = [path.name]
    if frame is not None:
        where.append(f'frame {frame}')
    if line is not None:
        where.append(f'line {line}')
    return TrajectoryFormatError(f'{", ".join(where)}: {message}')


def _text(raw: bytes, limit: int = 60) -> str:
    text = raw.decode('utf-8', errors='replace').strip()
    return text if len(text) <= limit else text[: limit - 3] + '...'


def _open_binary(path: pathlib.Path) -> BinaryIO:
    """Open a file for reading bytes, decompressing on the fly when it starts with the gzip magic."""
    try:
        with open(path, 'rb') as handle:
            magic = handle.read(2)
    except OSError as exc:
        raise TrajectoryFormatError(f'{path}: cannot read: {exc.strerror or exc}') from exc
    if magic == b'\x1f\x8b':
        return gzip.open(path, 'rb')
    return open(path, 'rb')


def _chunked_lines(handle: BinaryIO, chunk_size: int = 1 << 22) -> Iterator[bytes]:
    """Lines of ``handle`` read in large chunks (much faster than ``GzipFile.readline`` line by line)."""
    rest = b''
    while chunk := handle.read(chunk_size):
        lines = (rest + chunk).splitlines(keepends=True)
        rest = lines.pop() if not lines[-1].endswith(b'\n') else b''  # a trailing '\r' may precede '\n'
        yield from lines
    if rest:
        yield rest


class _Lines:
    """Lines (bytes) of an open file with a 1-based counter of the lines handed out so far."""

    def __init__(self, handle: BinaryIO):
        self._iter = _chunked_lines(handle)
        self.lineno = 0

    def next(self) -> bytes | None:
        line = next(self._iter, None)
        if line is not None:
            self.lineno += 1
        return line

    def take(self, count: int) -> list[bytes]:
        lines = list(itertools.islice(self._iter, count))
        self.lineno += len(lines)
        return lines

    def next_nonblank(self) -> bytes | None:
        while (line := self.next()) is not None:
            if line.strip():
                return line
        return None


def _read_lines(path: pathlib.Path, read: Callable[[_Lines], object]):
    """Run ``read`` on the lines of ``path``, turning decompression and decoding failures into format errors."""
    with _open_binary(path) as handle:
        lines = _Lines(handle)
        try:
            return read(lines)
        except (OSError, EOFError, gzip.BadGzipFile) as exc:
            raise _error(path, f'cannot read the file after line {lines.lineno}: {exc}') from exc


def _float_rows(path: pathlib.Path, frame: int, first_line: int, rows: list[list[bytes]], columns: slice) -> np.ndarray:
    """Columns ``columns`` of whitespace-split ``rows`` as a float array; errors name the line and column."""
    try:
        values = np.array([row[columns] for row in rows], dtype=float)
    except ValueError:
        values = None
    if values is None or not np.isfinite(values).all():
        start = columns.start or 0
        for k, row in enumerate(rows):
            for c, token in enumerate(row[columns]):
                try:
                    number = float(token)
                except ValueError:
                    number = None
                if number is None or not math.isfinite(number):
                    raise _error(
                        path, f'column {start + c + 1}: {_text(token)!r} is not a finite number', frame, first_line + k
                    )
    return values


def _split_rows(path: pathlib.Path, frame: int, first_line: int, raw: list[bytes], n_columns: int) -> list[list[bytes]]:
    rows = [line.split() for line in raw]
    if set(map(len, rows)) != {n_columns}:
        for k, row in enumerate(rows):
            if len(row) != n_columns:
                raise _error(
                    path, f'expected {n_columns} columns, got {len(row)}: {_text(raw[k])!r}', frame, first_line + k
                )
    return rows


def _check_species(
    path: pathlib.Path, frame: int, first_line: int, species: list[bytes], reference: list[bytes], what: str = 'frame 0'
) -> None:
    if species != reference:
        k = next(i for i, (a, b) in enumerate(zip(species, reference, strict=True)) if a != b)
        raise _error(
            path,
            f'species changed: atom {k} is {_text(species[k])}, in {what} it is {_text(reference[k])}',
            frame,
            first_line + k,
        )


def _natural_key(name: str) -> tuple:
    return tuple(int(part) if part.isdigit() else part for part in re.split(r'(\d+)', name))


# ------------------------------------------------------------------------------------ XYZ-like files


@dataclasses.dataclass
class _XyzFrame:
    """What a comment line says about its frame: the column layout and per-frame metadata."""

    n_columns: int
    species_column: int
    position_columns: slice
    meta: dict


def _scan_xyz(
    path: pathlib.Path, describe: Callable[[bytes, int, int], _XyzFrame]
) -> tuple[list[bytes], np.ndarray, list[dict]]:
    """Read every frame of an XYZ-like file: species of frame 0, positions (T, N, 3) and per-frame metadata.

    ``describe(comment, frame, lineno)`` interprets each comment line.
    """

    def read(lines: _Lines):
        reference: list[bytes] | None = None
        n_atoms = 0
        blocks: list[np.ndarray] = []
        metas: list[dict] = []
        frame = 0
        while (header := lines.next()) is not None:
            if not header.strip():
                if lines.next_nonblank() is not None:
                    raise _error(path, 'blank line where an atom count was expected', frame, lines.lineno)
                break
            count_line = lines.lineno
            try:
                count = int(header)
            except ValueError:
                raise _error(path, f'expected the atom count, got {_text(header)!r}', frame, count_line) from None
            if count <= 0:
                raise _error(path, f'atom count must be positive, got {count}', frame, count_line)
            if reference is not None and count != n_atoms:
                raise _error(path, f'frame has {count} atoms, frame 0 has {n_atoms}', frame, count_line)
            comment = lines.next()
            if comment is None:
                raise _error(path, 'file ends after the atom count (no comment line)', frame, count_line)
            spec = describe(comment, frame, lines.lineno)
            first_line = lines.lineno + 1
            raw = lines.take(count)
            if len(raw) < count:
                message = f'file ends inside the frame: expected {count} atom lines, found {len(raw)}'
                raise _error(path, message, frame, first_line + len(raw))
            rows = _split_rows(path, frame, first_line, raw, spec.n_columns)
            species = [row[spec.species_column] for row in rows]
            if reference is None:
                reference, n_atoms = species, count
            else:
                _check_species(path, frame, first_line, species, reference)
            blocks.append(_float_rows(path, frame, first_line, rows, spec.position_columns))
            metas.append(spec.meta)
            frame += 1
        if not blocks:
            raise _error(path, 'file is empty (no frames)')
        return reference, np.stack(blocks), metas

    return _read_lines(path, read)


_KEY_VALUE = re.compile(r"""([A-Za-z_][\w.\-]*)\s*=\s*("[^"]*"|'[^']*'|\{[^}]*\}|\S+)""")
_TRUE = {'t', 'true', '1'}
_FALSE = {'f', 'false', '0'}


def _extxyz_describe(path: pathlib.Path) -> Callable[[bytes, int, int], _XyzFrame]:
    def describe(comment: bytes, frame: int, lineno: int) -> _XyzFrame:
        text = comment.decode('utf-8', errors='replace')
        info = {m.group(1): m.group(2).strip('"\'{}') for m in _KEY_VALUE.finditer(text)}
        info_lower = {key.lower(): value for key, value in info.items()}
        properties = info_lower.get('properties', 'species:S:1:pos:R:3')
        fields = properties.split(':')
        if len(fields) % 3:
            raise _error(path, f'Properties={properties!r} is not name:type:count triples', frame, lineno)
        column, species_column, position_columns = 0, None, None
        for name, kind, count in zip(fields[0::3], fields[1::3], fields[2::3], strict=True):
            if not count.isdigit() or int(count) < 1:
                raise _error(path, f'Properties={properties!r}: bad column count {count!r} for {name}', frame, lineno)
            width = int(count)
            if name.lower() == 'species' and width == 1:
                species_column = column
            elif name.lower() in ('pos', 'positions') and kind.upper() == 'R' and width == 3:
                position_columns = slice(column, column + 3)
            column += width
        if species_column is None or position_columns is None:
            raise _error(path, f'Properties={properties!r} lacks species:S:1 or pos:R:3', frame, lineno)
        meta: dict = {}
        if 'lattice' in info_lower:
            try:
                cell = np.array(info_lower['lattice'].split(), dtype=float)
            except ValueError:
                cell = np.empty(0)
            if cell.shape != (9,) or not np.isfinite(cell).all():
                raise _error(path, f'Lattice={info_lower["lattice"]!r} is not 9 numbers', frame, lineno)
            meta['cell'] = cell.reshape(3, 3)
        if 'pbc' in info_lower:
            flags = info_lower['pbc'].lower().split()
            if len(flags) != 3 or any(f not in _TRUE | _FALSE for f in flags):
                raise _error(path, f'pbc={info_lower["pbc"]!r} is not three T/F flags', frame, lineno)
            meta['pbc'] = tuple(f in _TRUE for f in flags)
        if EXTXYZ_LABEL_KEY in info:
            meta['label'] = info[EXTXYZ_LABEL_KEY]
        return _XyzFrame(column, species_column, position_columns, meta)

    return describe


def _consistent(path: pathlib.Path, metas: list[dict], key: str, what: str) -> bool:
    """Whether every frame has ``key`` in its metadata; error if only some frames do."""
    present = [key in meta for meta in metas]
    if all(present):
        return True
    if any(present):
        frame = present.index(not present[0])
        if present[0]:
            raise _error(path, f'no {what} on this frame, while frame 0 has one', frame)
        raise _error(path, f'{what} on this frame, while frame 0 has none', frame)
    return False


def read_extxyz(path: str | pathlib.Path) -> ParsedTrajectory:
    """Read an extended-XYZ (or plain XYZ) file, plain or gzip-compressed, streaming.

    Positions (``pos``/``positions`` column) in angstrom; ``Lattice`` (angstrom) and ``pbc`` are kept when
    every frame gives them; ``source_frame=<label>`` becomes the frame label. Other per-atom columns
    (forces, momenta, ...) are skipped.
    """
    path = pathlib.Path(path)
    symbols, positions, metas = _scan_xyz(path, _extxyz_describe(path))
    cells = pbc = labels = None
    if _consistent(path, metas, 'cell', 'Lattice'):
        cells = np.stack([meta['cell'] for meta in metas])
    if _consistent(path, metas, 'pbc', 'pbc'):
        pbcs = [meta['pbc'] for meta in metas]
        changed = next((k for k, p in enumerate(pbcs) if p != pbcs[0]), None)
        if changed is not None:
            raise _error(path, f'pbc {pbcs[changed]} differs from frame 0 {pbcs[0]}', changed)
        pbc = pbcs[0]
    if _consistent(path, metas, 'label', f'{EXTXYZ_LABEL_KEY}='):
        labels = [meta['label'] for meta in metas]
    if pbc is None:
        pbc = (True, True, True) if cells is not None else (False, False, False)
    if any(pbc) and cells is None:
        raise _error(path, f'pbc={pbc} but no Lattice is given')
    return ParsedTrajectory(
        symbols=[s.decode('utf-8', errors='replace') for s in symbols],
        positions=positions,
        source=path,
        sha256=file_sha256(path),
        fmt='extxyz',
        cells=cells,
        pbc=tuple(bool(p) for p in pbc),
        frame_labels=labels,
    )


_CP2K_COMMENT = re.compile(rb'\bi\s*=\s*(-?\d+)\s*,\s*time\s*=\s*([-+0-9.eE]+)')


def _cp2k_describe(path: pathlib.Path) -> Callable[[bytes, int, int], _XyzFrame]:
    def describe(comment: bytes, frame: int, lineno: int) -> _XyzFrame:
        match = _CP2K_COMMENT.search(comment)
        try:
            step, time = int(match.group(1)), float(match.group(2))
        except (AttributeError, ValueError):
            raise _error(
                path, f'comment {_text(comment)!r} is not CP2K\'s "i = <step>, time = <fs>, E = <Eh>"', frame, lineno
            ) from None
        return _XyzFrame(4, 0, slice(1, 4), {'step': step, 'time': time})

    return describe


def cp2k_velocity_path(position_path: str | pathlib.Path) -> pathlib.Path | None:
    """The CP2K velocity file beside ``<project>-pos-<n>.xyz`` (``<project>-vel-<n>.xyz``), if it exists."""
    path = pathlib.Path(position_path)
    head, sep, tail = path.name.rpartition('-pos-')
    if not sep:
        return None
    candidate = path.with_name(f'{head}-vel-{tail}')
    return candidate if candidate.is_file() else None


def read_cp2k(position_path: str | pathlib.Path, velocity_path: str | pathlib.Path | None = None) -> ParsedTrajectory:
    """Read CP2K's XYZ trajectory ``<project>-pos-1.xyz`` (angstrom) and optionally ``<project>-vel-1.xyz``.

    CP2K writes velocities in bohr/au_time; they are converted to angstrom/fs. The velocity file must hold
    the same frames (same steps, same atoms) as the position file. Steps and times (fs) come from each frame's
    comment line ``i = <step>, time = <fs>, E = <Eh>``.
    """
    path = pathlib.Path(position_path)
    symbols, positions, metas = _scan_xyz(path, _cp2k_describe(path))
    steps = np.array([meta['step'] for meta in metas], dtype=int)
    times = np.array([meta['time'] for meta in metas], dtype=float)
    velocities = vpath = vsha = None
    if velocity_path is not None:
        vpath = pathlib.Path(velocity_path)
        vsymbols, raw, vmetas = _scan_xyz(vpath, _cp2k_describe(vpath))
        if raw.shape[1] != positions.shape[1]:
            raise _error(
                vpath,
                f'velocity frames have {raw.shape[1]} atoms, position frames ({path.name}) have {positions.shape[1]}',
            )
        _check_species(vpath, 0, 3, vsymbols, symbols, what=path.name)
        for frame, (pmeta, vmeta) in enumerate(zip(metas, vmetas, strict=False)):
            if pmeta['step'] != vmeta['step']:
                raise _error(
                    vpath,
                    f'velocity step {vmeta["step"]} does not match step {pmeta["step"]} of '
                    f'{path.name} at the same frame',
                    frame,
                )
        if raw.shape[0] != positions.shape[0]:
            raise _error(vpath, f'velocity file has {raw.shape[0]} frames, {path.name} has {positions.shape[0]}')
        velocities = raw * CP2K_VELOCITY_ANGSTROM_FS
        vsha = file_sha256(vpath)
    return ParsedTrajectory(
        symbols=[s.decode('utf-8', errors='replace') for s in symbols],
        positions=positions,
        source=path,
        sha256=file_sha256(path),
        fmt='cp2k',
        velocities=velocities,
        steps=steps,
        times_fs=times,
        velocity_source=vpath,
        velocity_sha256=vsha,
    )


# ------------------------------------------------------------------------------------------------ VASP


@dataclasses.dataclass
class _VaspHeader:
    cell: np.ndarray  # (3, 3) angstrom, scaled
    scale: np.ndarray  # (3,) factors applied to Cartesian coordinates
    species: list[str]
    counts: list[int]

    @property
    def symbols(self) -> list[str]:
        return [s for s, n in zip(self.species, self.counts, strict=True) for _ in range(n)]


def _vasp_numbers(
    path: pathlib.Path, line: bytes | None, lineno: int, frame: int, what: str, count: int | None = None
) -> list[float]:
    if line is None:
        raise _error(path, f'file ends where the {what} was expected', frame, lineno)
    tokens = line.split()
    try:
        values = [float(t) for t in (tokens if count is None else tokens[:count])]
    except ValueError:
        values = []
    if not values or (count is not None and len(values) != count) or not all(map(math.isfinite, values)):
        raise _error(path, f'bad {what}: {_text(line)!r}', frame, lineno)
    return values


def _read_vasp_header(path: pathlib.Path, lines: _Lines, frame: int) -> _VaspHeader:
    """Parse comment, scale, lattice, species and counts lines (the comment line is read already)."""
    scale = _vasp_numbers(path, lines.next(), lines.lineno, frame, 'scaling factor')
    if len(scale) not in (1, 3) or (len(scale) == 3 and min(scale) <= 0) or scale[0] == 0:
        raise _error(path, f'bad scaling factor {scale}', frame, lines.lineno)
    raw = np.array(
        [_vasp_numbers(path, lines.next(), lines.lineno, frame, 'lattice vector', 3) for _ in range(3)], dtype=float
    )
    if len(scale) == 3:
        factors = np.array(scale)
    elif scale[0] < 0:
        volume = abs(np.linalg.det(raw))
        if volume == 0:
            raise _error(path, 'lattice vectors are degenerate', frame, lines.lineno)
        factors = np.full(3, (-scale[0] / volume) ** (1.0 / 3.0))
    else:
        factors = np.full(3, scale[0])
    cell = raw * factors[None, :]
    species_line = lines.next()
    if species_line is None:
        raise _error(path, 'file ends where the species line was expected', frame, lines.lineno)
    species = [s.decode('utf-8', errors='replace') for s in species_line.split()]
    if not species or all(s.isdigit() for s in species):
        raise _error(
            path,
            'no species-names line (VASP 4 format); add the element names above the counts line',
            frame,
            lines.lineno,
        )
    count_line = lines.next()
    tokens = count_line.split() if count_line is not None else []
    if len(tokens) != len(species) or not all(t.isdigit() for t in tokens) or not any(int(t) for t in tokens):
        raise _error(
            path,
            f'counts line {_text(count_line or b"")!r} does not give one count per species {" ".join(species)}',
            frame,
            lines.lineno,
        )
    species_clean = [s.split('/')[0].split('_')[0] for s in species]  # POTCAR-style names: "Cd_sv/abc123"
    return _VaspHeader(cell, factors, species_clean, [int(t) for t in tokens])


def _read_vasp_coordinates(
    path: pathlib.Path, lines: _Lines, frame: int, n_atoms: int, cartesian: bool, header: _VaspHeader
) -> np.ndarray:
    first_line = lines.lineno + 1
    raw = lines.take(n_atoms)
    if len(raw) < n_atoms:
        raise _error(
            path,
            f'file ends inside the coordinates: expected {n_atoms} lines, found {len(raw)}',
            frame,
            first_line + len(raw),
        )
    rows = [line.split() for line in raw]
    for k, row in enumerate(rows):
        if len(row) < 3:
            raise _error(path, f'expected 3 coordinates, got {_text(raw[k])!r}', frame, first_line + k)
    coords = _float_rows(path, frame, first_line, rows, slice(0, 3))
    return coords * header.scale[None, :] if cartesian else coords @ header.cell


def _coordinate_mode(line: bytes | None) -> bool | None:
    """True for Cartesian, False for Direct, None when ``line`` is not a coordinate-mode line."""
    if line is None:
        return None
    word = line.strip()[:1].lower()
    if word in (b'c', b'k'):
        return True
    if word == b'd':
        return False
    return None


def read_poscar(path: str | pathlib.Path, frame: int = 0) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Read one VASP 5 POSCAR/CONTCAR: symbols, positions (N, 3) angstrom, cell (3, 3) angstrom.

    Selective-dynamics flags and anything after the coordinates (velocities, predictor block) are ignored.
    ``frame`` only labels error messages.
    """
    path = pathlib.Path(path)

    def read(lines: _Lines):
        if lines.next() is None:
            raise _error(path, 'file is empty', frame)
        header = _read_vasp_header(path, lines, frame)
        mode_line = lines.next()
        if mode_line is not None and mode_line.strip()[:1].lower() == b's':  # Selective dynamics
            mode_line = lines.next()
        cartesian = _coordinate_mode(mode_line)
        if cartesian is None:
            raise _error(
                path, f'expected "Direct" or "Cartesian", got {_text(mode_line or b"")!r}', frame, lines.lineno
            )
        n_atoms = sum(header.counts)
        return header.symbols, _read_vasp_coordinates(path, lines, frame, n_atoms, cartesian, header), header.cell

    return _read_lines(path, read)


def poscar_folder_files(folder: str | pathlib.Path) -> list[pathlib.Path]:
    """POSCAR frame files of ``folder`` (``*.vasp``, ``*.poscar``, ``POSCAR*``, ``CONTCAR*``) in natural order."""
    folder = pathlib.Path(folder)
    files = [
        p
        for p in folder.iterdir()
        if p.is_file() and (p.suffix.lower() in POSCAR_SUFFIXES or p.name.upper().startswith(('POSCAR', 'CONTCAR')))
    ]
    return sorted(files, key=lambda p: _natural_key(p.name))


def read_poscar_folder(folder: str | pathlib.Path) -> ParsedTrajectory:
    """Read a folder of POSCAR frames ordered by the number in their names (``st1.vasp``, ``st2.vasp``, ...).

    Frame labels are the file stems. The SHA-256 is that of the ``sha256sum`` manifest of the files in frame
    order. Every frame must have the same species in the same order.
    """
    folder = pathlib.Path(folder)
    if not folder.is_dir():
        raise TrajectoryFormatError(f'{folder}: not a folder of POSCAR files')
    files = poscar_folder_files(folder)
    if not files:
        raise TrajectoryFormatError(f'{folder.name}: no POSCAR frames (*.vasp, *.poscar, POSCAR*, CONTCAR*) found')
    symbols: list[str] = []
    positions, cells, manifest = [], [], []
    for frame, file in enumerate(files):
        frame_symbols, pos, cell = read_poscar(file, frame)
        if frame == 0:
            symbols = frame_symbols
        elif len(frame_symbols) != len(symbols):
            raise _error(
                file, f'frame has {len(frame_symbols)} atoms, frame 0 ({files[0].name}) has {len(symbols)}', frame
            )
        elif frame_symbols != symbols:
            k = next(i for i, (a, b) in enumerate(zip(frame_symbols, symbols, strict=True)) if a != b)
            raise _error(
                file,
                f'species changed: atom {k} is {frame_symbols[k]}, in frame 0 ({files[0].name}) it is {symbols[k]}',
                frame,
            )
        positions.append(pos)
        cells.append(cell)
        manifest.append(f'{file_sha256(file)}  {file.name}\n')
    return ParsedTrajectory(
        symbols=symbols,
        positions=np.stack(positions),
        source=folder,
        sha256=hashlib.sha256(''.join(manifest).encode()).hexdigest(),
        fmt='poscar-folder',
        cells=np.stack(cells),
        pbc=(True, True, True),
        frame_labels=[file.stem for file in files],
    )


def _looks_like_coordinates(line: bytes) -> bool:
    tokens = line.split()
    try:
        return len(tokens) >= 3 and all(math.isfinite(float(t)) for t in tokens[:3])
    except ValueError:
        return False


def read_xdatcar(path: str | pathlib.Path) -> ParsedTrajectory:
    """Read a VASP 5 XDATCAR: fixed cell (one header) or variable cell (a header before every frame),
    ``Direct`` or ``Cartesian`` configurations. Steps are the configuration numbers.
    """
    path = pathlib.Path(path)

    def read(lines: _Lines):
        if lines.next_nonblank() is None:
            raise _error(path, 'file is empty (no frames)')
        header = _read_vasp_header(path, lines, 0)
        first = header
        symbols = header.symbols
        positions, cells, steps = [], [], []
        frame = 0
        while (line := lines.next_nonblank()) is not None:
            cartesian = _coordinate_mode(line) if b'configuration' in line.lower() else None
            if cartesian is None:  # a new header (variable-cell XDATCAR), unless it is a stray coordinate line
                if frame > 0 and _looks_like_coordinates(line):
                    raise _error(
                        path,
                        f'more coordinate lines than the {len(symbols)} atoms of the counts line, '
                        'or a missing "Direct configuration= N" line',
                        frame - 1,
                        lines.lineno,
                    )
                header = _read_vasp_header(path, lines, frame)
                if header.symbols != symbols:
                    raise _error(
                        path,
                        f'species/counts changed to {header.species} {header.counts}, frame 0 has '
                        f'{first.species} {first.counts}',
                        frame,
                        lines.lineno,
                    )
                line = lines.next_nonblank()
                cartesian = _coordinate_mode(line) if line is not None and b'configuration' in line.lower() else None
                if cartesian is None:
                    raise _error(
                        path, f'expected "Direct configuration= N", got {_text(line or b"")!r}', frame, lines.lineno
                    )
            number = line.split(b'=')[-1].strip()
            steps.append(int(number) if number.isdigit() else frame + 1)
            positions.append(_read_vasp_coordinates(path, lines, frame, len(symbols), cartesian, header))
            cells.append(header.cell)
            frame += 1
        if not positions:
            raise _error(path, 'no configurations after the header')
        return symbols, positions, cells, steps

    symbols, positions, cells, steps = _read_lines(path, read)
    return ParsedTrajectory(
        symbols=symbols,
        positions=np.stack(positions),
        source=path,
        sha256=file_sha256(path),
        fmt='xdatcar',
        cells=np.stack(cells),
        pbc=(True, True, True),
        steps=np.array(steps, dtype=int),
    )


# -------------------------------------------------------------------------------------------- dispatch


def detect_format(path: str | pathlib.Path) -> str:
    """Trajectory format from the path: a folder is ``poscar-folder``; ``*XDATCAR*`` is ``xdatcar``;
    ``*-pos-<n>.xyz`` is ``cp2k``; ``*.xyz``/``*.extxyz`` is ``extxyz`` (each optionally ``.gz``).
    """
    path = pathlib.Path(path)
    if path.is_dir():
        return 'poscar-folder'
    name = path.name.lower().removesuffix('.gz')
    if 'xdatcar' in name:
        return 'xdatcar'
    if re.search(r'-pos-\d+\.xyz$', name):
        return 'cp2k'
    if re.search(r'-vel-\d+\.xyz$', name):
        raise QdotsInputError(f'{path.name} is a CP2K velocity file; import the -pos- file beside it')
    if name.endswith(('.xyz', '.extxyz')):
        return 'extxyz'
    raise QdotsInputError(f'cannot tell the trajectory format of {path.name}; give one of: {", ".join(FORMATS)}')


def read_trajectory(
    path: str | pathlib.Path, fmt: str | None = None, velocity_path: str | pathlib.Path | None = None
) -> ParsedTrajectory:
    """Read a trajectory in format ``fmt`` (one of :data:`FORMATS`; detected from the name when None).

    For ``cp2k``, ``velocity_path`` defaults to the ``-vel-`` file beside the ``-pos-`` file when it exists;
    other formats take no velocity file.
    """
    path = pathlib.Path(path)
    if not path.exists():
        raise QdotsInputError(f'{path}: no such file or folder')
    fmt = detect_format(path) if fmt is None else FORMAT_ALIASES.get(fmt.lower(), fmt.lower())
    if fmt not in FORMATS:
        raise QdotsInputError(f'unknown trajectory format {fmt!r}; known: {", ".join(FORMATS)}')
    if velocity_path is not None and fmt != 'cp2k':
        raise QdotsInputError(f'a separate velocity file is only read with the cp2k format, not {fmt}')
    if fmt == 'poscar-folder':
        return read_poscar_folder(path)
    if path.is_dir():
        raise QdotsInputError(f'{path} is a folder; the {fmt} format reads a file')
    if fmt == 'xdatcar':
        return read_xdatcar(path)
    if fmt == 'cp2k':
        return read_cp2k(path, velocity_path if velocity_path is not None else cp2k_velocity_path(path))
    return read_extxyz(path)


def check_frame_times(parsed: ParsedTrajectory, timestep_fs: float, tolerance_fs: float = TIME_TOLERANCE_FS) -> None:
    """Raise :class:`QdotsInputError` if the source's own time stamps (fs) are not ``timestep_fs`` apart."""
    if parsed.times_fs is None or parsed.n_frames < 2:
        return
    intervals = np.diff(parsed.times_fs)
    bad = np.flatnonzero(np.abs(intervals - timestep_fs) > tolerance_fs)
    if bad.size:
        k = int(bad[0]) + 1
        raise QdotsInputError(
            f'{parsed.source.name}: frame {k} is at {parsed.times_fs[k]:g} fs and frame {k - 1} at '
            f'{parsed.times_fs[k - 1]:g} fs ({intervals[k - 1]:g} fs apart), but the time step is {timestep_fs:g} fs'
        )


# ------------------------------------------------------------------------------------ orbital energies

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
    advance by ``stride`` from row to row and start at ``first_frame`` when it is given. Without labels the
    rows are frames ``first_frame`` (default 1), ``first_frame + stride``, ... Errors name the row (1-based,
    header excluded), the line and the column.
    """
    if isinstance(stride, bool) or not isinstance(stride, (int, np.integer)) or stride < 1:
        raise QdotsInputError(f'frame stride must be a positive integer, got {stride!r}')
    if first_frame is not None and (
        isinstance(first_frame, bool) or not isinstance(first_frame, (int, np.integer)) or first_frame < 0
    ):
        raise QdotsInputError(f'first frame must be a non-negative integer, got {first_frame!r}')
    sha = hashlib.sha256(content).hexdigest()
    try:
        text = content.decode('utf-8-sig')
    except UnicodeDecodeError as exc:
        raise TrajectoryFormatError(f'{name}: not a UTF-8 text file ({exc})') from None
    reader = csv.reader(io.StringIO(text))
    rows, line_numbers = [], []  # line_numbers[k]: the file line on which rows[k] ends
    for row in reader:
        if any(cell.strip() for cell in row):
            rows.append(row)
            line_numbers.append(reader.line_num)
    if not rows:
        raise TrajectoryFormatError(f'{name}: file is empty')
    header, data = rows[0], rows[1:]
    if not data:
        raise TrajectoryFormatError(f'{name}: no data rows under the header')

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
            raise TrajectoryFormatError(f'{name}: columns {header[columns[array]]!r} and {title!r} both give {array}')
        if unit is not None and unit.lower() != 'ev':
            raise TrajectoryFormatError(f'{name}: column {title!r} is in {unit}; energies must be in eV')
        columns[array] = index
    missing = [c for c in REQUIRED_LEVELS if c not in columns]
    if missing:
        raise TrajectoryFormatError(
            f'{name}: required column(s) {", ".join(m.upper() for m in missing)} not found in header {header}'
        )

    values = {array: np.empty(len(data)) for array in columns}
    labels: list[str] = []
    numbers = np.empty(len(data), dtype=int)
    for r, row in enumerate(data):
        where = f'{name}: row {r + 1} (line {line_numbers[r + 1]})'
        if len(row) != len(header):
            raise TrajectoryFormatError(f'{where}: {len(row)} fields, the header has {len(header)}')
        for array, index in columns.items():
            cell = row[index].strip()
            try:
                number = float(cell)
            except ValueError:
                raise TrajectoryFormatError(
                    f'{where}, column {header[index]!r}: {cell!r} is not a number'
                    if cell
                    else f'{where}, column {header[index]!r}: empty value'
                ) from None
            if not math.isfinite(number):
                raise TrajectoryFormatError(f'{where}, column {header[index]!r}: {cell} is not a finite energy')
            values[array][r] = number
        if label_index is not None:
            label = row[label_index].strip()
            number = _label_number(label)
            if number is None:
                raise TrajectoryFormatError(
                    f'{where}, column {header[label_index]!r}: label {label!r} does not end in a frame number'
                )
            labels.append(label)
            numbers[r] = number
        homo, lumo = values['homo'][r], values['lumo'][r]
        if not lumo > homo:
            raise TrajectoryFormatError(
                f'{where}, column {header[columns["lumo"]]!r}: LUMO {lumo:g} eV is not above HOMO {homo:g} eV'
            )
        if 'lumo_plus1' in columns and values['lumo_plus1'][r] < lumo:
            raise TrajectoryFormatError(
                f'{where}, column {header[columns["lumo_plus1"]]!r}: LUMO+1 {values["lumo_plus1"][r]:g} eV is '
                f'below LUMO {lumo:g} eV'
            )
        checks = [('gap', lumo - homo)]
        if 'lumo_plus1' in columns:
            checks.append(('lumo_lumo_plus1_gap', values['lumo_plus1'][r] - lumo))
        for array, expected in checks:
            if array in columns and abs(values[array][r] - expected) > GAP_TOLERANCE_EV:
                raise TrajectoryFormatError(
                    f'{where}, column {header[columns[array]]!r}: {values[array][r]:g} eV does not match the '
                    f'orbital energies ({expected:g} eV)'
                )

    label_title = header[label_index] if label_index is not None else None
    if label_index is not None:
        if first_frame is not None and numbers[0] != first_frame:
            raise TrajectoryFormatError(
                f'{name}: row 1, column {label_title!r}: first frame is {labels[0]!r} but first_frame={first_frame}'
            )
        first_frame = int(numbers[0])
        steps = np.diff(numbers)
        bad = np.flatnonzero(steps != stride)
        if bad.size:
            r = int(bad[0]) + 1
            expected = re.sub(r'\d+\s*$', str(numbers[r - 1] + stride), labels[r - 1])
            raise TrajectoryFormatError(
                f'{name}: row {r + 1} (line {line_numbers[r + 1]}), column {label_title!r}: frame {labels[r]!r} '
                f'follows {labels[r - 1]!r}, but with stride {stride} it should be {expected!r}'
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
    must be inside the trajectory and consecutive rows must be ``levels.stride`` trajectory frames apart.
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
            raise QdotsInputError(
                f'{levels.source_name}: row {r + 1}: frame {label(r)} is not in the trajectory (its {n_frames} frames '
                f'are labelled {trajectory_labels[0]} ... {trajectory_labels[-1]})'
            )
        spacing = np.flatnonzero(np.diff(indices) != levels.stride)
        if spacing.size:
            r = int(spacing[0]) + 1
            raise QdotsInputError(
                f'{levels.source_name}: row {r + 1}: frame {label(r)} is trajectory frame {indices[r]}, the previous '
                f'row frame {indices[r - 1]}: not {levels.stride} (the stride) frames apart'
            )
        return indices
    indices = numbers - 1
    outside = np.flatnonzero((indices < 0) | (indices >= n_frames))
    if outside.size:
        r = int(outside[0])
        raise QdotsInputError(
            f'{levels.source_name}: row {r + 1}: frame {label(r)} is beyond the trajectory, which has {n_frames} '
            f'frames (numbers 1..{n_frames})'
        )
    return indices.astype(int)
