"""Vendor submissions end to end: ``eflowgpu bundle`` a sample-lab run, then ``eflowgpu verify`` it.

The lab is run for real (the pack in a subprocess over fixtures/hosts and fixtures/vms); the
package is then edited the ways the issue names (a verdict, a snapshot's byte, a member ``../x``, a
matrix, the signature) and each edit must be caught and named.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from eflowgpu import cli
from eflowgpu.bundle import parse_manifest, read_archive, write_archive
from eflowgpu.bundle.manifest import MANIFEST_NAME, REPORT_MEMBER

from helpers import PROJECT

ACS_WAIVER = (PROJECT / "tests" / "data" / "waivers" / "acs.yaml").read_text(encoding="utf-8")
TAMPERED_GPU = "LAB-T4-NOIOV / NVIDIA Tesla T4 (10DE:1EB8)"


HOSTS, VMS = (len(list((PROJECT / "fixtures" / kind).glob("*.json"))) for kind in ("hosts", "vms"))
SNAPSHOTS = HOSTS + VMS
"""How many snapshot files the sample lab has (hosts and VMs): all of them travel in a package."""


def systems_in(run: Path) -> int:
    """How many systems a run's report holds."""
    return len(json.loads((run / "compat-report.json").read_text(encoding="utf-8"))["systems"])


def run_lab(out: Path, *args: str) -> None:
    """The pack over the sample lab (hosts and VMs), from the project folder, as a vendor runs it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    command = [
        *(sys.executable, "-m", "pytest", "suites/host", "-p", "no:allure_pytest"),
        *("--host-snapshot", "fixtures/hosts", "--vm-snapshot", "fixtures/vms", "--report-dir", str(out)),
    ]
    done = subprocess.run(
        [*command, *args], cwd=PROJECT, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert (out / "compat-report.json").is_file(), done.stdout[-3000:] + done.stderr[-3000:]


def eflowgpu(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    context = cli.CliContext(runner=None, find_powershell=lambda: None, stdout=out, stderr=err)  # type: ignore[arg-type]
    return cli.main(list(argv), context=context), out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two runs of the sample lab: plain, and with the certifier's waiver for the no-ACS host."""
    root = tmp_path_factory.mktemp("runs")
    waivers = root / "waivers.yaml"
    waivers.write_text(ACS_WAIVER, encoding="utf-8")
    run_lab(root / "plain")
    run_lab(root / "waived", "--waivers", str(waivers))
    return {"plain": root / "plain", "waived": root / "waived", "waivers": waivers}


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The vendor's Ed25519 key pair and another public key, as PEM files."""
    root = tmp_path_factory.mktemp("keys")
    paths = {}
    for name in ("vendor", "other"):
        key = Ed25519PrivateKey.generate()
        private, public = root / f"{name}.key", root / f"{name}.pub"
        private.write_bytes(key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
        public.write_bytes(key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo))
        paths[name] = private
        paths[f"{name}.pub"] = public
    return paths


