"""Allure run metadata: ``environment.properties``, ``categories.json`` and ``executor.json``.

Allure shows ``environment.properties`` as the run's *Environment* widget and sorts failed and
broken tests into the categories of ``categories.json``. The categories tell product defects (a
host criterion, an in-VM check or a benchmark failed: the hardware or its setup is not eligible)
from input and infrastructure errors (a snapshot could not be read; a test broke), and are
mutually exclusive, so every failed or broken test lands in exactly one of them.

Allure matches ``messageRegex`` against the whole message (Java's ``String.matches``), hence the
leading ``(?s)`` and the explicit ``.*``. The patterns follow the messages of the pack's tests:
``<system> / <gpu> / <criterion id>: <detail>. To fix: <remedy>`` for a host criterion,
``<vm> / vm.<id>: ...`` for an in-VM check, ``<benchmark id>: <value> vs reference ...`` for a
benchmark and ``...SnapshotUnusable: <file>: <reason>`` for an unreadable snapshot.
"""

from __future__ import annotations

import json
import os
import platform
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from eflowgpu import __version__
from eflowgpu.matrix.model import BENCHMARK_IDS
from eflowgpu.report.labels import as_mappings, verdict_counts
from eflowgpu.report.verdicts import ATTENTION_ORDER, system_verdict
from eflowgpu.report.write import write_text_atomic

ENVIRONMENT_NAME = "environment.properties"
CATEGORIES_NAME = "categories.json"

# The criterion id prefixes of the host suite and of the in-VM suite.
HOST_CRITERION_PREFIXES: tuple[str, ...] = ("os", "host", "gpu", "dda", "gpupv")
VM_CRITERION_PREFIX = "vm"

_BENCH = "|".join(BENCHMARK_IDS)
_HOST = "|".join(HOST_CRITERION_PREFIXES)
# "Failed: " is how allure-pytest prefixes a pytest.fail() message; it is optional here.
_FAILED = r"(?:Failed: )?"
_UNUSABLE = r".*(?:SnapshotUnusable\b|snapshot could not be read).*"

CATEGORIES: tuple[dict[str, Any], ...] = (
    {
        "name": "Not eligible: host criterion failed",
        "description": "A required host criterion failed (Windows edition or build, Hyper-V, DDA or "
        "GPU-PV checks): the host or GPU is not eligible as it stands. The message names the remedy.",
        "matchedStatuses": ["failed"],
        "messageRegex": rf"(?s){_FAILED}.+ / (?:{_HOST})\.[a-z0-9_]+: .*",
    },
    {
        "name": "In-VM check failed",
        "description": "A required check inside the EFLOW VM failed: the GPU did not arrive as "
        "predicted, or its driver, identity or health is wrong.",
        "matchedStatuses": ["failed"],
        "messageRegex": rf"(?s){_FAILED}.+ / {VM_CRITERION_PREFIX}\.[a-z0-9_]+: .*",
    },
    {
        "name": "Benchmark below threshold",
        "description": "A benchmark figure is under the pass threshold of its reference "
        "(0.75 of the matrix's reference for the GPU model and passthrough type).",
        "matchedStatuses": ["failed"],
        "messageRegex": rf"(?s){_FAILED}(?:{_BENCH}): .* vs reference .*",
    },
    {
        "name": "Benchmark did not complete",
        "description": "A benchmark failed without a figure to judge: it timed out, its worker "
        "died, or the GPU reported an error while it ran.",
        "matchedStatuses": ["failed"],
        "messageRegex": rf"(?s){_FAILED}(?:{_BENCH}): (?!.* vs reference ).*",
    },
    {
        "name": "Snapshot unusable (input error)",
        "description": "A host or VM snapshot could not be read (corrupt, truncated, not a "
        "snapshot): recollect it. Not a verdict on the hardware.",
        "matchedStatuses": ["broken"],
        "messageRegex": rf"(?s){_UNUSABLE}",
    },
    {
        "name": "Infrastructure error",
        "description": "A test broke (an error outside the checks themselves: a probe, the runner, "
        "the pack). Not a verdict on the hardware: fix the setup and rerun.",
        "matchedStatuses": ["broken"],
        "messageRegex": rf"(?s)(?!{_UNUSABLE}$).*",
    },
)
"""Allure categories, most specific first; a failed or broken message matches exactly one."""

