"""Test doubles of GIMP's Python APIs (gimpfu for 2.10, gi.repository.Gimp & co. for 3.0) over
one small image model (model.py), and a scriptable fake engine client (fake_engine.py)."""
