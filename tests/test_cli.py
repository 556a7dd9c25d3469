"""The command line as a whole: every command's help, node identifiers, the one error handler and launch exit codes."""

from __future__ import annotations

import functools
import time

import click
import pytest
from aiida import orm
from aiida.common.exceptions import NotExistent
from aiida.engine import WorkChain
from aiida.engine.daemon.client import DaemonException
from click.testing import CliRunner
from profile_state import fresh_profile, node_count
from trajectory_files import extxyz_text, frames, write

from aiida_qdots.cli import cli
from aiida_qdots.cli.launch import launch_process
from aiida_qdots.cli.utils import QdotsGroup
from aiida_qdots.structures.importers import import_trajectory


def command_paths(group: click.Group, prefix: tuple[str, ...] = ()):
    """Every command and subcommand of ``group`` as the words that invoke it."""
    for name, command in group.commands.items():
        yield (*prefix, name)
        if isinstance(command, click.Group):
            yield from command_paths(command, (*prefix, name))


def error_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith('Error:')]


def assert_one_error(result, status: int, message: str) -> None:
    """Exit status ``status``, exactly one ``Error:`` line containing ``message``, no traceback."""
    assert result.exit_code == status, result.output
    assert isinstance(result.exception, SystemExit), 'a traceback instead of a message'
    assert 'Traceback' not in result.output
    lines = error_lines(result.output)
    assert len(lines) == 1 and message in lines[0], result.output


PATHS = [(), *command_paths(cli)]
COMMANDS = [
    path
    for path in PATHS
    if not isinstance(functools.reduce(lambda group, word: group.commands[word], path, cli), click.Group)
]
UNWRITABLE = '/sys'
"""A folder nobody can write into, root included (sysfs refuses new files; ``os.access`` says yes to root)."""
MISSING = '999999999'

BAD_ARGUMENTS = {
    ('analyze', 'trajectory'): ([MISSING], 1, f'no trajectory node {MISSING}'),
    ('analyze', 'levels'): (['no-such-label'], 1, 'no levels node no-such-label'),
    ('build', 'nanocrystal'): (['--diameter', '-1'], 2, "Invalid value for '--diameter'"),
    ('build', 'arrangements'): (['--composition', 'zn-rich'], 2, "'zn-rich' is not one of"),
    ('build', 'cluster'): (['--composition', 'se-rich', '--arrangement', '99'], 1, 'arrangement'),
    ('demo',): (['--folder', f'{UNWRITABLE}/qdots-demo'], 2, f'folder {UNWRITABLE} is not writable'),
    ('import', 'trajectory'): (['/no/such/file.extxyz', '--timestep', '1'], 2, 'does not exist'),
    ('import', 'levels'): (['{levels_csv}', '--trajectory', MISSING, '--stride', '1'], 1, 'no trajectory node'),
    ('import', 'ued'): ([], 2, 'give either a PATH or --synthetic'),
    ('import', 'archive'): (['{levels_csv}'], 1, 'not an AiiDA archive'),
    ('launch', 'ligand-ranking'): (['--composition', 'se-rich', '--arrangements', '0,x'], 2, 'comma-separated'),
    ('launch', 'aimd'): (['--structure', MISSING], 1, f'no structure node {MISSING}'),
    ('launch', 'electronic'): (['--trajectory', MISSING], 1, f'no trajectory node {MISSING}'),
    ('launch', 'namd'): (['--trajectory', MISSING], 1, f'no trajectory node {MISSING}'),
    ('launch', 'phonons'): (['--diameter', '0'], 2, "Invalid value for '--diameter'"),
    ('launch', 'ued'): (['--data', MISSING], 1, f'no UED data node {MISSING}'),
    ('launch', 'study'): (['--label', 'x', '--overrides', '[1]'], 2, 'is not a JSON object'),
    ('reproduce', 'study-a'): (['--arrangements', 'x'], 2, 'arrangements'),
    ('reproduce', 'study-b'): (['--no-wait'], 2, '--no-wait needs --daemon'),
    ('launch', 'lattice-study'): (['--label', 'x', '--nanocrystal', 'big'], 2, "Invalid value for '--nanocrystal'"),
    ('compare',): (['--group', 'x', '--csv', '/no/such/folder/x.csv'], 2, 'folder /no/such/folder does not exist'),
    ('status',): (['--group', 'qdots/no-such-study'], 1, "no study 'no-such-study'"),
    ('export',): (['--group', 'x', f'{UNWRITABLE}/x.aiida'], 2, f'folder {UNWRITABLE} is not writable'),
    ('plot', 'rmsf'): ([MISSING], 1, f'no rmsf node {MISSING}'),
    ('plot', 'spectra'): (['--max-wavenumber', '-5', MISSING], 2, "Invalid value for '--max-wavenumber'"),
    ('plot', 'phonons'): (['-o', '{levels_csv}/x.png', MISSING], 2, 'is not a folder'),
    ('plot', 'ued'): (['-o', f'{UNWRITABLE}/x.png', MISSING], 2, f'folder {UNWRITABLE} is not writable'),
    ('plot', 'levels'): ([MISSING], 1, f'no levels node {MISSING}'),
    ('plot', 'gap'): ([], 2, "Missing argument 'NODE...'"),
    ('plot', 'namd'): (['-o', '/no/such/folder/x.png', MISSING], 2, 'folder /no/such/folder does not exist'),
    ('plot', 'raman'): ([MISSING], 1, f'no vibrations node {MISSING}'),
    ('plot', 'raman-mode'): (['-o', '/no/such/folder/x.png', MISSING], 2, 'folder /no/such/folder does not exist'),
    ('plot', 'raman-vs-aimd'): ([MISSING, MISSING], 1, f'no vibrations node {MISSING}'),
    ('plot', 'ued-dg'): ([MISSING], 1, f'no ued-dg node {MISSING}'),
    ('plot', 'figure'): (['3a', '--group', 'x', '--folder', f'{UNWRITABLE}/figures'], 2, 'is not writable'),
    ('setup',): (['--computer-config', '/no/such/cluster.yaml'], 2, 'does not exist'),
}
"""A representative bad argument of every command: its arguments, exit status and a piece of its one error line."""