@pytest.fixture(scope="module")
def bundle(runs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The plain run, packaged by ``eflowgpu bundle``."""
    path = tmp_path_factory.mktemp("bundle") / "lab.tar.gz"
    code, out, err = eflowgpu("bundle", str(runs["plain"]), "--out", str(path), "--submitter", "ACME QA")
    assert code == 0, err
    assert out.startswith(f"wrote {path}: ") and f"{SNAPSHOTS} snapshots, not signed" in out
    return path


def edited(source: Path, target: Path, change: Callable[[dict[str, bytes]], None]) -> Path:
    """A copy of the package with ``change`` applied to its members (the manifest left as it was)."""
    files = read_archive(source)
    change(files)
    write_archive(target, files)
    return target


def report_of(files: dict[str, bytes]) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(files[REPORT_MEMBER])
    return data


# --- bundle then verify ----------------------------------------------------------------------------


def test_the_manifest_names_the_run_and_hashes_every_file(bundle: Path, runs: dict[str, Path]) -> None:
    files = read_archive(bundle)
    manifest = parse_manifest(files.pop(MANIFEST_NAME))
    report = json.loads((runs["plain"] / "compat-report.json").read_text(encoding="utf-8"))
    assert manifest.submitter == "ACME QA"
    assert manifest.profile == report["matrix"]["profile"] == "preview-2021-06"
    assert manifest.matrix_sha256 == report["matrix"]["sha256"]
    assert manifest.pack_version and manifest.python.startswith("CPython") and manifest.platform
    assert set(manifest.files) == set(files)
    assert all(hashlib.sha256(files[n]).hexdigest() == e.sha256 for n, e in manifest.files.items())
    assert {"report/report.html", "report/report.md", "report/junit.xml", "matrix/matrix.yaml"} <= set(files)
    kinds = [s.kind for s in manifest.snapshots]
    assert (kinds.count("host"), kinds.count("vm")) == (HOSTS, VMS)
    sources = {s.source for s in manifest.snapshots}
    assert "fixtures/vms/vm-t4-srv2022-dda.json" in sources
    assert any(s.endswith("fixtures/hosts/lab-t4-noacs.json") for s in sources)
    assert files["snapshots/vm/vm-corrupt-truncated.json"]  # unreadable snapshots travel too


def test_bundle_then_verify_the_sample_lab_exits_0(
    bundle: Path, runs: dict[str, Path], tmp_path: Path
) -> None:
    code, out, err = eflowgpu("verify", str(bundle), "--out", str(tmp_path / "v"))
    assert code == 0, out + err
    assert (
        f"re-judged {systems_in(runs['plain'])} system(s) from their snapshots with profile preview-2021-06"
        in out
    )
    assert out.rstrip().endswith("result: OK, everything holds")
    written = json.loads((tmp_path / "v" / "verify.json").read_text(encoding="utf-8"))
    assert written["format"] == "eflow-gpu-verify/1" and written["ok"] is True and written["problems"] == []
    assert written["package"]["submitter"] == "ACME QA"
    assert (tmp_path / "v" / "verify.txt").read_text(encoding="utf-8") == out


def test_the_package_is_reproducible(bundle: Path, runs: dict[str, Path], tmp_path: Path) -> None:
    again = tmp_path / "again.tar.gz"
    assert eflowgpu("bundle", str(runs["plain"]), "--out", str(again), "--submitter", "ACME QA")[0] == 0
    assert again.read_bytes() == bundle.read_bytes()


# --- what verify catches ---------------------------------------------------------------------------


def test_a_verdict_edited_in_the_report_names_system_gpu_and_both_verdicts(
    bundle: Path, tmp_path: Path
) -> None:
    def promote(files: dict[str, bytes]) -> None:
        report = report_of(files)
        system = next(s for s in report["systems"] if s["host"] == "LAB-T4-NOIOV")
        assert system["gpus"][0]["verdict"] == "not-eligible"
        system["gpus"][0]["verdict"] = "eligible"
        files[REPORT_MEMBER] = json.dumps(report, indent=2).encode()

    code, out, _ = eflowgpu("verify", str(edited(bundle, tmp_path / "v.tar.gz", promote)))
    assert code == 1
    said = "the report says 'eligible', the snapshots give 'not-eligible'"
    assert f"PROBLEM (verdict): {TAMPERED_GPU}: verdict: {said}" in out
    assert "PROBLEM (file): report/compat-report.json changed after the run" in out


def test_a_verdict_edited_with_the_manifest_rehashed_is_still_caught(bundle: Path, tmp_path: Path) -> None:
    """Hashes only show that files changed; re-judging shows the verdict is not the snapshots'."""

    def promote_and_rehash(files: dict[str, bytes]) -> None:
        report = report_of(files)
        system = next(s for s in report["systems"] if s["host"] == "LAB-T4-NOIOV")
        system["gpus"][0]["verdict"] = "eligible"
        system["gpus"][0]["criteria"] = [
            {**c, "status": "pass"} if c["id"] == "dda.iov" else c for c in system["gpus"][0]["criteria"]
        ]
        files[REPORT_MEMBER] = json.dumps(report, indent=2).encode()
        rehash(files, REPORT_MEMBER)

    code, out, _ = eflowgpu("verify", str(edited(bundle, tmp_path / "v.tar.gz", promote_and_rehash)))
    assert code == 1
    assert "PROBLEM (file)" not in out
    assert f"{TAMPERED_GPU}: verdict: the report says 'eligible', the snapshots give 'not-eligible'" in out
    assert (
        f"{TAMPERED_GPU}: criteria[dda.iov].status: the report says 'pass', the snapshots give 'fail'" in out
    )


def rehash(files: dict[str, bytes], name: str) -> None:
    manifest = json.loads(files[MANIFEST_NAME])
    manifest["files"][name] = {"sha256": hashlib.sha256(files[name]).hexdigest(), "size": len(files[name])}
    files[MANIFEST_NAME] = json.dumps(manifest).encode()


def test_a_snapshot_byte_changed_names_the_file(bundle: Path, tmp_path: Path) -> None:
    name = "snapshots/host/lab-t4-srv2022.json"

    def flip(files: dict[str, bytes]) -> None:
        data = bytearray(files[name])
        data[data.index(b'"IovSupport') + 1] = ord("j")
        files[name] = bytes(data)

    code, out, _ = eflowgpu("verify", str(edited(bundle, tmp_path / "v.tar.gz", flip)))
    assert code == 1
    assert f"PROBLEM (file): snapshot {name} (source " in out
    assert "lab-t4-srv2022.json) changed after the run: sha256 " in out


def test_files_missing_or_added_are_named(bundle: Path, tmp_path: Path) -> None:
    def shuffle(files: dict[str, bytes]) -> None:
        del files["report/junit.xml"]
        files["report/extra.txt"] = b"not from the run"

    code, out, _ = eflowgpu("verify", str(edited(bundle, tmp_path / "v.tar.gz", shuffle)))
    assert code == 1
    assert "PROBLEM (file): report/junit.xml: listed in the manifest, missing from the package" in out
    assert "PROBLEM (file): report/extra.txt: in the package, not in the manifest (added)" in out


def test_a_matrix_that_is_not_the_one_named_is_caught(bundle: Path, tmp_path: Path) -> None:
    def swap(files: dict[str, bytes]) -> None:
        files["matrix/matrix.yaml"] += b"\n# edited after the run\n"
        rehash(files, "matrix/matrix.yaml")

    code, out, _ = eflowgpu("verify", str(edited(bundle, tmp_path / "v.tar.gz", swap)))
    assert code == 1
    assert "PROBLEM (matrix): the packaged matrix matrix/matrix.yaml (sha256 " in out
    assert "is not the one the report was judged by" in out


def test_a_member_named_dotdot_is_refused_and_nothing_is_written_outside(
    bundle: Path, tmp_path: Path
) -> None:
    import tarfile

    evil = tmp_path / "pkg" / "evil.tar.gz"
    evil.parent.mkdir()
    with tarfile.open(evil, "w:gz") as tar:
        for name, data in read_archive(bundle).items():
            member = tarfile.TarInfo(name)
            member.size = len(data)
            tar.addfile(member, io.BytesIO(data))
        member = tarfile.TarInfo("../x")
        member.size = 2
        tar.addfile(member, io.BytesIO(b"hi"))
    out_dir = tmp_path / "pkg" / "out"
    code, out, _ = eflowgpu("verify", str(evil), "--out", str(out_dir))
    assert code == 1
    assert "PROBLEM (archive): refused: member '../x' climbs out of the archive" in out
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")) == [
        "pkg",
        "pkg/evil.tar.gz",
        "pkg/out",
        "pkg/out/verify.json",
        "pkg/out/verify.txt",
    ]


