"""What every command shares: the command group with the one error handler, the profile, node parameters."""

from __future__ import annotations

import functools
import pathlib
import tempfile

import click
from aiida.cmdline.params.types import NodeParamType


def _expected_failures() -> tuple[type[BaseException], ...]:
    """Failures a user can cause and fix; anything else is a bug and keeps its traceback.

    ValueError covers QdotsInputError and aiida's validation of process inputs and builder ports; OSError covers
    unreadable or unwritable paths and, as ConnectionError, an unreachable broker; DaemonException a daemon that
    will not start or answer.
    """
    from aiida.common.exceptions import MultipleObjectsError, NotExistent
    from aiida.engine.daemon.client import DaemonException

    return (ValueError, NotExistent, MultipleObjectsError, OSError, DaemonException)


def failure_message(exc: BaseException) -> str:
    """One line saying what went wrong."""
    text = ' '.join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, ConnectionError):
        return (
            f'{text}: is the broker running? `verdi status` tells; start it with `bash scripts/services.sh start` '
            '(as root), or run without --daemon'
        )
    if isinstance(exc, OSError) and exc.strerror and exc.filename:
        return f'{exc.strerror}: {exc.filename}'
    return text


class QdotsGroup(click.Group):
    """A click group whose commands end expected failures with one ``Error: ...`` line and exit status 1."""

    group_class = type  # subgroups are QdotsGroups too

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except _expected_failures() as exc:
            raise click.ClickException(failure_message(exc)) from exc


PROFILE_OPTION = click.option(
    '-p',
    '--profile',
    'profile',
    default=None,
    expose_value=True,
    is_eager=True,
    help='AiiDA profile to use (default: the default profile).',
    callback=lambda ctx, param, value: ctx.ensure_object(dict).update(profile=value) or value,
)


def load_profile_from_context() -> None:
    """Load the profile chosen with ``--profile`` (or the default), unless one is loaded already.

    Not aiida's ``-p`` option: ``aiida-qdots -p NEW setup`` names a profile that does not exist yet.
    """
    from aiida import get_profile, load_profile
    from aiida.common.exceptions import ConfigurationError

    ctx = click.get_current_context()
    name = ctx.find_root().obj.get('profile') if ctx.find_root().obj else None
    loaded = get_profile()
    if loaded is not None and (name is None or loaded.name == name):
        return
    try:
        load_profile(name, allow_switch=True)
    except Exception as exc:  # aiida raises several types for a missing/unconfigured profile
        if isinstance(exc, ConfigurationError) or 'profile' in str(exc).lower():
            raise click.ClickException(
                f'cannot load AiiDA profile {name or "(default)"}: {exc}. Run `aiida-qdots setup` first.'
            ) from exc
        raise


def with_profile(func):
    """Decorator: load the AiiDA profile before the command body runs."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        load_profile_from_context()
        return func(*args, **kwargs)

    return wrapper


class QdotsNodeType(NodeParamType):
    """A stored node given as PK, UUID or label (aiida's NodeParamType), optionally of given ORM classes.

    A node that does not exist (or a label several nodes share) ends the command like any expected failure; a node
    of the wrong type is a bad parameter.
    """

    def __init__(self, what: str, node_types: tuple[str, ...] = (), description: str | None = None):
        """``what`` names the node in messages (``no trajectory node 12``); ``node_types`` are ``aiida.orm``
        class names (loaded on conversion, to keep ``--help`` light); ``description`` replaces their names."""
        super().__init__()
        self.what, self.node_types, self.description = what, node_types, description

    def convert(self, value, param, ctx):
        from aiida import orm
        from aiida.common.exceptions import NotExistent

        from aiida_qdots.common.nodes import load_identified_node, type_mismatch

        if not isinstance(value, orm.Node):
            load_profile_from_context()
            try:
                value = load_identified_node(str(value).strip())
            except NotExistent:
                raise NotExistent(f'no {self.what} node {value} (PK, UUID or label)') from None
        classes = tuple(getattr(orm, name) for name in self.node_types)
        mismatch = classes and type_mismatch(value, classes, self.description)
        if mismatch:
            self.fail(mismatch, param, ctx)
        return value


def node_argument(name: str, what: str, *node_types: str, description: str | None = None, **kwargs):
    """A positional node argument (PK, UUID or label)."""
    kwargs.setdefault('metavar', 'NODE')
    return click.argument(name, type=QdotsNodeType(what, node_types, description), **kwargs)


def node_option(*decls: str, what: str, node_types: tuple[str, ...] = (), description=None, **kwargs):
    """A node option (PK, UUID or label)."""
    kwargs.setdefault('metavar', 'NODE')
    return click.option(*decls, type=QdotsNodeType(what, node_types, description), **kwargs)


def writable_path(ctx, param, value: pathlib.Path | None) -> pathlib.Path | None:
    """Click callback: refuse an output file whose folder is not writable, or an output folder whose first existing
    ancestor (it is created with its parents) is not, before any work is done.

    Writability is probed by creating (and removing) a temporary file there: ``os.access`` says yes to root even on
    a read-only or virtual file system.
    """
    if value is None:
        return value
    folder = value.absolute() if param.type.file_okay is False else value.absolute().parent
    if param.type.file_okay is False:
        while not folder.exists() and folder != folder.parent:
            folder = folder.parent
    if not folder.exists():
        raise click.BadParameter(f'folder {folder} does not exist', ctx, param)
    if not folder.is_dir():
        raise click.BadParameter(f'{folder} is not a folder', ctx, param)
    try:
        tempfile.TemporaryFile(dir=folder).close()
    except OSError as exc:
        raise click.BadParameter(f'folder {folder} is not writable ({exc.strerror or exc})', ctx, param) from None
    return value


def exit_if_failed(node) -> None:
    """End the command with exit status 1 and the process's exit status and message unless it finished ok."""
    if node.is_finished_ok:
        return
    state = node.process_state.value if node.process_state else 'created'
    detail = f'exit status {node.exit_status}: {node.exit_message or "no message"}' if node.is_finished else state
    raise click.ClickException(
        f'{node.process_label}<{node.pk}> failed ({detail}); see `verdi process report {node.pk}`'
    )


def echo_pk(label: str, node) -> None:
    """Print a stored node's PK in the form every command uses: ``<label>: PK <pk> (<uuid>)``."""
    click.echo(f'{label}: PK {node.pk} ({node.uuid})')
