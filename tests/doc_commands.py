"""The shell commands that README.md and docs/*.md tell a user to type, read from their ```bash blocks.

Each command line (continuation lines joined, comments dropped) is expanded into the commands it stands for
(``3a|4|5`` gives three; ``[--output x.png]`` is typed, ``[PK ...]`` and ``[--daemon]`` are not) and given a tier
by :data:`TIERS`: ``run`` (typed by ``test_docs.py`` in the default suite), ``slow`` (typed under
``pytest -m slow``) or ``checked`` (not typed by a test, for the reason given; its options are still parsed
against the real command tree).
"""

from __future__ import annotations

import dataclasses
import pathlib
import re
import shlex

import click

ROOT = pathlib.Path(__file__).resolve().parents[1]
FENCE = re.compile(r'^```(\w*)\n(.*?)^```', re.S | re.M)
SHELL = {'bash', 'sh', 'shell', 'console'}

TIERS = [
    (
        'docs/ued.md',
        r'--frames TRAJ|--md-diffraction|plot ued-dg',
        'checked',
        "MD frames and the diffraction output of a qdots.phonons run, and a pattern set's dG fit (LAMMPS minutes): "
        'tests/test_ued_patterns.py runs both routes and the figure on them',
    ),
    (None, r'^git clone ', 'checked', 'clones this repository'),
    (None, r'^\./run\.sh$', 'checked', 'apt installs and the 10-minute demo: its steps are typed one by one below'),
    (None, r'^python -m pytest', 'checked', 'the test suite itself'),
    (None, r'^pip install ', 'checked', 'the installation the tests run in'),
    (None, r'^mkdocs build --strict$', 'checked', 'built by test_site_builds_strict_with_generated_tables'),
    (None, r'^sudo bash scripts/services\.sh', 'checked', 'root services; tests/test_services.py runs them'),
    (None, r'--backend psql|--computer slurm|--computer-config|@slurm|@daint|computer test', 'checked', 'a cluster'),
    (None, r'daemon start|--daemon', 'checked', 'a running daemon (tests/test_services.py)'),
    (None, r'--protocol (moderate|precise)', 'checked', 'cluster-size CP2K runs'),
    (
        None,
        r'^aiida-qdots reproduce ',
        'checked',
        'an hour-long study, typed by test_reproduce.py and test_study_b.py (slow); the docs test would run it again',
    ),
    (None, r'--phonons (PK|<PHONONS PK>)', 'slow', ''),
    (None, r'^python benchmarks/\S+ --help$', 'run', ''),
    (None, r'^python benchmarks/', 'slow', ''),
    ('docs/ued.md', r'^aiida-qdots launch ued --data PK --slope ', 'run', ''),
    ('docs/ued.md', r'^aiida-qdots plot ued ', 'run', ''),
    (None, r'^aiida-qdots (launch|plot (phonons|ued)|plot figure (phonons|ued))|qdots/sizes', 'slow', ''),
    (None, r'^(aiida-qdots|verdi) ', 'run', ''),
]
"""(file or None, pattern, tier, reason) in order; the first rule matching a command gives its tier."""
PLACEHOLDERS = ('PK',)
"""Words of a documented command that stand for a node the user fills in (every ``<...>`` becomes ``PK``); other
upper-case words (``N``, ``FILE``) stand for values."""


@dataclasses.dataclass(frozen=True)
class DocCommand:
    path: str
    line: int
    text: str

    @property
    def tier(self) -> tuple[str, str]:
        for rule in TIERS:
            if matches(rule, self):
                return rule[2], rule[3]
        raise AssertionError(f'{self}: no tier in tests/doc_commands.py TIERS matches; give it one')

    def __str__(self) -> str:
        return f'{self.path}:{self.line}: {self.text}'


def matches(rule: tuple, command: DocCommand) -> bool:
    path, pattern, *_ = rule
    return (path is None or path == command.path) and re.search(pattern, command.text) is not None