# --- the certifier's own table ---------------------------------------------------------------------


def test_another_profile_is_shown_beside_the_packaged_verdicts_not_as_tampering(
    bundle: Path, tmp_path: Path
) -> None:
    code, out, _ = eflowgpu("verify", str(bundle), "--profile", "ga-2022-06", "--out", str(tmp_path / "p"))
    assert code == 0, out
    assert (
        "under matrix matrix/matrix.yaml profile ga-2022-06 (beside the packaged verdicts; not a problem)"
        in out
    )
    assert (
        "LAB-3060-W10-1620 / NVIDIA GeForce RTX 3060 (10DE:2503): packaged not-eligible, here eligible" in out
    )
    rows = json.loads((tmp_path / "p" / "verify.json").read_text(encoding="utf-8"))["other_judgement"]["rows"]
    assert {
        "system": "LAB-A2-IOT1620",
        "gpu": "NVIDIA A2 (10DE:25B6)",
        "packaged": "unsupported",
    }.items() <= next(r for r in rows if r["system"] == "LAB-A2-IOT1620" and r["gpu"]).items()
    # The same through a copy of the matrix whose default profile is the other one (--matrix).
    text = (PROJECT / "matrix.yaml").read_text(encoding="utf-8")
    assert "default_profile: preview-2021-06" in text
    mine = tmp_path / "today.yaml"
    mine.write_text(text.replace("default_profile: preview-2021-06", "default_profile: ga-2022-06"), "utf-8")
    code, out2, _ = eflowgpu("verify", str(bundle), "--matrix", str(mine))
    assert code == 0
    assert f"under matrix {mine} profile ga-2022-06" in out2
    assert out2.split("(beside", 1)[1] == out.split("(beside", 1)[1]
    assert eflowgpu("verify", str(bundle), "--profile", "nope")[0] == 2


