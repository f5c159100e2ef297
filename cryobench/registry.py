"""The plugin manager, wrapped in an object that is built and passed where it is needed."""

from __future__ import annotations

import inspect
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import pluggy

from cryobench import hookspecs
from cryobench.contract.components import KIND_BASES, Component
from cryobench.contract.params import resolve_params
from cryobench.contract.tables import ResultTable
from cryobench.errors import ParamError, PluginError, UnknownParamError, unknown_name_message

ENTRY_POINT_GROUP = "cryobench"
#: Comma-separated plugin (entry-point) names that are not loaded.
BLOCK_ENV = "CRYOBENCH_BLOCK_PLUGINS"


@dataclass(frozen=True)
class ComponentInfo:
    """A registered component and where it came from."""

    kind: str
    name: str
    cls: type[Component]
    plugin: str  # the plugin's registered name (entry-point name for installed ones)
    distribution: str
    version: str

    @property
    def summary(self) -> str:
        return self.cls.summary

    @property
    def code(self) -> str:
        """The code behind the component, for trial keys: distribution and version (the
        defining module for a plugin object registered directly), and its revision."""
        origin = f"{self.distribution} {self.version}" if self.version else self.cls.__module__
        revision = getattr(self.cls, "revision", 0)
        return f"{origin} r{revision}" if revision else origin


