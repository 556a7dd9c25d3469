"""A catalogue of bad inputs across the CLI, builders, importers and workchain validators.

Each case must be refused with a message naming what is wrong (CLI: exit status 1 or 2 and no traceback) and
must leave the database exactly as it was: same node count, and the same fingerprint of nodes, links and groups.
"""

from __future__ import annotations

import dataclasses
import gzip
from collections.abc import Callable

import numpy as np
import pytest
import yaml
from aiida import orm
from aiida.engine import run_get_node
from click.testing import CliRunner
from profile_state import node_count, profile_fingerprint
from trajectory_files import cp2k_text, extxyz_text, frames, write

from aiida_qdots.calculations.lammps.force_fields import get_force_field_node
from aiida_qdots.cli import cli
from aiida_qdots.common.errors import QdotsInputError
from aiida_qdots.functions.nanocrystals import nanocrystal_structure
from aiida_qdots.structures.clusters import build_magic_cluster
from aiida_qdots.structures.importers import import_levels, import_trajectory
from aiida_qdots.workchains.aimd import AimdWorkChain
from aiida_qdots.workchains.aimd_analysis import AimdAnalysisWorkChain
from aiida_qdots.workchains.cluster_energy import ClusterEnergyWorkChain
from aiida_qdots.workchains.electronic import ElectronicWorkChain
from aiida_qdots.workchains.ligand_ranking import LigandRankingWorkChain
from aiida_qdots.workchains.namd import NamdWorkChain
from aiida_qdots.workchains.phonons import PhononsWorkChain

CLUSTER_CONFIG = {
    'label': 'faraway',
    'hostname': 'login.cluster.example.org',
    'workdir': '/scratch/{username}/aiida',
    'codes': {'cp2k': '/opt/cp2k/bin/cp2k.psmp'},
    'transport': {'username': 'alice'},
}


@dataclasses.dataclass
class Env:
    """What the cases act on; everything here is stored before the database is fingerprinted."""

    tmp: object
    cp2k: orm.AbstractCode
    lammps: orm.AbstractCode
    python: orm.AbstractCode
    structure: orm.StructureData
    nanocrystal: orm.StructureData
    trajectory: orm.TrajectoryData
    dictionary: orm.Dict

    def file(self, name: str, text: str):
        return write(self.tmp / name, text)

    def config(self, **changes) -> str:
        data = {k: v for k, v in {**CLUSTER_CONFIG, **changes}.items() if v is not None}
        return str(self.file('cluster.yaml', yaml.safe_dump(data)))


@pytest.fixture
def env(tmp_path, cp2k_code, lammps_code, python_code):
    get_force_field_node('sw_zhou2013')  # stored once, by the first phonons builder otherwise
    atoms = build_magic_cluster('se-rich', 0)
    trajectory = import_trajectory(write(tmp_path / 'three.extxyz', extxyz_text(frames(3))), 1.0)
    return Env(
        tmp_path,
        cp2k_code,
        lammps_code,
        python_code,
        orm.StructureData(ase=atoms).store(),
        nanocrystal_structure(diameter=12.0),
        trajectory,
        orm.Dict({'not': 'a structure'}).store(),
    )


@dataclasses.dataclass
class Cli:
    """``aiida-qdots ARGS`` must exit with status ``status`` and print ``message``."""

    args: Callable[[Env], list]
    message: str
    status: int = 1


@dataclasses.dataclass
class Raises:
    """``action(env)`` must raise ``error`` with a message matching ``message``."""

    action: Callable[[Env], object]
    message: str
    error: type[Exception] = QdotsInputError


def cut_gzip(path):
    """A gzip-compressed extended XYZ file that ends 20 bytes early."""
    path.write_bytes(gzip.compress(extxyz_text(frames(3)).encode())[:-20])
    return path


def aimd(env: Env, code=None, **overrides):
    return AimdWorkChain.get_builder_from_protocol(
        code or env.cp2k, env.structure, 'fast', {'relax': False, **overrides}
    )


def phonons(env: Env, **overrides):
    return PhononsWorkChain.get_builder_from_protocol(env.lammps, env.nanocrystal, 'fast', overrides)


