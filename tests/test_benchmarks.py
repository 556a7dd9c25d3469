"""The benchmarks run from a fresh clone: missing shared data give one line and exit code 2, or generated data.

``run_all.py --quick`` takes minutes on a shared machine, so it is not run here; these tests check data discovery,
argument errors and the table, and one benchmark end to end on generated data. No timing thresholds.
"""

import ast
import os
import pathlib
import shutil
import subprocess
import sys

import pytest

BENCHMARKS = pathlib.Path(__file__).resolve().parents[1] / 'benchmarks'
DATA_BENCHMARKS = ('bench_analysis.py', 'bench_dish.py', 'bench_import.py')


def run_script(script: str, *args: str, env: dict | None = None, folder=BENCHMARKS) -> subprocess.CompletedProcess:
    environment = {key: value for key, value in os.environ.items() if key != 'QDOTS_AIMD_DATA'}
    return subprocess.run(
        [sys.executable, str(folder / script), *args],
        capture_output=True,
        text=True,
        env={**environment, **(env or {})},
        timeout=300,
    )


@pytest.fixture
def clone(tmp_path):
    """The benchmarks folder in a temporary clone with no ``shared`` folder beside it."""
    folder = tmp_path / 'clone' / 'benchmarks'
    shutil.copytree(BENCHMARKS, folder, ignore=shutil.ignore_patterns('__pycache__'))
    return folder


@pytest.mark.parametrize('script', DATA_BENCHMARKS)
def test_missing_data_says_what_to_pass(script, clone, tmp_path):
    """--data-dir without the files, or --require-data with nothing found: one line naming the option, exit 2."""
    for args, env in (
        (('--data-dir', str(tmp_path)), None),
        (('--require-data',), None),
        (('--require-data',), {'QDOTS_AIMD_DATA': str(tmp_path)}),
    ):
        done = run_script(script, *args, env=env, folder=clone)
        assert done.returncode == 2, done.stderr
        assert done.stdout == ''
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1, done.stderr
        assert lines[0].startswith(f'{script}: ') and '--data-dir' in lines[0] and 'QDOTS_AIMD_DATA' in lines[0]


@pytest.mark.parametrize('script', DATA_BENCHMARKS)
def test_missing_explicit_file(script, tmp_path):
    option = '--levels' if script == 'bench_dish.py' else '--path'
    done = run_script(script, option, str(tmp_path / 'nothing.gz'))
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1 and 'nothing.gz' in done.stderr


def test_every_benchmark_exposes_run_and_quick():
    """run_all imports ``run`` and ``QUICK`` from every bench_*.py it lists."""
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import run_all
    finally:
        sys.path.remove(str(BENCHMARKS))
    scripts = sorted(p.name for p in BENCHMARKS.glob('bench_*.py'))
    assert scripts == sorted(f'bench_{name}.py' for name in run_all.BENCHMARKS)
    for script in scripts:
        tree = ast.parse((BENCHMARKS / script).read_text())
        names = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
        names |= {t.id for n in tree.body if isinstance(n, ast.Assign) for t in n.targets if isinstance(t, ast.Name)}
        assert {'run', 'QUICK'} <= names, script


def test_markdown_table():
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import run_all
        from _common import Result
    finally:
        sys.path.remove(str(BENCHMARKS))
    rows = [
        ('bench_x.py', Result('kernel', '0.1 s', 12.0, 'loop', '0.5 s', True, '10 frames, generated')),
        ('bench_y.py', Result('fit', '2 s', None, '', '< 1 s', False, 'one pump')),
    ]
    lines = run_all.markdown_table(rows).splitlines()
    assert len(lines) == 4 and all(line.count('|') == 8 for line in lines)
    assert '| kernel (`bench_x.py`) | 0.1 s | 12 | loop | 0.5 s | yes |' in lines[2]
    assert '**no**' in lines[3]


def test_run_all_rejects_unknown_benchmark():
    done = run_script('run_all.py', '--only', 'nonsense')
    assert done.returncode == 2 and 'nonsense' in done.stderr


def test_analysis_on_generated_data():
    """End to end on generated data of the shared trajectory's shape (a few hundred frames)."""
    done = run_script('bench_analysis.py', '--generated', '--frames', '300', '--repeat', '1')
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith('generated trajectory of the same shape') and 'Traceback' not in done.stderr
    assert '300 frames x 67 atoms' in done.stdout