# Java properties: characters escaped with a backslash, and the control characters' escapes.
_ESCAPES = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\f": "\\f", "=": "\\=", ":": "\\:"}


def escape_property(text: str, *, key: bool) -> str:
    """``text`` escaped for a Java ``.properties`` file (``Properties.load`` reads it back as is).

    Backslash, ``=``, ``:``, newline, carriage return, tab and form feed are escaped everywhere;
    ``#`` and ``!`` (comment starters) too; spaces everywhere in a key and leading ones in a value.
    Anything outside printable ASCII is written as ``\\uXXXX`` (UTF-16 code units), so the file
    reads the same as ISO-8859-1 (``Properties.load(InputStream)``) or as UTF-8.
    """
    out: list[str] = []
    leading = True
    for char in text:
        if char == " ":
            out.append("\\ " if key or leading else " ")
            continue
        leading = False
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif char in "#!":
            out.append("\\" + char)
        elif " " <= char <= "~":
            out.append(char)
        else:
            encoded = char.encode("utf-16-be", "surrogatepass")
            out.extend(f"\\u{encoded[i] << 8 | encoded[i + 1]:04x}" for i in range(0, len(encoded), 2))
    return "".join(out)


def render_environment(environment: Mapping[str, str]) -> str:
    """The ``environment.properties`` text: one ``key=value`` line per entry, in the given order."""
    lines = [
        f"{escape_property(str(key), key=True)}={escape_property(str(value), key=False)}"
        for key, value in environment.items()
    ]
    return "".join(line + "\n" for line in lines)


def base_environment() -> dict[str, str]:
    """The entries every run has: pack version, Python and platform (the caller adds the rest)."""
    return {
        "pack.version": __version__,
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "platform": f"{sys.platform} {platform.platform()}",
    }


def _github(env: Mapping[str, str]) -> dict[str, Any]:
    server = env.get("GITHUB_SERVER_URL", "https://github.com").rstrip("/")
    repo, run_id = env.get("GITHUB_REPOSITORY", ""), env.get("GITHUB_RUN_ID", "")
    url = f"{server}/{repo}/actions/runs/{run_id}" if repo and run_id else None
    attempt = env.get("GITHUB_RUN_ATTEMPT")
    name = " / ".join(v for v in (env.get("GITHUB_WORKFLOW"), env.get("GITHUB_JOB")) if v)
    return {
        "name": "GitHub Actions",
        "type": "github",
        "url": f"{server}/{repo}" if repo else server,
        "buildOrder": _order(env.get("GITHUB_RUN_NUMBER")),
        "buildName": f"{name or 'run'} #{env.get('GITHUB_RUN_NUMBER', '?')}"
        + (f" (attempt {attempt})" if attempt and attempt != "1" else ""),
        "buildUrl": url,
    }


def _gitlab(env: Mapping[str, str]) -> dict[str, Any]:
    return {
        "name": "GitLab CI",
        "type": "gitlab",
        "url": env.get("CI_PROJECT_URL") or env.get("CI_SERVER_URL"),
        "buildOrder": _order(env.get("CI_PIPELINE_IID") or env.get("CI_PIPELINE_ID")),
        "buildName": f"{env.get('CI_JOB_NAME', 'job')} #{env.get('CI_PIPELINE_ID', '?')}",
        "buildUrl": env.get("CI_JOB_URL") or env.get("CI_PIPELINE_URL"),
    }