CASES = {
    # ------------------------------------------------------------------------------------------------- CLI
    'cli-nanocrystal-zero-diameter': Cli(
        lambda e: ['build', 'nanocrystal', '--diameter', '0'], "Invalid value for '--diameter'", status=2
    ),
    'cli-nanocrystal-stoichiometry': Cli(
        lambda e: ['build', 'nanocrystal', '--diameter', '1.5', '--stoichiometry', 'neutral'],
        'is not stoichiometric, as-cut or an integer',
        2,
    ),
    'cli-nanocrystal-too-small': Cli(lambda e: ['build', 'nanocrystal', '--diameter', '0.1'], 'too small'),
    'cli-import-negative-timestep': Cli(
        lambda e: ['import', 'trajectory', e.tmp / 'three.extxyz', '--timestep', '-1'],
        'time step must be a positive number of fs',
    ),
    'cli-import-missing-file': Cli(
        lambda e: ['import', 'trajectory', e.tmp / 'nowhere.xyz', '--timestep', '1'], 'does not exist', status=2
    ),
    'cli-levels-no-such-trajectory': Cli(
        lambda e: [
            'import',
            'levels',
            e.file('l.csv', 'HOMO,LUMO\n-5,-3\n'),
            '--trajectory',
            '99999999',
            '--stride',
            '1',
        ],
        'no trajectory node 99999999',
    ),
    'cli-aimd-structure-is-a-dict': Cli(
        lambda e: ['launch', 'aimd', '--structure', e.dictionary.pk], 'is a Dict, not a StructureData', status=2
    ),
    'cli-aimd-lammps-code': Cli(
        lambda e: ['launch', 'aimd', '--structure', e.structure.pk, '--no-relax', '--code', e.lammps.full_label],
        'runs lammps.raw jobs, not cp2k',
    ),
    'cli-aimd-unknown-code': Cli(
        lambda e: ['launch', 'aimd', '--structure', e.structure.pk, '--code', 'cp3k@nowhere'], 'cp3k@nowhere'
    ),
    'cli-electronic-one-frame': Cli(
        lambda e: ['launch', 'electronic', '--trajectory', e.trajectory.pk, '--stride-fs', '100', '--window-fs', '100'],
        'keeps 1 frame(s)',
    ),
    'cli-ranking-indices-not-integers': Cli(
        lambda e: ['launch', 'ligand-ranking', '--composition', 'se-rich', '--arrangements', '0,x'],
        'expected comma-separated integers',
        status=2,
    ),
    'cli-setup-config-missing-hostname': Cli(
        lambda e: ['setup', '--computer-config', e.config(hostname=None)], 'missing key(s) hostname'
    ),
    'cli-setup-config-relative-code': Cli(
        lambda e: ['setup', '--computer-config', e.config(codes={'cp2k': 'cp2k'})], 'code paths must be absolute'
    ),
    'cli-setup-config-unknown-transport-option': Cli(
        lambda e: ['setup', '--computer-config', e.config(transport={'user': 'alice'})],
        'invalid transport options user for core.ssh',
    ),
    'cli-setup-computer-and-config': Cli(
        lambda e: ['setup', '--computer', 'slurm', '--computer-config', e.config()],
        'give --computer or --computer-config, not both',
        status=2,
    ),
    # ---------------------------------------------------------------------------------- builders, structures
    'builder-unknown-protocol': Raises(
        lambda e: ClusterEnergyWorkChain.get_builder_from_protocol(e.cp2k, e.structure, 'ultra'),
        "unknown protocol 'ultra'",
    ),
    'builder-misspelt-override': Raises(lambda e: aimd(e, segment_step=5), r'unknown override\(s\) segment_step'),
    'builder-ranking-no-arrangements': Raises(
        lambda e: LigandRankingWorkChain.get_builder_from_protocol(e.cp2k, 'se-rich', []),
        'at least one ligand arrangement',
    ),
    'builder-ranking-repeated-arrangements': Raises(
        lambda e: LigandRankingWorkChain.get_builder_from_protocol(e.cp2k, 'se-rich', [1, 1]), 'indices repeat'
    ),
    'builder-unknown-composition': Raises(
        lambda e: LigandRankingWorkChain.get_builder_from_protocol(e.cp2k, 'zn-rich'),
        "unknown cluster composition 'zn-rich'",
    ),
    'builder-electronic-given-a-structure': Raises(
        lambda e: ElectronicWorkChain.get_builder_from_protocol(e.cp2k, e.structure, 'fast'),
        'is not of the right type',
        ValueError,
    ),
    'builder-unknown-force-field': Raises(
        lambda e: phonons(e, force_field='lj_nowhere'), "unknown force field 'lj_nowhere'"
    ),
    'structure-charged-cluster': Raises(
        lambda e: build_magic_cluster('cd-rich', n_ligands=20), 'carries a formal charge'
    ),
    'structure-negative-shell': Raises(
        lambda e: nanocrystal_structure(diameter=15.0, shell_monolayers=-1), 'shell_monolayers must be >= 0'
    ),
    'structure-unknown-lattice': Raises(
        lambda e: nanocrystal_structure(diameter=15.0, lattice='rocksalt'), "unknown lattice 'rocksalt'"
    ),
    # ---------------------------------------------------------------------------------------------- importers
    'import-unknown-format': Raises(
        lambda e: import_trajectory(e.tmp / 'three.extxyz', 1.0, fmt='pdb'), "unknown trajectory format 'pdb'"
    ),
    'import-velocity-file-as-positions': Raises(
        lambda e: import_trajectory(e.file('qd-vel-1.xyz', cp2k_text(['Cd'], np.zeros((2, 1, 3)), [0, 1])), 0.5),
        'is a CP2K velocity file',
    ),
    'import-corrupt-gzip': Raises(lambda e: import_trajectory(cut_gzip(e.tmp / 'cut.extxyz.gz'), 1.0), 'cut.extxyz.gz'),
    'import-nan-timestep': Raises(
        lambda e: import_trajectory(e.tmp / 'three.extxyz', float('nan')), 'time step must be a positive number of fs'
    ),
    'levels-on-a-structure': Raises(
        lambda e: import_levels(e.file('l.csv', 'HOMO,LUMO\n-5,-3\n'), e.structure, 1),
        'is a StructureData, not a TrajectoryData',
    ),
    'levels-more-rows-than-frames': Raises(
        lambda e: import_levels(e.file('l.csv', 'HOMO,LUMO\n' + '-5,-3\n' * 4), e.trajectory, 1),
        'not in the trajectory',
    ),
    # ----------------------------------------------------------------------------- workchain input validators
    'aimd-no-production-stage': Raises(
        lambda e: run_get_node(
            aimd(e, stages=[{'name': 'heating', 'ensemble': 'NVT', 'temperature': 300.0, 'steps': 5}])
        ),
        'named "production"',
        ValueError,
    ),
    'aimd-zero-segment-steps': Raises(
        lambda e: run_get_node(aimd(e, segment_steps=0)), 'segment_steps must be positive', ValueError
    ),
    'aimd-lammps-code': Raises(
        lambda e: run_get_node(aimd(e, code=e.lammps)), 'runs lammps.raw jobs, not cp2k', ValueError
    ),
    'cluster-energy-python-code': Raises(
        lambda e: run_get_node(ClusterEnergyWorkChain.get_builder_from_protocol(e.python, e.structure, 'fast')),
        'runs qdots.overlaps jobs, not cp2k',
        ValueError,
    ),
    'electronic-zero-chunk': Raises(
        lambda e: run_get_node(
            ElectronicWorkChain.get_builder_from_protocol(e.cp2k, e.trajectory, 'fast', {'chunk_frames': 0})
        ),
        'chunk_frames must be positive',
        ValueError,
    ),
    'analysis-too-few-frames': Raises(
        lambda e: run_get_node(AimdAnalysisWorkChain, trajectory=e.trajectory),
        'the analysis needs at least',
        ValueError,
    ),
    'namd-short-chunks': Raises(
        lambda e: run_get_node(
            NamdWorkChain.get_builder_from_protocol(e.cp2k, e.python, e.trajectory, 'fast', {'chunk_frames': 2})
        ),
        'chunk_frames must be at least 3',
        ValueError,
    ),
    'phonons-three-pdf-temperatures': Raises(
        lambda e: run_get_node(phonons(e, pdf={'temperatures': [300.0, 314.0, 330.0]})),
        'exactly 2 temperatures',
        ValueError,
    ),
}


@pytest.mark.parametrize('case', CASES.values(), ids=CASES.keys())
def test_bad_input_is_refused_and_database_unchanged(env, case):
    count, fingerprint = node_count(), profile_fingerprint()
    if isinstance(case, Cli):
        result = CliRunner().invoke(cli, [str(arg) for arg in case.args(env)])
        assert result.exit_code == case.status, result.output
        assert isinstance(result.exception, SystemExit), 'a traceback instead of a message'
        assert case.message in ' '.join(result.output.split()), result.output
    else:
        with pytest.raises(case.error, match=case.message):
            case.action(env)
    assert node_count() == count
    assert profile_fingerprint() == fingerprint
