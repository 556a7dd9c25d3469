"""MkDocs hook: expand ``<!-- spec: ENTRY_POINT -->`` lines into tables generated from a process spec.

``ENTRY_POINT`` is an ``aiida.workflows`` or ``aiida.calculations`` entry point (``qdots.aimd``). The
inputs (``metadata`` namespaces skipped), outputs and exit codes come from ``cls.spec()``, which needs
no AiiDA profile. An unknown entry point or a malformed marker raises :class:`SpecTableError`, so that
``mkdocs build --strict`` fails.
"""

from __future__ import annotations

import html
import re
from typing import TYPE_CHECKING, Any

from mkdocs.exceptions import PluginError

if TYPE_CHECKING:
    from mkdocs.config.defaults import MkDocsConfig
    from mkdocs.structure.files import Files
    from mkdocs.structure.pages import Page

MARKER = re.compile(r'^<!--\s*spec:\s*(?P<name>[\w.-]+)\s*-->[ \t]*$', re.MULTILINE)
ANY_MARKER = re.compile(r'^[ \t]*<!--\s*spec\b.*$', re.IGNORECASE | re.MULTILINE)
CODE_SPAN = re.compile(r'(`+)(.+?)\1')
SIMPLE = (bool, int, float, str)


class SpecTableError(PluginError):
    """A spec marker that cannot be expanded."""


def load_process(name: str) -> Any:
    """The process class of the workflow or calculation entry point ``name``."""
    from aiida.common.exceptions import MissingEntryPointError
    from aiida.engine import Process
    from aiida.plugins import CalculationFactory, WorkflowFactory

    for factory in (WorkflowFactory, CalculationFactory):
        try:
            loaded = factory(name)
        except MissingEntryPointError:
            continue
        except Exception as error:
            raise SpecTableError(f'entry point {name!r} cannot be loaded: {error}') from error
        process = getattr(loaded, 'process_class', loaded)  # calcfunctions and workfunctions
        if not (isinstance(process, type) and issubclass(process, Process)):
            raise SpecTableError(f'entry point {name!r} is not a process: {loaded!r}')
        return process
    raise SpecTableError(f'unknown process entry point {name!r}: not in aiida.workflows or aiida.calculations')


def cell(text: Any) -> str:
    """``text`` as one Markdown table cell: code spans kept as they are, HTML and Markdown specials escaped."""
    text, out, start = ' '.join(str(text).split()), [], 0
    for span in [*CODE_SPAN.finditer(text), None]:
        plain = text[start : span.start() if span else len(text)]
        out.append(re.sub(r'([\\*_\[\]])', r'\\\1', html.escape(plain, quote=False)).replace('|', '&#124;'))
        if span:
            out.append(span[0])
            start = span.end()
    return ''.join(out)


def type_names(valid_type: Any) -> str:
    """``Int`` or ``Int, Float`` (``NoneType`` of optional ports left out); ``any`` for no restriction."""
    types = valid_type if isinstance(valid_type, tuple) else (valid_type,)
    return ', '.join(t.__name__ for t in types if t not in (None, type(None))) or 'any'


def default_text(port: Any) -> str:
    """A plain default, or ``Type(value)`` for ``lambda: orm.Type(value)``; empty when there is none."""
    if not port.has_default():
        return ''
    default = port.default
    if isinstance(default, SIMPLE):
        return f'`{default!r}`'
    code = getattr(default, '__code__', None)
    if code is not None and code.co_names and code.co_names[-1] in ('Bool', 'Int', 'Float', 'Str'):
        constants = [c for c in code.co_consts if c is not None]
        if len(constants) == 1 and isinstance(constants[0], SIMPLE):
            return f'`{code.co_names[-1]}({constants[0]!r})`'
    return 'computed'


def port_rows(namespace: Any, prefix: str = '', inputs: bool = True) -> list[str]:
    """Table rows of every port of ``namespace`` and its sub-namespaces, depth first."""
    from plumpy.ports import PortNamespace

    rows = []
    for name, port in namespace.items():
        if inputs and name == 'metadata':
            continue
        full = f'{prefix}{name}'
        required = 'required' if port.required else 'optional'
        if isinstance(port, PortNamespace):
            kind = f'namespace of {type_names(port.valid_type)}' if port.dynamic else 'namespace'
            columns = [f'`{full}`', kind, required] + ([''] if inputs else []) + [cell(port.help or '')]
            rows.append('| ' + ' | '.join(columns) + ' |')
            rows.extend(port_rows(port, f'{full}.', inputs))
        else:
            columns = [f'`{full}`', type_names(port.valid_type), required]
            columns += [default_text(port)] if inputs else []
            rows.append('| ' + ' | '.join([*columns, cell(port.help or '')]) + ' |')
    return rows


def spec_tables(name: str) -> str:
    """Markdown tables of the inputs, outputs and exit codes of the process at entry point ``name``."""
    process = load_process(name)
    try:
        spec = process.spec()
    except Exception as error:
        raise SpecTableError(f'the spec of {name!r} cannot be built: {error}') from error
    codes = sorted(spec.exit_codes.items(), key=lambda item: item[1].status)
    lines = [
        f'Generated from the spec of `{name}` (`{process.__module__}.{process.__name__}`).',
        '',
        '**Inputs**',
        '',
        '| input | type | required | default | help |',
        '|---|---|---|---|---|',
        *port_rows(spec.inputs),
        '',
        '**Outputs**',
        '',
        '| output | type | required | help |',
        '|---|---|---|---|',
        *port_rows(spec.outputs, inputs=False),
        '',
        '**Exit codes**',
        '',
        '| status | label | message |',
        '|---|---|---|',
        *(f'| {code.status} | `{label}` | {cell(code.message)} |' for label, code in codes),
    ]
    return '\n'.join(lines)


def expand(markdown: str, source: str = '<string>') -> str:
    """``markdown`` with every marker line replaced by its tables; raises on a marker it cannot expand."""
    try:
        expanded = MARKER.sub(lambda match: spec_tables(match['name']), markdown)
    except SpecTableError as error:
        raise SpecTableError(f'{source}: {error}') from error
    leftover = ANY_MARKER.search(expanded)
    if leftover:
        raise SpecTableError(
            f'{source}: malformed spec marker {leftover[0]!r}; write <!-- spec: ENTRY_POINT --> alone on its line'
        )
    return expanded


def on_page_markdown(markdown: str, /, *, page: Page, config: MkDocsConfig, files: Files) -> str:
    """MkDocs event: expand the spec markers of ``page``."""
    return expand(markdown, page.file.src_uri)
