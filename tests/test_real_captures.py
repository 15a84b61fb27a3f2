"""Real captures (tests/data/real, cited in its README) parse to the facts written here by reading
each file, on both parsers; and the VM rules judge them by DCGM's rules.

The facts are typed in from the files themselves, never produced by running the parsers.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from eflowgpu.criteria import Status
from eflowgpu.matrix import Matrix
from eflowgpu.nvsmi import parse_nvidia_smi
from eflowgpu.vm.evaluate import judge_record, read_vm_data
from eflowgpu.vm.model import EccCounts, PcieLink
from eflowgpu.vm.smi import read_smi

from helpers import PROJECT

REAL = Path(__file__).resolve().parent / "data" / "real"
VM_TEMPLATE = PROJECT / "fixtures" / "vms" / "vm-t4-srv2022-dda.json"

# file: (driver, cuda, attached_gpus, [(bus id, name, device, vendor, subsys device, subsys vendor,
#        driver model, memory MiB, PCIe (gen max, width max, gen now, width now), MIG on, MIG MiB)])
FACTS: dict[str, tuple[str, str, int, list[tuple[Any, ...]]]] = {
    "telegraf_tesla-t4.xml": (
        "515.105.01",
        "11.7",
        1,
        [
            (
                "00000000:00:1E.0",
                "Tesla T4",
                "1EB8",
                "10DE",
                "12A2",
                "10DE",
                None,
                15360,
                (3, 16, 3, 8),
                None,
                (),
            )
        ],
    ),
    "telegraf_rtx-3080-v12.xml": (
        "536.40",
        "12.2",
        1,
        [
            (
                "00000000:04:00.0",
                "NVIDIA GeForce RTX 3080",
                "2216",
                "10DE",
                "1612",
                "19DA",
                "WDDM",
                10240,
                (4, 16, 4, 16),
                None,
                (),
            )
        ],
    ),
    "telegraf_a100-sxm4-v12.xml": (
        "535.54.03",
        "12.2",
        4,
        [
            (
                "00000000:01:00.0",
                "NVIDIA A100-SXM4-80GB",
                "20B2",
                "10DE",
                "147F",
                "10DE",
                None,
                81920,
                None,
                True,
                (19968, 19968, 19968, 19968),
            )
        ],
    ),
    "telegraf_quadro-p2000-v12.xml": (
        "525.125.06",
        "12.0",
        1,
        [
            (
                "00000000:17:00.0",
                "Quadro P2000",
                "1C30",
                "10DE",
                "11B3",
                "1028",
                None,
                5120,
                (3, 16, 1, 8),
                None,
                (),
            )
        ],
    ),
}


def text(name: str) -> str:
    return (REAL / name).read_text(encoding="utf-8")


def test_every_real_capture_has_facts_and_a_cited_source() -> None:
    readme = (REAL / "README.md").read_text(encoding="utf-8")
    files = sorted(p.name for p in REAL.glob("*.xml"))
    assert files == sorted(FACTS)
    for name in files:
        assert f"`{name}`" in readme and "licence" in readme.casefold()


@pytest.mark.parametrize("name", sorted(FACTS))
def test_host_parser_reads_the_written_facts(name: str) -> None:
    driver, cuda, _, gpus = FACTS[name]
    log = parse_nvidia_smi(text(name))
    assert (log.driver_version, log.cuda_version) == (driver, cuda)
    got = [
        (
            g.bus_id,
            g.product_name,
            g.pci_device,
            g.pci_vendor,
            g.subsys_device,
            g.subsys_vendor,
            g.driver_model,
        )
        for g in log.gpus
    ]
    assert got == [tuple(g[:7]) for g in gpus]


@pytest.mark.parametrize("name", sorted(FACTS))
def test_vm_parser_reads_the_written_facts(name: str) -> None:
    driver, cuda, attached, gpus = FACTS[name]
    reading = read_smi(text(name))
    assert (reading.driver_version, reading.cuda_version, reading.attached_gpus) == (driver, cuda, attached)
    for gpu, want in zip(reading.gpus, gpus, strict=True):
        bus, product, dev, ven, sdev, sven, model, memory, link, mig, mig_mib = want
        assert (gpu.bus_id, gpu.name, gpu.pci_device, gpu.pci_vendor) == (bus, product, dev, ven)
        assert (gpu.subsys_device, gpu.subsys_vendor, gpu.driver_model) == (sdev, sven, model)
        assert gpu.memory_total_mib == memory and gpu.mig_mode is mig and gpu.mig_memory_mib == mig_mib
        if link is not None:
            assert gpu.pcie == PcieLink(*link)


def test_both_parsers_agree_on_every_real_capture() -> None:
    for name in FACTS:
        host = parse_nvidia_smi(text(name))
        vm = read_smi(text(name))
        assert [(g.pci_device, g.subsys_device, g.subsys_vendor) for g in host.gpus] == [
            (g.pci_device, g.subsys_device, g.subsys_vendor) for g in vm.gpus
        ]


def test_t4_capture_health_counters_as_printed() -> None:
    (gpu,) = read_smi(text("telegraf_tesla-t4.xml")).gpus
    assert gpu.ecc_enabled is True
    assert gpu.ecc == EccCounts(0, 0, 0, 0)
    assert gpu.memory_health.retired_pages_sbe == 0 and gpu.memory_health.retired_pages_dbe == 0
    assert gpu.memory_health.retired_pages_pending is False


def test_a100_capture_reports_the_attached_gpus_mismatch() -> None:
    reading = read_smi(text("telegraf_a100-sxm4-v12.xml"))
    assert "attached_gpus says 4 but the XML lists 1 <gpu> element(s)" in reading.errors


def _vm_with_smi(matrix: Matrix, xml: str) -> dict[str, Any]:
    data = json.loads(VM_TEMPLATE.read_text(encoding="utf-8"))
    data = copy.deepcopy(data)
    data["probes"]["nvidia_smi"]["stdout"] = xml
    return data


def _health(matrix: Matrix, xml: str) -> tuple[Status, str]:
    record = read_vm_data(matrix, _vm_with_smi(matrix, xml), "test.json")
    judged = judge_record(matrix, record, None)
    assert judged is not None
    found = next(c for c in judged.criteria if c.id == "vm.health")
    return found.status, found.message()


def test_a100_with_mig_on_and_missing_gpus_warns_in_vm_health(matrix: Matrix) -> None:
    status, message = _health(matrix, text("telegraf_a100-sxm4-v12.xml"))
    assert status is Status.WARN
    assert "MIG mode is on" in message and "19968 MiB" in message and "81920 MiB" in message
    assert "counts 4 attached GPU(s) but lists 1" in message


def test_healthy_real_t4_passes_vm_health(matrix: Matrix) -> None:
    status, message = _health(matrix, text("telegraf_tesla-t4.xml"))
    assert status is Status.PASS and "ECC" in message and "retired pages" in message


def test_lifetime_double_bit_errors_fail_vm_health(matrix: Matrix) -> None:
    # K80s in real captures carry lifetime DBEs with no volatile ones: DCGM treats them as failing memory.
    xml = text("telegraf_tesla-t4.xml")
    counter = "<dram_uncorrectable>0</dram_uncorrectable>"
    at = xml.index(counter, xml.index("<aggregate>"))
    xml = xml[:at] + "<dram_uncorrectable>7</dram_uncorrectable>" + xml[at + len(counter) :]
    status, message = _health(matrix, xml)
    assert status is Status.FAIL and "7 uncorrected (double-bit) ECC errors in the GPU's lifetime" in message


@pytest.mark.parametrize(
    ("sbe", "dbe", "status", "words"),
    [
        ("0", "15", Status.PASS, "no trouble"),
        ("0", "16", Status.FAIL, "16 pages retired for double-bit errors > 15"),
        ("48", "15", Status.FAIL, "63 retired pages >= 63"),
        ("47", "15", Status.PASS, "no trouble"),
    ],
)
def test_retired_pages_by_dcgm_limits(matrix: Matrix, sbe: str, dbe: str, status: Status, words: str) -> None:
    xml = text("telegraf_tesla-t4.xml")
    first = xml.index("<retired_count>0</retired_count>")
    second = xml.index("<retired_count>0</retired_count>", first + 1)
    xml = (
        xml[:first]
        + f"<retired_count>{sbe}</retired_count>"
        + xml[first + len("<retired_count>0</retired_count>") : second]
        + f"<retired_count>{dbe}</retired_count>"
        + xml[second + len("<retired_count>0</retired_count>") :]
    )
    got, message = _health(matrix, xml)
    assert got is status and words in message, message
