"""Calcfunctions of ``qdots.namd``: the Hamiltonian of the window from its chunks, and the in-process analysis."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
from aiida import orm
from aiida.engine import calcfunction

from aiida_qdots.analysis.recombination import recombination_analysis
from aiida_qdots.calculations.dish import recombination_nodes


@calcfunction
def assemble_hamiltonian(frames: orm.List, **chunks: orm.ArrayData) -> orm.ArrayData:
    """Energies (eV) and consecutive overlaps of the whole window from the chunks' ``qdots.overlaps`` outputs.

    ``frames`` lists, per chunk (keys ``chunk_<k>`` in order), the consecutive trajectory frames of its REFTRAJ
    run; a chunk's MOLDEN step s is its frame s - 1, and step 0 the previous chunk's last frame.
    """
    energies, overlaps = {}, {}
    for key, frame_list in zip(sorted(chunks), frames.get_list(), strict=True):
        chunk = chunks[key]
        global_frames = [frame_list[0] + int(step) - 1 for step in chunk.get_array('steps')]
        for frame, energy in zip(global_frames, chunk.get_array('energies'), strict=True):
            energies.setdefault(frame, energy)
        for pair, matrix in zip(pairwise(global_frames), chunk.get_array('overlaps'), strict=True):
            overlaps.setdefault(pair, matrix)
    ordered = sorted(energies)
    missing = [pair for pair in pairwise(ordered) if pair not in overlaps]
    if missing or ordered != list(range(ordered[0], ordered[-1] + 1)):
        raise ValueError(f'the chunks leave frames or frame pairs uncovered: {missing[:5]}')
    first = chunks[sorted(chunks)[0]]
    hamiltonian = orm.ArrayData()
    hamiltonian.set_array('energies', np.array([energies[f] for f in ordered]))
    hamiltonian.set_array('overlaps', np.array([overlaps[pair] for pair in pairwise(ordered)]))
    hamiltonian.set_array('frame_index', np.array(ordered))
    hamiltonian.set_array('homo_index', first.get_array('homo_index'))
    hamiltonian.base.attributes.set('units', {'energies': 'eV'})
    hamiltonian.base.attributes.set(
        'convention', 'overlaps[t, i, j] = <psi_i(t)|psi_j(t+1)>; window orbitals by energy'
    )
    return hamiltonian


@calcfunction
def namd_analysis(hamiltonian: orm.ArrayData, parameters: orm.Dict) -> dict[str, orm.Data]:
    """NACs, dephasing and DISH recombination of the HOMO -> LUMO excitation, in process
    (:func:`aiida_qdots.analysis.recombination.recombination_analysis`).
    """
    summary, arrays = recombination_analysis(
        hamiltonian.get_array('energies'),
        hamiltonian.get_array('overlaps'),
        int(hamiltonian.get_array('homo_index')),
        parameters.get_dict(),
    )
    return recombination_nodes(summary, arrays)