@pytest.mark.parametrize('path', PATHS, ids=[' '.join(p) or 'aiida-qdots' for p in PATHS])
def test_every_command_has_help(path):
    result = CliRunner().invoke(cli, [*path, '--help'])
    assert result.exit_code == 0, result.output
    assert result.exception is None and 'Traceback' not in result.output
    assert result.output.startswith('Usage: ')


def test_every_command_has_a_bad_argument_case():
    assert set(BAD_ARGUMENTS) == set(COMMANDS), 'give the new command a representative bad argument'


@pytest.mark.parametrize('path', sorted(BAD_ARGUMENTS), ids=' '.join)
def test_bad_argument_is_one_error_line_and_stores_nothing(aiida_profile, tmp_path, path):
    """Every command of the tree, walked: a bad argument ends it with one ``Error:`` line, no traceback, a non-zero
    exit status, and nothing stored. Output paths are refused before any work."""
    args, status, message = BAD_ARGUMENTS[path]
    levels_csv = write(tmp_path / 'levels.csv', 'HOMO,LUMO\n-5.0,-3.0\n')
    before = node_count()
    result = CliRunner().invoke(cli, [*path, *(arg.format(levels_csv=levels_csv) for arg in args)])
    assert_one_error(result, status, message)
    assert node_count() == before


GROUPS = [path for path in PATHS if path not in COMMANDS]


@pytest.mark.parametrize('path', GROUPS, ids=[' '.join(p) or 'aiida-qdots' for p in GROUPS])
def test_group_with_an_unknown_command_is_one_error_line(path):
    assert_one_error(CliRunner().invoke(cli, [*path, 'no-such-command']), 2, "No such command 'no-such-command'")


def test_unknown_profile_is_one_error_line(aiida_profile):
    result = CliRunner().invoke(cli, ['-p', 'no-such-profile', 'status', '--group', 'x'])
    assert_one_error(result, 1, 'cannot load AiiDA profile no-such-profile')
    result = CliRunner().invoke(cli, ['status', '--group', 'no-such-study'])
    assert_one_error(result, 1, "no study 'no-such-study'")  # the test profile is still the loaded one


