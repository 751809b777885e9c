"""The registry of components, and the hooks that let plugins extend Ganzo.

Every component (a loss, a generator, a dataset...) is registered under a
namespace and a name, and selected by that name on the command line::

    from ganzo.registry import register

    @register('loss', 'custom-loss')
    class CustomLoss:
        def __init__(self, options, discriminator): ...

Modules listed in the environment variable ``GANZO_LOAD_MODULES`` (comma
separated, importable by name) are imported before options are parsed, so
they can register components and add options with ``with_option_parser``.
"""

from __future__ import annotations

import importlib
import os
import traceback
from typing import Any, Callable, TypeVar

from ganzo.errors import GanzoError, one_line

T = TypeVar('T')
OptionParser = Callable[..., None]


class RegistryException(GanzoError):
    """An unknown component name, a name registered twice or a second default."""


class ComponentRegistry:
    """Components by namespace and name, the default of each namespace, and
    the functions that add options to the command line parser."""

    def __init__(self) -> None:
        self._components: dict[str, dict[str, Any]] = {}
        self._defaults: dict[str, str] = {}
        self._option_parsers: list[OptionParser] = []

    def add(self, namespace: str, name: str, cls: Any, default: bool = False) -> None:
        """Register ``cls`` as ``name`` in ``namespace``; ``default`` selects it
        when the option for the namespace is not given (one per namespace)."""
        components = self._components.setdefault(namespace, {})
        if name in components and components[name] is not cls:
            raise RegistryException(f'{namespace} {name!r} is already registered')
        if default and self._defaults.get(namespace, name) != name:
            raise RegistryException(
                f'{namespace} already has the default {self._defaults[namespace]!r}: '
                f'register {name!r} without default=True')
        components[name] = cls
        if default:
            self._defaults[namespace] = name

    def get(self, namespace: str, name: str) -> Any:
        """The component registered as ``name``; a ``RegistryException`` that
        lists the known names if there is none."""
        components = self._components.get(namespace, {})
        if name not in components:
            known = ', '.join(sorted(components)) or 'none'
            raise RegistryException(f'unknown {namespace} {name!r}: choose one of {known}')
        return components[name]

    def build(self, namespace: str, name: str, *args: Any) -> Any:
        """Instantiate the component ``name`` with ``args``."""
        return self.get(namespace, name)(*args)

    def names(self, namespace: str) -> list[str]:
        return sorted(self._components.get(namespace, {}))

    def namespaces(self) -> list[str]:
        return sorted(self._components)

    def default(self, namespace: str) -> str | None:
        return self._defaults.get(namespace)

    def add_option_parser(self, function: OptionParser) -> None:
        if function not in self._option_parsers:
            self._option_parsers.append(function)

    @property
    def option_parsers(self) -> list[OptionParser]:
        return list(self._option_parsers)

    @property
    def version(self) -> tuple:
        """What the registry holds, as a key: what was built from an older one is stale."""
        return (tuple(self._option_parsers), tuple(sorted(self._defaults.items())),
                tuple((namespace, tuple(components.items()))
                      for namespace, components in sorted(self._components.items())))


Registry = ComponentRegistry()


def register(namespace: str, name: str, default: bool = False) -> Callable[[T], T]:
    """Class decorator: ``Registry.add(namespace, name, cls, default)``."""
    def decorator(cls: T) -> T:
        Registry.add(namespace, name, cls, default)
        return cls
    return decorator


def with_option_parser(function: OptionParser) -> OptionParser:
    """Decorator for ``function(parser, train)``, which adds options to the
    command line parser (``train`` is False for the inference command)."""
    Registry.add_option_parser(function)
    return function


def load_modules(environ: dict[str, str] | None = None) -> None:
    """Import the modules named in ``GANZO_LOAD_MODULES`` (comma separated). A
    module that cannot be imported is a ``GanzoError`` naming it and saying why,
    on one line (with the place in the module's code where its import failed)."""
    value = (os.environ if environ is None else environ).get('GANZO_LOAD_MODULES', '')
    for name in filter(None, (part.strip() for part in value.split(','))):
        if not all(part.isidentifier() for part in name.split('.')):
            raise GanzoError(f'GANZO_LOAD_MODULES: {name!r} is not a module name: give the '
                             'dotted names of modules (my_package.my_module), comma separated')
        try:
            importlib.import_module(name)
        except Exception as error:  # noqa: BLE001 (whatever the plugin's code raised)
            missing = getattr(error, 'name', None) if isinstance(error, ImportError) else None
            if missing and (name == missing or name.startswith(missing + '.')):
                raise GanzoError(
                    f'GANZO_LOAD_MODULES: cannot import {name!r}: '
                    'put it on the Python path (PYTHONPATH) or fix the name') from None
            raise GanzoError(f'GANZO_LOAD_MODULES: importing {name!r} failed: '
                             f'{failure(error)}') from None


def failure(error: BaseException) -> str:
    """``error`` and where it was raised, on one line: ``Type: message (file:line)``."""
    name = type(error).__name__
    if isinstance(error, SyntaxError):
        return f'{name}: {error.msg} ({error.filename}:{error.lineno})'
    frames = traceback.extract_tb(error.__traceback__)
    where = f' ({frames[-1].filename}:{frames[-1].lineno})' if frames else ''
    return f'{name}: {one_line(error)}{where}'
