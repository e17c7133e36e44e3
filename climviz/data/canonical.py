"""The canonical form of temperature data, and the checks on the way there (no file access).

:func:`canonicalize` puts a Dataset or DataArray already in memory (or opened
lazily) in the form of :mod:`climviz.data.grid`: ``tas (member, time, lat,
lon)``, latitude ascending, longitude in ``[0, 360)``, cftime time, float32, K.
:mod:`climviz.data.loader` opens files and hands each one to it. Anything that
cannot be put in that form raises :class:`DataError` naming the problem.
"""

from __future__ import annotations

import warnings

import cf_xarray  # noqa: F401  (registers the ``.cf`` accessor used to find coordinates)
import cftime
import numpy as np
import pandas as pd
import xarray as xr

from climviz.data.grid import CALENDAR, CANONICAL_DIMS, LAT, LON, MEMBER, TIME


class DataError(ValueError):
    """User-supplied data that cannot be read or put in canonical form."""


# Dimension names recognised as the ensemble axis (lower case).
MEMBER_NAMES = (
    "member",
    "realization",
    "realisation",
    "ensemble",
    "ens",
    "number",
    "member_id",
    "ensemble_member",
)
_ROLE_NAMES = {LAT: ("lat", "latitude"), LON: ("lon", "longitude"), TIME: ("time",)}
_CF_KEYS = {LAT: ("latitude", "Y"), LON: ("longitude", "X"), TIME: ("time", "T")}
_KELVIN = {
    "k",
    "kelvin",
    "degk",
    "deg_k",
    "degreek",
    "degree_k",
    "degrees_k",
    "degree_kelvin",
    "degrees_kelvin",
}
_CELSIUS = {
    "c",
    "degc",
    "deg_c",
    "degreec",
    "degree_c",
    "degrees_c",
    "celsius",
    "degree_celsius",
    "degrees_celsius",
}
_PLAUSIBLE_K = (100.0, 400.0)  # any near-surface or atmospheric temperature, in K
# Attributes that describe the stored (packed, pre-conversion) values, not the result.
_STALE_ATTRS = (
    "_FillValue",
    "missing_value",
    "scale_factor",
    "add_offset",
    "actual_range",
    "valid_range",
    "valid_min",
    "valid_max",
)
# Sizes no real data set reaches: a file claiming more is refused before anything is read
# (a 10**9-member header costs 10**9 index values and Dask chunks otherwise).
MAX_DIM_SIZE = 10**7  # points along one dimension
MAX_VALUES = 10**12  # values in one variable (4 TB of float32)


def canonicalize(
    obj: xr.Dataset | xr.DataArray,
    var: str | None = None,
    units: str | None = "K",
    *,
    source: str | None = None,
    require_global: bool = False,
    check_values: bool = True,
) -> xr.DataArray:
    """Put an in-memory (or lazily opened) Dataset/DataArray in canonical form.

    Finds the variable, the member/time/lat/lon dims (by name, then by CF
    ``standard_name``/``units``/``axis`` through cf_xarray), renames them,
    adds a length-1 ``member`` (coord ``[0]``) if there is none, squeezes
    other length-1 dims, sorts latitude ascending, wraps longitude to
    ``[0, 360)``, decodes time to cftime (``standard`` dates after 1582 and
    datetime64 become ``proleptic_gregorian``), converts units, casts to
    float32 and validates. ``source`` names the data in error messages.
    Returns dims ``(member, time, lat, lon)``; lazy input stays lazy except
    for the one validation pass (``check_values``).
    """
    where = _describe(obj, source)
    obj = obj.copy(deep=False)  # encodings are cleared below; the caller's stay
    ds = obj.to_dataset(name=obj.name or "data") if isinstance(obj, xr.DataArray) else obj
    if isinstance(obj, xr.DataArray):
        var = next(iter(ds.data_vars))
    ds = _decode(ds, where)
    da = _select_variable(ds, var, where)
    _check_sizes(da.sizes, where)
    steps: list[str] = []
    da = _canonical_dims(da, where)
    da = _canonical_time(da, where, steps)
    da = _canonical_lat(da, where, steps)
    da = _canonical_lon(da, where, steps, require_global)
    da = _convert_units(da, units, where, steps)
    if check_values:
        _check_values(da, where, units)
    da.encoding = {}
    for coord in da.coords.values():
        coord.variable.encoding = {}
    attrs = {k: v for k, v in ds.attrs.items() if k not in da.attrs}  # provenance
    attrs.update(da.attrs)
    if source is not None:
        attrs["source_file"] = str(source)
    if steps:
        note = "climviz canonicalize: " + "; ".join(steps)
        attrs["history"] = f"{attrs['history']}\n{note}" if attrs.get("history") else note
    da.attrs = attrs
    return da