class Registry:
    """Components by kind and name, from built-in and third-party plugins alike.

    Parameters
    ----------
    plugins:
        Extra plugin objects (modules or instances) to register, e.g. in tests.
    entry_points:
        Load installed plugins from the ``cryobench`` entry-point group.
    blocked:
        Plugin names not to load, added to those in ``$CRYOBENCH_BLOCK_PLUGINS``.
    """

    def __init__(
        self,
        plugins: Iterable[Any] = (),
        *,
        entry_points: bool = True,
        blocked: Iterable[str] = (),
    ) -> None:
        self._pm = pluggy.PluginManager(ENTRY_POINT_GROUP)
        self._pm.add_hookspecs(hookspecs)
        env_blocked = [b.strip() for b in os.environ.get(BLOCK_ENV, "").split(",")]
        for name in [*blocked, *env_blocked]:
            if name:
                self._pm.set_blocked(name)
        for plugin in plugins:
            self._pm.register(plugin, name=_plugin_label(plugin))
        if entry_points:
            self._pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
        self._check_pending()
        self._refresh()

    def _check_pending(self) -> None:
        """A misspelt hook implementation is an error, not a silently ignored function."""
        try:
            self._pm.check_pending()
        except pluggy.PluginValidationError as exc:
            raise PluginError(f"plugin {exc.plugin!r}: {exc}") from None

    # -- registration ---------------------------------------------------------------------

    def register(self, plugin: Any, name: str | None = None) -> None:
        """Add a plugin object after construction (tests, notebooks)."""
        self._pm.register(plugin, name=name or _plugin_label(plugin))
        self._check_pending()
        self._refresh()

    def unregister(self, plugin: Any) -> None:
        self._pm.unregister(plugin)
        self._refresh()

    def result_tables(self, benchmark: Any, records: list[Any]) -> list[ResultTable]:
        """Every plugin's tables of these results (``cryobench_result_tables``)."""
        tables = []
        for result in self._pm.hook.cryobench_result_tables(benchmark=benchmark,
                                                            records=records):
            for table in result or []:
                if not isinstance(table, ResultTable):
                    raise PluginError(f"cryobench_result_tables returned {table!r}; it "
                                      "must return a list of cryobench.api.ResultTable")
                tables.append(table)
        return tables

    def _distributions(self) -> dict[int, tuple[str, str]]:
        return {
            id(plugin): (dist.project_name, dist.version)
            for plugin, dist in self._pm.list_plugin_distinfo()
        }

    def _collect(self) -> dict[str, dict[str, ComponentInfo]]:
        dists = self._distributions()
        found: dict[str, dict[str, ComponentInfo]] = {kind: {} for kind in hookspecs.KIND_HOOKS}
        for kind, hook_name in hookspecs.KIND_HOOKS.items():
            for plugin, classes in self._call_each(hook_name):
                plugin_name = self._pm.get_name(plugin) or repr(plugin)
                dist, version = dists.get(id(plugin), (f"<{plugin_name}>", ""))
                for cls in classes:
                    info = ComponentInfo(kind, getattr(cls, "name", ""), cls, plugin_name,
                                         dist, version)
                    self._check_component(info)
                    previous = found[kind].get(cls.name)
                    if previous is not None:
                        raise PluginError(
                            f"{kind} {cls.name!r} is registered twice: by {previous.distribution}"
                            f" ({previous.plugin}) and by {dist} ({plugin_name});"
                            f" uninstall one or block it with {BLOCK_ENV}"
                        )
                    found[kind][cls.name] = info
        return found

    def _refresh(self) -> None:
        self._components = self._collect()
        self._aliases = self._collect_aliases()

    def _collect_aliases(self) -> dict[str, dict[str, str]]:
        """alias -> name per kind; an alias that is taken (a name, or another's alias) is
        an error, like a name registered twice."""
        aliases: dict[str, dict[str, str]] = {kind: {} for kind in self._components}
        for kind, table in self._components.items():
            for name, info in table.items():
                for alias in getattr(info.cls, "aliases", ()):
                    taken = name if alias in table else aliases[kind].get(alias)
                    if taken is not None or not isinstance(alias, str) or not alias:
                        raise PluginError(
                            f"plugin {info.plugin} ({info.distribution}): {kind} {name!r} "
                            f"gives the alias {alias!r}, "
                            + (f"which {kind} {taken!r} already has" if taken is not None
                               else "not a non-empty string"))
                    aliases[kind][alias] = name
        return aliases

    def _call_each(self, hook_name: str) -> Iterator[tuple[Any, list[Any]]]:
        """Call a hook through pluggy (keyword arguments, so specs can grow; wrappers
        apply), one registering plugin at a time, so that every component is attributed
        to the plugin that registered it."""
        impls = getattr(self._pm.hook, hook_name).get_hookimpls()
        plain = [i.plugin for i in impls if not (i.hookwrapper or i.wrapper)]
        for plugin in plain:
            others = [p for p in plain if p is not plugin]
            caller = self._pm.subset_hook_caller(hook_name, remove_plugins=others)
            for result in caller():
                if not isinstance(result, (list, tuple)):
                    name = self._pm.get_name(plugin)
                    raise PluginError(f"plugin {name}: {hook_name} returned {result!r}; "
                                      "it must return a list of component classes")
                yield plugin, list(result)

    @staticmethod
    def _check_component(info: ComponentInfo) -> None:
        base = KIND_BASES[info.kind]
        cls = info.cls
        problem = None
        if not (isinstance(cls, type) and issubclass(cls, base)):
            problem = f"is not a subclass of cryobench.contract.components.{base.__name__}"
        elif inspect.isabstract(cls):
            problem = f"does not implement {sorted(cls.__abstractmethods__)}"
        elif not cls.name or not cls.summary:
            problem = "needs a non-empty `name` and `summary`"
        else:
            problem = _shadowed(cls, base) or _signature_problem(cls, base)
        if problem:
            raise PluginError(
                f"plugin {info.plugin} ({info.distribution}): {info.kind} {cls!r} {problem}"
            )

    # -- lookup ---------------------------------------------------------------------------

    @property
    def kinds(self) -> list[str]:
        return list(self._components)

    def components(self, kind: str | None = None) -> list[ComponentInfo]:
        """Registered components, sorted by kind then name."""
        kinds = [kind] if kind else self.kinds
        return [
            info
            for k in kinds
            for _, info in sorted(self._components[self._check_kind(k)].items())
        ]

    def names(self, kind: str) -> list[str]:
        return sorted(self._components[self._check_kind(kind)])

    def accepted_names(self, kind: str) -> list[str]:
        """The names and aliases a benchmark file may use."""
        return sorted([*self.names(kind), *self._aliases[kind]])

    def canonical(self, kind: str, name: str) -> str:
        """The component's own name (what trial keys use) for a name or an alias."""
        return self._aliases[self._check_kind(kind)].get(name, name)

    def info(self, kind: str, name: str) -> ComponentInfo:
        """Look one component up, by name or alias; an unknown name names the closest
        valid ones."""
        table = self._components[self._check_kind(kind)]
        name = self.canonical(kind, name)
        if name not in table:
            raise PluginError(unknown_name_message(kind, name, self.accepted_names(kind)))
        return table[name]

    def get(self, kind: str, name: str) -> type[Component]:
        return self.info(kind, name).cls

    def require(self, kind: str, name: str, role: str) -> ComponentInfo:
        """A component the core itself relies on (a default); its absence is explained."""
        if name not in self._components[self._check_kind(kind)]:
            raise PluginError(
                f"the {role} {kind.replace('_', ' ')} {name!r} is not registered; it ships "
                f"with cryobench, so a blocked or broken plugin is missing (check {BLOCK_ENV}"
                ", or reinstall cryobench)")
        return self.info(kind, name)

    def create(self, kind: str, name: str, params: dict[str, Any] | None = None) -> Any:
        """Build a component from its name and (validated) parameters."""
        cls = self.get(kind, name)
        try:
            resolved = resolve_params(cls.params, params or {})
        except UnknownParamError as exc:
            raise PluginError(unknown_name_message(f"parameter of {kind} {name!r}", exc.param,
                                                   exc.valid)) from None
        except ParamError as exc:
            raise PluginError(f"{kind} {name!r}: {exc}") from None
        return cls(**resolved)

    def _check_kind(self, kind: str) -> str:
        if kind not in self._components:
            raise PluginError(unknown_name_message("kind", kind, self.kinds))
        return kind


def _plugin_label(plugin: Any) -> str:
    """A readable, unique name for a plugin object registered directly (not installed)."""
    label = getattr(plugin, "__name__", None) or type(plugin).__qualname__
    return f"{label}@{id(plugin):x}"


def _shadowed(cls: type[Component], base: type[Component]) -> str | None:
    """A parameter becomes an instance attribute: it must not hide a method."""
    for param in cls.params:
        if callable(getattr(base, param.name, None)) or callable(getattr(cls, param.name, None)):
            return (f"declares a parameter {param.name!r} that hides the method of the same "
                    "name; rename the parameter")
    return None


def _signature_problem(cls: type[Component], base: type[Component]) -> str | None:
    """A kind's method must accept what the core passes: caught when the plugin loads,
    with what the contract is, rather than as a TypeError in the middle of a run."""
    for name in getattr(base, "__abstractmethods__", ()):
        expected = inspect.signature(getattr(base, name))
        actual = inspect.signature(getattr(cls, name))
        arguments = [p.name for p in expected.parameters.values() if p.name != "self"]
        try:
            actual.bind(None, *arguments)
        except TypeError:
            return (f"{name}{actual} does not accept the contract's {name}({', '.join(arguments)})"
                    "; see docs/writing-plugins.md")
    return None
