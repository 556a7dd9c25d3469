"""Extended XYZ (and plain XYZ), optionally gzip-compressed, read streaming; plus the XYZ-like frame scanner
that the CP2K reader shares.

Parsed here directly because ASE's reader on ``.gz`` files seeks through the compressed stream and is very
slow. Positions in angstrom; ``Lattice`` (angstrom, rows are lattice vectors) and ``pbc`` are kept when every
frame gives them; ``source_frame=<label>`` becomes the frame label.
"""

from __future__ import annotations

import dataclasses
import pathlib
import re
from collections.abc import Callable

import numpy as np

from aiida_qdots.common.files import file_sha256
from aiida_qdots.readers.frames import ParsedTrajectory
from aiida_qdots.readers.textfile import (
    Lines,
    check_species,
    excerpt,
    float_rows,
    format_error,
    read_lines,
    split_rows,
)

EXTXYZ_LABEL_KEY = 'source_frame'
"""Comment-line key whose value is kept as the per-frame source label of an extended-XYZ frame."""


@dataclasses.dataclass
class XyzFrame:
    """What a comment line says about its frame: the column layout and per-frame metadata."""

    n_columns: int
    species_column: int
    position_columns: slice
    meta: dict


def scan_xyz(
    path: pathlib.Path, describe: Callable[[bytes, int, int], XyzFrame]
) -> tuple[list[bytes], np.ndarray, list[dict]]:
    """Read every frame of an XYZ-like file: species of frame 0, positions (T, N, 3) and per-frame metadata.

    ``describe(comment, frame, lineno)`` interprets each comment line.
    """

    def read(lines: Lines):
        reference: list[bytes] | None = None
        n_atoms = 0
        blocks: list[np.ndarray] = []
        metas: list[dict] = []
        frame = 0
        while (header := lines.next()) is not None:
            if not header.strip():
                if lines.next_nonblank() is not None:
                    raise format_error(path, 'blank line where an atom count was expected', frame, lines.lineno)
                break
            count_line = lines.lineno
            try:
                count = int(header)
            except ValueError:
                raise format_error(
                    path, f'expected the atom count, got {excerpt(header)!r}', frame, count_line
                ) from None
            if count <= 0:
                raise format_error(path, f'atom count must be positive, got {count}', frame, count_line)
            if reference is not None and count != n_atoms:
                raise format_error(path, f'frame has {count} atoms, frame 0 has {n_atoms}', frame, count_line)
            comment = lines.next()
            if comment is None:
                raise format_error(path, 'file ends after the atom count (no comment line)', frame, count_line)
            spec = describe(comment, frame, lines.lineno)
            first_line = lines.lineno + 1
            raw = lines.take(count)
            if len(raw) < count:
                message = f'file ends inside the frame: expected {count} atom lines, found {len(raw)}'
                raise format_error(path, message, frame, first_line + len(raw))
            rows = split_rows(path, frame, first_line, raw, spec.n_columns)
            species = [row[spec.species_column] for row in rows]
            if reference is None:
                reference, n_atoms = species, count
            else:
                check_species(path, frame, first_line, species, reference)
            blocks.append(float_rows(path, frame, first_line, rows, spec.position_columns))
            metas.append(spec.meta)
            frame += 1
        if not blocks:
            raise format_error(path, 'file is empty (no frames)')
        return reference, np.stack(blocks), metas

    return read_lines(path, read)


_KEY_VALUE = re.compile(r"""([A-Za-z_][\w.\-]*)\s*=\s*("[^"]*"|'[^']*'|\{[^}]*\}|\S+)""")
_TRUE = {'t', 'true', '1'}
_FALSE = {'f', 'false', '0'}