def _azure(env: Mapping[str, str]) -> dict[str, Any]:
    collection = env.get("SYSTEM_COLLECTIONURI") or env.get("SYSTEM_TEAMFOUNDATIONCOLLECTIONURI") or ""
    project, build = env.get("SYSTEM_TEAMPROJECT", ""), env.get("BUILD_BUILDID", "")
    url = (
        f"{collection.rstrip('/')}/{project}/_build/results?buildId={build}"
        if collection and project
        else None
    )
    return {
        "name": "Azure Pipelines",
        "type": "azure",
        "url": f"{collection.rstrip('/')}/{project}" if collection and project else None,
        "buildOrder": _order(build),
        "buildName": f"{env.get('BUILD_DEFINITIONNAME', 'build')} {env.get('BUILD_BUILDNUMBER', build)}",
        "buildUrl": url,
    }


def _jenkins(env: Mapping[str, str]) -> dict[str, Any]:
    return {
        "name": "Jenkins",
        "type": "jenkins",
        "url": env.get("JENKINS_URL"),
        "buildOrder": _order(env.get("BUILD_NUMBER")),
        "buildName": f"{env.get('JOB_NAME', 'job')} #{env.get('BUILD_NUMBER', '?')}",
        "buildUrl": env.get("BUILD_URL"),
    }


def _order(value: str | None) -> int | None:
    return int(value) if value is not None and value.isdigit() else None


EXECUTOR_NAME = "executor.json"


def executor_info(env: Mapping[str, str]) -> dict[str, Any] | None:
    """Allure's ``executor.json`` (the CI system, build name, order and link) from the CI's
    environment variables: GitHub Actions, GitLab CI, Azure Pipelines or Jenkins; None outside CI.

    Empty or missing values are left out; ``reportName`` names the pack.
    """
    if env.get("GITHUB_ACTIONS") == "true":
        info = _github(env)
    elif env.get("GITLAB_CI"):
        info = _gitlab(env)
    elif env.get("BUILD_BUILDID") and (env.get("TF_BUILD") or env.get("SYSTEM_COLLECTIONURI")):
        info = _azure(env)
    elif env.get("JENKINS_URL") or env.get("BUILD_URL"):
        info = _jenkins(env)
    else:
        return None
    info["reportName"] = "EFLOW GPU qualification"
    return {key: value for key, value in info.items() if value not in (None, "")}


def verdict_environment(report: Mapping[str, Any]) -> dict[str, str]:
    """The verdicts of systems and GPUs, for Allure's Environment widget.

    Allure's headline is the share of passed tests, and most criteria of a GPU that is not eligible
    pass: a lab where 14 of 32 GPUs are not eligible still reads 94 %. These entries put the
    verdicts on the same overview page.
    """
    systems = as_mappings(report.get("systems"))
    by_system: dict[str, int] = {}
    for system in systems:
        verdict = system_verdict(system)
        by_system[verdict] = by_system.get(verdict, 0) + 1
    ordered = sorted(by_system, key=lambda v: ATTENTION_ORDER.index(v) if v in ATTENTION_ORDER else 0)
    gpus = {v: n for v, n in verdict_counts(systems).items() if n}
    return {
        "verdicts.systems": ", ".join(f"{by_system[v]} {v}" for v in ordered) or "no system",
        "verdicts.gpus": ", ".join(f"{n} {v}" for v, n in gpus.items()) or "no GPU",
    }


def write_allure_meta(
    results_dir: Path, *, environment: Mapping[str, str], env: Mapping[str, str] | None = None
) -> None:
    """Write ``environment.properties``, ``categories.json`` and, in CI, ``executor.json`` into
    ``results_dir``, atomically.

    ``environment`` holds the run's facts (e.g. ``profile``, ``matrix.sha256``, ``run.mode``,
    ``pack.version``, ``python``, ``platform``, ``level``); see :func:`base_environment`. ``env``
    is the process environment the CI system is read from (default: ``os.environ``).
    """
    write_text_atomic(results_dir / ENVIRONMENT_NAME, render_environment(environment))
    write_text_atomic(
        results_dir / CATEGORIES_NAME,
        json.dumps(list(CATEGORIES), indent=2, ensure_ascii=False) + "\n",
    )
    executor = executor_info(os.environ if env is None else env)
    if executor is not None:
        write_text_atomic(
            results_dir / EXECUTOR_NAME, json.dumps(executor, indent=2, ensure_ascii=False) + "\n"
        )