def bookkeeping():
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import bench_bookkeeping
    finally:
        sys.path.remove(str(BENCHMARKS))
    return bench_bookkeeping


def test_bookkeeping_interval_union():
    """Overlapping jobs count once; clipping keeps the part inside a stage."""
    module = bookkeeping()
    assert module.union_length([]) == 0.0
    assert module.union_length([(0, 2), (1, 3), (5, 6), (5.5, 5.7)]) == 4.0
    assert module.union_length(module.clip([(0, 2), (1, 3), (5, 6)], 1.5, 5.5)) == 2.0


def test_bookkeeping_reads_the_job_markers_and_cp2k_stamps():
    """The lines the setup's prepend/append text writes (bash ``times``: shell, then children), and CP2K's own."""
    import datetime

    module = bookkeeping()
    stdout = 'qdots-job-start 100.25\nsome output\nqdots-job-end 130.75\n0m0.010s 0m0.005s\n1m2.500s 0m1.500s\n'
    assert module.marker_interval(stdout) == (100.25, 130.75, 64.0)
    assert module.marker_interval('qdots-job-start 1.0\n') is None
    utc = datetime.timezone.utc
    cp2k = (
        ' **** PROGRAM STARTED AT               2026-12-03 05:50:12.250\n PROGRAM ENDED AT    2026-12-03 05:50:42.750\n'
    )
    start, end = module.cp2k_interval(cp2k, utc)
    assert end - start == 30.5 and start == datetime.datetime(2026, 12, 3, 5, 50, 12, 250000, utc).timestamp()
    assert module.lammps_interval('Total wall time: 0:01:05\n', 1000.0) == (935.0, 1000.0)


def test_run_all_quick_skips_the_demo_benchmark():
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import run_all
    finally:
        sys.path.remove(str(BENCHMARKS))
    assert 'bookkeeping' in run_all.BENCHMARKS and run_all.SLOW <= set(run_all.BENCHMARKS)


def test_setup_timing_text_gives_markers_the_benchmark_reads():
    """The computer's prepend/append text of ``aiida-qdots setup``, run by bash around a command that burns CPU."""
    from aiida_qdots.provisioning.codes import JOB_TIMING_END, JOB_TIMING_START

    script = f'{JOB_TIMING_START}\n{sys.executable} -c "sum(range(3 * 10**6))"\n{JOB_TIMING_END}\n'
    done = subprocess.run(['bash', '-c', script], capture_output=True, text=True, check=True)
    start, end, cpu = bookkeeping().marker_interval(done.stdout)
    assert 0 < end - start < 60 and 0 < cpu < 60


def test_add_job_timing_keeps_existing_text_and_is_idempotent(aiida_profile):
    from aiida import orm

    from aiida_qdots.provisioning.codes import JOB_TIMING_END, JOB_TIMING_START, add_job_timing

    computer = orm.Computer(
        label='timing-test', hostname='localhost', transport_type='core.local', scheduler_type='core.direct'
    )
    computer.set_workdir('/tmp/timing-test')
    computer.store()
    computer.set_prepend_text('module load cp2k')
    assert add_job_timing(computer) and not add_job_timing(computer)
    assert computer.get_prepend_text() == f'{JOB_TIMING_START}\nmodule load cp2k'
    assert computer.get_append_text() == JOB_TIMING_END


def test_use_plain_shell_switches_a_login_shell_computer_once(aiida_profile):
    from aiida import orm

    from aiida_qdots.provisioning.codes import use_plain_shell

    computer = orm.Computer(
        label='shell-test', hostname='localhost', transport_type='core.local', scheduler_type='core.direct'
    )
    computer.set_workdir('/tmp/shell-test')
    computer.store()
    computer.configure(safe_interval=0.0)  # as `verdi presto`: AiiDA's default, a login shell
    shell = 'shopt -q login_shell && echo login || echo plain'
    with computer.get_transport() as transport:
        assert transport.exec_command_wait(shell)[1].split()[-1] == 'login'
    assert use_plain_shell(computer) and not use_plain_shell(computer)
    with computer.get_transport() as transport:
        assert transport.exec_command_wait(shell)[1].split() == ['plain']
    assert computer.get_authinfo(orm.User.collection.get_default()).get_auth_params()['safe_interval'] == 0.0