def _expanded(text: str) -> list[str]:
    """The commands one documented line stands for."""
    text = re.sub(
        r'(?<!\S)\[([^\]]*)\]', lambda m: '' if '...' in m.group(1) or m.group(1) == '--daemon' else m.group(1), text
    )
    text = ' '.join(text.split())
    choice = re.search(r'\S+\|\S+', text)
    if choice is None:
        return [text]
    return [
        alternative
        for option in choice.group(0).split('|')
        for alternative in _expanded(text.replace(choice.group(0), option, 1))
    ]


def doc_commands() -> list[DocCommand]:
    """Every command of the shell blocks of README.md and docs/*.md, in document order."""
    found = []
    for path in [ROOT / 'README.md', *sorted((ROOT / 'docs').glob('*.md'))]:
        text = path.read_text(encoding='utf-8')
        for block in FENCE.finditer(text):
            if block.group(1) not in SHELL:
                continue
            first = text[: block.start()].count('\n') + 2
            pending, start = '', first
            for number, raw in enumerate(block.group(2).splitlines(), first):
                line = re.sub(r'(^|\s+)#.*$', '', raw).rstrip()
                if not pending:
                    start = number
                if line.endswith('\\'):
                    pending += line[:-1] + ' '
                    continue
                command, pending = (pending + line).strip(), ''
                for expanded in _expanded(command) if command else []:
                    found.append(DocCommand(str(path.relative_to(ROOT)), start, expanded))
    return found


INLINE = re.compile(r'(?<!`)`((?:aiida-qdots|verdi) [^`]+)`(?!`)')


def doc_inline_commands() -> list[DocCommand]:
    """The ``aiida-qdots ...`` and ``verdi ...`` commands quoted in the prose (``code`` spans) of README.md and
    docs/*.md, expanded like the block commands; spans that elide (``...``) or list alternatives (``\\|``) are left
    out."""
    found = []
    for path in [ROOT / 'README.md', *sorted((ROOT / 'docs').glob('*.md'))]:
        text = FENCE.sub(lambda block: '\n' * block.group(0).count('\n'), path.read_text(encoding='utf-8'))
        for span in INLINE.finditer(text):
            if '...' in span.group(1) or '\\|' in span.group(1):
                continue
            line = text[: span.start()].count('\n') + 1
            found += [DocCommand(str(path.relative_to(ROOT)), line, command) for command in _expanded(span.group(1))]
    return found


def words(command: DocCommand, study: str) -> list[str]:
    """The command's words with ``<label>``/``<study>`` as ``study`` and every other ``<...>`` placeholder as ``PK``."""
    text = command.text.replace('<label>', study).replace('<study>', study)
    return shlex.split(re.sub(r'<[^<>]*>', 'PK', text))


def check_syntax(group: click.Group, args: list[str]) -> None:
    """Parse ``args`` against the command tree of ``group`` as click would: every subcommand exists, every option
    is known, no argument is left over, and choices and numbers are valid (nodes and paths are not looked up)."""
    ctx, command = click.Context(group, info_name=group.name), group
    while isinstance(command, click.Group):
        _, rest, _ = command.make_parser(ctx).parse_args(list(args))
        assert rest, f'{shlex.join(args)}: a subcommand of {ctx.command_path} is missing'
        name, *args = rest
        found = command.get_command(ctx, name)
        assert found is not None, f'{ctx.command_path} has no command {name!r}'
        ctx, command = click.Context(found, parent=ctx, info_name=name, **found.context_settings), found
    options, rest, _ = command.make_parser(ctx).parse_args(list(args))
    assert not rest, f'{ctx.command_path}: unexpected arguments {rest}'
    for param in command.params:
        value = options.get(param.name)
        if isinstance(param.type, (click.Choice, click.types._NumberParamTypeBase)) and value is not None:
            for item in value if isinstance(value, (list, tuple)) else [value]:
                if not item.isupper():  # PK, N, FILE: placeholders
                    param.type.convert(item, param, ctx)


