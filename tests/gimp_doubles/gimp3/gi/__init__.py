"""Test double of PyGObject's `gi` for GIMP 3 plug-ins: only the GIMP 3.0 API they use."""

_VERSIONS = {"Gimp": "3.0", "GimpUi": "3.0", "Gegl": "0.4", "Gtk": "3.0"}


def require_version(namespace, version):
    if _VERSIONS.get(namespace) != version:
        raise ValueError(f"Namespace {namespace} not available for version {version}")