def _time_kwargs() -> dict:
    coders = getattr(xr, "coders", None)
    if coders is not None and hasattr(coders, "CFDatetimeCoder"):
        return {"decode_times": coders.CFDatetimeCoder(use_cftime=True)}
    return {"use_cftime": True}  # xarray < 2025.01


def _reason(err: BaseException) -> str:
    """``Type: first line of the message`` (library errors can run to several lines)."""
    lines = str(err).strip().splitlines()
    return f"{type(err).__name__}: {lines[0] if lines else ''}".rstrip(": ")


def _check_sizes(sizes, where: str) -> None:
    """Refuse dimension sizes beyond :data:`MAX_DIM_SIZE` or :data:`MAX_VALUES` values in all."""
    big = {str(d): int(n) for d, n in sizes.items() if n > MAX_DIM_SIZE}
    if big:
        raise DataError(
            f"implausible size in {where}: dimensions {big} exceed {MAX_DIM_SIZE:,} points; "
            f"the file header is corrupt or not gridded data"
        )
    total = int(np.prod([int(n) for n in sizes.values()], dtype=object))
    if total > MAX_VALUES:
        raise DataError(
            f"implausible size in {where}: {total:,} values (over {MAX_VALUES:,}); select a subset first"
        )


# ----------------------------------------------------------------------------- canonical form


def _describe(obj, source) -> str:
    if source is not None:
        return str(source)
    src = getattr(obj, "encoding", {}).get("source")
    return str(src) if src else f"the in-memory {type(obj).__name__}"


def _decode(ds: xr.Dataset, where: str) -> xr.Dataset:
    """Decode CF (fill values, packing, numeric times) if it has not been done."""
    raw = any(
        any(k in v.attrs for k in ("_FillValue", "missing_value", "scale_factor", "add_offset"))
        or (v.dtype.kind in "iuf" and " since " in str(v.attrs.get("units", "")))
        for v in ds.variables.values()
    )
    if not raw:
        return ds
    try:
        return xr.decode_cf(ds, decode_timedelta=False, **_time_kwargs())
    except Exception as err:
        raise DataError(f"cannot decode the CF metadata of {where}: {err}") from err


def _select_variable(ds: xr.Dataset, var: str | None, where: str) -> xr.DataArray:
    names = [str(v) for v in ds.data_vars]
    if var is not None:
        if var not in ds.data_vars:
            raise DataError(f"no variable {var!r} in {where}; data variables: {names}")
        return ds[var]
    if "tas" in ds.data_vars:
        return ds["tas"]
    candidates = [v for v in names if all(_find_role(ds[v], r, where) for r in (TIME, LAT, LON))]
    if len(candidates) == 1:
        return ds[candidates[0]]
    plain = [v for v in names if not v.endswith(("_bnds", "_bounds"))]
    if not candidates and len(plain) == 1:
        return ds[plain[0]]  # the dimension check then says what is missing
    listing = ", ".join(f"{v}{tuple(ds[v].dims)}" for v in names) or "none"
    which = "several" if candidates else "no"
    raise DataError(
        f"{which} data variables with (time, lat, lon) dims in {where}: "
        f"{candidates or listing}; pass var= to choose"
    )


