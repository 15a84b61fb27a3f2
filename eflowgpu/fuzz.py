"""Seeded mutation of snapshots, and one mutated item run the way the pack runs it, up to its reports.

The containment promise (:mod:`eflowgpu.contain`) is checked by running many mutated host snapshots,
VM snapshots (with the ``nvml`` probe) and nvidia-smi XML documents through the same library path
the pytest plugin uses (evaluate, observe, join, judge, build the report, write the JSON, HTML and
Markdown) and classifying each item:

- ``ok``: judged; ``error``: a contained error system (bad input); ``internal``: a contained
  internal error (a defect the containment kept to its system);
- ``escape``: an exception left the library (the promise is broken);
- ``bad-json``: ``compat-report.json`` is not strict JSON (NaN, Infinity) or not UTF-8.

Used by the project's fuzz test (a few hundred items) and ``benchmarks/fuzz_containment.py``.
"""

from __future__ import annotations

import copy
import json
import random
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from eflowgpu.evaluate import SystemResult, evaluate_host_file
from eflowgpu.matrix import Matrix, Profile
from eflowgpu.report.files import JSON_NAME, write_reports
from eflowgpu.report.model import build_report
from eflowgpu.snapshot import VM_FORMAT, parse_snapshot
from eflowgpu.vm.evaluate import VmRecord, attach_vms, read_vm_file
from eflowgpu.vm.facts import vm_facts
from eflowgpu.vm.serialize import NVML_COMMAND, NVML_PROBE, nvml_probe_stdout

Kind = Literal["host", "vm", "xml"]
Outcome = Literal["ok", "error", "internal", "escape", "bad-json"]

HOSTILE_TEXT: tuple[str, ...] = (
    "",
    " ",
    "1\u00b2.2",
    "\u0661\u0662",
    "NVIDIA Tesla T4\u2019; Start-Process calc; #",
    'x"; Start-Process calc; "',
    "$(Start-Process calc)",
    "`$env:PATH",
    "::error file=a::injected",
    "::add-mask::secret",
    "##vso[task.setvariable variable=x]1",
    "\x1b[31mred\x1b[0m\x07",
    "line\r\nbreak",
    "\udc80\ud800",
    "caf\u00e9 \u202eevil",
    "N/A",
    "[N/A]",
    "Not Supported",
    "0x",
    "-1",
    "9" * 400,
    "1e400",
    "NaN",
    "Infinity",
    "0001-01-01T00:00:00+01:00",
    "\\/Date(99999999999999999999)\\/",
    "PCI\\VEN_10DE&DEV_1EB8&SUBSYS_12A210DE&REV_A1\\4&1",
    "PCIP\\VEN_10DE&DEV_\u0661EB8",
    "x" * 5000,
)
HOSTILE_VALUES: tuple[Any, ...] = (
    *HOSTILE_TEXT,
    None,
    True,
    False,
    0,
    -1,
    2**31,
    2**64,
    10**400,
    -(10**400),
    1.5,
    float("nan"),
    float("inf"),
    float("-inf"),
    [],
    {},
    [1, "a", None],
    {"a": {"b": [None]}},
)


def _mutate_value(rng: random.Random, value: Any, depth: int = 0) -> Any:
    """``value`` with one leaf replaced, one key dropped, or one list item repeated."""
    if isinstance(value, dict) and value and depth < 8:
        key = rng.choice(list(value))
        roll = rng.random()
        if roll < 0.15:
            del value[key]
        elif roll < 0.25:
            value[rng.choice(HOSTILE_TEXT)] = rng.choice(HOSTILE_VALUES)
        else:
            value[key] = _mutate_value(rng, value[key], depth + 1)
        return value
    if isinstance(value, list) and value and depth < 8:
        index = rng.randrange(len(value))
        roll = rng.random()
        if roll < 0.1:
            value.extend(copy.deepcopy(value[index]) for _ in range(rng.choice((1, 10, 100, 2000))))
        elif roll < 0.2:
            del value[index]
        else:
            value[index] = _mutate_value(rng, value[index], depth + 1)
        return value
    if rng.random() < 0.1:
        return [value, rng.choice(HOSTILE_VALUES)]
    return copy.deepcopy(rng.choice(HOSTILE_VALUES))


def _mutate_text(rng: random.Random, text: str) -> str:
    """A character-level mutation: truncate, insert, repeat or replace a slice."""
    if not text:
        return rng.choice(HOSTILE_TEXT)
    at = rng.randrange(len(text) + 1)
    roll = rng.random()
    if roll < 0.25:
        return text[:at]
    if roll < 0.5:
        return text[:at] + rng.choice(HOSTILE_TEXT) + text[at:]
    if roll < 0.6:
        return text[:at] + text[at : at + 200] * rng.choice((2, 50, 500)) + text[at:]
    end = min(len(text), at + rng.randrange(1, 40))
    return text[:at] + rng.choice(HOSTILE_TEXT) + text[end:]


