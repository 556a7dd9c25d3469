"""The seed papers' figures of a whole study, from the nodes filed in its groups."""

from __future__ import annotations

import pathlib

from aiida_qdots.common.errors import QdotsInputError
from aiida_qdots.plots.namd import FIGURES as STUDY_A_FIGURES
from aiida_qdots.plots.namd import plot_figure
from aiida_qdots.plots.phonons import plot_phonons
from aiida_qdots.plots.ued import plot_ued
from aiida_qdots.plots.ued_dg import plot_ued_dg
from aiida_qdots.query import stage_processes

FIGURE_STAGES = {
    '3a': ('levels', 'electronic'),
    '4': ('gap', 'electronic'),
    '5': ('namd', 'namd'),
    'phonons': (None, 'phonons'),
    'ued': (None, 'ued'),
}
"""Figure id -> (Study A figure kind or None, stage whose workchains it plots). Study A: Fig. 3a HOMO/LUMO,
Fig. 4 gap distributions, Fig. 5 NAMD; Study B: one phonons (DOS, lifetimes, MSD(T), dG(r)) and one UED figure per
nanocrystal / data set, and for a data set of patterns I(Q, t) also its dG figure (``..._dg.png``)."""


def plot_study_figure(study: str, figure: str, folder: str | pathlib.Path = '.', dpi: int = 150) -> list[pathlib.Path]:
    """Write figure ``figure`` of ``study`` as PNG file(s) into ``folder``; return their paths."""
    if figure not in FIGURE_STAGES:
        raise QdotsInputError(f'unknown figure {figure!r}; known: {", ".join(FIGURE_STAGES)}')
    kind, stage = FIGURE_STAGES[figure]
    nodes = stage_processes(study, stage)
    if not nodes:
        raise QdotsInputError(f'study {study!r} has no finished {stage} stage for figure {figure}')
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if kind in STUDY_A_FIGURES:
        return [plot_figure(kind, nodes, folder / f'{study}_figure_{figure}.png', dpi=dpi)]
    plot = plot_phonons if stage == 'phonons' else plot_ued
    paths = []
    for node in nodes:
        stem = f'{study}_{stage}_{node.base.extras.get("qdots")["configuration"]}'
        paths.append(plot(node, folder / f'{stem}.png', dpi=dpi))
        if stage == 'ued' and 'dg_fits' in node.outputs:
            paths.append(plot_ued_dg(node, folder / f'{stem}_dg.png', dpi=dpi))
    return paths
