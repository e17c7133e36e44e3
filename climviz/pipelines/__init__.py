"""Pipelines: the one place where tensors meet coordinates (xarray in, xarray out)."""
