"""The Linux side: the EFLOW VM (or any Linux machine the GPU is meant to reach), live or recorded."""
