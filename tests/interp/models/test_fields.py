"""interp.models.fields: measured numbers may be nan, settings may not; float keys come back from JSON text."""

import dataclasses
import json
import math
from dataclasses import dataclass

import pytest

from interp.models.fields import FieldErrors, Number, from_mapping


@dataclass
class Measured:
    rate: Number
    scale: float
    by_alpha: dict[float, Number]


def test_number_takes_nan_and_float_does_not():
    got = from_mapping(Measured, json.loads('{"rate": NaN, "scale": 2, "by_alpha": {"0.5": 1}}'))
    assert math.isnan(got.rate) and got.scale == 2.0 and type(got.scale) is float
    with pytest.raises(FieldErrors, match=r"^scale: nan is not a finite number$"):
        from_mapping(Measured, {"rate": 0.5, "scale": math.nan, "by_alpha": {}})
    with pytest.raises(FieldErrors, match=r"^rate: expected a number, got '0.5'$"):
        from_mapping(Measured, {"rate": "0.5", "scale": 1.0, "by_alpha": {}})
    with pytest.raises(FieldErrors, match=r"^rate: expected a number, got True$"):
        from_mapping(Measured, {"rate": True, "scale": 1.0, "by_alpha": {}})


def test_float_keys_are_read_from_json_strings():
    data = json.loads(json.dumps({"rate": 0.1, "scale": 1.0, "by_alpha": {-2.0: 0.25, 0.0: 0.5, 1e-05: 0.75}}))
    got = from_mapping(Measured, data, "steering")
    assert got.by_alpha == {-2.0: 0.25, 0.0: 0.5, 1e-05: 0.75} and all(type(k) is float for k in got.by_alpha)
    with pytest.raises(FieldErrors, match=r"^steering\.by_alpha: key 'one' is not a number$"):
        from_mapping(Measured, {**data, "by_alpha": {"one": 0.5}}, "steering")


@dataclass
class Inner:
    layers: str = "all"
    positions: str = "all"
    dtype: str = "float16"


def _last_rows() -> Inner:
    return Inner(positions="last")


@dataclass
class Outer:
    cache: Inner = dataclasses.field(default_factory=_last_rows)
    plain: Inner = dataclasses.field(default_factory=Inner)


def test_a_nested_section_keeps_its_fields_default_for_the_keys_it_leaves_out():
    got = from_mapping(Outer, {"cache": {"layers": "3"}, "plain": {"layers": "3"}})
    assert got.cache == Inner(layers="3", positions="last", dtype="float16")  # the field's default, not the class's
    assert got.plain == Inner(layers="3")
    assert from_mapping(Outer, {"cache": {"positions": "all"}}).cache == Inner(positions="all")  # named keys win
    assert from_mapping(Outer, {}).cache == _last_rows()


@dataclass(frozen=True)
class Seeded:
    seeds: tuple[int, ...] = (0,)


def test_a_tuple_field_reads_a_files_list_as_a_tuple():
    """A config read from YAML or JSON must equal the one built in Python (its tuple default included)."""
    assert from_mapping(Seeded, {"seeds": [0, 1]}) == Seeded((0, 1))
    assert from_mapping(Seeded, json.loads(json.dumps({"seeds": [0]}))) == Seeded()
    with pytest.raises(FieldErrors, match=r"^seeds\[1\]: expected an integer, got 'one'$"):
        from_mapping(Seeded, {"seeds": [0, "one"]})
    with pytest.raises(FieldErrors, match=r"^seeds: expected a list, got 3$"):
        from_mapping(Seeded, {"seeds": 3})
