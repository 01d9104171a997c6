from . import Gegl, Gimp, Gio, GLib, GObject  # noqa: F401