def _mutate_json_text(rng: random.Random, text: str) -> str:
    """Mutate the JSON a probe printed (structurally when it parses, else as text)."""
    try:
        data = json.loads(text.lstrip("\ufeff"))
    except ValueError:
        return _mutate_text(rng, text)
    if rng.random() < 0.15:
        return _mutate_text(rng, text)
    return json.dumps(_mutate_value(rng, data), ensure_ascii=rng.random() < 0.5)


def mutate_xml(rng: random.Random, text: str) -> str:
    """Mutate nvidia-smi XML: an element's text, a repeated ``<gpu>``, a dropped or cut part."""
    roll = rng.random()
    if roll < 0.2:
        return _mutate_text(rng, text)
    starts = [i for i in range(len(text)) if text.startswith("<", i) and not text.startswith("</", i)]
    if roll < 0.3 and "<gpu " in text:
        begin = text.index("<gpu ")
        end = text.rfind("</gpu>")
        if end > begin:
            block = text[begin : end + 6]
            count = rng.choice((2, 8, 100, 5000))
            return text[:begin] + block * count + text[end + 6 :]
    if roll < 0.35:
        return text.replace("</nvidia_smi_log>", "<gpu/>" * rng.choice((10, 20000)) + "</nvidia_smi_log>")
    if not starts:
        return _mutate_text(rng, text)
    at = rng.choice(starts)
    close = text.find(">", at)
    after = text.find("<", close)
    if close < 0 or after < 0:
        return _mutate_text(rng, text)
    value = rng.choice(HOSTILE_TEXT)
    escaped = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text[: close + 1] + escaped + text[after:]


_RICH_PROBES = frozenset({"nvml", "nvidia_smi", "video_controllers", "pci_survey", "os", "disk"})
"""Probes with the most structure; half of the probe mutations go to one of them."""


def _probe_text_mutation(rng: random.Random, name: str, stdout: str) -> str:
    if stdout.lstrip().startswith("<?xml") or name == "nvidia_smi":
        return mutate_xml(rng, stdout)
    if stdout.lstrip("\ufeff").lstrip()[:1] in ("{", "["):
        return _mutate_json_text(rng, stdout)
    return _mutate_text(rng, stdout)


def mutate_snapshot(
    rng: random.Random, snapshot: dict[str, Any], probes: tuple[str, ...] = ()
) -> dict[str, Any]:
    """A mutated deep copy of ``snapshot``: one to three mutations of its probes or envelope.

    ``probes`` limits which probes are mutated (all when empty).
    """
    data = copy.deepcopy(snapshot)
    for _ in range(rng.randint(1, 3)):
        probes_map = data.get("probes")
        roll = rng.random()
        if roll < 0.08 or not isinstance(probes_map, dict) or not probes_map:
            _mutate_value(rng, data)
            continue
        names = [n for n in probes_map if not probes or n in probes] or list(probes_map)
        rich = [n for n in names if n in _RICH_PROBES]
        name = rng.choice(rich if rich and rng.random() < 0.5 else names)
        probe = probes_map[name]
        if roll < 0.15 or not isinstance(probe, dict):
            probes_map[name] = _mutate_value(rng, probe)
            continue
        if roll < 0.2:
            probe["exit_code"] = rng.choice((1, -1, 2**40, 10**400, "0", None, 0.5))
            continue
        stdout = probe.get("stdout")
        if isinstance(stdout, str):
            probe["stdout"] = _probe_text_mutation(rng, name, stdout)
    return data


def with_nvml_probe(snapshot: dict[str, Any]) -> dict[str, Any]:
    """``snapshot`` with the ``nvml`` probe the live collector would record for its GPUs."""
    data = copy.deepcopy(snapshot)
    facts = vm_facts(parse_snapshot(json.dumps(snapshot), VM_FORMAT, source="<seed>"))
    stdout = nvml_probe_stdout(facts.driver_version, facts.cuda_version, facts.gpus or ())
    data["probes"][NVML_PROBE] = {"command": NVML_COMMAND, "exit_code": 0, "stdout": stdout, "stderr": ""}
    return data


@dataclass(frozen=True)
class Seeds:
    """What mutations start from: host snapshots, VM snapshots (with ``nvml``), nvidia-smi XML."""

    hosts: tuple[dict[str, Any], ...]
    vms: tuple[dict[str, Any], ...]
    xmls: tuple[str, ...]

    @classmethod
    def from_folders(cls, hosts: Path, vms: Path, xml: Path) -> Seeds:
        """Readable snapshots of ``hosts`` and ``vms`` (the VMs with an ``nvml`` probe added), XML files."""
        host_seeds = [d for d in map(_load, sorted(hosts.glob("*.json"))) if d is not None]
        vm_seeds = []
        for data in filter(None, map(_load, sorted(vms.glob("*.json")))):
            try:
                vm_seeds.append(with_nvml_probe(data))
            except Exception:  # an unreadable seed (the lab's own bad examples) is mutated as it is
                vm_seeds.append(data)
        xmls = [p.read_text(encoding="utf-8") for p in sorted(xml.glob("*.xml"))]
        return cls(tuple(host_seeds), tuple(vm_seeds), tuple(xmls))


