"""The support matrix: ``matrix.yaml`` loaded strictly into a typed model."""

from eflowgpu.matrix.load import MATRIX_FORMAT, build_matrix, load_matrix
from eflowgpu.matrix.model import (
    Brand,
    CatalogGpu,
    DriverRule,
    EditionGroup,
    Matrix,
    Passthrough,
    Profile,
    SupportRow,
    WindowsRule,
)

__all__ = [
    "MATRIX_FORMAT",
    "Brand",
    "CatalogGpu",
    "DriverRule",
    "EditionGroup",
    "Matrix",
    "Passthrough",
    "Profile",
    "SupportRow",
    "WindowsRule",
    "build_matrix",
    "load_matrix",
]
