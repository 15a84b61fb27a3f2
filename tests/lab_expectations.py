"""Expected results for the sample lab in fixtures/hosts/ (written by fixtures/hosts/_make_lab.py).

Plain data, derived BY HAND from the support rules (matrix.yaml profiles, shared/contracts/report.md),
not from the implementation: it is a cross-check of the evaluator.

EXPECTED[file stem][profile] = {
    "status": "ok" | "error",
    "gpus": {pci_id "VVVV:DDDD": {"name", "verdict", "passthrough", "model", "fails", "warns"}},
}
`fails` / `warns` are the sorted ids of the criteria whose status is `fail` / `warn`. For an
unsupported GPU only verdict, model and passthrough are meant to be compared (its lists are
["gpu.supported"] and []). Software adapters (Remote Display, Basic Render, Hyper-V Video) are
not GPUs and are deliberately absent.
"""

from __future__ import annotations

from typing import Any

PREVIEW = "preview-2021-06"
LATE = "late-2021"
GA = "ga-2022-06"
PROFILES = (PREVIEW, LATE, GA)

MIT = "dda.mitigation_driver"


def _gpu(
    name: str,
    verdict: str,
    passthrough: str | None,
    model: str | None,
    fails: tuple[str, ...] = (),
    warns: tuple[str, ...] = (),
) -> dict[str, Any]:
    return {
        "name": name,
        "verdict": verdict,
        "passthrough": passthrough,
        "model": model,
        "fails": sorted(fails),
        "warns": sorted(warns),
    }


def _unsupported(name: str, model: str | None = None) -> dict[str, Any]:
    return _gpu(name, "unsupported", None, model, ("gpu.supported",))


