"""The pack's root conftest: intentionally empty.

The pack's pytest plugin is installed as the ``pytest11`` entry point ``eflowgpu`` (pyproject.toml)
and switched on by ``eflowgpu_pack = true`` in pytest.ini; loading it here as well would register
it twice. Put a lab's own fixtures here or in a conftest.py beside its site checks.
"""
