#!/usr/bin/env bash
# A prepared GPU check: the in-VM suite and the benchmarks at `quick`, for every GPU of this Linux
# machine, offline, in under 6 minutes, with its results in $OUT (at most 8 files).
#
#   OUT=/path/to/results bash benchmarks/device-check.sh [WHEELS_DIR]
#
# The machine needs Python 3.11+ with PyTorch and nvidia-ml-py installed (a GPU machine has them) and
# no network: the pack is installed from this checkout into a fresh virtual environment that sees
# the interpreter's packages (--system-site-packages, so torch is reused, not downloaded); its other
# dependencies (pytest, pytest-benchmark, allure-pytest, PyYAML, defusedxml, ...) come from there or
# from the wheels folder given as the argument or as EFLOWGPU_WHEELS. Without a GPU it runs the same
# way: the CUDA checks and benchmarks skip with their reason and the CPU benchmarks still measure.
#
# Environment: OUT (required), EFLOWGPU_WHEELS, PYTHON (the interpreter; default: the first python3
# that imports torch, else this checkout's .venv), LEVEL (default quick), PYTEST_TIMEOUT_S (default
# 300), STRICT=1 (exit 1 when a check fails; by default a failed check is a result, exit 0).
#
# $OUT receives: compat-report.json, vm-snapshot.json (the pack's reports), nvidia-smi.xml (raw
# `nvidia-smi -q -x`, when nvidia-smi exists), benchmarks.json (pytest-benchmark), junit.xml,
# device-check.log. Exit status: 0 when the suite ran and wrote its report; 2 bad usage; 3 the pack
# could not be installed; 124 the suite ran out of time; otherwise pytest's status.
set -uo pipefail

started=$(date +%s)
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
wheels=${1:-${EFLOWGPU_WHEELS:-}}
level=${LEVEL:-quick}
pytest_timeout=${PYTEST_TIMEOUT_S:-300}

if [ -z "${OUT:-}" ]; then
    echo "device-check: set OUT to the folder that receives the results" >&2
    exit 2
fi
mkdir -p "$OUT" || { echo "device-check: cannot create OUT=$OUT" >&2; exit 2; }
if [ -n "$wheels" ] && [ ! -d "$wheels" ]; then
    echo "device-check: the wheels folder $wheels does not exist" >&2
    exit 2
fi
log="$OUT/device-check.log"
: >"$log"
say() { echo "device-check: $*" | tee -a "$log"; }

work=$(mktemp -d "${TMPDIR:-/tmp}/eflowgpu-device-check.XXXXXX")
trap 'rm -rf "$work"' EXIT

# --- the interpreter ------------------------------------------------------------------------------
if [ -n "${PYTHON:-}" ]; then
    python=$PYTHON
elif command -v python3 >/dev/null && python3 -c 'import torch' 2>/dev/null; then
    python=$(command -v python3)
elif [ -x "$root/.venv/bin/python" ]; then
    python=$root/.venv/bin/python
else
    python=$(command -v python3 || echo python3)
fi
say "python: $python ($("$python" -c 'import sys; print(sys.version.split()[0])' 2>&1))"

# --- a venv over the interpreter's packages, with the pack installed offline ----------------------
venv="$work/venv"
# Without its own pip and setuptools: those of the interpreter are used (a venv's bundled setuptools
# can be older than the wheel package beside it, and then cannot build the pack).
if ! "$python" -m venv --system-site-packages --without-pip "$venv" >>"$log" 2>&1; then
    say "cannot create a virtual environment with $python"
    exit 3
