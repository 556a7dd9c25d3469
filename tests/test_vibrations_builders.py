"""qdots.vibrations builders, bad input and the optional study stage: no CP2K run."""

import pytest
from aiida import orm

from aiida_qdots.common.errors import QdotsInputError
from aiida_qdots.functions.clusters import build_cluster
from aiida_qdots.workchains.study import ConfigurationWorkChain, StudyWorkChain
from aiida_qdots.workchains.vibrations import VibrationsWorkChain


@pytest.fixture
def cluster(aiida_profile):
    return build_cluster(orm.Str('se-rich'), orm.Int(0))


def test_builder_protocols(cp2k_code, cluster):
    fast = VibrationsWorkChain.get_builder_from_protocol(cp2k_code, cluster, protocol='fast', relax=True)
    parameters = fast.cp2k.cp2k.parameters.get_dict()
    assert parameters['GLOBAL']['RUN_TYPE'] == 'VIBRATIONAL_ANALYSIS'
    assert parameters['FORCE_EVAL']['DFT']['QS']['METHOD'] == 'xTB'
    assert parameters['FORCE_EVAL']['SUBSYS']['TOPOLOGY']['CENTER_COORDINATES']['CENTER_POINT'] == '0.0 0.0 0.0'
    assert parameters['FORCE_EVAL']['PROPERTIES']['LINRES']['POLAR']['DO_RAMAN'] is True
    assert fast.relax.relax.value is True
    geo_opt = fast.relax.cp2k.cp2k.parameters.get_dict()
    assert geo_opt['MOTION']['GEO_OPT']['MAX_FORCE'] == 1.0e-4  # the Hessian's minimum, tighter than energy ranking
    assert geo_opt['FORCE_EVAL']['DFT']['SCF']['EPS_SCF'] == 1.0e-7
    moderate = VibrationsWorkChain.get_builder_from_protocol(cp2k_code, cluster, protocol='moderate')
    polar = moderate.cp2k.cp2k.parameters['FORCE_EVAL']['PROPERTIES']['LINRES']['POLAR']
    assert polar['PERIODIC_DIPOLE_OPERATOR'] is False
    assert 'relax' not in moderate._inputs(prune=True)


@pytest.mark.parametrize(
    ('overrides', 'message'),
    [
        ({'analysis': {'hwhm_cm1': -1.0}}, 'hwhm_cm1 must be positive'),
        ({'analysis': {'core_threshold': 1.5}}, 'core_threshold'),
        ({'hwhm': 4.0}, 'unknown override'),
    ],
)
def test_bad_input_is_one_clear_line_and_stores_nothing(cp2k_code, cluster, overrides, message):
    before = orm.QueryBuilder().append(orm.Node).count()
    with pytest.raises(QdotsInputError, match=message):
        VibrationsWorkChain.get_builder_from_protocol(cp2k_code, cluster, protocol='fast', overrides=overrides)
    assert orm.QueryBuilder().append(orm.Node).count() == before


def test_study_stage_is_optional_and_off_at_fast(cp2k_code, python_code):
    plain = ConfigurationWorkChain.get_builder_from_protocol(cp2k_code, python_code, 'cd-rich', 0, 'fast')
    assert 'vibrations' not in plain._inputs(prune=True)
    asked = ConfigurationWorkChain.get_builder_from_protocol(
        cp2k_code, python_code, 'cd-rich', 0, 'fast', vibrations=True
    )
    assert asked.vibrations.cp2k.cp2k.parameters['GLOBAL']['RUN_TYPE'] == 'VIBRATIONAL_ANALYSIS'
    assert asked.vibrations.relax.relax.value is True  # the stage tightens the AIMD stage's relaxation
    study = StudyWorkChain.get_builder_from_protocol(cp2k_code, python_code, 'vib', ['se-rich'], [0], 'fast')
    assert 'vibrations' not in study._inputs(prune=True)['configuration']
    workstation = StudyWorkChain.get_builder_from_protocol(
        cp2k_code, python_code, 'vib', ['se-rich'], [0], 'workstation'
    )
    assert 'analysis' in workstation.configuration.vibrations