# --- signatures ------------------------------------------------------------------------------------


def test_signed_packages_verify_with_the_vendors_key_only(
    runs: dict[str, Path], keys: dict[str, Path], tmp_path: Path
) -> None:
    signed = tmp_path / "signed.tar.gz"
    code, out, err = eflowgpu(
        "bundle", str(runs["plain"]), "--out", str(signed), "--sign-key", str(keys["vendor"])
    )
    assert code == 0, err
    assert ", signed; sha256 " in out
    code, out, _ = eflowgpu("verify", str(signed), "--public-key", str(keys["vendor.pub"]))
    assert code == 0, out
    assert "note: signature: good (Ed25519, the given public key)" in out
    code, out, _ = eflowgpu("verify", str(signed), "--public-key", str(keys["other.pub"]))
    assert code == 1
    assert "PROBLEM (signature): the signature does not match manifest.json" in out

    def resubmit(files: dict[str, bytes]) -> None:
        manifest = json.loads(files[MANIFEST_NAME])
        manifest["submitter"] = "someone else"
        files[MANIFEST_NAME] = json.dumps(manifest).encode()

    forged = edited(signed, tmp_path / "forged.tar.gz", resubmit)
    assert eflowgpu("verify", str(forged))[0] == 0  # without a key, only the hashes can be checked
    code, out, _ = eflowgpu("verify", str(forged), "--public-key", str(keys["vendor.pub"]))
    assert code == 1 and "PROBLEM (signature)" in out
    unsigned = edited(signed, tmp_path / "unsigned.tar.gz", lambda files: files.pop("manifest.sig"))
    code, out, _ = eflowgpu("verify", str(unsigned), "--public-key", str(keys["vendor.pub"]))
    assert code == 1 and "the package is not signed, but a public key was given" in out
    code, _, err = eflowgpu("verify", str(signed), "--public-key", str(keys["vendor"]))
    assert code == 2 and "is not a PEM public key" in err


# --- waivers in a package --------------------------------------------------------------------------


def test_a_package_records_its_waivers_and_verify_reapplies_and_audits_them(
    runs: dict[str, Path], tmp_path: Path
) -> None:
    path = tmp_path / "waived.tar.gz"
    assert eflowgpu("bundle", str(runs["waived"]), "--out", str(path))[0] == 0
    files = read_archive(path)
    manifest = parse_manifest(files[MANIFEST_NAME])
    assert manifest.waivers is not None and manifest.waivers["applied"] == ["W-2026-001"]
    code, out, _ = eflowgpu("verify", str(path))
    assert code == 0, out
    assert "waiver W-2026-001 applied by the run: dda.acs on t4 at LAB-T4-NOACS" in out
    assert "not checked against yours (give --waivers)" in out
    assert eflowgpu("verify", str(path), "--waivers", str(runs["waivers"]))[0] == 0
    theirs = tmp_path / "theirs.yaml"
    other_host = ACS_WAIVER.replace("W-2026-001", "W-2026-777").replace("LAB-T4-NOACS", "LAB-OTHER")
    theirs.write_text(other_host, encoding="utf-8")
    code, out, _ = eflowgpu("verify", str(path), "--waivers", str(theirs))
    assert code == 1
    assert "PROBLEM (waiver): waiver W-2026-001 applied in the package is not in your waivers file" in out
    # Without the waiver the certifier sees the no-ACS host under its own errata: not eligible.
    assert "LAB-T4-NOACS / NVIDIA Tesla T4 (10DE:1EB8): packaged eligible" in out
    assert "here not-eligible" in out


def test_a_waiver_written_into_the_report_after_the_run_is_caught(
    runs: dict[str, Path], tmp_path: Path
) -> None:
    path = tmp_path / "waived.tar.gz"
    assert eflowgpu("bundle", str(runs["waived"]), "--out", str(path))[0] == 0

    def waive_more(files: dict[str, bytes]) -> None:
        report = report_of(files)
        system = next(s for s in report["systems"] if s["host"] == "LAB-T4-NOIOV")
        gpu = system["gpus"][0]
        note = {"id": "W-2026-001", "reason": "x", "approved_by": "y", "expires": "2099-06-30"}
        gpu["criteria"] = [
            {**c, "status": "waived", "waiver": note} if c["id"] == "dda.iov" else c for c in gpu["criteria"]
        ]
        gpu["verdict"] = "eligible"
        files[REPORT_MEMBER] = json.dumps(report).encode()
        rehash(files, REPORT_MEMBER)

    code, out, _ = eflowgpu("verify", str(edited(path, tmp_path / "more.tar.gz", waive_more)))
    assert code == 1
    assert (
        f"{TAMPERED_GPU}: criteria[dda.iov].status: the report says 'waived', the snapshots give 'fail'"
        in out
    )