def test_command_tree_is_complete():
    """Every command of the CLI before its reorganisation is still there (issue 14)."""
    expected = {
        ('analyze', 'trajectory'),
        ('analyze', 'levels'),
        ('build', 'nanocrystal'),
        ('build', 'cluster'),
        ('build', 'arrangements'),
        ('import', 'trajectory'),
        ('import', 'levels'),
        ('import', 'ued'),
        ('import', 'archive'),
        *(('launch', name) for name in ('ligand-ranking', 'aimd', 'electronic', 'namd', 'phonons', 'ued')),
        ('launch', 'study'),
        ('launch', 'lattice-study'),
        *(('plot', name) for name in ('rmsf', 'spectra', 'levels', 'gap', 'namd', 'phonons', 'ued', 'figure')),
        ('compare',),
        ('status',),
        ('export',),
        ('setup',),
        ('demo',),
    }
    assert expected <= set(PATHS)


@pytest.fixture
def labelled_trajectory(aiida_profile, tmp_path):
    return import_trajectory(write(tmp_path / 'three.extxyz', extxyz_text(frames(3))), 1.0, label='cli-test-trajectory')


def test_node_given_as_pk_uuid_or_label_is_the_same_node(labelled_trajectory, tmp_path):
    csv = write(tmp_path / 'levels.csv', 'HOMO,LUMO\n-5.0,-3.0\n-5.1,-3.1\n-5.2,-3.2\n')
    for identifier in (labelled_trajectory.pk, labelled_trajectory.uuid, labelled_trajectory.label):
        result = CliRunner().invoke(
            cli, ['import', 'levels', str(csv), '--trajectory', str(identifier), '--stride', '1']
        )
        assert result.exit_code == 0, result.output
        levels = orm.load_node(int(result.output.split('PK ')[1].split()[0]))
        trajectory = levels.creator.base.links.get_incoming(node_class=orm.TrajectoryData).one().node
        assert trajectory.uuid == labelled_trajectory.uuid


def test_node_of_the_wrong_type_is_a_bad_parameter(aiida_profile, tmp_path):
    orm.Dict({'a': 1}, label='cli-test-dict').store()
    csv = write(tmp_path / 'levels.csv', 'HOMO,LUMO\n-5.0,-3.0\n')
    result = CliRunner().invoke(cli, ['import', 'levels', str(csv), '--trajectory', 'cli-test-dict', '--stride', '1'])
    assert_one_error(result, 2, 'is a Dict, not a TrajectoryData')


@pytest.mark.parametrize(
    ('args', 'status', 'message'),
    [
        (['analyze', 'trajectory', '999999999'], 1, 'no trajectory node 999999999'),
        (['analyze', 'levels', 'no-such-label'], 1, 'no levels node no-such-label'),
        (['plot', 'rmsf', '999999999'], 1, 'no rmsf node 999999999'),
        (['build', 'cluster', '--composition', 'se-rich', '--arrangement', '99'], 1, 'arrangement'),
        (['build', 'cluster', '--composition', 'zn-rich'], 2, "'zn-rich' is not one of"),
        (['compare', '--group', 'qdots/x', '--csv', '/no/such/folder/x.csv'], 2, 'folder /no/such/folder'),
        (['plot', 'rmsf', '-o', '/no/such/folder/x.png', '999999999'], 2, 'folder /no/such/folder does not exist'),
        (['export', '--group', 'x', '/no/such/folder/x.aiida'], 2, 'folder /no/such/folder does not exist'),
        (['compare', '--group', 'qdots/no-such-study'], 1, "no study 'no-such-study'"),
        (['launch', 'aimd', '--structure', '999999999'], 1, 'no structure node 999999999'),
    ],
)
def test_expected_failure_is_one_error_line(aiida_profile, args, status, message):
    assert_one_error(CliRunner().invoke(cli, args), status, message)


def raising(error: Exception):
    def command():
        raise error

    return command


def test_handler_turns_expected_exceptions_into_one_line():
    @click.group(cls=QdotsGroup)
    def group():
        pass

    @group.group()
    def inner():
        pass

    errors = {
        'missing': (NotExistent('no such code'), 'no such code'),
        'unwritable': (PermissionError(13, 'Permission denied', '/x.png'), 'Permission denied: /x.png'),
        'broker': (ConnectionError('connection refused'), 'is the broker running'),
        'invalid': (ValueError('bad\nvalue'), 'bad value'),
        'daemon': (DaemonException('the daemon did not start'), 'the daemon did not start'),
    }
    for name, (error, _) in errors.items():
        inner.command(name)(raising(error))
    for name, (_, message) in errors.items():
        assert_one_error(CliRunner().invoke(group, ['inner', name]), 1, message)

    @group.command()
    def bug():
        raise KeyError('a bug keeps its traceback')

    assert isinstance(CliRunner().invoke(group, ['bug']).exception, KeyError)