def _extxyz_describe(path: pathlib.Path) -> Callable[[bytes, int, int], XyzFrame]:
    def describe(comment: bytes, frame: int, lineno: int) -> XyzFrame:
        text = comment.decode('utf-8', errors='replace')
        info = {m.group(1): m.group(2).strip('"\'{}') for m in _KEY_VALUE.finditer(text)}
        info_lower = {key.lower(): value for key, value in info.items()}
        properties = info_lower.get('properties', 'species:S:1:pos:R:3')
        fields = properties.split(':')
        if len(fields) % 3:
            raise format_error(path, f'Properties={properties!r} is not name:type:count triples', frame, lineno)
        column, species_column, position_columns = 0, None, None
        for name, kind, count in zip(fields[0::3], fields[1::3], fields[2::3], strict=True):
            if not count.isdigit() or int(count) < 1:
                raise format_error(
                    path, f'Properties={properties!r}: bad column count {count!r} for {name}', frame, lineno
                )
            width = int(count)
            if name.lower() == 'species' and width == 1:
                species_column = column
            elif name.lower() in ('pos', 'positions') and kind.upper() == 'R' and width == 3:
                position_columns = slice(column, column + 3)
            column += width
        if species_column is None or position_columns is None:
            raise format_error(path, f'Properties={properties!r} lacks species:S:1 or pos:R:3', frame, lineno)
        meta: dict = {}
        if 'lattice' in info_lower:
            try:
                cell = np.array(info_lower['lattice'].split(), dtype=float)
            except ValueError:
                cell = np.empty(0)
            if cell.shape != (9,) or not np.isfinite(cell).all():
                raise format_error(path, f'Lattice={info_lower["lattice"]!r} is not 9 numbers', frame, lineno)
            meta['cell'] = cell.reshape(3, 3)
        if 'pbc' in info_lower:
            flags = info_lower['pbc'].lower().split()
            if len(flags) != 3 or any(f not in _TRUE | _FALSE for f in flags):
                raise format_error(path, f'pbc={info_lower["pbc"]!r} is not three T/F flags', frame, lineno)
            meta['pbc'] = tuple(f in _TRUE for f in flags)
        if EXTXYZ_LABEL_KEY in info:
            meta['label'] = info[EXTXYZ_LABEL_KEY]
        return XyzFrame(column, species_column, position_columns, meta)

    return describe


def _consistent(path: pathlib.Path, metas: list[dict], key: str, what: str) -> bool:
    """Whether every frame has ``key`` in its metadata; error if only some frames do."""
    present = [key in meta for meta in metas]
    if all(present):
        return True
    if any(present):
        frame = present.index(not present[0])
        if present[0]:
            raise format_error(path, f'no {what} on this frame, while frame 0 has one', frame)
        raise format_error(path, f'{what} on this frame, while frame 0 has none', frame)
    return False


def read_extxyz(path: str | pathlib.Path) -> ParsedTrajectory:
    """Read an extended-XYZ (or plain XYZ) file, plain or gzip-compressed, streaming.

    Positions (``pos``/``positions`` column) in angstrom; ``Lattice`` (angstrom) and ``pbc`` are kept when
    every frame gives them; ``source_frame=<label>`` becomes the frame label. Other per-atom columns
    (forces, momenta, ...) are skipped.
    """
    path = pathlib.Path(path)
    symbols, positions, metas = scan_xyz(path, _extxyz_describe(path))
    cells = pbc = labels = None
    if _consistent(path, metas, 'cell', 'Lattice'):
        cells = np.stack([meta['cell'] for meta in metas])
    if _consistent(path, metas, 'pbc', 'pbc'):
        pbcs = [meta['pbc'] for meta in metas]
        changed = next((k for k, p in enumerate(pbcs) if p != pbcs[0]), None)
        if changed is not None:
            raise format_error(path, f'pbc {pbcs[changed]} differs from frame 0 {pbcs[0]}', changed)
        pbc = pbcs[0]
    if _consistent(path, metas, 'label', f'{EXTXYZ_LABEL_KEY}='):
        labels = [meta['label'] for meta in metas]
    if pbc is None:
        pbc = (True, True, True) if cells is not None else (False, False, False)
    if any(pbc) and cells is None:
        raise format_error(path, f'pbc={pbc} but no Lattice is given')
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
