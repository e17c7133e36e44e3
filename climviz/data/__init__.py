"""Data: the synthetic embedded default, CF readers/writers, regions, grids."""
