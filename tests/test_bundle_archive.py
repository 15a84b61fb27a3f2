"""Bundle archives: deterministic writing, and truncated or hostile archives refused in one line."""

from __future__ import annotations

import gzip
import io
import tarfile
from pathlib import Path

import pytest

from eflowgpu.bundle import ArchiveError, ArchiveLimits, read_archive, write_archive
from eflowgpu.bundle.verify import verify_bundle

SMALL = ArchiveLimits(max_members=10, max_member_bytes=4096, max_total_bytes=8192)


def hostile(path: Path, *members: tarfile.TarInfo, data: bytes = b"hi") -> Path:
    """A .tar.gz with one good member and then ``members`` (regular ones get ``data``)."""
    with tarfile.open(path, "w:gz", format=tarfile.GNU_FORMAT) as tar:
        good = tarfile.TarInfo("manifest.json")
        good.size = 2
        tar.addfile(good, io.BytesIO(b"{}"))
        for member in members:
            if member.isreg():
                member.size = len(data)
                tar.addfile(member, io.BytesIO(data))
            else:
                tar.addfile(member)
    return path


def info(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    member = tarfile.TarInfo(name)
    member.type = kind
    member.linkname = link
    return member


def test_writing_is_deterministic_and_reads_back(tmp_path: Path) -> None:
    files = {"report/b.json": b"{}", "a.txt": b"hello", "snapshots/host/x.json": b"[1]"}
    first, second = tmp_path / "1.tar.gz", tmp_path / "2.tar.gz"
    write_archive(first, files, mtime=1_700_000_000)
    write_archive(second, dict(reversed(files.items())), mtime=1_700_000_000)
    assert first.read_bytes() == second.read_bytes()
    assert read_archive(first) == files
    with tarfile.open(first) as tar:
        members = tar.getmembers()
    assert [m.name for m in members] == sorted(files)
    assert {(m.mtime, m.uid, m.gid, m.uname, m.mode) for m in members} == {(1_700_000_000, 0, 0, "", 0o644)}


@pytest.mark.parametrize(
    ("member", "reason"),
    [
        (info("../x"), "member '../x' climbs out of the archive"),
        (info("report/../../x"), "climbs out of the archive"),
        (info("/etc/passwd"), "member '/etc/passwd' has an absolute name"),
        (info("C:/Windows/x"), "has an absolute name"),
        (info("a\\..\\x"), "has a backslash"),
        (
            info("evil", tarfile.SYMTYPE, "/etc/passwd"),
            "member 'evil' is not a regular file (a symbolic link to '/etc/passwd')",
        ),
        (info("hard", tarfile.LNKTYPE, "manifest.json"), "(a hard link to 'manifest.json')"),
        (info("dev", tarfile.CHRTYPE), "member 'dev' is not a regular file (a device or FIFO)"),
        (info("fifo", tarfile.FIFOTYPE), "(a device or FIFO)"),
        (info("manifest.json"), "member 'manifest.json' appears twice"),
    ],
)
def test_hostile_members_are_refused_in_one_line(
    tmp_path: Path, member: tarfile.TarInfo, reason: str
) -> None:
    path = hostile(tmp_path / "evil.tar.gz", member)
    with pytest.raises(ArchiveError) as caught:
        read_archive(path)
    assert reason in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_member_named_dotdot_is_refused_and_nothing_is_written_outside(tmp_path: Path) -> None:
    target = tmp_path / "inside" / "target"
    target.mkdir(parents=True)
    path = hostile(tmp_path / "inside" / "evil.tar.gz", info("../x"))
    result = verify_bundle(path)
    assert not result.ok
    assert [f.message for f in result.findings] == [
        "refused: member '../x' climbs out of the archive (a '..' or '.' in its path)"
    ]
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["evil.tar.gz", "inside", "target"]


def test_sizes_counts_and_bombs_are_capped(tmp_path: Path) -> None:
    big = hostile(tmp_path / "big.tar.gz", info("big.bin"), data=b"\0" * 5000)
    with pytest.raises(ArchiveError, match=r"member 'big.bin' is 5000 bytes, over the 4096 limit"):
        read_archive(big, SMALL)
    many = hostile(tmp_path / "many.tar.gz", *(info(f"f{i}") for i in range(12)))
    with pytest.raises(ArchiveError, match="more than 10 members"):
        read_archive(many, SMALL)
    total = hostile(tmp_path / "total.tar.gz", *(info(f"f{i}") for i in range(3)), data=b"\0" * 4000)
    with pytest.raises(ArchiveError, match="members add up to more than 8192 bytes"):
        read_archive(total, SMALL)
    # A bomb: a few KiB of gzip that would decompress to 80 MiB of one member header's data.
    bomb = tmp_path / "bomb.tar.gz"
    with gzip.open(bomb, "wb") as out:
        header = tarfile.TarInfo("zeros.bin")
        header.size = 80 * 1024 * 1024
        out.write(header.tobuf(format=tarfile.GNU_FORMAT))
        chunk = b"\0" * (1024 * 1024)
        for _ in range(80):
            out.write(chunk)
    assert bomb.stat().st_size < 1024 * 1024
    with pytest.raises(ArchiveError, match=r"over the 4096 limit|decompression bomb"):
        read_archive(bomb, SMALL)
    with pytest.raises(ArchiveError, match=r"member 'zeros.bin' is 83886080 bytes, over the 67108864 limit"):
        read_archive(bomb)


def test_the_decompressed_stream_itself_is_counted(tmp_path: Path) -> None:
    """A GNU long name of 1 MiB is read by tarfile before any member check: the stream limit stops it."""
    path = tmp_path / "longname.tar.gz"
    with tarfile.open(path, "w:gz", format=tarfile.GNU_FORMAT) as tar:
        member = tarfile.TarInfo("a" * (1024 * 1024))
        tar.addfile(member, io.BytesIO(b""))
    with pytest.raises(ArchiveError, match="decompresses to more than"):
        read_archive(path, SMALL)


def test_truncated_and_foreign_files_are_refused(tmp_path: Path) -> None:
    good = tmp_path / "good.tar.gz"
    write_archive(good, {"a.json": b"x" * 3000})
    truncated = tmp_path / "truncated.tar.gz"
    truncated.write_bytes(good.read_bytes()[:-40])
    with pytest.raises(ArchiveError, match="truncated or not a gzip-compressed tar archive"):
        read_archive(truncated)
    foreign = tmp_path / "report.tar.gz"
    foreign.write_text('{"format": "eflow-gpu-report/1"}', encoding="utf-8")
    with pytest.raises(ArchiveError, match="truncated or not a gzip-compressed tar archive"):
        read_archive(foreign)
    with pytest.raises(ArchiveError, match="no such file"):
        read_archive(tmp_path / "missing.tar.gz")
