"""The plugins folder holds the operator library as a package, not as Airflow plugins: Airflow's plugin
loader must not import its modules under bare names (`settings`, `errors`, ...) into `sys.modules`."""

from __future__ import annotations

import sys
from pathlib import Path

from airflow._shared.plugins_manager.plugins_manager import _load_plugins_from_plugin_directory

PLUGINS = Path(__file__).resolve().parents[2] / "plugins"


def test_the_plugin_loader_imports_nothing_from_the_library():
    library_modules = {path.stem for path in (PLUGINS / "es_embedding").rglob("*.py")}
    before = set(sys.modules)
    plugins, errors = _load_plugins_from_plugin_directory(str(PLUGINS))
    loaded = {name for name in set(sys.modules) - before if name in library_modules}
    assert (plugins, errors, loaded) == ([], {}, set())
