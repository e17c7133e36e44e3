"""The dashboard: Param state objects (no Panel), views (HoloViews/GeoViews/Datashader), pages."""
