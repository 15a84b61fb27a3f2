"""Allure run metadata: environment.properties (Java properties escaping) and categories.json."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from eflowgpu import __version__
from eflowgpu.report.allure_meta import (
    CATEGORIES,
    base_environment,
    escape_property,
    render_environment,
    write_allure_meta,
)


def java_properties_load(text: str) -> dict[str, str]:
    """A reader with java.util.Properties.load's rules for the lines this writer makes."""
    result: dict[str, str] = {}
    for line in text.splitlines():
        if not line or line[0] in "#!":
            continue
        key: list[str] = []
        value: list[str] = []
        target = key
        i = 0
        while i < len(line):
            char = line[i]
            if char == "\\":
                nxt = line[i + 1]
                if nxt == "u":
                    target.append(chr(int(line[i + 2 : i + 6], 16)))
                    i += 6
                    continue
                target.append({"n": "\n", "r": "\r", "t": "\t", "f": "\f"}.get(nxt, nxt))
                i += 2
                continue
            if target is key and char in "=:":
                target = value
            else:
                target.append(char)
            i += 1
        # Java joins UTF-16 surrogate pairs; do the same.
        joined = "".join(value).encode("utf-16-be", "surrogatepass").decode("utf-16-be")
        result["".join(key)] = joined
    return result


RUN_ENV = {
    "profile": "ga-2022-06",
    "matrix.sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "run.mode": "sample-lab",
    "pack.version": "0.1.0",
    "python": "CPython 3.11.9",
    "platform": "linux Linux-6.8-x86_64",
    "level": "quick",
}


def test_writes_both_files(tmp_path: Path) -> None:
    results = tmp_path / "allure-results"
    write_allure_meta(results, environment=RUN_ENV)
    assert sorted(p.name for p in results.iterdir()) == ["categories.json", "environment.properties"]
    text = (results / "environment.properties").read_text(encoding="ascii")
    assert text.splitlines() == [
        "profile=ga-2022-06",
        "matrix.sha256=9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "run.mode=sample-lab",
        "pack.version=0.1.0",
        "python=CPython 3.11.9",
        "platform=linux Linux-6.8-x86_64",
        "level=quick",
    ]
    assert java_properties_load(text) == RUN_ENV
    categories = json.loads((results / "categories.json").read_text(encoding="utf-8"))
    assert categories == list(CATEGORIES)


def test_rewrites_atomically_without_leftovers(tmp_path: Path) -> None:
    write_allure_meta(tmp_path, environment={"level": "quick"})
    write_allure_meta(tmp_path, environment={"level": "long"})
    assert (tmp_path / "environment.properties").read_text() == "level=long\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["categories.json", "environment.properties"]


@pytest.mark.parametrize(
    ("key", "value", "line"),
    [
        ("path", "C:\\lab\\hosts", "path=C\\:\\\\lab\\\\hosts"),
        ("a=b", "x=y", "a\\=b=x\\=y"),
        ("url", "http://host:8080/", "url=http\\://host\\:8080/"),
        ("note", "line one\nline two\r\n", "note=line one\\nline two\\r\\n"),
        ("tab", "a\tb\fc", "tab=a\\tb\\fc"),
        ("my key", "  leading and inner spaces", "my\\ key=\\ \\ leading and inner spaces"),
        ("#comment", "!bang", "\\#comment=\\!bang"),
        ("gpu", "NVIDIA® RTX™ 5000 µarch", "gpu=NVIDIA\\u00ae RTX\\u2122 5000 \\u00b5arch"),
        ("emoji", "\U0001f680", "emoji=\\ud83d\\ude80"),
        ("", "", "="),
    ],
)
def test_java_properties_escaping(key: str, value: str, line: str) -> None:
    text = render_environment({key: value})
    assert text == line + "\n"
    assert text.isascii()
    assert "\n" not in text[:-1]  # one physical line per entry, whatever the value holds
    assert java_properties_load(text) == {key: value}


def test_escape_property_spaces_differ_for_keys_and_values() -> None:
    assert escape_property("a b", key=True) == "a\\ b"
    assert escape_property("a b", key=False) == "a b"
    assert escape_property(" a", key=False) == "\\ a"


