"""Finding the host's GPUs in its facts: adapters Windows shows, survey devices, dismounted devices.

Software adapters (Microsoft Basic Render, Remote Display, Hyper-V video: anything whose instance
id is not ``PCI\\`` or ``PCIP\\``) are not GPUs. A GPU dismounted for DDA (``PCIP\\``) is no longer
a video controller, yet it is the host's GPU. A server's BMC display chip is a real PCI display
controller and is kept, to be reported as unsupported.
"""

from __future__ import annotations

from dataclasses import dataclass

from eflowgpu.host.facts import AssignableDevice, HostFacts, SurveyDevice, VideoController
from eflowgpu.pci import PciIdentity, instance_key, parse_instance_id

NVIDIA = "10DE"


@dataclass(frozen=True)
class HostGpu:
    """One GPU of the host with every record the probes gave of it."""

    instance_id: str
    pci: PciIdentity
    dismounted: bool
    video: VideoController | None = None
    survey: SurveyDevice | None = None
    assignable: AssignableDevice | None = None

    @property
    def name(self) -> str | None:
        """The name Windows shows (``Caption``, the value ``Deploy-Eflow -gpuName`` takes)."""
        if self.video is not None and (self.video.caption or self.video.name):
            return self.video.caption or self.video.name
        return self.survey.friendly_name if self.survey is not None else None

    @property
    def location_path(self) -> str | None:
        """The PCI location path from the survey or the assignable-device list."""
        if self.survey is not None and self.survey.location_path:
            return self.survey.location_path
        return self.assignable.location_path if self.assignable is not None else None


def discover_gpus(facts: HostFacts) -> list[HostGpu]:
    """The host's GPUs, in the order the probes list them, each once."""
    found: dict[str, HostGpu] = {}
    for video in facts.video_controllers or ():
        parsed = parse_instance_id(video.pnp_device_id)
        if parsed is not None:
            found.setdefault(
                instance_key(parsed.text),
                HostGpu(parsed.text, parsed.identity, parsed.dismounted, video=video),
            )
    assignable = {instance_key(d.instance_id): d for d in facts.assignable_devices or ()}
    for device in facts.pci_survey or ():
        parsed = parse_instance_id(device.instance_id)
        if parsed is None:
            continue
        key = instance_key(parsed.text)
        current = found.get(key)
        found[key] = HostGpu(
            parsed.text,
            parsed.identity,
            parsed.dismounted or key in assignable,
            video=current.video if current else None,
            survey=device,
            assignable=assignable.get(key),
        )
    for key, dismounted in assignable.items():
        parsed = parse_instance_id(dismounted.instance_id)
        if key in found or parsed is None or parsed.identity.vendor != NVIDIA:
            continue
        found[key] = HostGpu(parsed.text, parsed.identity, True, assignable=dismounted)
    return list(found.values())
