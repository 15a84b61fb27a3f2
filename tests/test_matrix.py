"""The support matrix: matrix.yaml loads, and every kind of mistake names the file, the line and the field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from eflowgpu.errors import MatrixError
from eflowgpu.matrix import Matrix, load_matrix
from eflowgpu.versions import DriverVersion, WindowsBuild

from helpers import SHARED


def test_catalog_has_every_reference_gpu(matrix: Matrix) -> None:
    reference = SHARED / "reference" / "gpus.yaml"
    if not reference.exists():
        pytest.skip("shared/reference/gpus.yaml is not beside the project")
    keys = [g["key"] for g in yaml.safe_load(reference.read_text())["gpus"]]
    assert sorted(matrix.gpus) == sorted(keys)
    for entry in yaml.safe_load(reference.read_text())["gpus"]:
        ours = matrix.gpus[entry["key"]]
        assert set(ours.devices) == {str(d).upper() for d in entry["pci"]["device"]}
        assert ours.specs.mem_gib == entry["mem_gib"]
        assert ours.specs.pcie_gen == entry["pcie_gen"]


def test_a2_and_a16_share_a_device_and_differ_by_subsystem(matrix: Matrix) -> None:
    assert matrix.gpus["a2"].devices == matrix.gpus["a16"].devices == ("25B6",)
    assert matrix.gpus["a2"].subsystems == ("10DE:157E",)
    assert matrix.gpus["a16"].subsystems == ("10DE:14A9",)


def test_profiles_are_complete_tables(matrix: Matrix) -> None:
    assert matrix.default_profile == "preview-2021-06"
    preview, ga = matrix.profiles["preview-2021-06"], matrix.profiles["ga-2022-06"]
    assert preview.passthrough_selection == "automatic"
    assert ga.passthrough_selection == "explicit"
    assert [r.passthrough for r in preview.rows] == ["DDA", "GPU-PV"]
    assert preview.row_for("t4", "datacenter").id == "t4-dda"  # type: ignore[union-attr]
    assert preview.row_for("a2", "datacenter") is None
    assert ga.row_for("a2", "datacenter").passthrough == "DDA"  # type: ignore[union-attr]
    assert ga.row_for(None, "intel_igpu").passthrough == "GPU-PV"  # type: ignore[union-attr]
    assert preview.row_for(None, "rtx_workstation") is None
    gpupv = ga.row_for(None, "geforce")
    assert gpupv is not None and gpupv.driver is not None
    assert gpupv.driver.min_version == DriverVersion.parse("495.00")
    win10 = gpupv.windows[0]
    assert win10.min_build == WindowsBuild(19044, 1620) and win10.max_build == 19045 and win10.requires_wsl
    for profile in (preview, ga):
        assert profile.source.document.endswith("gpu-acceleration.md")


def test_late_2021_profile_is_r2(matrix: Matrix) -> None:
    late = matrix.profiles["late-2021"]
    assert list(matrix.profiles) == ["preview-2021-06", "late-2021", "ga-2022-06"]
    assert matrix.default_profile == "preview-2021-06"  # the founding document stays the default
    assert late.passthrough_selection == "explicit"
    assert late.row_for("a2", "datacenter") is None  # R2 names the T4 only
    assert late.row_for(None, "rtx_workstation") is None  # GeForce/Quadro only
    t4 = late.row_for("t4", "datacenter")
    assert t4 is not None and [w.editions for w in t4.windows] == [
        ("server",),
        ("professional", "enterprise", "iot_enterprise"),
    ]
    assert t4.windows[1].min_build == WindowsBuild(22000, None)  # no Windows 10 DDA
    gpupv = late.row_for(None, "geforce")
    assert gpupv is not None and gpupv.windows[0].min_build == WindowsBuild(19044, 1263)
    assert gpupv.windows[0].requires_wsl and gpupv.windows[0].max_build == 19045
    assert late.row_for(None, "intel_igpu") is not None


def test_known_broken_builds_and_eflow_defects(matrix: Matrix) -> None:
    preview = matrix.profiles["preview-2021-06"].row_for(None, "geforce")
    assert preview is not None
    rule = preview.windows[0]
    assert rule.exclusion(21354) and rule.exclusion(20226) and rule.exclusion(21390) is None
    ids = [d.id for d in matrix.eflow_defects]
    assert ids == ["a2-client-passthrough", "dda-nvidia-smi-broken", "container-toolkit-cve-2025-23266"]
    a2, broken, cve = matrix.eflow_defects
    assert a2.affects_version((1, 2, 2206, 25)) and not a2.affects_version((1, 3, 1, 2092))
    assert broken.affects_version((1, 3, 1, 2092)) and not broken.affects_version((1, 4, 1, 13112))
    assert cve.affects_version((1, 5, 5, 1)) and not cve.affects_version((1, 5, 6, 8025))


def test_edition_groups(matrix: Matrix) -> None:
    assert matrix.edition_group("Professional").key == "professional"  # type: ignore[union-attr]
    assert matrix.edition_group("iotenterprise").key == "iot_enterprise"  # type: ignore[union-attr]
    assert matrix.edition_group("Core").hyperv is False  # type: ignore[union-attr]
    assert matrix.edition_group("Nonsense") is None


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "matrix.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _mutated(project_root: Path, old: str, new: str) -> str:
    text = (project_root / "matrix.yaml").read_text(encoding="utf-8")
    assert old in text, old
    return text.replace(old, new, 1)


def _line_of(text: str, needle: str) -> int:
    return text.splitlines().index(next(line for line in text.splitlines() if needle in line)) + 1


@pytest.mark.parametrize(
    ("old", "new", "needle", "field", "words"),
    [
        (
            "        passthrough: GPU-PV\n        windows:\n          - editions: [enterprise, professional]"
            "\n            min_build: '20145'",
            "        passthrough: GPU-PVV\n        windows:\n          - editions: [enterprise, professional]"
            "\n            min_build: '20145'",
            "passthrough: GPU-PVV",
            "profiles.preview-2021-06.rows[1].passthrough",
            "expected one of DDA, GPU-PV",
        ),
        (
            "gpus: {models: [t4, a2]}",
            "gpus: {models: [t4, a20]}",
            "models: [t4, a20]",
            "profiles.ga-2022-06.rows[0].gpus.models",
            "'a20' is not a defined GPU",
        ),
        (
            "          - {editions: [server], min_build: '17763'}",
            "          - {editions: [servers], min_build: '17763'}",
            "editions: [servers]",
            "profiles.preview-2021-06.rows[0].windows[0].editions",
            "'servers' is not a defined edition group",
        ),
        (
            "  min_free_disk_gb: 10 ",
            "  min_free_disk_gb: ten ",
            "min_free_disk_gb: ten",
            "host.min_free_disk_gb",
            "expected an integer or a number",
        ),
        (
            "              - {build: 21354, reason:",
            "              - {build: twenty, reason:",
            "build: twenty",
            "profiles.preview-2021-06.rows[1].windows[0].excluded_builds[1].build",
            "expected an integer",
        ),
        (
            "    before: '1.3.1.2092'",
            "    before: '1.3.x'",
            "before: '1.3.x'",
            "eflow_defects[0].before",
            "expected a module version",
        ),
        (
            "    models: [a2]\n    passthrough: DDA",
            "    models: [a3]\n    passthrough: DDA",
            "models: [a3]",
            "eflow_defects[0].models",
            "'a3' is not a defined GPU",
        ),
        (
            "  dda_mmio_mib: 16432",
            "  dda_mmio_mib: -1",
            "dda_mmio_mib: -1",
            "host.dda_mmio_mib",
            "expected a number of 0 or more",
        ),
        (
            "    family: Turing\n",
            "    family: Turing\n    famly: Turing\n",
            "famly: Turing",
            "gpus.t4.famly",
            "unknown key",
        ),
        (
            "gpus: {brands: [geforce, quadro]}",
            "gpus: {brands: [geforce, quadra]}",
            "brands: [geforce, quadra]",
            "profiles.preview-2021-06.rows[1].gpus.brands",
            "'quadra' is not a defined brand",
        ),
        (
            "    brand: datacenter\n",
            "    brand: datacentre\n",
            "brand: datacentre",
            "gpus.t4.brand",
            "not a defined brand",
        ),
        (
            "    pci: {device: ['1EB8']",
            "    pci: {device: ['1EB8X']",
            "1EB8X",
            "gpus.t4.pci.device[0]",
            "does not have the expected form",
        ),
        (
            "          min_version: '495.00'",
            "          min_version: '495.oo'",
            "495.oo",
            "profiles.late-2021.rows[1].driver.min_version",
            "not a driver version",
        ),
    ],
)
def test_mistakes_name_file_line_and_field(
    tmp_path: Path, project_root: Path, old: str, new: str, needle: str, field: str, words: str
) -> None:
    text = _mutated(project_root, old, new)
    path = _write(tmp_path, text)
    with pytest.raises(MatrixError) as caught:
        load_matrix(path)
    err = caught.value
    assert err.field == field
    assert words in err.reason
    assert err.line == _line_of(text, needle)
    assert str(err).startswith(f"{path}:{err.line}: {field}: ")


def test_duplicate_key_names_both_lines(tmp_path: Path, project_root: Path) -> None:
    text = _mutated(
        project_root,
        "  t4:\n    name: NVIDIA Tesla T4\n",
        "  t4:\n    name: NVIDIA Tesla T4\n    name: Tesla T4 again\n",
    )
    path = _write(tmp_path, text)
    with pytest.raises(MatrixError, match="duplicate key") as caught:
        load_matrix(path)
    assert caught.value.line == _line_of(text, "name: Tesla T4 again")
    assert f"first written on line {_line_of(text, 'name: NVIDIA Tesla T4')}" in caught.value.reason


def test_duplicate_gpu_key_is_rejected(tmp_path: Path, project_root: Path) -> None:
    text = _mutated(project_root, "  a2:\n    name: NVIDIA A2\n", "  t4:\n    name: NVIDIA A2\n")
    with pytest.raises(MatrixError, match="duplicate key"):
        load_matrix(_write(tmp_path, text))


def test_merge_keys_may_override(matrix: Matrix) -> None:
    # `<<: *win10` with its own note is not a duplicate key
    assert "WSL installed" in (matrix.profiles["ga-2022-06"].rows[1].windows[0].note or "")


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("format: eflow-gpu-matrix/1\nprofiles: [\n", "not valid YAML"),
        ("", "the matrix is empty"),
        ("- a list\n", "expected a mapping"),
        ("format: other/1\n", "unknown key"),
    ],
)
def test_broken_files(tmp_path: Path, text: str, words: str) -> None:
    with pytest.raises(MatrixError, match=words):
        load_matrix(_write(tmp_path, text if words != "unknown key" else text + "colour: blue\n"))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(MatrixError, match="cannot read the matrix"):
        load_matrix(tmp_path / "nope.yaml")


def test_no_python_objects_from_yaml(tmp_path: Path) -> None:
    with pytest.raises(MatrixError, match="not valid YAML"):
        load_matrix(_write(tmp_path, "format: !!python/object/apply:os.system ['true']\n"))