def test_base_environment() -> None:
    env = base_environment()
    assert env["pack.version"] == __version__
    assert env["python"].split()[1].startswith("3.")
    assert set(env) == {"pack.version", "python", "platform"}


# Messages as the pack's tests produce them (allure-pytest's statusDetails.message).
HOST_FAIL = (
    "Failed: LAB-1650-LOWDISK / NVIDIA GeForce GTX 1650 / host.disk: 7.2 GB free on C: < 10 GB. "
    "To fix: free at least 10 GB on C:"
)
HOST_FAIL_DDA = "Failed: LAB-NESTED-T4VM / NVIDIA Tesla T4 / dda.iov: Get-VMHost reports IovSupport False"
HOST_FAIL_OS = (
    "Failed: LAB-3070-W10PRO / NVIDIA GeForce RTX 3070 / os.build: build 19045.2130 (Windows 10 22H2)"
)
VM_FAIL = (
    "Failed: LAB-T4-01-EFLOW / vm.passthrough: none seen inside the VM: no NVIDIA device; "
    "host snapshot predicts DDA. To fix: deploy the VM with -gpuPassthroughType DirectDeviceAssignment"
)
BENCH_LOW = "Failed: gemm_fp16: 12.1 TFLOP/s vs reference 65 (spec x 0.8); pass >= 48.75"
BENCH_TIMEOUT = "Failed: stress: timed out after 65 s (worker killed)"
UNUSABLE = (
    "eflowgpu.pytest_plugin.cases.SnapshotUnusable: /lab/corrupt-truncated.json: not valid JSON "
    "(Unterminated string starting at, line 28 column 17)"
)
UNUSABLE_VM = "eflowgpu.pytest_plugin.cases.SnapshotUnusable: vms/x.json:\nnot a eflow-gpu-vm-snapshot/1"
INFRA = "RuntimeError: Windows PowerShell did not answer within 60 s"


def categorise(status: str, message: str) -> list[str]:
    """The categories Allure puts a result in (it matches every category, whole-message)."""
    return [
        c["name"]
        for c in CATEGORIES
        if status in c["matchedStatuses"] and re.fullmatch(c["messageRegex"], message)
    ]


@pytest.mark.parametrize(
    ("status", "message", "category"),
    [
        ("failed", HOST_FAIL, "Not eligible: host criterion failed"),
        ("failed", HOST_FAIL_DDA, "Not eligible: host criterion failed"),
        ("failed", HOST_FAIL_OS, "Not eligible: host criterion failed"),
        ("failed", HOST_FAIL.removeprefix("Failed: "), "Not eligible: host criterion failed"),
        ("failed", VM_FAIL, "In-VM check failed"),
        ("failed", BENCH_LOW, "Benchmark below threshold"),
        ("failed", BENCH_TIMEOUT, "Benchmark did not complete"),
        ("broken", UNUSABLE, "Snapshot unusable (input error)"),
        ("broken", UNUSABLE_VM, "Snapshot unusable (input error)"),
        ("broken", INFRA, "Infrastructure error"),
        ("broken", "", "Infrastructure error"),
        ("broken", HOST_FAIL, "Infrastructure error"),  # broken is never a product defect
    ],
)
def test_categories_are_exclusive(status: str, message: str, category: str) -> None:
    assert categorise(status, message) == [category]


def test_categories_shape() -> None:
    names = [c["name"] for c in CATEGORIES]
    assert names[:2] == ["Not eligible: host criterion failed", "In-VM check failed"]
    assert {"Benchmark below threshold", "Snapshot unusable (input error)", "Infrastructure error"} <= set(
        names
    )
    for category in CATEGORIES:
        assert set(category) == {"name", "description", "matchedStatuses", "messageRegex"}
        assert category["matchedStatuses"] in (["failed"], ["broken"])
        assert category["messageRegex"].startswith("(?s)")  # Java matches() spans lines only with it
        re.compile(category["messageRegex"])
    assert not categorise("passed", HOST_FAIL)
    assert not categorise("skipped", HOST_FAIL)
