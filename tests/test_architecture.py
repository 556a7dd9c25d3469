"""The layout rules of docs/architecture.md, checked on the source tree: no import cycle, no module over
600 lines, no AiiDA import in the pure layers (analysis/, readers/), layers import only downwards."""

import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / 'aiida_qdots'
MAX_LINES = 600
PURE_LAYERS = ('analysis', 'readers')


def _module_name(path: pathlib.Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix('').parts
    return '.'.join(parts[:-1] if parts[-1] == '__init__' else parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob('*.py'))}


def _import_statements(name: str) -> list[tuple[str, tuple[str, ...]]]:
    """(module, imported names) of every import in ``name``, at module level or inside functions; relative
    imports resolved; a plain ``import x`` gives ``('x', ())``."""
    path = MODULES[name]
    package = name if path.name == '__init__.py' else name.rpartition('.')[0]
    statements = []
    for node in ast.walk(ast.parse(path.read_text(encoding='utf-8'))):
        if isinstance(node, ast.Import):
            statements.extend((alias.name, ()) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ''
            if node.level:
                parts = package.split('.')[: len(package.split('.')) - node.level + 1]
                base = '.'.join(parts + ([base] if base else []))
            statements.append((base, tuple(alias.name for alias in node.names)))
    return statements


def _imports(name: str) -> set[str]:
    """Every aiida_qdots module that ``name`` imports (a ``from`` import of a submodule counts as that module)."""
    found = set()
    for base, names in _import_statements(name):
        found.update({f'{base}.{n}' if f'{base}.{n}' in MODULES else base for n in names} if names else {base})
    return {m for m in found if m in MODULES and m != name}


def _external_imports(name: str) -> set[str]:
    return {base for base, _ in _import_statements(name)}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, components = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return components


def test_no_import_cycle():
    graph = {name: _imports(name) for name in MODULES}
    assert _cycles(graph) == []


@pytest.mark.parametrize('name', sorted(MODULES))
def test_module_size(name):
    lines = len(MODULES[name].read_text(encoding='utf-8').splitlines())
    assert lines <= MAX_LINES, f'{MODULES[name].relative_to(PACKAGE.parent)} has {lines} lines (> {MAX_LINES})'


@pytest.mark.parametrize('name', sorted(n for n in MODULES if n.split('.')[1:2] and n.split('.')[1] in PURE_LAYERS))
def test_pure_layers_do_not_import_aiida(name):
    """analysis/ and readers/ are plain Python on arrays and files: importable and testable without a profile."""
    layer = name.split('.')[1]
    for imported in _external_imports(name):
        root = imported.split('.')[0]
        assert root != 'aiida' and not (root.startswith('aiida_') and root != 'aiida_qdots'), (name, imported)
        if root == 'aiida_qdots':
            assert imported.split('.')[1] in {layer, 'common'}, f'{name} imports {imported}'


LAYERS = {
    'common': 0,
    'readers': 1,
    'analysis': 1,
    'structures': 2,
    'data': 2,
    'functions': 3,
    'calculations': 3,
    'parsers': 3,
    'protocols': 3,
    'provisioning': 3,
    'workchains': 4,
    'query': 5,
    'plots': 5,
    'sharing': 5,
    'scripting': 5,
    'reports': 5,
    'cli': 6,
}
"""The rooms of docs/architecture.md by layer: a module imports only from its own layer or the ones below."""


@pytest.mark.parametrize('name', sorted(n for n in MODULES if n.count('.')))
def test_imports_point_downwards(name):
    layer = LAYERS[name.split('.')[1]]
    upwards = sorted(m for m in _imports(name) if m.count('.') and LAYERS[m.split('.')[1]] > layer)
    assert not upwards, f'{name} (layer {layer}) imports from a higher layer: {upwards}'
