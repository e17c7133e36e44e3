"""Torch modules. Tensors only: no xarray, no panel in this package."""
