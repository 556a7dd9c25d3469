"""A small Study B stored in seconds: the graph a ``qdots.study_b`` run leaves (study -> lattice and lifetimes
``qdots.phonons`` runs -> calcfunction-made outputs), filed by the package's own filing functions, without LAMMPS.

The trajectories are Einstein solids: a 2 nm wurtzite CdSe particle whose atoms are displaced about their sites with
<u^2> = 3 k_B T / k (k = 2 eV/A^2), so MSD(T) is linear with a known slope; MSD and diffraction outputs come from
the real calcfunctions. The lifetimes are drawn (log-uniform, 0.2-20 ps) on made-up frequencies.
"""

from __future__ import annotations

import numpy as np
from aiida import orm
from aiida.common.links import LinkType
from aiida.engine import ProcessState

from aiida_qdots.common.filing import file_stage, register_study
from aiida_qdots.common.units import KB_EV_K
from aiida_qdots.functions.diffraction import analyze_diffraction
from aiida_qdots.functions.nanocrystals import nanocrystal_structure
from aiida_qdots.functions.phonons import analyze_msd

SPRING_EV_A2 = 2.0
"""Einstein spring constant of the made-up trajectories: <u^2> = 3 k_B T / k, d<u^2>/dT = 3 k_B / k."""
FRAMES = 24


def einstein_trajectory(structure: orm.StructureData, temperature_k: float, seed: int) -> orm.TrajectoryData:
    """``FRAMES`` frames 4 fs apart, every atom displaced by a Gaussian of variance k_B T / k per axis."""
    rng = np.random.default_rng(seed)
    sites = np.array([site.position for site in structure.sites])
    sigma = np.sqrt(KB_EV_K * temperature_k / SPRING_EV_A2)
    positions = sites[None] + rng.normal(0.0, sigma, (FRAMES, *sites.shape))
    trajectory = orm.TrajectoryData()
    trajectory.set_trajectory(
        symbols=[site.kind_name for site in structure.sites],
        positions=positions,
        stepids=np.arange(FRAMES),
        cells=np.repeat(np.array(structure.cell)[None], FRAMES, axis=0),
        times=np.arange(FRAMES) * 4.0,
        pbc=(False, False, False),
    )
    return trajectory.store()


def _phonons(
    study: orm.WorkflowNode, part: str, structure: orm.StructureData, outputs: dict[str, orm.Data]
) -> orm.WorkflowNode:
    node = orm.WorkflowNode(process_type='aiida.workflows:qdots.phonons')
    node.set_process_label('PhononsWorkChain')
    node.set_process_state(ProcessState.FINISHED)
    node.set_exit_status(0)
    node.base.links.add_incoming(structure, LinkType.INPUT_WORK, 'structure')
    node.base.links.add_incoming(study, LinkType.CALL_WORK, part)  # both parts are one run: filing keeps both
    node.store()
    for label, output in outputs.items():
        output.base.links.add_incoming(node, LinkType.RETURN, label)
    recipe = structure.base.extras.get('qdots')
    extras = {'kind': 'nanocrystal', 'part': part, 'protocol': 'fast', 'diameter_requested': 20.0}
    extras['shell_monolayers'] = recipe.get('shell_monolayers', 0)
    file_stage(node, study.label, structure.get_formula(), 'd20A_shell0', 'phonons', extras)
    node.seal()
    return node


def lifetimes_node(n_modes: int = 400, seed: int = 1) -> orm.ArrayData:
    rng = np.random.default_rng(seed)
    node = orm.ArrayData()
    node.set_array('frequency_thz', np.sort(rng.uniform(0.1, 8.0, n_modes)))
    tau = 10 ** rng.uniform(np.log10(200.0), np.log10(20000.0), n_modes)
    tau[::10] = np.inf  # unresolved modes
    node.set_array('tau_gle_fs', tau)
    node.set_array('tau_lorentzian_fs', tau * 0.9)
    node.base.attributes.set('max_lag_fs', 10000.0)
    return node.store()


def build_stored_study_b(study: str) -> dict[str, orm.WorkflowNode]:
    """Store and file a finished Study B ``study`` (both parts); return the phonons runs by part."""
    structure = nanocrystal_structure(diameter=20.0)
    study_node = orm.WorkflowNode(process_type='aiida.workflows:qdots.study_b')
    study_node.set_process_label('StudyBWorkChain')
    study_node.set_process_state(ProcessState.FINISHED)
    study_node.set_exit_status(0)
    study_node.label = study
    study_node.store()
    register_study(study_node, study, 'study_b', 'fast')
    temperatures = {'T_150': 150.0, 'T_300': 300.0, 'T_500': 500.0}
    trajectories = {key: einstein_trajectory(structure, t, k) for k, (key, t) in enumerate(temperatures.items())}
    msd = analyze_msd(
        orm.Dict({'nve_start_fs': 0.0, 'temperatures': temperatures, 'weighting_q_range': [1.5, 6.0]}), **trajectories
    )
    hot = einstein_trajectory(structure, 314.0, 7)
    diffraction = analyze_diffraction(
        orm.Dict(
            {
                'nve_start_fs': 0.0,
                'temperature_cold_k': 300.0,
                'temperature_hot_k': 314.0,
                'max_frames': FRAMES,
                'q_step': 0.05,
            }
        ),
        trajectories['T_300'],
        hot,
    )
    lattice = _phonons(study_node, 'lattice', structure, {**msd, 'diffraction': diffraction})
    lifetimes = _phonons(study_node, 'lifetimes', structure, {'lifetimes': lifetimes_node()})
    study_node.seal()
    return {'lattice': lattice, 'lifetimes': lifetimes}
