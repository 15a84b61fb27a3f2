"""Choosing the rootdir and ini again when pytest took a pack option's path for a test path.

pytest picks the rootdir and the ini file before it loads any plugin, from the arguments that look
like paths. Then ``pytest --host-snapshot /srv/lab`` (a space, not ``=``) reads ``/srv/lab`` as a test
path: the rootdir becomes ``/srv/lab`` (or a folder above it), and the pack's ``pytest.ini`` in the
current folder is not read. Once the plugin is loaded its options are known; this module asks
pytest's own :func:`determine_setup` again with the real test paths and, when the answer differs,
adopts it (rootdir, ini, its ``addopts``). A run that names ``--rootdir`` or ``-c`` is left alone.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from _pytest.config.findpaths import determine_setup

PATH_OPTIONS = ("host_snapshot", "vm_snapshot", "report_dir", "matrix")


def rechoose_rootdir(config: pytest.Config, args: list[str]) -> None:
    """Redo pytest's rootdir/ini choice without the pack options' values (see the module docs)."""
    namespace: Any = config.known_args_namespace
    if namespace.rootdir or namespace.inifilename:
        return
    values = [v for name in PATH_OPTIONS for v in _as_list(getattr(namespace, name, None))]
    if not values:
        return
    rootpath, inipath, inicfg, ignored = determine_setup(
        inifile=None,
        override_ini=namespace.override_ini,
        args=namespace.file_or_dir,
        rootdir_cmd_arg=None,
        invocation_dir=config.invocation_params.dir,
    )
    if rootpath == config.rootpath and inipath == config.inipath:
        return
    old_addopts = list(config.getini("addopts"))
    old_cut = str(config.inipath.parent) if config.inipath is not None else str(config.rootpath)
    if old_addopts and args[: len(old_addopts)] == old_addopts:
        del args[: len(old_addopts)]
    config._rootpath = rootpath
    config._inipath = inipath
    config._inicfg = inicfg
    config._ignored_config_files = ignored
    config._inicache.clear()
    config._parser.extra_info["rootdir"] = str(rootpath)
    config._parser.extra_info["inifile"] = str(inipath)
    addopts = list(config.getini("addopts"))
    args[:0] = addopts
    config.pluginmanager.consider_preparse(addopts, exclude_only=False)
    config.known_args_namespace = config._parser.parse_known_args(args, namespace=copy.copy(config.option))
    if namespace.confcutdir == old_cut:  # pytest's default, from the ini it had chosen
        cut = inipath.parent if inipath is not None else rootpath
        config.known_args_namespace.confcutdir = str(cut)


def _as_list(value: object) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value]
    return [str(value)] if value else []
