"""The sample lab (fixtures/hosts) judged by both profiles gives the hand-derived expectations."""

from __future__ import annotations

from pathlib import Path

import pytest

from eflowgpu.criteria import Status
from eflowgpu.evaluate import SystemResult, evaluate_host_file
from eflowgpu.matrix import Matrix

from helpers import PROJECT
from lab_expectations import EXPECTED, PROFILES

LAB = PROJECT / "fixtures" / "hosts"


def lab_files() -> list[Path]:
    return sorted(LAB.glob("*.json"))


def test_every_lab_file_has_expectations() -> None:
    assert sorted(p.stem for p in lab_files()) == sorted(EXPECTED)
    assert len(lab_files()) >= 12


def observed(system: SystemResult) -> dict[str, object]:
    gpus = {}
    for gpu in system.gpus:
        gpus[gpu.pci_id] = {
            "verdict": gpu.verdict.value,
            "passthrough": gpu.passthrough,
            "model": gpu.model,
            "fails": sorted(c.id for c in gpu.criteria if c.status is Status.FAIL),
            "warns": sorted(c.id for c in gpu.criteria if c.status is Status.WARN),
        }
    return {"status": system.status, "gpus": gpus}


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("path", lab_files(), ids=lambda p: p.stem)
def test_lab_snapshot(matrix: Matrix, path: Path, profile: str) -> None:
    system = evaluate_host_file(matrix, matrix.profile(profile), path)
    expected = EXPECTED[path.stem][profile]
    got = observed(system)
    assert got["status"] == expected["status"], system.error
    if system.status == "error":
        assert system.error and "\n" not in system.error
        assert system.host == path.stem and system.source == str(path)
        return
    assert sorted(got["gpus"]) == sorted(expected["gpus"])  # type: ignore[arg-type]
    for pci_id, want in expected["gpus"].items():
        have = got["gpus"][pci_id]  # type: ignore[index]
        keys = (
            ("verdict", "model", "passthrough")
            if want["verdict"] == "unsupported"
            else ("verdict", "model", "passthrough", "fails", "warns")
        )
        assert {k: have[k] for k in keys} == {k: want[k] for k in keys}, f"{path.stem} {pci_id}"


def test_every_failed_criterion_says_what_to_do(matrix: Matrix) -> None:
    for profile in PROFILES:
        for path in lab_files():
            for gpu in evaluate_host_file(matrix, matrix.profile(profile), path).gpus:
                for crit in gpu.criteria:
                    if crit.status in (Status.FAIL, Status.WARN, Status.UNKNOWN):
                        assert crit.remedy, (path.stem, gpu.name, crit.id, crit.detail)
                    assert crit.detail and "\n" not in crit.detail
