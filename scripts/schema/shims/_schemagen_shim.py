"""Import-time stand-ins for Python modules that Debian does not package.

Archivematica and the Storage Service import these modules when Django loads
their URL configuration (``manage.py migrate`` runs the system checks, which
import every view). None of them defines a model, a model field or a
migration, so none of them can change the database: they only need to be
importable. A shimmed module answers any attribute with a placeholder class,
and any submodule with another shimmed module. Using a placeholder for real
work fails loudly (see ``Placeholder``).

See fixtures/schema/README.md for the list of shims and why each is safe.
"""

import importlib.abc
import importlib.machinery
import sys
import types

SHIMMED = set()


class _PlaceholderMeta(type):
    # Class attributes of a placeholder are placeholders too, so code like
    # ``gearman.JOB_CREATED`` or ``x.y.z`` at import time resolves.
    def __getattr__(cls, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return _placeholder(f"{cls.__qualname__}.{name}", cls.__module__)


class Placeholder(Exception, metaclass=_PlaceholderMeta):
    """Stands for any class, function, constant or exception of a shim.

    It can be subclassed, used in ``except`` clauses and as a decorator
    argument holder; calling it builds an instance that refuses to do
    anything else.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args)

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        raise RuntimeError(
            f"schemagen shim: {type(self).__module__}.{type(self).__qualname__}.{name} "
            "is not implemented (this module is only an import-time stand-in)"
        )


def _placeholder(name, module):
    cls = _PlaceholderMeta(name.rsplit(".", 1)[-1], (Placeholder,), {})
    cls.__module__ = module
    cls.__qualname__ = name
    return cls


def _module_getattr(module):
    cache = {}

    def __getattr__(name):
        if name.startswith("__"):
            raise AttributeError(name)
        if name not in cache:
            cache[name] = _placeholder(name, module.__name__)
        return cache[name]

    return __getattr__


def shim(module):
    """Make MODULE (a shim package's own module object) answer any name."""
    SHIMMED.add(module.__name__)
    module.__getattr__ = _module_getattr(module)
    module.__schemagen_shim__ = True


class _Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Creates missing submodules of shimmed packages on the fly."""

    def find_spec(self, fullname, path=None, target=None):
        parent = fullname.rpartition(".")[0]
        while parent:
            if parent in SHIMMED:
                return importlib.machinery.ModuleSpec(fullname, self, is_package=True)
            parent = parent.rpartition(".")[0]
        return None

    def create_module(self, spec):
        module = types.ModuleType(spec.name)
        module.__path__ = []
        return module

    def exec_module(self, module):
        shim(module)


# After the normal finders: a real submodule file in a shim package wins.
sys.meta_path.append(_Finder())
