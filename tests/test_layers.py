"""The rooms of ``tracker/`` depend on each other one way only, the engine at the bottom (README, Layout).

Every import counts, at module level or inside a function: a late import still ties two rooms together.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Lowest first. A module may import its own layer and any lower one, never a higher one.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("tracker.errors",),
    ("tracker.clinic_dates",),  # how the clinic writes dates: the engine's sentences use it
    ("tracker.course",),  # the pure engine: milestones, protocols, scales, clinical constants, vocabulary
    ("tracker.config", "tracker.database", "tracker.validation", "tracker.safe_csv", "tracker.paging"),  # services use
    ("tracker.access",),
    ("tracker.storage",),
    ("tracker.photos",),
    ("tracker.progress",),
    ("tracker.records",),
    ("tracker.exchange",),
    ("tracker.operations",),
    ("tracker.__main__",),
)
# Libraries a room must not use: the engine is plain Python, the domain never draws, pages never query.
FORBIDDEN = {
    "tracker.course": ("db", "sqlalchemy", "streamlit", "PIL", "pandas"),
    "tracker": ("streamlit",),
    "pages": ("db", "sqlalchemy"),
    "ui": ("db", "sqlalchemy"),
}


def layer_of(module: str) -> int | None:
    """The layer index of a ``tracker`` module, or None for a module outside ``tracker``."""
    for index, prefixes in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return index
    return None


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(source: str, module: str = "") -> list[tuple[int, str]]:
    """(line, module) of every import in the source, wherever it stands: ``import``, ``from … import``
    (relative ones resolved against ``module``), and ``importlib.import_module("…")`` / ``__import__("…")``
    with a literal name."""
    package = module.split(".")
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # from ..operations import cli, inside tracker.course.milestones
                anchor = package[: len(package) - node.level]
                base = ".".join([*anchor, base] if base else anchor)
            found.extend((node.lineno, f"{base}.{alias.name}") for alias in node.names)
        elif isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if name in ("import_module", "__import__") and isinstance(node.args[0].value, str):
                found.append((node.lineno, node.args[0].value))
    return found


def upward_imports(module: str, source: str) -> list[str]:
    """The imports of ``module`` that reach a higher layer than its own, as 'module:line -> target'."""
    own = layer_of(module)
    if own is None:
        return []
    found = []
    for line, target in imports_of(source, module):
        target_layer = layer_of(target)
        if target_layer is not None and target_layer > own:
            found.append(f"{module}:{line} -> {target}")
    return found


def forbidden_imports(module: str, source: str) -> list[str]:
    libraries = {lib for owner, libs in FORBIDDEN.items() if module == owner or module.startswith(owner + ".")
                 for lib in libs}
    return [f"{module}:{line} imports {target}" for line, target in imports_of(source, module)
            if target.split(".")[0] in libraries]


def _sources(*folders: str) -> list[tuple[str, str]]:
    paths = [path for folder in folders for path in sorted((ROOT / folder).rglob("*.py"))]
    return [(module_name(path), path.read_text()) for path in paths]


def test_every_tracker_module_has_a_layer():
    assert [name for name, _ in _sources("tracker") if layer_of(name) is None and name != "tracker"] == []


def test_rooms_depend_one_way():
    upward = [found for name, source in _sources("tracker") for found in upward_imports(name, source)]
    assert upward == []


def test_the_engine_draws_nothing_and_pages_query_nothing():
    found = [hit for name, source in _sources("tracker", "pages", "ui") for hit in forbidden_imports(name, source)]
    assert found == []


def test_the_checks_find_what_they_look_for():
    """The scans above would pass on an empty tree; these planted imports show they can fail."""
    assert upward_imports("tracker.course.milestones", "from tracker.records.visits import log_visit\n") == [
        "tracker.course.milestones:1 -> tracker.records.visits.log_visit"]
    late = "def f():\n    from tracker.operations import cli\n"
    assert upward_imports("tracker.photos.store", late) == ["tracker.photos.store:2 -> tracker.operations.cli"]
    assert upward_imports("tracker.operations.cli", "from tracker.course import milestones\n") == []
    assert forbidden_imports("tracker.course.scales", "import sqlalchemy\n") == [
        "tracker.course.scales:1 imports sqlalchemy"]
    assert forbidden_imports("ui.charts", "from db import models\n") == ["ui.charts:1 imports db.models"]
    assert forbidden_imports("tracker.records.visits", "import streamlit as st\n") == [
        "tracker.records.visits:1 imports streamlit"]
    # Reported once although both "tracker" and "tracker.course" forbid it.
    assert forbidden_imports("tracker.course.scales", "import streamlit\n") == [
        "tracker.course.scales:1 imports streamlit"]
    engine = "tracker.course.milestones"
    assert upward_imports(engine, "from ..operations import cli\n") == [f"{engine}:1 -> tracker.operations.cli"]
    dynamic = "import importlib\nimportlib.import_module('tracker.operations.cli')\n__import__('streamlit')\n"
    assert upward_imports(engine, dynamic) == [f"{engine}:2 -> tracker.operations.cli"]
    assert forbidden_imports(engine, dynamic) == [f"{engine}:3 imports streamlit"]
