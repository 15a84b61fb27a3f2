"""Loads the EFLOW GPU qualification pack's pytest plugin for the suites in suites/."""

pytest_plugins = ["eflowgpu.pytest_plugin"]
