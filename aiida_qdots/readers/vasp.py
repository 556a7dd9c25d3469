"""VASP 5 structure files: one POSCAR/CONTCAR, a folder of POSCAR frames, and XDATCAR trajectories.

* POSCAR folder: one frame per file, ordered by the natural number in the file name (``st1.vasp``,
  ``st2.vasp``, ..., ``st10.vasp``); its SHA-256 is that of the ``sha256sum`` manifest of the files.
* XDATCAR: fixed or variable cell, ``Direct`` or ``Cartesian`` configurations.

Cells in angstrom (rows are lattice vectors), positions in angstrom; VASP 4 files (no species line) are refused.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import pathlib
import re

import numpy as np

from aiida_qdots.common.files import file_sha256
from aiida_qdots.common.validation import RuleViolation
from aiida_qdots.readers.frames import ParsedTrajectory
from aiida_qdots.readers.textfile import Lines, excerpt, float_rows, format_error, read_lines

POSCAR_SUFFIXES = ('.vasp', '.poscar')


def _natural_key(name: str) -> tuple:
    return tuple(int(part) if part.isdigit() else part for part in re.split(r'(\d+)', name))


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
        raise format_error(path, f'file ends where the {what} was expected', frame, lineno)
    tokens = line.split()
    try:
        values = [float(t) for t in (tokens if count is None else tokens[:count])]
    except ValueError:
        values = []
    if not values or (count is not None and len(values) != count) or not all(map(math.isfinite, values)):
        raise format_error(path, f'bad {what}: {excerpt(line)!r}', frame, lineno)
    return values


def _read_vasp_header(path: pathlib.Path, lines: Lines, frame: int) -> _VaspHeader:
    """Parse comment, scale, lattice, species and counts lines (the comment line is read already)."""
    scale = _vasp_numbers(path, lines.next(), lines.lineno, frame, 'scaling factor')
    if len(scale) not in (1, 3) or (len(scale) == 3 and min(scale) <= 0) or scale[0] == 0:
        raise format_error(path, f'bad scaling factor {scale}', frame, lines.lineno)
    raw = np.array(
        [_vasp_numbers(path, lines.next(), lines.lineno, frame, 'lattice vector', 3) for _ in range(3)], dtype=float
    )
    if len(scale) == 3:
        factors = np.array(scale)
    elif scale[0] < 0:
        volume = abs(np.linalg.det(raw))
        if volume == 0:
            raise format_error(path, 'lattice vectors are degenerate', frame, lines.lineno)
        factors = np.full(3, (-scale[0] / volume) ** (1.0 / 3.0))
    else:
        factors = np.full(3, scale[0])
    cell = raw * factors[None, :]
    species_line = lines.next()
    if species_line is None:
        raise format_error(path, 'file ends where the species line was expected', frame, lines.lineno)
    species = [s.decode('utf-8', errors='replace') for s in species_line.split()]
    if not species or all(s.isdigit() for s in species):
        raise format_error(
            path,
            'no species-names line (VASP 4 format); add the element names above the counts line',
            frame,
            lines.lineno,
        )
    count_line = lines.next()
    tokens = count_line.split() if count_line is not None else []
    if len(tokens) != len(species) or not all(t.isdigit() for t in tokens) or not any(int(t) for t in tokens):
        raise format_error(
            path,
            f'counts line {excerpt(count_line or b"")!r} does not give one count per species {" ".join(species)}',
            frame,
            lines.lineno,
        )
    species_clean = [s.split('/')[0].split('_')[0] for s in species]  # POTCAR-style names: "Cd_sv/abc123"
    return _VaspHeader(cell, factors, species_clean, [int(t) for t in tokens])


def _read_vasp_coordinates(
    path: pathlib.Path, lines: Lines, frame: int, n_atoms: int, cartesian: bool, header: _VaspHeader
) -> np.ndarray:
    first_line = lines.lineno + 1
    raw = lines.take(n_atoms)
    if len(raw) < n_atoms:
        raise format_error(
            path,
            f'file ends inside the coordinates: expected {n_atoms} lines, found {len(raw)}',
            frame,
            first_line + len(raw),
        )
    rows = [line.split() for line in raw]
    for k, row in enumerate(rows):
        if len(row) < 3:
            raise format_error(path, f'expected 3 coordinates, got {excerpt(raw[k])!r}', frame, first_line + k)
    coords = float_rows(path, frame, first_line, rows, slice(0, 3))
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

    def read(lines: Lines):
        if lines.next() is None:
            raise format_error(path, 'file is empty', frame)
        header = _read_vasp_header(path, lines, frame)
        mode_line = lines.next()
        if mode_line is not None and mode_line.strip()[:1].lower() == b's':  # Selective dynamics
            mode_line = lines.next()
        cartesian = _coordinate_mode(mode_line)
        if cartesian is None:
            raise format_error(
                path, f'expected "Direct" or "Cartesian", got {excerpt(mode_line or b"")!r}', frame, lines.lineno
            )
        n_atoms = sum(header.counts)
        return header.symbols, _read_vasp_coordinates(path, lines, frame, n_atoms, cartesian, header), header.cell

    return read_lines(path, read)


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
        raise RuleViolation(f'{folder}: not a folder of POSCAR files', 'format')
    files = poscar_folder_files(folder)
    if not files:
        raise RuleViolation(f'{folder.name}: no POSCAR frames (*.vasp, *.poscar, POSCAR*, CONTCAR*) found', 'size')
    symbols: list[str] = []
    positions, cells, manifest = [], [], []
    for frame, file in enumerate(files):
        frame_symbols, pos, cell = read_poscar(file, frame)
        if frame == 0:
            symbols = frame_symbols
        elif len(frame_symbols) != len(symbols):
            raise format_error(
                file, f'frame has {len(frame_symbols)} atoms, frame 0 ({files[0].name}) has {len(symbols)}', frame
            )
        elif frame_symbols != symbols:
            k = next(i for i, (a, b) in enumerate(zip(frame_symbols, symbols, strict=True)) if a != b)
            raise format_error(
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

    def read(lines: Lines):
        if lines.next_nonblank() is None:
            raise format_error(path, 'file is empty (no frames)')
        header = _read_vasp_header(path, lines, 0)
        first = header
        symbols = header.symbols
        positions, cells, steps = [], [], []
        frame = 0
        while (line := lines.next_nonblank()) is not None:
            cartesian = _coordinate_mode(line) if b'configuration' in line.lower() else None
            if cartesian is None:  # a new header (variable-cell XDATCAR), unless it is a stray coordinate line
                if frame > 0 and _looks_like_coordinates(line):
                    raise format_error(
                        path,
                        f'more coordinate lines than the {len(symbols)} atoms of the counts line, '
                        'or a missing "Direct configuration= N" line',
                        frame - 1,
                        lines.lineno,
                    )
                header = _read_vasp_header(path, lines, frame)
                if header.symbols != symbols:
                    raise format_error(
                        path,
                        f'species/counts changed to {header.species} {header.counts}, frame 0 has '
                        f'{first.species} {first.counts}',
                        frame,
                        lines.lineno,
                    )
                line = lines.next_nonblank()
                cartesian = _coordinate_mode(line) if line is not None and b'configuration' in line.lower() else None
                if cartesian is None:
                    raise format_error(
                        path, f'expected "Direct configuration= N", got {excerpt(line or b"")!r}', frame, lines.lineno
                    )
            number = line.split(b'=')[-1].strip()
            steps.append(int(number) if number.isdigit() else frame + 1)
            positions.append(_read_vasp_coordinates(path, lines, frame, len(symbols), cartesian, header))
            cells.append(header.cell)
            frame += 1
        if not positions:
            raise format_error(path, 'no configurations after the header')
        return symbols, positions, cells, steps

    symbols, positions, cells, steps = read_lines(path, read)
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
