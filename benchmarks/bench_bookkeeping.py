"""Where the demo's wall time goes: inside CP2K / LAMMPS / Python jobs, or in AiiDA's bookkeeping around them.

    python benchmarks/bench_bookkeeping.py                          # runs `aiida-qdots demo` in a temporary profile
    python benchmarks/bench_bookkeeping.py --profile P --study LABEL  # reads a demo (or any study) already run

Per stage (the processes the study workchains call, configurations split into their stages) it prints the wall
time, the time inside the external codes (the union of the jobs' intervals: overlapping jobs count once) and the
rest, the bookkeeping: uploading, submitting, polling, retrieving, parsing, storing, the calcfunctions and the
workchain steps between jobs. A job's interval is read, in this order, from the ``qdots-job-start``/``-end`` lines
that ``aiida-qdots setup`` makes the local computer write into ``_scheduler-stdout.txt`` (with the job's CPU time
from ``times``), from CP2K's ``PROGRAM STARTED/ENDED AT`` lines, or from the files of the job's folder on a local
computer (LAMMPS' total wall time ending at its log's modification time). The ratio is the processes' wall time
against the time inside the external codes, the baseline of the same run (1 = no bookkeeping; the goal, bookkeeping
< 10 %, is a ratio < 1.11).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import pathlib
import re
import resource
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from _common import Result

GOAL_SHARE = 0.10
GOAL_DEMO_SECONDS = 360.0
QUICK = ()
"""No smaller demo exists: without --study the benchmark runs the whole demo (~5-9 min on 2 cores), so
``run_all.py --quick`` skips it (see ``SLOW`` there)."""

START_MARK, END_MARK = 'qdots-job-start', 'qdots-job-end'
CP2K_STAMP = re.compile(r'PROGRAM (STARTED|ENDED) AT\s+(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+)')
LAMMPS_WALL = re.compile(r'Total wall time:\s+(\d+):(\d\d):(\d\d)')
TIMES_LINE = re.compile(r'(\d+)m([\d.]+)s\s+(\d+)m([\d.]+)s')


def union_length(intervals: list[tuple[float, float]]) -> float:
    """Total length (s) covered by ``intervals`` (start, end), overlaps counted once."""
    total, reach = 0.0, float('-inf')
    for start, end in sorted(intervals):
        if end <= reach:
            continue
        total += end - max(start, reach)
        reach = end
    return total


def clip(intervals: list[tuple[float, float]], start: float, end: float) -> list[tuple[float, float]]:
    """The parts of ``intervals`` inside [start, end]."""
    return [(max(a, start), min(b, end)) for a, b in intervals if b > start and a < end]


def marker_interval(stdout: str) -> tuple[float, float, float | None] | None:
    """(start, end, CPU seconds of the job's commands or None) from the ``qdots-job-*`` lines of a scheduler
    stdout; None when they are missing (a computer set up before them, or a job killed before its end)."""
    lines = stdout.splitlines()
    start = end = cpu = None
    for index, line in enumerate(lines):
        if line.startswith(START_MARK):
            start = float(line.split()[1])
        elif line.startswith(END_MARK):
            end = float(line.split()[1])
            # `times`: the shell's user/sys, then its children's (the codes) user/sys
            children = TIMES_LINE.match(lines[index + 2]) if index + 2 < len(lines) else None
            if children:
                m1, s1, m2, s2 = children.groups()
                cpu = 60 * int(m1) + float(s1) + 60 * int(m2) + float(s2)
    if start is None or end is None:
        return None
    return start, end, cpu


def cp2k_interval(output: str, tz: datetime.tzinfo) -> tuple[float, float] | None:
    """(start, end) in epoch seconds from CP2K's ``PROGRAM STARTED/ENDED AT`` lines (local time of the machine)."""
    stamps = dict((kind, text) for kind, text in CP2K_STAMP.findall(output))
    if {'STARTED', 'ENDED'} - set(stamps):
        return None
    parse = lambda text: datetime.datetime.fromisoformat(text).replace(tzinfo=tz).timestamp()  # noqa: E731
    return parse(stamps['STARTED']), parse(stamps['ENDED'])


def lammps_interval(log: str, log_mtime: float) -> tuple[float, float] | None:
    """(start, end) from LAMMPS' ``Total wall time`` (1 s resolution) ending when its log was last written."""
    match = LAMMPS_WALL.search(log)
    if not match:
        return None
    hours, minutes, seconds = map(int, match.groups())
    return log_mtime - (3600 * hours + 60 * minutes + seconds), log_mtime


def job_interval(node) -> tuple[tuple[float, float] | None, float | None, str]:
    """(interval, CPU s, source) of one CalcJobNode's time inside its external code."""
    retrieved = node.outputs.retrieved if 'retrieved' in node.outputs else None
    names = retrieved.base.repository.list_object_names() if retrieved is not None else []
    stdout_name = node.get_option('scheduler_stdout')
    if stdout_name in names:
        found = marker_interval(retrieved.base.repository.get_object_content(stdout_name, mode='r'))
        if found:
            return found[:2], found[2], 'markers'
    tz = datetime.datetime.now().astimezone().tzinfo
    for name in names:
        if name.endswith('.out'):
            found = cp2k_interval(retrieved.base.repository.get_object_content(name, mode='r'), tz)
            if found:
                return found, None, 'cp2k stamps'
    folder = pathlib.Path(node.get_remote_workdir() or '/nonexistent')
    log = folder / 'log.lammps'
    if node.computer is not None and node.computer.hostname == 'localhost' and log.is_file():
        found = lammps_interval(log.read_text(errors='replace'), log.stat().st_mtime)
        if found:
            return found, None, 'lammps log'
    return None, None, 'unknown'


def study_roots(study: str) -> list:
    """The study workchains (``qdots.study``, ``qdots.lattice_study``) filed under ``study``."""
    from aiida import orm

    from aiida_qdots.query import _study_workchains

    query = orm.QueryBuilder().append(orm.WorkflowNode, filters=_study_workchains(study), project='*')
    return [row[0] for row in query.all()]


def stages(roots: list) -> list[tuple[str, object]]:
    """(name, process) per stage: the processes the roots call, a configuration split into the ones it calls."""
    found = []
    for root in roots:
        for child in sorted(root.called, key=lambda n: n.ctime):
            if child.process_label == 'ConfigurationWorkChain':
                name = f'configuration<{child.pk}>'
                found += [(f'{name} {c.process_label}', c) for c in sorted(child.called, key=lambda n: n.ctime)]
                found.append((f'{name} (all its stages)', child))
            else:
                found.append((f'{root.process_label} {child.process_label}', child))
    return found


def measure(study: str) -> dict:
    """Wall time, external-code time and bookkeeping per stage and in total for the loaded profile's ``study``."""
    from aiida.orm import CalcFunctionNode, CalcJobNode

    roots = study_roots(study)
    if not roots:
        raise SystemExit(f'bench_bookkeeping.py: no study {study!r} in this profile; pass --study LABEL of a demo')
    jobs, calcfunctions, unknown, cpu = [], [], [], 0.0
    for root in roots:
        for node in root.called_descendants:
            if isinstance(node, CalcJobNode):
                interval, job_cpu, source = job_interval(node)
                if interval is None:
                    unknown.append(node.pk)
                else:
                    jobs.append((interval, node, source))
                    cpu += job_cpu or 0.0
            elif isinstance(node, CalcFunctionNode):
                calcfunctions.append((node.ctime.timestamp(), node.mtime.timestamp()))
    intervals = [interval for interval, _, _ in jobs]
    rows = []
    for name, node in [*stages(roots), ('all', None)]:
        if node is None:
            start = min(r.ctime.timestamp() for r in roots)
            end = max(r.mtime.timestamp() for r in roots)
        else:
            start, end = node.ctime.timestamp(), node.mtime.timestamp()
        inside = union_length(clip(intervals, start, end))
        rows.append(
            {
                'stage': name,
                'wall_s': end - start,
                'external_s': inside,
                'calcfunctions_s': union_length(clip(calcfunctions, start, end)),
                'jobs': sum(1 for (a, b) in intervals if a >= start and b <= end),
            }
        )
    sources = sorted({s for _, _, s in jobs})
    return {
        'repository': repository_sizes(roots),
        'study': study,
        'rows': rows,
        'jobs': len(jobs),
        'calcfunctions': len(calcfunctions),
        'unknown_jobs': unknown,
        'job_cpu_s': cpu if 'markers' in sources else None,
        'sources': sources,
    }


def repository_sizes(roots: list, top: int = 8) -> dict:
    """Bytes in the file repository of the study's nodes (the processes and every node they created or used), per
    node type, and the ``top`` largest files: what an archive of the study carries."""
    from aiida.orm import ProcessNode

    nodes = {}
    for root in roots:
        for process in [root, *root.called_descendants]:
            for node in [process, *process.base.links.get_incoming().all_nodes()]:
                nodes[node.pk] = node
            for node in process.base.links.get_outgoing().all_nodes():
                if not isinstance(node, ProcessNode):
                    nodes[node.pk] = node
    per_type, files = {}, []
    for node in nodes.values():
        for name in node.base.repository.list_object_names():
            if node.base.repository.get_object(name).file_type.name != 'FILE':
                continue
            with node.base.repository.open(name, 'rb') as handle:
                size = handle.seek(0, 2)
            kind = node.node_type.rstrip('.').split('.')[-1]
            per_type[kind] = per_type.get(kind, 0) + size
            files.append((size, f'{kind}<{node.pk}>/{name}'))
    return {
        'per_type_mb': {k: v / 1e6 for k, v in sorted(per_type.items(), key=lambda kv: -kv[1])},
        'largest': [(size / 1e6, name) for size, name in sorted(files, reverse=True)[:top]],
        'total_mb': sum(per_type.values()) / 1e6,
    }


def print_report(report: dict) -> None:
    print(
        f'study {report["study"]!r}: {report["jobs"]} external jobs ({", ".join(report["sources"])}), '
        f'{report["calcfunctions"]} calcfunctions'
    )
    if report['unknown_jobs']:
        print(f'  jobs whose interval could not be read (counted as bookkeeping): {report["unknown_jobs"]}')
    print(f'{"stage":52s} {"wall s":>8s} {"in codes":>9s} {"calcfunc":>9s} {"bookkeeping":>12s}')
    for row in report['rows']:
        book = row['wall_s'] - row['external_s']
        share = book / row['wall_s'] if row['wall_s'] > 0 else 0.0
        print(
            f'{row["stage"][:52]:52s} {row["wall_s"]:8.1f} {row["external_s"]:9.1f} {row["calcfunctions_s"]:9.1f} '
            f'{book:7.1f} ({share:4.0%})'
        )
    repository = report['repository']
    print(f'file repository of the study: {repository["total_mb"]:.1f} MB; by node type (MB): ', end='')
    print(', '.join(f'{k} {v:.1f}' for k, v in repository['per_type_mb'].items() if v >= 0.05))
    print('largest files (MB): ' + ', '.join(f'{name} {size:.1f}' for size, name in repository['largest']))


def run_demo(workdir: pathlib.Path) -> tuple[str, dict]:
    """Set up a profile under ``workdir`` (its own AIIDA_PATH: nothing of the user's configuration is touched), run
    the demo in-process there, then measure it in a child process; returns the profile name and the report."""
    env = {**os.environ, 'AIIDA_PATH': str(workdir), 'OMP_NUM_THREADS': '1'}
    profile, label = 'bench-bookkeeping', 'demo'
    setup = ['aiida-qdots', '-p', profile, 'setup', '--profile-name', profile]
    done = subprocess.run(setup, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f'bench_bookkeeping.py: `aiida-qdots setup` failed: {done.stderr.strip() or done.stdout}')
    load = os.getloadavg()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    demo = ['aiida-qdots', '-p', profile, 'demo', '--label', label, '--folder', str(workdir / 'demo')]
    done = subprocess.run(demo, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    (workdir / 'demo.log').write_text(done.stdout + done.stderr)
    if done.returncode != 0:
        raise SystemExit(f'bench_bookkeeping.py: the demo failed (log: {workdir / "demo.log"})')
    measured = subprocess.run(
        [sys.executable, __file__, '--profile', profile, '--study', label, '--json'],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    report = json.loads(measured.stdout)
    archive = next((workdir / 'demo').glob('*.aiida'), None)
    report.update(
        {
            'demo_wall_s': wall,
            'demo_process_cpu_s': (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime),
            'load_before': load,
            'load_after': os.getloadavg(),
            'archive_mb': archive.stat().st_size / 1e6 if archive else None,
        }
    )
    return profile, report


def results(report: dict) -> list[Result]:
    total = report['rows'][-1]
    share = 1 - total['external_s'] / total['wall_s']
    rows = [
        Result(
            'demo bookkeeping share',
            f'{share:.1%} of {total["wall_s"]:.0f} s',
            total['wall_s'] / total['external_s'],
            'time inside the external codes (union of job intervals)',
            '< 10 % (ratio < 1.11)',
            share < GOAL_SHARE,
            f'{report["jobs"]} jobs, {report["calcfunctions"]} calcfunctions, study {report["study"]!r}',
        )
    ]
    if 'demo_wall_s' in report:
        rows.append(
            Result(
                'demo wall time',
                f'{report["demo_wall_s"]:.0f} s',
                None,
                '',
                '< 6 min on 2 cores',
                report['demo_wall_s'] < GOAL_DEMO_SECONDS,
                f'load {report["load_before"][0]:.1f} before, {report["load_after"][0]:.1f} after',
            )
        )
    if report.get('archive_mb') is not None:
        rows.append(
            Result('demo archive', f'{report["archive_mb"]:.1f} MB', None, '', '< 50 MB', report['archive_mb'] < 50, '')
        )
    return rows


def run(argv: list[str] | None = None) -> list[Result]:
    parser = argparse.ArgumentParser(prog='bench_bookkeeping.py', description=__doc__.splitlines()[0])
    parser.add_argument('--study', default=None, help='label of a study already run (with --profile)')
    parser.add_argument('--profile', default=None, help='AiiDA profile holding --study (default: the default)')
    parser.add_argument('--keep', action='store_true', help='keep the temporary profile folder of the demo run')
    parser.add_argument('--json', action='store_true', help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.study is None:
        workdir = pathlib.Path(tempfile.mkdtemp(prefix='qdots-bookkeeping-'))
        print(f'running `aiida-qdots demo` in a temporary profile under {workdir} (several minutes)', flush=True)
        _, report = run_demo(workdir)
        print_report(report)
        print(
            f'demo command {report["demo_wall_s"]:.0f} s wall; {report["demo_process_cpu_s"]:.0f} s CPU in the demo '
            f'process (AiiDA + calcfunctions); {report["job_cpu_s"] or 0:.0f} s CPU in the jobs; load average '
            f'{report["load_before"][0]:.1f} before, {report["load_after"][0]:.1f} after; archive '
            f'{report["archive_mb"]:.1f} MB'
        )
        if not args.keep:
            import shutil

            shutil.rmtree(workdir, ignore_errors=True)
        return results(report)
    from aiida import load_profile

    load_profile(args.profile, allow_switch=True)
    report = measure(args.study)
    if args.json:
        print(json.dumps(report))
        return []
    print_report(report)
    return results(report)


if __name__ == '__main__':
    for result in run():
        print(f'{result.name}: {result.measured} (ratio {result.ratio or float("nan"):.3g}; goal {result.goal})')
