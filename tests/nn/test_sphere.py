"""Spherical padding: the cells beyond a pole are the true neighbours across it."""

import numpy as np
import torch

from climviz.data.grid import global_grid
from climviz.nn.sphere import spherical_pad


def _field(lat_deg, lon_deg):
    """A smooth function of the 3D position on the unit sphere (not symmetric in anything)."""
    lat, lon = np.deg2rad(lat_deg), np.deg2rad(lon_deg)
    x, y, z = np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)
    return 0.3 * x + 0.5 * y**2 - 0.7 * z + x * z


def test_padding_matches_the_field_continued_over_the_poles():
    nlat, nlon, p = 12, 24, 2
    lat, lon = global_grid(nlat, nlon)
    lat2, lon2 = np.meshgrid(lat, lon, indexing="ij")
    padded = spherical_pad(torch.tensor(_field(lat2, lon2))[None, None], p)[0, 0].numpy()
    # extended coordinates: rows mirrored through the poles (lat beyond +-90), periodic longitude
    lon_ext = np.concatenate([lon[-p:] - 360.0, lon, lon[:p] + 360.0])
    lat_ext = np.concatenate([-180.0 - lat[:p][::-1], lat, 180.0 - lat[-p:][::-1]])
    la, lo = np.meshgrid(lat_ext, lon_ext, indexing="ij")
    # a latitude beyond a pole is the point at 180 - lat on the other side (lon + 180)
    beyond_n, beyond_s = la > 90, la < -90
    la_true = np.where(beyond_n, 180 - la, np.where(beyond_s, -180 - la, la))
    lo_true = np.where(beyond_n | beyond_s, lo + 180, lo)
    np.testing.assert_allclose(padded, _field(la_true, lo_true), atol=1e-12)


def test_longitude_is_periodic():
    x = torch.arange(4 * 8, dtype=torch.float64).reshape(1, 1, 4, 8)
    y = spherical_pad(x, 1)
    assert torch.equal(y[..., 1:-1, 0], x[..., :, -1])
    assert torch.equal(y[..., 1:-1, -1], x[..., :, 0])


def test_sphere_pad_against_index_formula():
    h, w, p = 5, 8, 2
    x = torch.randn(2, h, w)
    y = spherical_pad(x, p)
    for i in range(h + 2 * p):
        for j in range(w + 2 * p):
            r, lon = i - p, (j - p) % w
            if r < 0:  # beyond the first row: row -1-r, half a turn round
                r, lon = -1 - r, (lon + w // 2) % w
            elif r >= h:
                r, lon = 2 * h - 1 - r, (lon + w // 2) % w
            assert torch.equal(y[:, i, j], x[:, r, lon]), (i, j)


def test_sphere_pad_wider_than_grid_is_periodic_with_zero_rows():
    x = torch.randn(1, 3, 4)
    y = spherical_pad(x, 5)  # pad > H and > W: wraps in longitude, zeros in latitude
    assert y.shape == (1, 13, 14)
    assert torch.equal(y[0, 5:8], x[0][:, (torch.arange(-5, 9)) % 4])
    assert (y[0, :5] == 0).all() and (y[0, 8:] == 0).all()


def test_up_equals_a_spherical_convolution_of_the_upsampled_field():
    """Up folds the 3x3 kernel into four 2x2 phase kernels; the reference forms the
    nearest-neighbour up-sampled field and convolves it with spherical padding."""
    from torch.nn import functional as F

    from climviz.nn.sphere import Up

    torch.manual_seed(0)
    up = Up(5, 3)
    x = torch.randn(2, 5, 6, 12)
    reference = up.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))
    torch.testing.assert_close(up(x), reference, rtol=1e-5, atol=1e-5)
