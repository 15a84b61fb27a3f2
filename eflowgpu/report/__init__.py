"""Human-readable and machine-readable compatibility reports."""
