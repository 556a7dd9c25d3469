"""Line reading shared by the trajectory readers: plain or gzip-compressed text, streamed in large chunks, with
errors (:class:`~aiida_qdots.common.errors.TrajectoryFormatError`) that name the file, the frame (0-based) and
the line (1-based).
"""

from __future__ import annotations

import gzip
import itertools
import math
import pathlib
from collections.abc import Callable, Iterator
from typing import BinaryIO

import numpy as np

from aiida_qdots.common.errors import TrajectoryFormatError
from aiida_qdots.common.validation import RuleViolation, check_text_head


def format_error(
    path: pathlib.Path, message: str, frame: int | None = None, line: int | None = None, rule: str = 'format'
) -> RuleViolation:
    """The error for ``message`` prefixed by the file name, the frame (0-based) and the line (1-based), naming
    ``rule`` (a key of :data:`~aiida_qdots.common.validation.RULES`)."""
    where = [path.name]
    if frame is not None:
        where.append(f'frame {frame}')
    if line is not None:
        where.append(f'line {line}')
    return RuleViolation(f'{", ".join(where)}: {message}', rule)


def excerpt(raw: bytes, limit: int = 60) -> str:
    """``raw`` decoded and stripped, cut to ``limit`` characters for an error message."""
    text = raw.decode('utf-8', errors='replace').strip()
    return text if len(text) <= limit else text[: limit - 3] + '...'


def open_binary(path: pathlib.Path) -> BinaryIO:
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


class Lines:
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


def read_lines(path: pathlib.Path, read: Callable[[Lines], object]):
    """Run ``read`` on the lines of ``path``, turning decompression and decoding failures into format errors; a
    file whose first 64 KiB are not UTF-8 text (binary data, UTF-16, Latin-1) is refused first."""
    with open_binary(path) as handle:
        lines = Lines(handle)
        try:
            check_text_head(handle.read(1 << 16), path.name)
            handle.seek(0)
            return read(lines)
        except (OSError, EOFError, gzip.BadGzipFile) as exc:
            raise format_error(path, f'cannot read the file after line {lines.lineno}: {exc}') from exc


def float_rows(path: pathlib.Path, frame: int, first_line: int, rows: list[list[bytes]], columns: slice) -> np.ndarray:
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
                    raise format_error(
                        path,
                        f'column {start + c + 1}: {excerpt(token)!r} is not a finite number',
                        frame,
                        first_line + k,
                        'finite',
                    )
    return values


def split_rows(path: pathlib.Path, frame: int, first_line: int, raw: list[bytes], n_columns: int) -> list[list[bytes]]:
    """Whitespace-split ``raw`` lines; error naming the first line that has not ``n_columns`` columns."""
    rows = [line.split() for line in raw]
    if set(map(len, rows)) != {n_columns}:
        for k, row in enumerate(rows):
            if len(row) != n_columns:
                raise format_error(
                    path, f'expected {n_columns} columns, got {len(row)}: {excerpt(raw[k])!r}', frame, first_line + k
                )
    return rows


def check_species(
    path: pathlib.Path, frame: int, first_line: int, species: list[bytes], reference: list[bytes], what: str = 'frame 0'
) -> None:
    """Error naming the first atom whose species differs from ``reference`` (the species of ``what``)."""
    if species != reference:
        k = next(i for i, (a, b) in enumerate(zip(species, reference, strict=True)) if a != b)
        raise format_error(
            path,
            f'species changed: atom {k} is {excerpt(species[k])}, in {what} it is {excerpt(reference[k])}',
            frame,
            first_line + k,
            'shape',
        )
