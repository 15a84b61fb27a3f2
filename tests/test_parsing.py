"""Parsers of recorded output: versions, PowerShell JSON quirks, PCI instance ids, nvidia-smi XML."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from eflowgpu.host import psjson
from eflowgpu.nvsmi import NvidiaSmiError, parse_nvidia_smi
from eflowgpu.pci import parse_instance_id, ven_dev_in
from eflowgpu.versions import DriverVersion, WindowsBuild, nvidia_version_from_windows
from eflowgpu.vm.smi import read_smi

from helpers import SHARED


@pytest.mark.parametrize(
    ("windows", "nvidia"),
    [
        ("31.0.15.3623", "536.23"),
        ("30.0.14.7141", "471.41"),
        ("26.21.14.4274", "442.74"),
        ("27.21.14.5241", "452.41"),
        ("32.0.15.6590", "565.90"),
        ("9.18.13.4788", "347.88"),
        ("31.0.15.0512", "505.12"),  # leading zero kept: [System.Version] would drop it
        ("30.0.14.7005", "470.05"),
    ],
)
def test_nvidia_version_from_windows(windows: str, nvidia: str) -> None:
    assert str(nvidia_version_from_windows(windows)) == nvidia


@pytest.mark.parametrize("bad", ["", "536.23", "31.0.15", "a.b.c.d", "31.0.15.3623.1"])
def test_nvidia_version_rejects_other_text(bad: str) -> None:
    assert nvidia_version_from_windows(bad) is None


def test_driver_versions_compare_numerically() -> None:
    assert DriverVersion.parse("495.00") > DriverVersion.parse("470.05")
    assert DriverVersion.parse("535.104.05") > DriverVersion.parse("535.54.03")
    assert DriverVersion.parse("1000.1") > DriverVersion.parse("999.99")


def test_builds_compare_numerically_and_by_revision() -> None:
    assert WindowsBuild.parse("19044") < WindowsBuild.parse("20145")
    minimum = WindowsBuild.parse("19044.1620")
    assert WindowsBuild(19044, 1620).meets(minimum)
    assert not WindowsBuild(19044, 1619).meets(minimum)
    assert WindowsBuild(19045, 0).meets(minimum)
    assert WindowsBuild(19044, None).meets(minimum) is None
    assert WindowsBuild(22000, None).meets(WindowsBuild.parse("22000"))
    with pytest.raises(ValueError, match="not a Windows build"):
        WindowsBuild.parse("21H2")


def test_psjson_bom_crlf_and_case() -> None:
    value = psjson.parse('\ufeff{\r\n    "FreeSpace":  "412316860416",\r\n    "deviceid": "C:"\r\n}\r\n')
    obj = psjson.one(value)
    assert obj is not None
    assert psjson.to_int(obj["freespace"]) == 412316860416
    assert obj["deviceid"] == "C:"


def test_psjson_single_object_and_arrays() -> None:
    assert psjson.objects(psjson.parse('{"Name": "a"}')) == [{"name": "a"}]
    assert psjson.one(psjson.parse('[{"Name": "a"}]')) == {"name": "a"}
    assert psjson.objects(psjson.parse("")) == []
    assert psjson.objects(psjson.parse("   \r\n")) == []
    assert psjson.one(psjson.parse("[]")) is None


def test_psjson_scalars() -> None:
    assert psjson.to_bool("True") is True and psjson.to_bool(0) is False and psjson.to_bool(None) is None
    assert psjson.to_int("0x10") == 16 and psjson.to_int(True) is None and psjson.to_int(3.5) is None
    assert psjson.to_text(" x ") == "x" and psjson.to_text("") is None
    assert psjson.to_texts(["a", None, "b"]) == ["a", "b"] and psjson.to_texts("a") == ["a"]


def test_psjson_dates() -> None:
    assert psjson.to_datetime(psjson.parse('"\\/Date(1628121600000)\\/"')) == datetime(2021, 8, 5, tzinfo=UTC)
    assert psjson.to_datetime("2021-08-05T00:00:00") == datetime(2021, 8, 5)
    assert psjson.to_datetime("yesterday") is None


def test_psjson_rejects_non_json() -> None:
    with pytest.raises(psjson.PsJsonError):
        psjson.parse("Get-VMHost : The term 'Get-VMHost' is not recognized")


def test_instance_ids() -> None:
    parsed = parse_instance_id("PCI\\VEN_10DE&DEV_1EB8&SUBSYS_12A210DE&REV_A1\\4&1B8B6C12&0&0010")
    assert parsed is not None and not parsed.dismounted
    assert parsed.identity.pci_id == "10DE:1EB8" and parsed.identity.subsys_id == "10DE:12A2"
    dismounted = parse_instance_id("PCIP\\VEN_10DE&DEV_1EB8&SUBSYS_12A210DE&REV_A1\\6&2B5D6F8&0&00000010")
    assert dismounted is not None and dismounted.dismounted
    assert parse_instance_id("ROOT\\BasicRender\\0000") is None
    assert parse_instance_id("SWD\\REMOTEDISPLAYENUM\\RDPIDD") is None
    no_subsys = parse_instance_id("pci\\ven_8086&dev_9a49")
    assert (
        no_subsys is not None and no_subsys.identity.subsys_id is None and no_subsys.identity.device == "9A49"
    )
    assert ven_dev_in("\\\\?\\PCI#VEN_10DE&DEV_2503&SUBSYS_397D1462#{x}\\GPUPARAV") == ("10DE", "2503")


def test_nvidia_smi_sample() -> None:
    sample = SHARED / "reference" / "samples" / "rtx-3080_wsl_gpupv.RECONSTRUCTED.xml"
    if not sample.exists():
        pytest.skip("shared/reference samples are not beside the project")
    log = parse_nvidia_smi(sample.read_text())
    assert log.driver_version == "537.58"
    assert log.gpus[0].pci_device == "2206" and log.gpus[0].pci_vendor == "10DE"
    assert log.gpus[0].driver_model == "WDDM"


@pytest.mark.parametrize(
    ("xml", "words"),
    [
        ("", "empty"),
        ("<nvidia_smi_log><gpu>", "not valid"),
        ("<html/>", "root element"),
        ('<!DOCTYPE x [<!ENTITY a "aaaa">]><nvidia_smi_log>&a;</nvidia_smi_log>', "not valid"),
    ],
)
def test_nvidia_smi_rejects_bad_xml(xml: str, words: str) -> None:
    with pytest.raises(NvidiaSmiError, match=words):
        parse_nvidia_smi(xml)


def test_nvidia_smi_odd_ids_are_not_ids() -> None:
    log = parse_nvidia_smi(
        "<nvidia_smi_log><driver_version>N/A</driver_version><gpu id='1'><pci>"
        "<pci_device_id>[REDACTED]</pci_device_id><pci_sub_system_id>Not Supported</pci_sub_system_id>"
        "</pci></gpu></nvidia_smi_log>"
    )
    assert log.driver_version is None
    assert log.gpus[0].pci_device is None and log.gpus[0].subsys_device is None


# --- one rule for PCI and subsystem ids on both parsers (host: eflowgpu.nvsmi, VM: eflowgpu.vm.smi) ----


def _log(subsys: str, cuda: str = "12.2") -> str:
    return (
        f"<nvidia_smi_log><driver_version>530.30.02</driver_version><cuda_version>{cuda}</cuda_version>"
        "<attached_gpus>1</attached_gpus><gpu id='00000000:09:00.0'><pci>"
        "<pci_device_id>1B8110DE</pci_device_id>"
        f"<pci_sub_system_id>{subsys}</pci_sub_system_id></pci></gpu></nvidia_smi_log>"
    )


@pytest.mark.parametrize(
    ("subsys", "expected"),
    [
        ("00007377", ("0000", "7377")),  # Colorful boards: subsystem device 0000 is a real value
        ("33011462", ("3301", "1462")),
        ("00000000", (None, None)),  # no id
        ("000000DE", (None, None)),  # what passthrough drivers print for an id they cannot read
        ("[REDACTED]", (None, None)),
    ],
)
def test_subsystem_ids_read_alike_on_host_and_vm(
    subsys: str, expected: tuple[str | None, str | None]
) -> None:
    host = parse_nvidia_smi(_log(subsys)).gpus[0]
    vm = read_smi(_log(subsys)).gpus[0]
    assert (host.subsys_device, host.subsys_vendor) == expected
    assert (vm.subsys_device, vm.subsys_vendor) == expected
    assert host.pci_device == vm.pci_device == "1B81"


def test_cuda_version_not_found_is_no_version() -> None:
    # A GTX 1070 with driver 530.30.02 printed <cuda_version>Not Found</cuda_version> (quoted in a public
    # Go test; see tests/data/real/README.md).
    assert parse_nvidia_smi(_log("33011462", "Not Found")).cuda_version is None
    reading = read_smi(_log("33011462", "Not Found"))
    assert reading.cuda_version is None and reading.gpus[0].cuda_version is None and not reading.errors


def test_zero_subsystem_id_is_silent_on_the_vm_side() -> None:
    assert not read_smi(_log("00000000")).errors
    assert read_smi(_log("000000DE")).errors  # a malformed id is reported


def test_real_partitionable_gpu_name_gives_its_ids() -> None:
    # Get-VMHostPartitionableGpu on an RTX 3060 (Gigabyte board), as posted in Justsenger/ExHyperV#67.
    name = (
        "\\\\?\\PCI#VEN_10DE&DEV_2504&SUBSYS_40741458&REV_A1#4&23b96b75&0&0008#"
        "{064092b3-625e-43bf-9eb5-dc845897dd59}\\GPUPARAV"
    )
    assert ven_dev_in(name) == ("10DE", "2504")