def _find_role(da: xr.DataArray, role: str, where: str) -> tuple[str | None, str | None] | None:
    """(dim, coord) holding ``role`` (lat/lon/time); dim None for a scalar coord."""
    names = _ROLE_NAMES[role]
    key, axis = _CF_KEYS[role]
    cands = [n for n in list(da.coords) + list(da.dims) if str(n).lower() in names]
    by_name = list(dict.fromkeys(cands))
    by_cf = list(da.cf.coordinates.get(key, [])) + list(da.cf.axes.get(axis, []))
    for c in by_name + [c for c in by_cf if c not in by_name]:
        if c not in da.coords:
            return (c, None) if c in da.dims else None
        v = da.coords[c]
        if v.ndim >= 2:
            raise DataError(
                f"unsupported grid in {where}: {role} coordinate {c!r} is "
                f"{v.ndim}-D {v.dims} (curvilinear); regrid to a regular "
                f"latitude-longitude grid first"
            )
        if role != TIME and c not in by_name:
            u = str(v.attrs.get("units", "degrees"))
            if not u.lower().startswith("deg"):
                raise DataError(
                    f"unsupported grid in {where}: {c!r} is a projected coordinate (units {u!r}), not {role}"
                )
        if v.ndim == 0:
            return (None, c) if role == TIME else None
        return (v.dims[0], c)
    return None


def _canonical_dims(da: xr.DataArray, where: str) -> xr.DataArray:
    name = da.name
    found = {r: _find_role(da, r, where) for r in (TIME, LAT, LON)}
    missing = [r for r, f in found.items() if f is None]
    if missing:
        raise DataError(
            f"variable {name!r} in {where} has no {' or '.join(missing)} dimension; "
            f"found dims {tuple(da.dims)}"
        )
    if found[TIME][0] is None:  # a single time as a scalar coord
        da = da.expand_dims(found[TIME][1])
        found[TIME] = (found[TIME][1], found[TIME][1])
    members = [d for d in da.dims if str(d).lower() in MEMBER_NAMES] or [
        d for d in da.dims if d in da.coords and da[d].attrs.get("standard_name") == "realization"
    ]
    if len(members) > 1:
        raise DataError(f"variable {name!r} in {where} has several member dims {members}")
    for role, (dim, coord) in found.items():
        if coord is None:
            raise DataError(f"dimension {dim!r} of {name!r} in {where} has no coordinate values")
        values = da[coord].variable  # rebuilt rather than swap_dims'd: keeps indexes sane
        da = da.drop_vars([c for c in {coord, role} if c in da.coords])
        if dim != role:
            da = da.rename({dim: role})
        da = da.assign_coords({role: (role, values.values, values.attrs)})
    if members:
        if members[0] not in da.coords:
            da = da.assign_coords({members[0]: np.arange(da.sizes[members[0]])})
        if members[0] != MEMBER:
            da = da.drop_vars([MEMBER] if MEMBER in da.coords else []).rename({members[0]: MEMBER})
    extra = [d for d in da.dims if d not in CANONICAL_DIMS]
    big = [f"{d}({da.sizes[d]})" for d in extra if da.sizes[d] > 1]
    if big:
        raise DataError(
            f"variable {name!r} in {where} has extra dimensions {big} besides "
            f"member/time/lat/lon; select one value of each first"
        )
    da = da.squeeze(extra, drop=False)
    if MEMBER not in da.dims:
        scalar = [c for c in da.coords if str(c).lower() in MEMBER_NAMES and da[c].ndim == 0]
        label = da[scalar[0]].values.item() if scalar else 0
        da = da.drop_vars(scalar).expand_dims({MEMBER: [label]})
    return da.transpose(*CANONICAL_DIMS)