OPTION_KINDS = {
    '--trajectory': 'trajectory',
    '--structure': 'structure',
    '--data': 'ued_data',
    '--ued-data': 'ued_data',
    '--phonons': 'phonons',
}
COMMAND_KINDS = {
    ('analyze', 'trajectory'): 'trajectory',
    ('analyze', 'levels'): 'levels',
    ('plot', 'rmsf'): 'aimd_analysis',
    ('plot', 'spectra'): 'aimd_analysis',
    ('plot', 'phonons'): 'phonons',
    ('plot', 'ued'): 'ued',
    ('plot', 'levels'): 'electronic',
    ('plot', 'gap'): 'electronic',
    ('plot', 'namd'): 'namd',
    ('process', 'report'): 'process',
    ('node', 'graph'): 'configuration',
}
COMMAND_OPTION_KINDS = {
    (('launch', 'aimd'), '--structure'): 'cluster',
    (('launch', 'phonons'), '--structure'): 'nanocrystal',
}
"""What a ``PK`` stands for: after an option of a command, after an option, or as the argument of a command."""


def latest(kind: str):
    """The node a user would paste for ``kind``: the newest of its kind in the profile (a configuration that
    finished ok, as the docs' example of ``status`` shows)."""
    from aiida import orm

    queries = {
        'trajectory': (orm.TrajectoryData, {}),
        'structure': (orm.StructureData, {}),
        'cluster': (orm.StructureData, {'extras.qdots.kind': 'magic_cluster'}),
        'nanocrystal': (orm.StructureData, {'extras.qdots.kind': 'nanocrystal'}),
        'levels': (orm.ArrayData, {'attributes': {'has_key': 'array|homo'}}),
        'ued_data': (orm.ArrayData, {'attributes': {'has_key': 'array|intensity_ratio'}}),
        'process': (orm.ProcessNode, {}),
        'configuration': (
            orm.WorkflowNode,
            {'attributes.process_label': 'ConfigurationWorkChain', 'attributes.exit_status': 0},
        ),
        'aimd_analysis': (orm.WorkflowNode, {'attributes.process_label': 'AimdAnalysisWorkChain'}),
        'phonons': (orm.WorkflowNode, {'attributes.process_label': 'PhononsWorkChain'}),
        'ued': (orm.WorkflowNode, {'attributes.process_label': 'UedWorkChain'}),
        'electronic': (orm.WorkflowNode, {'extras.qdots.stage': 'electronic'}),
        'namd': (orm.WorkflowNode, {'extras.qdots.stage': 'namd'}),
    }
    node_class, filters = queries[kind]
    query = orm.QueryBuilder().append(node_class, filters=filters).order_by({node_class: {'ctime': 'desc'}})
    found = query.first(flat=True)
    assert found is not None, f'no {kind} node in the profile for a documented PK'
    return found


def type_command(command: DocCommand, study: str, profile: str) -> str:
    """Type ``command`` as its documentation says, in the working directory, on ``profile``; return its output.

    ``PK`` becomes the newest node of the kind the command expects, ``-p NAME`` the test profile, and paths
    relative to the repository (``../shared/data/...``, ``benchmarks/...``) absolute ones."""
    import subprocess
    import sys

    from aiida.cmdline.commands.cmd_verdi import verdi
    from click.testing import CliRunner

    from aiida_qdots.cli import cli

    program, *args = words(command, study)
    if args[:1] == ['-p']:
        args[1] = profile
    path = tuple(word for word in args[2 if args[:1] == ['-p'] else 0 :] if not word.startswith('-'))[:2]
    for index, word in enumerate(args):
        if word in PLACEHOLDERS:
            option = args[index - 1]
            kind = COMMAND_OPTION_KINDS.get((path, option)) or OPTION_KINDS.get(option) or COMMAND_KINDS[path]
            args[index] = str(latest(kind).pk)
        elif word.startswith('../') or (ROOT / word).is_file():
            args[index] = str((ROOT / word).resolve())
    if program == 'python':
        result = subprocess.run([sys.executable, *args], capture_output=True, text=True, check=False, timeout=3600)
        assert result.returncode == 0, f'{command}: exit status {result.returncode}\n{result.stdout}{result.stderr}'
        return result.stdout
    result = CliRunner().invoke({'aiida-qdots': cli, 'verdi': verdi}[program], args)
    assert result.exit_code == 0 and result.exception is None, f'{command}: {result.output}{result.exception!r}'
    assert 'Traceback' not in result.output and 'Error:' not in result.output, f'{command}: {result.output}'
    return result.output