fi
vpy="$venv/bin/python"
# A venv's --system-site-packages means its base interpreter's; when $python is itself a venv (a
# CI or developer environment), its site-packages are added the same way, through a .pth file.
"$python" - "$vpy" <<'PY' >>"$log" 2>&1
import site, subprocess, sys
from pathlib import Path
if sys.prefix != sys.base_prefix:
    target = subprocess.run([sys.argv[1], "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                            capture_output=True, text=True, check=True).stdout.strip()
    Path(target, "_device_check_parent.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    print("layered over", ", ".join(site.getsitepackages()))
PY
"$vpy" -m pip --version >>"$log" 2>&1 || "$vpy" -m ensurepip >>"$log" 2>&1
find_links=()
[ -n "$wheels" ] && find_links=(--find-links "$wheels")
install() { "$vpy" -m pip install --no-index --disable-pip-version-check -q "${find_links[@]}" "$@" >>"$log" 2>&1; }
# Dependencies from the wheels folder when one is given, else what the interpreter has.
deps=(--no-deps)
[ -n "$wheels" ] && deps=()
if install "${deps[@]}" --no-build-isolation "$root" || install "${deps[@]}" "$root"; then
    say "installed the pack from $root into $venv"
else
    say "could not install the pack offline (see above); running it from the source tree"
    export PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}"
fi
missing=$("$vpy" - <<'PY' 2>>"$log"
import importlib.util
need = ["eflowgpu", "pytest", "pytest_benchmark", "allure", "pynvml", "yaml", "defusedxml"]
print(" ".join(n for n in need if importlib.util.find_spec(n) is None))
PY
)
if [ -n "$missing" ]; then
    say "missing Python packages: $missing (give their wheels: bash benchmarks/device-check.sh WHEELS_DIR)"
    exit 3
fi
"$vpy" -c 'import torch' 2>>"$log" || say "PyTorch is not installed: every benchmark will skip"

# --- what the driver says, raw ------------------------------------------------------------------
if command -v nvidia-smi >/dev/null; then
    if timeout --kill-after=5 60 nvidia-smi -q -x >"$OUT/nvidia-smi.xml" 2>>"$log"; then
        say "nvidia-smi: $(grep -c '<gpu id=' "$OUT/nvidia-smi.xml") GPU(s), driver $(sed -n 's:.*<driver_version>\(.*\)</driver_version>.*:\1:p' "$OUT/nvidia-smi.xml" | head -n1)"
    else
        say "nvidia-smi -q -x failed (exit $?): see the log"
    fi
else
    say "no nvidia-smi on this machine: the CUDA checks and benchmarks skip"
fi

# --- the in-VM suite and the benchmarks, as the image runs them (deploy/Dockerfile) ----------------
pack="$work/pack"
mkdir -p "$pack" "$work/reports"
cp -R "$root/suites" "$root/conftest.py" "$root/pytest.ini" "$root/matrix.yaml" "$pack/"
say "running suites/vm at level $level (limit ${pytest_timeout} s)"
(
    cd "$pack" || exit 2
    timeout --kill-after=15 "$pytest_timeout" "$vpy" -m pytest suites/vm -p no:xdist -p no:cacheprovider \
        -q -rfEs --report-dir "$work/reports" --level "$level" \
        --benchmark-json "$OUT/benchmarks.json" --junitxml "$OUT/junit.xml"
) >>"$log" 2>&1
rc=$?
tail -n 25 "$log" | sed -n '/ passed\| failed\| skipped\| error/p' | tail -n 3

for name in compat-report.json vm-snapshot.json; do
    [ -f "$work/reports/$name" ] && cp "$work/reports/$name" "$OUT/$name"
done

# --- summary: what the pack saw and measured ------------------------------------------------------
if [ -f "$OUT/compat-report.json" ]; then
    "$vpy" - "$OUT/compat-report.json" <<'PY' | tee -a "$log"
import json, sys
report = json.load(open(sys.argv[1], encoding="utf-8"))
for system in report.get("systems", []):
    vm = system.get("vm") or {}
    print(f"device-check: passthrough {vm.get('passthrough')} ({vm.get('passthrough_reason')})")
    for gpu in vm.get("gpus", []):
        print(f"device-check: GPU {gpu.get('name')} {gpu.get('pci_id')} model {gpu.get('model') or 'not in the catalog'}"
              f" driver {gpu.get('driver_version')} CUDA {gpu.get('cuda_version')}")
    for crit in vm.get("criteria", []):
        print(f"device-check: {crit['id']}: {crit['status']}: {crit['detail'][:160]}")
    for bench in vm.get("benchmarks", []):
        print(f"device-check: {bench.get('id')} [{bench.get('device') or bench.get('gpu') or ''}]: "
              f"{bench.get('value')} {bench.get('unit') or ''} (cv {bench.get('cv')}) {bench.get('status') or ''}")
PY
fi
say "done in $(($(date +%s) - started)) s; pytest exit $rc; files: $(find "$OUT" -maxdepth 1 -type f -printf '%f ')"

if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
    say "the suite ran out of time (${pytest_timeout} s)"
    exit 124
fi
if [ ! -f "$OUT/compat-report.json" ]; then
    say "the suite wrote no compat-report.json"
    exit "$((rc == 0 ? 1 : rc))"
fi
if [ "$rc" -eq 1 ] && [ "${STRICT:-0}" != "1" ]; then
    say "some checks failed: a result, not a broken run (STRICT=1 makes it exit 1)"
    exit 0
fi
exit "$rc"