def _load(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


@dataclass
class Tally:
    """Counts of a fuzz run."""

    items: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    max_seconds: float = 0.0
    slowest: str = ""
    failures: list[str] = field(default_factory=list)
    """One line per item that broke the promise (escape, bad JSON, over the time limit)."""
    internal: list[str] = field(default_factory=list)
    """One line per contained internal error (a defect kept to its system: worth fixing)."""

    def add(self, item: str, outcome: Outcome, seconds: float, limit_s: float, detail: str = "") -> None:
        """Count one item."""
        self.items += 1
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1
        if seconds > self.max_seconds:
            self.max_seconds, self.slowest = seconds, item
        if outcome == "internal":
            self.internal.append(f"{item}: {detail}")
        if outcome in ("escape", "bad-json"):
            self.failures.append(f"{item}: {outcome}: {detail}")
        if seconds > limit_s:
            self.failures.append(f"{item}: took {seconds:.2f} s, over {limit_s:g} s")


def _strict_constant(name: str) -> Any:
    raise ValueError(f"not strict JSON: {name}")


def _outcome(systems: list[SystemResult]) -> tuple[Outcome, str]:
    """How the item ended, and the first internal error line when there is one."""
    texts = [s.error or "" for s in systems if s.status == "error"]
    texts += [s.vm.error for s in systems if isinstance(s.vm, VmRecord) and s.vm.error]
    internal = [t for t in texts if t.startswith("internal error")]
    if internal:
        return "internal", internal[0]
    return ("error" if texts else "ok"), ""


def run_item(
    matrix: Matrix, profile: Profile, kind: Kind, data: dict[str, Any], folder: Path
) -> tuple[Outcome, str]:
    """Run one item as the plugin does (read, judge, join, report, write) and classify it."""
    try:
        path = folder / "item.json"
        path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8", errors="surrogatepass")
        if kind == "host":
            systems = [evaluate_host_file(matrix, profile, path)]
        else:
            systems = attach_vms(matrix, [], [read_vm_file(matrix, path)], None)
        report = build_report(matrix, profile, systems)
        written = write_reports(folder, report, tell=_raise_tell)
        if len(written) != 3:
            return "escape", f"only {len(written)} report file(s) written"
        raw = (folder / JSON_NAME).read_bytes()
        json.loads(raw.decode("utf-8"), parse_constant=_strict_constant)
    except ValueError as exc:
        return "bad-json", str(exc)[:200]
    except Exception:
        return "escape", traceback.format_exc(limit=-3).replace("\n", " | ")[-600:]
    return _outcome(systems)


def _raise_tell(line: str) -> None:
    raise RuntimeError(line)


def items(
    rng: random.Random, seeds: Seeds, hosts: int, vms: int
) -> Iterator[tuple[str, Kind, dict[str, Any]]]:
    """``hosts`` mutated host snapshots, then ``vms`` VM items (half VM snapshots, half nvidia-smi XML)."""
    for index in range(hosts):
        yield f"host#{index}", "host", mutate_snapshot(rng, rng.choice(seeds.hosts))
    base = next((v for v in seeds.vms if NVML_PROBE in v.get("probes", {})), seeds.vms[0])
    for index in range(vms):
        if index % 2 == 0 or not seeds.xmls:
            yield f"vm#{index}", "vm", mutate_snapshot(rng, rng.choice(seeds.vms))
            continue
        data = copy.deepcopy(base)
        data["probes"].pop(NVML_PROBE, None)
        data["probes"]["nvidia_smi"]["stdout"] = mutate_xml(rng, rng.choice(seeds.xmls))
        yield f"xml#{index}", "xml", data


def fuzz(
    matrix: Matrix,
    profile: Profile,
    seeds: Seeds,
    *,
    seed: int,
    hosts: int,
    vms: int,
    limit_s: float = 5.0,
    progress: Callable[[Tally], None] | None = None,
) -> Tally:
    """Run ``hosts`` host items and ``vms`` VM/XML items from ``seed``; the tally of outcomes."""
    rng = random.Random(seed)
    tally = Tally()
    with tempfile.TemporaryDirectory(prefix="eflowgpu-fuzz-") as tmp:
        folder = Path(tmp)
        for name, kind, data in items(rng, seeds, hosts, vms):
            start = time.perf_counter()
            outcome, detail = run_item(matrix, profile, kind, data, folder)
            tally.add(f"seed {seed} {name}", outcome, time.perf_counter() - start, limit_s, detail)
            if progress is not None and tally.items % 1000 == 0:
                progress(tally)
    return tally
