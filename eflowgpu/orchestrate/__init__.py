"""One run from the Windows host into the EFLOW VM: the in-VM pack is run elsewhere and its results
come back into the host's report, through a small transport protocol (local, EFLOW)."""
