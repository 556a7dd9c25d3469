"""Helpers shared by the CLI commands."""

from __future__ import annotations

import functools

import click

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
    """Load the profile chosen with ``--profile`` (or the default), unless one is loaded already."""
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


def echo_pk(label: str, node) -> None:
    """Print a stored node's PK in the form every command uses: ``<label>: PK <pk> (<uuid>)``."""
    click.echo(f'{label}: PK {node.pk} ({node.uuid})')
