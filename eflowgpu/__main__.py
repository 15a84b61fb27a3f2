"""``python -m eflowgpu``: the pack's command line (see :mod:`eflowgpu.cli`)."""

from eflowgpu.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
