"""What every host rule looks at: the matrix, the profile, the host's facts, the GPU and its row."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

from eflowgpu.criteria import Criterion, Status
from eflowgpu.host.facts import HostFacts
from eflowgpu.host.gpus import HostGpu
from eflowgpu.identity import GpuIdentity
from eflowgpu.matrix import EditionGroup, Matrix, Profile, SupportRow, WindowsRule
from eflowgpu.matrix.model import EditionKind, kind_of_installation
from eflowgpu.versions import WindowsBuild


@dataclass(frozen=True)
class RuleContext:
    """Inputs of the rules for one GPU of one host."""

    matrix: Matrix
    profile: Profile
    facts: HostFacts
    gpu: HostGpu
    identity: GpuIdentity
    row: SupportRow | None

    @property
    def gpu_label(self) -> str:
        """How details name the GPU (and ``Deploy-Eflow -gpuName`` takes it).

        A dismounted GPU is no longer a video controller, and a GPU without a driver (code 28) is a
        "3D Video Controller": Windows names both generically, so the catalog's product name (its
        caption with the vendor's driver) comes first.
        """
        if self.identity.model is not None and (self.gpu.dismounted or self._without_driver):
            return self.identity.model.name
        if self.gpu.name:
            return self.gpu.name
        if self.identity.model is not None:
            return self.identity.model.name
        return f"PCI device {self.gpu.pci.pci_id}"

    @property
    def _without_driver(self) -> bool:
        """No driver is installed (ConfigManagerErrorCode 28): Windows shows a generic class name."""
        video, survey = self.gpu.video, self.gpu.survey
        code = video.config_manager_error_code if video is not None else None
        if code is None and survey is not None:
            code = survey.config_manager_error_code
        return code == 28

    @cached_property
    def edition_group(self) -> EditionGroup | None:
        """The matrix's edition group of the host's ``EditionID``."""
        return self.matrix.edition_group(self.facts.os.edition_id if self.facts.os else None)

    @cached_property
    def edition_kind(self) -> EditionKind | None:
        """``server`` or ``client``: from the edition group, else from ``InstallationType``."""
        if self.edition_group is not None:
            return self.edition_group.kind
        kind = self.facts.os.installation_type if self.facts.os else None
        if kind is None:
            return None
        return kind_of_installation(kind)

    @cached_property
    def windows_candidates(self) -> tuple[WindowsRule, ...]:
        """The row's Windows entries for the host's edition group, else for its kind of edition."""
        if self.row is None:
            return ()
        group = self.edition_group
        same_group = tuple(w for w in self.row.windows if group is not None and group.key in w.editions)
        if same_group:
            return same_group
        return tuple(
            w
            for w in self.row.windows
            if any(self.matrix.edition_groups[g].kind == self.edition_kind for g in w.editions)
        )

    @cached_property
    def windows_rule(self) -> WindowsRule | None:
        """The entry whose build range holds the host's build, or the one whose family it is in."""
        build = self.facts.os.build if self.facts.os else None
        if build is None:
            return None
        for rule in self.windows_candidates:
            if build_in_range(rule, build):
                return rule
        for rule in self.windows_candidates:
            if rule.max_build is not None and build.build <= rule.max_build:
                return rule
        return None

    def build_name(self, build: int) -> str:
        """``22631 (Windows 11 23H2)`` or just the number when the matrix has no name for it."""
        name = self.matrix.release_name(build, self.edition_kind)
        return f"{build} ({name})" if name else str(build)

    def build_label(self, build: WindowsBuild) -> str:
        """``build 22631.4890 (Windows 11 23H2)``: the full build with its release name when known."""
        name = self.matrix.release_name(build.build, self.edition_kind)
        return f"build {build}" + (f" ({name})" if name else "")

    def skip(self, criterion_id: str, detail: str) -> Criterion:
        """A criterion that does not apply here (not required)."""
        return Criterion(criterion_id, Status.SKIP, False, detail)

    def unknown(self, criterion_id: str, required: bool, *probes: str) -> Criterion:
        """A criterion whose data was not captured, with why and how to capture it."""
        return Criterion(
            criterion_id,
            Status.UNKNOWN,
            required,
            self.facts.why_missing(*probes),
            "collect the snapshot again with collect-host.ps1 (or eflowgpu collect-host) as an administrator",
        )


def build_in_range(rule: WindowsRule, build: WindowsBuild) -> bool | None:
    """Whether ``build`` is in ``rule``'s builds; None when only the missing UBR could tell."""
    if rule.exclusion(build.build) is not None:
        return False
    if rule.builds:
        return build.build in rule.builds
    if rule.max_build is not None and build.build > rule.max_build:
        return False
    if rule.min_build is None:
        return True
    return build.meets(rule.min_build)


# PowerShell's tokenizer (CharExtensions.IsSingleQuote / IsDoubleQuote) treats all of these as quote
# characters: ' and the typographic single quotes U+2018-U+201B; " and U+201C-U+201E.
POWERSHELL_SINGLE_QUOTES = "'\u2018\u2019\u201a\u201b"
POWERSHELL_DOUBLE_QUOTES = '"\u201c\u201d\u201e'
_PLAIN_ARGUMENT = re.compile(r"^[A-Za-z0-9 .()+/,:#_-]+$")
_UNQUOTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
MAX_QUOTED = 256
"""Longest text the pack quotes into a command for a person to paste."""


def powershell_quote(text: str) -> str | None:
    """``text`` as one PowerShell string argument that evaluates to exactly ``text``, or None.

    Plain ASCII names (letters, digits, space, ``. ( ) + / , : # _ -``) are double-quoted, as
    Microsoft's examples write them. Anything else is single-quoted, where PowerShell expands
    nothing (no ``$``, no backtick escapes), with every one of PowerShell's single-quote characters
    (``'`` and U+2018-U+201B) doubled, which is how PowerShell itself escapes them. None (refuse to
    quote) for text that no quoting makes safe to paste: empty or over :data:`MAX_QUOTED`
    characters, or holding a control character, a line or paragraph separator or a lone surrogate.
    See :func:`why_unquotable`.
    """
    if why_unquotable(text) is not None:
        return None
    if _PLAIN_ARGUMENT.match(text):
        return f'"{text}"'
    return "'" + "".join(ch * 2 if ch in POWERSHELL_SINGLE_QUOTES else ch for ch in text) + "'"


def why_unquotable(text: str) -> str | None:
    """Why :func:`powershell_quote` refuses ``text`` (one line), or None when it quotes it."""
    if not text.strip():
        return "the name is empty"
    if len(text) > MAX_QUOTED:
        return f"the name is over {MAX_QUOTED} characters"
    if _UNQUOTABLE.search(text):
        return "the name holds control or line-break characters, which a pasted command would run as input"
    return None
