"""Shared pieces of the figures: element colours and PNG output paths.

Figures use matplotlib's object API with the Agg canvas (no pyplot state), so they work headless and in
daemon workers.
"""

from __future__ import annotations

import pathlib

from aiida import orm

from aiida_qdots.common.errors import QdotsInputError

ELEMENT_COLOURS = {'Cd': '#1f77b4', 'Se': '#ff7f0e', 'S': '#d4b000', 'Cl': '#2ca02c', 'H': '#7f7f7f', 'Zn': '#9467bd'}
"""Colours per element; others follow matplotlib's cycle."""


def element_colour(element: str, index: int) -> str:
    """The element's colour, or the ``index``-th colour of matplotlib's cycle for unlisted elements."""
    return ELEMENT_COLOURS.get(element, f'C{(index + 4) % 10}')


def output_path(output: str | pathlib.Path | None, stem: str, node: orm.Node) -> pathlib.Path:
    """``output`` as a PNG path, or ``<stem>_<pk>.png`` in the working directory when not given."""
    path = pathlib.Path(output) if output is not None else pathlib.Path(f'{stem}_{node.pk}.png')
    if path.suffix.lower() != '.png':
        raise QdotsInputError(f'{path}: figures are written as PNG; give a .png file name')
    return path
