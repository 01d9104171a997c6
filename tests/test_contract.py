from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import pytest

from engine.contract import (
    FastParams,
    GatysParams,
    Init,
    JobRequest,
    Method,
    ParamError,
    Quality,
    params_from_dict,
    params_to_dict,
    schema,
)


def test_every_field_has_help_and_numeric_fields_have_ranges() -> None:
    for cls in (GatysParams, FastParams):
        for f in dataclasses.fields(cls):
            assert f.metadata["help"], f.name
            default = getattr(cls(), f.name)
            if isinstance(default, (int, float)) and not isinstance(default, bool):
                lo, hi = f.metadata["min"], f.metadata["max"]
                assert lo is not None and hi is not None, f.name
                assert lo <= default <= hi, f.name


def test_neural_style_vocabulary_is_kept() -> None:
    gatys = {f.name for f in dataclasses.fields(GatysParams)}
    assert {"size", "quality", "iterations", "content_weight", "style_weight", "tv_weight",
            "style_scale", "style_weights", "init", "keep_colors", "seed", "optimizer",
            "device"} <= gatys
    assert {"model", "strength", "keep_colors", "tile"} <= {f.name for f in
                                                            dataclasses.fields(FastParams)}


def test_round_trip_through_json_keeps_every_value() -> None:
    p = GatysParams(size=300, quality=Quality.HIGH, init=Init.NOISE, style_weights=(0.25, 0.75),
                    keep_colors=True, seed=7)
    again = params_from_dict(GatysParams, json.loads(json.dumps(params_to_dict(p))))
    assert again == p


@pytest.mark.parametrize("data, field", [
    ({"size": 10}, "size"), ({"size": "big"}, "size"), ({"quality": "ultra"}, "quality"),
    ({"style_weight": float("nan")}, "style_weight"), ({"keep_colors": "maybe"}, "keep_colors"),
    ({"colour": 1}, "colour"), ({"style_weights": "1,x"}, "style_weights"),
    ({"strength": 1.5}, "strength"),
])
def test_bad_values_name_the_field(data: dict, field: str) -> None:
    with pytest.raises(ParamError) as err:
        params_from_dict(GatysParams, data)
    assert err.value.name == field and field in str(err.value)


def test_job_request_parsing() -> None:
    r = JobRequest.from_dict({"method": "fast", "model": "udnie", "params": {"strength": 0.5}})
    assert r.method is Method.FAST and r.params.model == "udnie" and r.params.strength == 0.5
    with pytest.raises(ParamError):
        JobRequest.from_dict({"method": "magic"})


def test_schema_lists_every_field_with_choices() -> None:
    s = schema()
    names = [f["name"] for f in s["methods"]["gatys"]]
    assert names == [f.name for f in dataclasses.fields(GatysParams)]
    quality = next(f for f in s["methods"]["gatys"] if f["name"] == "quality")
    assert quality["choices"] == ["draft", "normal", "high"] and quality["default"] == "normal"


def test_choice_labels_name_real_choices_and_reach_the_schema() -> None:
    import enum
    import typing

    from engine.contract import METHODS

    for cls in {spec.params for spec in METHODS.values()}:
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            labels = f.metadata["choice_labels"]
            if labels:  # a misspelt key would silently fall back to the raw value
                assert issubclass(hints[f.name], enum.Enum), f.name
                assert set(labels) <= {m.value for m in hints[f.name]}, f.name
    gatys = {f["name"]: f for f in schema()["methods"]["gatys"]}
    loss = gatys["style_loss"]
    assert loss["choices"] == ["gram", "patch"]
    assert loss["choice_labels"][0].startswith("Global (Gram)")
    assert loss["choice_labels"][1].startswith("Local patches")
    # every choice field has one label per choice
    for f in gatys.values():
        if f["type"] == "choice":
            assert len(f["choice_labels"]) == len(f["choices"]), f["name"]


def test_params_command_prints_the_schema() -> None:
    out = subprocess.run([sys.executable, "-m", "engine", "params"], capture_output=True,
                         text=True, check=True).stdout
    assert json.loads(out) == json.loads(json.dumps(schema()))