class FailingWorkChain(WorkChain):
    """Fails at once with exit status 451."""

    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.outline(cls.fail)
        spec.exit_code(451, 'ERROR_ON_PURPOSE', message='the test process fails on purpose')

    def fail(self):
        return self.exit_codes.ERROR_ON_PURPOSE


def test_launch_of_a_failing_process_exits_non_zero(aiida_profile):
    @click.group(cls=QdotsGroup)
    def group():
        pass

    @group.command()
    def run():
        launch_process(FailingWorkChain.get_builder(), False, 'failing', lambda node: click.echo('results: none'))

    result = CliRunner().invoke(group, ['run'])
    assert_one_error(result, 1, 'exit status 451: the test process fails on purpose')
    assert 'results: none' in result.output  # what the process made is printed before the exit


def test_launch_runs_here_without_a_broker_and_daemon_submission_names_the_fix(aiida_profile, tmp_path):
    """A profile whose ZeroMQ broker is down (it lives in the daemon, which is not running): ``launch`` runs the
    workchain in this process all the same; ``launch --daemon`` stores nothing and says how to start the daemon."""
    from aiida import orm

    from aiida_qdots.functions.ued import synthetic_ued

    with fresh_profile(tmp_path, 'core.zeromq') as name:
        data = synthetic_ued(orm.Dict({'slope_A2_per_K': 1e-4, 'slope_stderr_A2_per_K': 1e-5, 'source': 'test'}))
        args = ['-p', name, 'launch', 'ued', '--data', str(data.pk), '--slope', '1e-4', '--slope-err', '1e-5']
        before = node_count()
        assert_one_error(CliRunner().invoke(cli, [*args, '--daemon']), 1, f'`verdi -p {name} daemon start`')
        assert node_count() == before
        start = time.monotonic()
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0, result.output
        assert 'state: finished, exit status 0' in result.output
        assert time.monotonic() - start < 60


def test_launch_of_a_real_command_whose_code_fails_at_run_time_exits_non_zero(aiida_profile):
    """``aiida-qdots launch phonons`` on a LAMMPS code whose executable exits non-zero (``/bin/false``): every input
    is valid, so the workchain runs, and the command ends with exit status 1 and one line holding the workchain's
    exit status and message (what validation cannot see), no traceback."""
    from aiida_qdots.functions.nanocrystals import nanocrystal_structure
    from aiida_qdots.provisioning.codes import get_or_create_localhost
    from aiida_qdots.workchains.phonons import PhononsWorkChain

    code = orm.InstalledCode(
        label='lammps-exits-1',
        computer=get_or_create_localhost()[0],
        filepath_executable='/bin/false',
        default_calc_job_plugin='lammps.raw',
    ).store()
    structure = nanocrystal_structure(diameter=12.0)
    args = ['launch', 'phonons', '--structure', str(structure.pk), '--stages', 'modes', '--code', code.full_label]
    result = CliRunner().invoke(cli, args)
    status = PhononsWorkChain.exit_codes.ERROR_MINIMISATION_FAILED.status
    assert_one_error(result, 1, f'failed (exit status {status}: LAMMPS minimisation failed: ')
    assert 'see `verdi process report' in error_lines(result.output)[0]
    assert f'exit status {status}' in result.output.splitlines()[-2]  # the state line printed before the error


class _Excepts(WorkChain):
    """A workchain whose step raises: what no validation can foresee (a bug, a numerical overflow)."""

    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.outline(cls.step)

    def step(self):
        raise FloatingPointError('overflow in exp\nsecond line of the message')


def test_launch_of_a_process_that_excepts_ends_in_one_line(aiida_profile):
    """An excepted process (its traceback stays on its node) ends the command with one line naming the exception and
    the command that shows the traceback, not with the traceback."""
    import click

    from aiida_qdots.cli.launch import launch_process

    with pytest.raises(click.ClickException) as raised:
        launch_process(_Excepts.get_builder(), False, 'excepts')
    message = raised.value.message
    assert 'excepted (FloatingPointError: overflow in exp)' in message and 'verdi process report' in message
    assert '\n' not in message