def _ok(gpus: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {"status": "ok", "gpus": gpus}


def _error() -> dict[str, Any]:
    return {"status": "error", "gpus": {}}


T4 = "NVIDIA Tesla T4"
BMC = "Microsoft Basic Display Adapter"

EXPECTED: dict[str, dict[str, Any]] = {
    # T4 on Server 2019 (17763) without a mitigation driver + Dell BMC Matrox (unsupported GPU); PS 5.1, BOM.
    "lab-t4-srv2019": {
        PREVIEW: _ok(
            {
                "10DE:1EB8": _gpu(T4, "eligible-with-warnings", "DDA", "t4", warns=(MIT,)),
                "102B:0536": _unsupported(BMC),
            }
        ),
        GA: _ok(
            {
                "10DE:1EB8": _gpu(T4, "eligible-with-warnings", "DDA", "t4", warns=(MIT,)),
                "102B:0536": _unsupported(BMC),
            }
        ),
    },
    # T4 on Server 2022 (20348) with NVIDIA's mitigation driver ("Nvidia T4_base - Dismounted"): clean.
    "lab-t4-srv2022": {
        PREVIEW: _ok({"10DE:1EB8": _gpu(T4, "eligible", "DDA", "t4")}),
        GA: _ok({"10DE:1EB8": _gpu(T4, "eligible", "DDA", "t4")}),
    },
    # T4 already dismounted (PCIP\ in assignable_devices + pci_survey, absent from video_controllers).
    "lab-t4-srv2022-dismounted": {
        PREVIEW: _ok({"10DE:1EB8": _gpu(T4, "eligible-with-warnings", "DDA", "t4", warns=(MIT,))}),
        GA: _ok({"10DE:1EB8": _gpu(T4, "eligible-with-warnings", "DDA", "t4", warns=(MIT,))}),
    },
    # T4 on Server 2025 (26100): preview >= 17763 passes, GA lists only 17763/20348; ASPEED BMC; disk array.
    "lab-t4-srv2025": {
        PREVIEW: _ok(
            {
                "10DE:1EB8": _gpu(T4, "eligible-with-warnings", "DDA", "t4", warns=(MIT,)),
                "1A03:2000": _unsupported(BMC),
            }
        ),
        GA: _ok(
            {
                "10DE:1EB8": _gpu(T4, "not-eligible", "DDA", "t4", ("os.build",), (MIT,)),
                "1A03:2000": _unsupported(BMC),
            }
        ),
    },
    # T4 on Server 2019 Core with AcsCompatibleUpHierarchy 0.
    "lab-t4-noacs": {
        PREVIEW: _ok({"10DE:1EB8": _gpu(T4, "not-eligible", "DDA", "t4", ("dda.acs",), (MIT,))}),
        GA: _ok({"10DE:1EB8": _gpu(T4, "not-eligible", "DDA", "t4", ("dda.acs",), (MIT,))}),
    },
    # T4 on Server 2022 with only line-based interrupts.
    "lab-t4-lineirq": {
        PREVIEW: _ok({"10DE:1EB8": _gpu(T4, "not-eligible", "DDA", "t4", ("dda.interrupts",), (MIT,))}),
        GA: _ok({"10DE:1EB8": _gpu(T4, "not-eligible", "DDA", "t4", ("dda.interrupts",), (MIT,))}),
    },
    # T4 on Server 2022 with IovSupport false (+ IovSupportReasons).
    "lab-t4-noiov": {
        PREVIEW: _ok({"10DE:1EB8": _gpu(T4, "not-eligible", "DDA", "t4", ("dda.iov",), (MIT,))}),
        GA: _ok({"10DE:1EB8": _gpu(T4, "not-eligible", "DDA", "t4", ("dda.iov",), (MIT,))}),
    },
    # T4 on Windows 11 Pro 23H2 (client DDA: preview >= 21318) + Intel UHD 770 (GPU-PV in GA only).
    "lab-t4-win11pro": {
        PREVIEW: _ok(
            {
                "10DE:1EB8": _gpu(T4, "eligible-with-warnings", "DDA", "t4", warns=(MIT,)),
                "8086:4680": _unsupported("Intel(R) UHD Graphics 770"),
            }
        ),
        GA: _ok(
            {
                "10DE:1EB8": _gpu(T4, "eligible-with-warnings", "DDA", "t4", warns=(MIT,)),
                "8086:4680": _gpu("Intel(R) UHD Graphics 770", "eligible", "GPU-PV", None),
            }
        ),
    },
    # T4 on Windows 10 Pro 19045 (preview client minimum 21318 fails; GA passes) + Intel UHD 630 with WSL.
    "lab-t4-win10pro-19045": {
        PREVIEW: _ok(
            {
                "10DE:1EB8": _gpu(T4, "not-eligible", "DDA", "t4", ("os.build",), (MIT,)),
                "8086:3E92": _unsupported("Intel(R) UHD Graphics 630"),
            }
        ),
        # late-2021: T4 DDA on Windows 11 only for clients; the Intel iGPU on Windows 10 >= 19044.1263.
        LATE: _ok(
            {
                "10DE:1EB8": _gpu(T4, "not-eligible", "DDA", "t4", ("os.build",), (MIT,)),
                "8086:3E92": _gpu("Intel(R) UHD Graphics 630", "eligible", "GPU-PV", None),
            }
        ),
        GA: _ok(
            {
                "10DE:1EB8": _gpu(T4, "eligible-with-warnings", "DDA", "t4", warns=(MIT,)),
                "8086:3E92": _gpu("Intel(R) UHD Graphics 630", "eligible", "GPU-PV", None),
            }
        ),
    },
    # T4 on Server 2022 with the `disk` and `pci_survey` probes missing: unknowns, nothing fails.
    "lab-t4-partial": {
        PREVIEW: _ok({"10DE:1EB8": _gpu(T4, "incomplete", "DDA", "t4")}),
        GA: _ok({"10DE:1EB8": _gpu(T4, "incomplete", "DDA", "t4")}),
    },
    # NVIDIA A2 (25B6, subsystem 10DE:157E) on Windows 10 IoT Enterprise 19044.1620 (UBR as a string); BOM.
    # EFLOW 1.3.1.02092: its known issue "GPU DDA passthrough fails" and the toolkit CVE fixed in 1.5.6
    # (host.eflow warns). The late-2021 revision lists no A2.
    "lab-a2-iot-19044-1620": {
        PREVIEW: _ok({"10DE:25B6": _unsupported("NVIDIA A2", "a2")}),
        LATE: _ok({"10DE:25B6": _unsupported("NVIDIA A2", "a2")}),
        GA: _ok(
            {"10DE:25B6": _gpu("NVIDIA A2", "eligible-with-warnings", "DDA", "a2", warns=(MIT, "host.eflow"))}
        ),
    },
    # RTX 3060 on Windows 10 Enterprise 19044.1619: one update below GA's 19044.1620; below preview's 20145;
    # above late-2021's 19044.1263.
    "lab-rtx3060-win10-19044-1619": {
        PREVIEW: _ok(
            {"10DE:2503": _gpu("NVIDIA GeForce RTX 3060", "not-eligible", "GPU-PV", "rtx3060", ("os.build",))}
        ),
        LATE: _ok({"10DE:2503": _gpu("NVIDIA GeForce RTX 3060", "eligible", "GPU-PV", "rtx3060")}),
        GA: _ok(
            {"10DE:2503": _gpu("NVIDIA GeForce RTX 3060", "not-eligible", "GPU-PV", "rtx3060", ("os.build",))}
        ),
    },
    # The same machine at 19044.1620: GA passes, preview still below 20145; BOM.
    "lab-rtx3060-win10-19044-1620": {
        PREVIEW: _ok(
            {"10DE:2503": _gpu("NVIDIA GeForce RTX 3060", "not-eligible", "GPU-PV", "rtx3060", ("os.build",))}
        ),
        GA: _ok({"10DE:2503": _gpu("NVIDIA GeForce RTX 3060", "eligible", "GPU-PV", "rtx3060")}),
    },
    # RTX 3070 on Windows 10 Pro 19045.2130 (19045 at any UBR passes GA), WSL installed.
    "lab-rtx3070-win10pro-19045": {
        PREVIEW: _ok(
            {"10DE:2484": _gpu("NVIDIA GeForce RTX 3070", "not-eligible", "GPU-PV", "rtx3070", ("os.build",))}
        ),
        GA: _ok({"10DE:2484": _gpu("NVIDIA GeForce RTX 3070", "eligible", "GPU-PV", "rtx3070")}),
    },
    # RTX 2060 on Windows 10 Pro 19045 without WSL (component disabled, no Store WSL): gpu.wsl fails in GA
    # and late-2021.
    "lab-rtx2060-win10-nowsl": {
        PREVIEW: _ok(
            {"10DE:1F08": _gpu("NVIDIA GeForce RTX 2060", "not-eligible", "GPU-PV", "rtx2060", ("os.build",))}
        ),
        GA: _ok(
            {"10DE:1F08": _gpu("NVIDIA GeForce RTX 2060", "not-eligible", "GPU-PV", "rtx2060", ("gpu.wsl",))}
        ),
    },
    # RTX 4070 on Windows 11 Enterprise + Remote Display Adapter and Basic Render Driver (not GPUs); EFLOW.
    "lab-rtx4070-win11ent": {
        PREVIEW: _ok({"10DE:2786": _gpu("NVIDIA GeForce RTX 4070", "eligible", "GPU-PV", "rtx4070")}),
        GA: _ok({"10DE:2786": _gpu("NVIDIA GeForce RTX 4070", "eligible", "GPU-PV", "rtx4070")}),
    },
    # RTX 3060 on Windows 11 Pro with RequireSecureDeviceAssignment=1; FreeSpace printed as a string.
    "lab-rtx3060-win11pro-policy": {
        PREVIEW: _ok(
            {
                "10DE:2503": _gpu(
                    "NVIDIA GeForce RTX 3060",
                    "eligible-with-warnings",
                    "GPU-PV",
                    "rtx3060",
                    warns=("gpupv.policy",),
                )
            }
        ),
        GA: _ok(
            {
                "10DE:2503": _gpu(
                    "NVIDIA GeForce RTX 3060",
                    "eligible-with-warnings",
                    "GPU-PV",
                    "rtx3060",
                    warns=("gpupv.policy",),
                )
            }
        ),
    },
    # Quadro P2000 on Windows 10 Enterprise 19045 (preview: below 20145; GA: eligible).
    "lab-quadro-p2000-win10ent-19045": {
        PREVIEW: _ok(
            {
                "10DE:1C30": _gpu(
                    "NVIDIA Quadro P2000", "not-eligible", "GPU-PV", "quadro_p2000", ("os.build",)
                )
            }
        ),
        GA: _ok({"10DE:1C30": _gpu("NVIDIA Quadro P2000", "eligible", "GPU-PV", "quadro_p2000")}),
    },
    # RTX A2000 on Windows 11 Pro for Workstations 24H2: no preview row for RTX workstation cards; EFLOW.
    "lab-rtxa2000-win11": {
        PREVIEW: _ok({"10DE:2531": _unsupported("NVIDIA RTX A2000", "rtx_a2000")}),
        LATE: _ok({"10DE:2531": _unsupported("NVIDIA RTX A2000", "rtx_a2000")}),  # GeForce/Quadro only
        GA: _ok({"10DE:2531": _gpu("NVIDIA RTX A2000", "eligible", "GPU-PV", "rtx_a2000")}),
    },
    # Intel Iris Xe (8086:9A49) on Windows 11 IoT Enterprise; single objects; LF line ends; EFLOW.
    "lab-intel-xe-iot-win11": {
        PREVIEW: _ok({"8086:9A49": _unsupported("Intel(R) Iris(R) Xe Graphics")}),
        GA: _ok({"8086:9A49": _gpu("Intel(R) Iris(R) Xe Graphics", "eligible", "GPU-PV", None)}),
    },
    # GeForce RTX 5070 (DEV_2F04) not in the catalog: judged as a GeForce, model None; WSL off on Win 11.
    "lab-rtx5070-win11pro": {
        PREVIEW: _ok({"10DE:2F04": _gpu("NVIDIA GeForce RTX 5070", "eligible", "GPU-PV", None)}),
        GA: _ok({"10DE:2F04": _gpu("NVIDIA GeForce RTX 5070", "eligible", "GPU-PV", None)}),
    },
    # RTX 3080 on Insider build 21390 (Dev) with the WSL preview driver 470.05 (30.0.14.7005).
    "lab-rtx3080-insider-wslpreview": {
        PREVIEW: _ok(
            {
                "10DE:2206": _gpu(
                    "NVIDIA GeForce RTX 3080",
                    "eligible-with-warnings",
                    "GPU-PV",
                    "rtx3080",
                    warns=("gpu.driver",),
                )
            }
        ),
        GA: _ok(
            {
                "10DE:2206": _gpu(
                    "NVIDIA GeForce RTX 3080", "not-eligible", "GPU-PV", "rtx3080", ("gpu.driver", "os.build")
                )
            }
        ),
    },
    # GTX 1660 on Windows 11 Pro with driver 452.41 (27.21.14.5241) and empty partitionable_gpus; BOM.
    "lab-gtx1660-olddriver": {
        PREVIEW: _ok(
            {
                "10DE:2184": _gpu(
                    "NVIDIA GeForce GTX 1660",
                    "not-eligible",
                    "GPU-PV",
                    "gtx1660",
                    ("gpu.driver", "gpupv.partitionable"),
                )
            }
        ),
        GA: _ok(
            {
                "10DE:2184": _gpu(
                    "NVIDIA GeForce GTX 1660",
                    "not-eligible",
                    "GPU-PV",
                    "gtx1660",
                    ("gpu.driver", "gpupv.partitionable"),
                )
            }
        ),
    },
    # RTX 3070 on Windows 11 IoT Enterprise LTSC 2024 (IoTEnterpriseS): not a preview edition, fine in GA.
    "lab-rtx3070-iot-win11": {
        PREVIEW: _ok(
            {
                "10DE:2484": _gpu(
                    "NVIDIA GeForce RTX 3070", "not-eligible", "GPU-PV", "rtx3070", ("os.edition",)
                )
            }
        ),
        GA: _ok({"10DE:2484": _gpu("NVIDIA GeForce RTX 3070", "eligible", "GPU-PV", "rtx3070")}),
    },
    # GTX 1650 on Windows 11 Pro with ~7.2 GB free on C: (< 10 GB).
    "lab-gtx1650-lowdisk": {
        PREVIEW: _ok(
            {
                "10DE:1F82": _gpu(
                    "NVIDIA GeForce GTX 1650", "not-eligible", "GPU-PV", "gtx1650", ("host.disk",)
                )
            }
        ),
        GA: _ok(
            {
                "10DE:1F82": _gpu(
                    "NVIDIA GeForce GTX 1650", "not-eligible", "GPU-PV", "gtx1650", ("host.disk",)
                )
            }
        ),
    },
    # RTX 3060 on Windows 11 Home: no Hyper-V/hypervisor; Hyper-V cmdlets exit 1 (partitionable unknown).
    "lab-home-rtx3060": {
        PREVIEW: _ok(
            {
                "10DE:2503": _gpu(
                    "NVIDIA GeForce RTX 3060",
                    "not-eligible",
                    "GPU-PV",
                    "rtx3060",
                    ("host.hyperv", "os.edition"),
                )
            }
        ),
        GA: _ok(
            {
                "10DE:2503": _gpu(
                    "NVIDIA GeForce RTX 3060",
                    "not-eligible",
                    "GPU-PV",
                    "rtx3060",
                    ("host.hyperv", "os.edition"),
                )
            }
        ),
    },
    # Server 2022 that is itself a Hyper-V VM (Azure NC T4): host.physical fails, Get-VMHost says no IOV.
    "lab-nested-vm-t4": {
        PREVIEW: _ok(
            {"10DE:1EB8": _gpu(T4, "not-eligible", "DDA", "t4", ("dda.iov", "host.physical"), (MIT,))}
        ),
        GA: _ok({"10DE:1EB8": _gpu(T4, "not-eligible", "DDA", "t4", ("dda.iov", "host.physical"), (MIT,))}),
    },
    # Eligible RTX 4060 on Windows 11 Pro whose host label and Caption/Name carry HTML/Markdown injection.
    "hostile-labels": {
        PREVIEW: _ok(
            {
                "10DE:2882": _gpu(
                    "NVIDIA GeForce RTX 4060 <img src=x onerror=alert(1)> | `rm -rf /` | **bold**",
                    "eligible",
                    "GPU-PV",
                    "rtx4060",
                )
            }
        ),
        GA: _ok(
            {
                "10DE:2882": _gpu(
                    "NVIDIA GeForce RTX 4060 <img src=x onerror=alert(1)> | `rm -rf /` | **bold**",
                    "eligible",
                    "GPU-PV",
                    "rtx4060",
                )
            }
        ),
    },
    # JSON cut off mid-way: the system is an error, the others are still evaluated.
    "corrupt-truncated": {PREVIEW: _error(), GA: _error()},
    # Valid JSON, wrong `format`, <script> in `host`, `probes` a list: an error.
    "hostile-not-a-snapshot": {PREVIEW: _error(), GA: _error()},
    # ---- real-world failure modes (shared/reference/real-world-review.md) ------------------------
    # F22: WSL 2 only (VirtualMachinePlatform on, Microsoft-Hyper-V disabled, HypervisorPresent True):
    # host.hyperv fails; the Hyper-V cmdlets are missing, so gpupv.partitionable is unknown.
    "lab-wsl2-only-nohyperv": {
        p: _ok(
            {
                "10DE:2882": _gpu(
                    "NVIDIA GeForce RTX 4060", "not-eligible", "GPU-PV", "rtx4060", ("host.hyperv",)
                )
            }
        )
        for p in PROFILES
    },
    # F6: 2.8 GiB (3 GB) free and no EFLOW yet: below the 4096 MiB VM; IoT Enterprise is no preview edition.
    "lab-lowmem-3gb": {
        PREVIEW: _ok(
            {
                "10DE:2504": _gpu(
                    "NVIDIA GeForce RTX 3060",
                    "not-eligible",
                    "GPU-PV",
                    "rtx3060",
                    ("host.memory", "os.edition"),
                )
            }
        ),
        LATE: _ok(
            {
                "10DE:2504": _gpu(
                    "NVIDIA GeForce RTX 3060", "not-eligible", "GPU-PV", "rtx3060", ("host.memory",)
                )
            }
        ),
        GA: _ok(
            {
                "10DE:2504": _gpu(
                    "NVIDIA GeForce RTX 3060", "not-eligible", "GPU-PV", "rtx3060", ("host.memory",)
                )
            }
        ),
    },
    # F10: RTX A4000 (WDDM) beside an RTX A6000 in TCC. RTX workstation cards have a row in GA only; there
    # the TCC card fails gpupv.driver_model for both, and gpu.driver / gpupv.partitionable for itself.
    "lab-tcc-beside-wddm": {
        PREVIEW: _ok(
            {
                "10DE:24B0": _unsupported("NVIDIA RTX A4000", "rtx_a4000"),
                "10DE:2230": _unsupported("NVIDIA RTX A6000", "rtx_a6000"),
            }
        ),
        LATE: _ok(
            {
                "10DE:24B0": _unsupported("NVIDIA RTX A4000", "rtx_a4000"),
                "10DE:2230": _unsupported("NVIDIA RTX A6000", "rtx_a6000"),
            }
        ),
        GA: _ok(
            {
                "10DE:24B0": _gpu(
                    "NVIDIA RTX A4000", "not-eligible", "GPU-PV", "rtx_a4000", ("gpupv.driver_model",)
                ),
                "10DE:2230": _gpu(
                    "NVIDIA RTX A6000",
                    "not-eligible",
                    "GPU-PV",
                    "rtx_a6000",
                    ("gpu.driver", "gpupv.driver_model", "gpupv.partitionable"),
                ),
            }
        ),
    },
    # D4/F26/F27: Windows 10 Pro 19045 GeForce (RTX 3060 Ti, not in the catalog) with the Store WSL only:
    # the preview wants 20145; late-2021 and GA accept it, and gpu.wsl passes on the Store WSL.
    "lab-geforce-win10-19045-storewsl": {
        PREVIEW: _ok(
            {"10DE:2489": _gpu("NVIDIA GeForce RTX 3060 Ti", "not-eligible", "GPU-PV", None, ("os.build",))}
        ),
        LATE: _ok({"10DE:2489": _gpu("NVIDIA GeForce RTX 3060 Ti", "eligible", "GPU-PV", None)}),
        GA: _ok({"10DE:2489": _gpu("NVIDIA GeForce RTX 3060 Ti", "eligible", "GPU-PV", None)}),
    },
    # F14: Insider build 21354 (GPU compute unavailable) with the WSL preview driver 470.05.
    "lab-insider-21354": {
        PREVIEW: _ok(
            {
                "10DE:2206": _gpu(
                    "NVIDIA GeForce RTX 3080",
                    "not-eligible",
                    "GPU-PV",
                    "rtx3080",
                    ("os.build",),
                    ("gpu.driver",),
                )
            }
        ),
        LATE: _ok(
            {
                "10DE:2206": _gpu(
                    "NVIDIA GeForce RTX 3080", "not-eligible", "GPU-PV", "rtx3080", ("gpu.driver", "os.build")
                )
            }
        ),
        GA: _ok(
            {
                "10DE:2206": _gpu(
                    "NVIDIA GeForce RTX 3080", "not-eligible", "GPU-PV", "rtx3080", ("gpu.driver", "os.build")
                )
            }
        ),
    },
    # F4: A2 on Windows 11 Enterprise with EFLOW 1.2 (A2 client passthrough fixed in 1.3.1.02092).
    "lab-a2-win11-eflow12": {
        PREVIEW: _ok({"10DE:25B6": _unsupported("NVIDIA A2", "a2")}),
        LATE: _ok({"10DE:25B6": _unsupported("NVIDIA A2", "a2")}),
        GA: _ok(
            {"10DE:25B6": _gpu("NVIDIA A2", "eligible-with-warnings", "DDA", "a2", warns=(MIT, "host.eflow"))}
        ),
    },
    # D15: Maxwell GeForce GTX 970 and Intel Arc A770 (discrete): no row in any profile.
    "lab-maxwell-arc-win11": {
        p: _ok(
            {
                "10DE:13C2": _unsupported("NVIDIA GeForce GTX 970"),
                "8086:56A0": _unsupported("Intel(R) Arc(TM) A770 Graphics"),
            }
        )
        for p in PROFILES
    },
}

# Under late-2021 (R2/R2b) these hosts are judged exactly as under the June 2022 table: derived row by
# row (Server 2019 with current updates / Server 2022 T4 rows, Windows 11 everywhere, Windows 10 GPU-PV
# from 19044.1263 with WSL, the same driver floor 495.00). The differences are written out above.
SAME_UNDER_LATE_AS_GA = (
    "lab-t4-srv2019",
    "lab-t4-srv2022",
    "lab-t4-srv2022-dismounted",
    "lab-t4-srv2025",
    "lab-t4-noacs",
    "lab-t4-lineirq",
    "lab-t4-noiov",
    "lab-t4-win11pro",
    "lab-t4-partial",
    "lab-rtx3060-win10-19044-1620",
    "lab-rtx3070-win10pro-19045",
    "lab-rtx2060-win10-nowsl",
    "lab-rtx4070-win11ent",
    "lab-rtx3060-win11pro-policy",
    "lab-quadro-p2000-win10ent-19045",
    "lab-intel-xe-iot-win11",
    "lab-rtx5070-win11pro",
    "lab-rtx3080-insider-wslpreview",
    "lab-gtx1660-olddriver",
    "lab-rtx3070-iot-win11",
    "lab-gtx1650-lowdisk",
    "lab-home-rtx3060",
    "lab-nested-vm-t4",
    "hostile-labels",
    "corrupt-truncated",
    "hostile-not-a-snapshot",
)
for _stem in SAME_UNDER_LATE_AS_GA:
    EXPECTED[_stem][LATE] = EXPECTED[_stem][GA]