def _as_cftime(values: np.ndarray, where: str, steps: list[str]) -> np.ndarray:
    if values.dtype.kind == "M":
        if np.isnat(values).any():
            raise DataError(f"missing (NaT) time values in {where}")
        steps.append("datetime64 time to cftime proleptic_gregorian")
        return np.array(
            [
                cftime.DatetimeProlepticGregorian(
                    t.year, t.month, t.day, t.hour, t.minute, t.second, t.microsecond
                )
                for t in pd.DatetimeIndex(values)
            ],
            dtype=object,
        )
    if values.dtype.kind != "O" or not all(isinstance(t, cftime.datetime) for t in values):
        raise DataError(
            f"time in {where} is not a date (dtype {values.dtype}); "
            f"it needs CF units like 'days since 1850-01-01'"
        )
    cal = values[0].calendar
    if cal in ("standard", "gregorian") and all(
        t >= cftime.datetime(1582, 10, 15, calendar=cal) for t in values
    ):
        steps.append(f"calendar {cal} (dates after 1582) relabelled {CALENDAR}")
        return np.array(
            [
                cftime.DatetimeProlepticGregorian(
                    t.year, t.month, t.day, t.hour, t.minute, t.second, t.microsecond
                )
                for t in values
            ],
            dtype=object,
        )
    return values


def _canonical_time(da: xr.DataArray, where: str, steps: list[str]) -> xr.DataArray:
    t = _as_cftime(np.asarray(da[TIME].values), where, steps)
    if t.size > 1:
        dup = t[1:] == t[:-1]
        if dup.any():
            raise DataError(f"duplicate time values in {where}: {t[1:][dup][0]}")
        if not np.all(t[1:] > t[:-1]):
            raise DataError(f"time in {where} is not monotonically increasing")
    return da.assign_coords({TIME: (TIME, t, {"standard_name": "time", "axis": "T"})})


def _coord_values(da: xr.DataArray, dim: str, where: str) -> np.ndarray:
    try:
        v = np.asarray(da[dim].values, dtype=np.float64)
    except (TypeError, ValueError):
        raise DataError(f"{dim} values in {where} are not numbers") from None
    if v.size < 2:
        raise DataError(f"unsupported grid in {where}: {v.size} {dim} point(s), need at least 2")
    if not np.isfinite(v).all():
        raise DataError(f"unsupported grid in {where}: missing (NaN) {dim} values")
    return v


def _canonical_lat(da: xr.DataArray, where: str, steps: list[str]) -> xr.DataArray:
    lat = _coord_values(da, LAT, where)
    if lat.min() < -90 - 1e-6 or lat.max() > 90 + 1e-6:
        raise DataError(
            f"unsupported grid in {where}: latitudes outside [-90, 90] ({lat.min():g} to {lat.max():g})"
        )
    order = np.argsort(lat, kind="stable")
    if np.any(np.diff(lat[order]) <= 0):
        raise DataError(f"duplicate latitude values in {where}")
    attrs = {"standard_name": "latitude", "units": "degrees_north", "axis": "Y"}
    da = da.assign_coords({LAT: (LAT, lat, attrs)})
    if np.all(np.diff(lat) < 0):
        steps.append("latitude flipped to ascending")
        return da.isel({LAT: slice(None, None, -1)})
    if np.any(np.diff(lat) < 0):
        steps.append("latitude sorted ascending")
        return da.isel({LAT: order})
    return da