# --- fleet and bad input ---------------------------------------------------------------------------


def test_fleet_accepts_packages_verifying_each(bundle: Path, runs: dict[str, Path], tmp_path: Path) -> None:
    def promote(files: dict[str, bytes]) -> None:
        report = report_of(files)
        report["systems"][5]["gpus"][0]["verdict"] = "eligible"
        files[REPORT_MEMBER] = json.dumps(report).encode()

    bad = edited(bundle, tmp_path / "bad.tar.gz", promote)
    code, out, err = eflowgpu("fleet", str(bundle), str(bad), "--out", str(tmp_path / "fleet"))
    assert code == 0, err
    assert f"1 reports (1 input errors), {systems_in(runs['plain'])} systems" in out
    assert f"eflowgpu fleet: {bad}: the package does not verify: report/compat-report.json changed" in err
    fleet = json.loads((tmp_path / "fleet" / "fleet.json").read_text(encoding="utf-8"))
    assert any(
        str(bad) == e.get("path") and "does not verify" in e.get("error", "") for e in fleet["input_errors"]
    )


def test_bundle_refuses_what_it_cannot_package_in_one_line(runs: dict[str, Path], tmp_path: Path) -> None:
    code, _, err = eflowgpu("bundle", str(tmp_path), "--out", str(tmp_path / "x.tar.gz"))
    assert code == 1 and err.startswith("eflowgpu bundle: cannot read the report ") and err.count("\n") == 1
    other = tmp_path / "other.yaml"
    other.write_text(
        (PROJECT / "matrix.yaml").read_text(encoding="utf-8") + "\n# changed\n", encoding="utf-8"
    )
    code, _, err = eflowgpu(
        "bundle", str(runs["plain"]), "--out", str(tmp_path / "x.tar.gz"), "--matrix", str(other)
    )
    assert code == 1 and "is not the one the report was judged by" in err
    assert not (tmp_path / "x.tar.gz").exists()


def test_pytest_benchmark_json_beside_the_report_is_packaged(runs: dict[str, Path], tmp_path: Path) -> None:
    import shutil

    run = tmp_path / "run"
    shutil.copytree(runs["plain"], run)
    shutil.copyfile(PROJECT / "tests" / "data" / "bundle" / "cpu-benchmark.json", run / "benchmark.json")
    (run / "notes.json").write_text('{"not": "a benchmark"}', encoding="utf-8")
    path = tmp_path / "b.tar.gz"
    assert eflowgpu("bundle", str(run), "--out", str(path))[0] == 0
    files = read_archive(path)
    assert parse_manifest(files[MANIFEST_NAME]).benchmarks == ("report/benchmark.json",)
    assert "report/notes.json" not in files
    code, out, _ = eflowgpu("verify", str(path))
    assert code == 0 and "note: the report has no measured benchmark figures" in out


def test_a_system_without_a_snapshot_file_travels_as_the_error_it_is(
    runs: dict[str, Path], tmp_path: Path
) -> None:
    """A failed collector or transport leaves an error system whose source is no file (``eflow``)."""
    import shutil

    from eflowgpu.evaluate import error_result
    from eflowgpu.report.model import system_dict

    run = tmp_path / "run"
    shutil.copytree(runs["plain"], run)
    report = json.loads((run / "compat-report.json").read_text(encoding="utf-8"))
    failed = error_result("EFLOW VM", "eflow", "PowerShell not found: cannot reach the EFLOW VM")
    report["systems"].insert(0, system_dict(failed))
    (run / "compat-report.json").write_text(json.dumps(report), encoding="utf-8")
    path = tmp_path / "b.tar.gz"
    code, _, err = eflowgpu("bundle", str(run), "--out", str(path))
    assert code == 0, err
    code, out, _ = eflowgpu("verify", str(path))
    assert code == 0, out
    assert "note: EFLOW VM: no snapshot was captured (eflow): PowerShell not found" in out
    assert f"re-judged {len(report['systems'])} system(s)" in out
