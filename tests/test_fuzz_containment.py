"""Fuzz: mutated host snapshots, VM snapshots (with the ``nvml`` probe) and nvidia-smi XML never break
containment (issue 8).

Each item runs the library path the pytest plugin uses, up to the written reports (JSON, HTML,
Markdown): the test fails on an exception that escapes containment, a report that is not strict
JSON, or an item over the time limit. Seeded, a few hundred items: the 15,000-item campaign is
``benchmarks/fuzz_containment.py``.
"""

from __future__ import annotations

import pytest

from eflowgpu.fuzz import Seeds, fuzz
from eflowgpu.matrix import Matrix

from helpers import PROJECT

LIMIT_S = 5.0


@pytest.fixture(scope="module")
def seeds() -> Seeds:
    """The mutation seeds: the sample lab, the sample VMs (with nvml) and the recorded XML."""
    return Seeds.from_folders(
        PROJECT / "fixtures" / "hosts",
        PROJECT / "fixtures" / "vms",
        PROJECT / "tests" / "data" / "nvidia_smi",
    )


def test_seeds_cover_hosts_vms_with_nvml_and_xml(seeds: Seeds) -> None:
    assert len(seeds.hosts) >= 20 and len(seeds.xmls) >= 5
    assert sum("nvml" in vm["probes"] for vm in seeds.vms) >= 5


@pytest.mark.parametrize("seed", [8, 80])
def test_mutated_inputs_stay_contained(matrix: Matrix, seeds: Seeds, seed: int) -> None:
    tally = fuzz(matrix, matrix.profile(None), seeds, seed=seed, hosts=100, vms=100, limit_s=LIMIT_S)
    assert tally.items == 200
    assert tally.failures == []
    assert tally.outcomes.get("error", 0) > 0, "the mutator no longer produces bad input"
    assert tally.outcomes.get("ok", 0) > 0