def _canonical_lon(da: xr.DataArray, where: str, steps: list[str], require_global: bool):
    lon = _coord_values(da, LON, where)
    if abs(abs(lon[-1] - lon[0]) - 360.0) < 1e-6:  # cyclic point repeats the first column
        steps.append("cyclic longitude column dropped")
        da, lon = da.isel({LON: slice(0, -1)}), lon[:-1]
    wrapped = np.mod(lon, 360.0)
    wrapped[np.isclose(wrapped, 360.0, rtol=0, atol=1e-9)] = 0.0
    order = np.argsort(wrapped, kind="stable")
    srt = wrapped[order]
    if np.any(np.diff(srt) <= 1e-9):
        raise DataError(f"duplicate longitude values in {where} (after wrapping to [0, 360))")
    gaps = np.diff(np.append(srt, srt[0] + 360.0))  # spacing round the circle
    step = gaps.min()
    off = ~np.isclose(gaps, step, rtol=1e-3, atol=1e-6)
    if off.sum() > 1 or (off.sum() == 1 and srt.size < 2):
        raise DataError(
            f"unsupported grid in {where}: longitudes are not evenly spaced "
            f"(spacings {np.unique(np.round(gaps, 4)).tolist()})"
        )
    if require_global and off.any():
        raise DataError(
            f"unsupported grid in {where}: longitudes cover {srt.size * step:g} of "
            f"360 degrees; a global grid is required"
        )
    if not np.array_equal(wrapped, lon):
        steps.append("longitude wrapped to [0, 360)")
    attrs = {"standard_name": "longitude", "units": "degrees_east", "axis": "X"}
    da = da.assign_coords({LON: (LON, wrapped, attrs)})
    return da.isel({LON: order}) if np.any(np.diff(wrapped) < 0) else da


def _unit_kind(units) -> str | None:
    key = str(units).strip().lower().replace("°", "deg").replace(" ", "_")
    return "K" if key in _KELVIN else "C" if key in _CELSIUS else None


def _convert_units(da: xr.DataArray, units: str | None, where: str, steps: list[str]):
    attrs = {k: v for k, v in da.attrs.items() if k not in _STALE_ATTRS}
    if da.dtype.kind not in "iuf":
        raise DataError(f"variable {da.name!r} in {where} is not numeric (dtype {da.dtype})")
    if units is None:
        out = da.astype(np.float32)
        out.attrs = attrs
        return out
    target = _unit_kind(units)
    if target is None:
        raise ValueError(f"units must be 'K', 'degC' or None, got {units!r}")
    raw = da.attrs.get("units")
    if raw is None:
        raise DataError(
            f"variable {da.name!r} in {where} has no units attribute; set attrs['units'] to 'K' or 'degC'"
        )
    kind = _unit_kind(raw)
    if kind is None:
        raise DataError(
            f"unsupported units {raw!r} of variable {da.name!r} in {where}: "
            f"expected a temperature in K or degC"
        )
    offset = {("C", "K"): 273.15, ("K", "C"): -273.15}.get((kind, target), 0.0)
    out = (da + offset if offset else da).astype(np.float32)
    if offset:
        steps.append(f"units {raw} to {units}")
    if da.name != "tas":
        attrs["source_variable"] = str(da.name)
        steps.append(f"variable {da.name} renamed tas")
    attrs.setdefault("standard_name", "air_temperature")
    attrs["units"] = "K" if target == "K" else "degC"
    out.attrs = attrs
    return out.rename("tas")


def _check_values(da: xr.DataArray, where: str, units: str | None) -> None:
    finite = np.isfinite(da)
    stats = xr.Dataset(
        {
            "n_valid": da.notnull().sum(),
            "n_inf": np.isinf(da).sum(),
            "lo": da.where(finite).min(),
            "hi": da.where(finite).max(),
        }
    )
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)
            stats = stats.compute()
    except Exception as err:
        raise DataError(
            f"cannot read the values of {where}: the file may be corrupt or truncated ({_reason(err)})"
        ) from err
    if int(stats.n_valid) == 0:
        raise DataError(f"variable {da.name!r} in {where} is all NaN (missing)")
    if int(stats.n_inf) > 0:
        raise DataError(f"variable {da.name!r} in {where} has {int(stats.n_inf)} infinite values")
    if units is None:
        return
    lo, hi = float(stats.lo), float(stats.hi)
    shift = 0.0 if _unit_kind(units) == "K" else 273.15
    if lo + shift < _PLAUSIBLE_K[0] or hi + shift > _PLAUSIBLE_K[1]:
        raise DataError(
            f"implausible temperatures in {where}: {lo + shift:.6g} to "
            f"{hi + shift:.6g} K; check the units attribute and fill values"
        )
