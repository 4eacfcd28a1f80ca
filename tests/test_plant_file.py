"""Plant files: the shipped ones load, bad ones are rejected naming the field."""

import copy
import glob
import json
import os

import pytest

from crf_sim.plant import Plant
from crf_sim.plantfile import PlantError, load_plant, validate_plant

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PLANTS = os.path.join(ROOT, 'firmware', 'crf_sim', 'plants')
SHIPPED = sorted(glob.glob(os.path.join(PLANTS, '*.json')))
EXPECTED = {'bag_50ml', 'bags_4x100ml', 'rack_8_bags', 'vials_20x1p8ml',
            'low_ln2_supply', 'noisy_sensors', 'deep_supercooling'}


def base():
    return {'format': 1, 'name': 'x', 'description': 'test', 'seed': 3,
            'samples': [{'kind': 'bag', 'volume_ml': 50, 'probe': True}]}


def test_all_expected_plants_are_shipped():
    names = {os.path.basename(p)[:-5] for p in SHIPPED}
    assert EXPECTED <= names


@pytest.mark.parametrize('path', SHIPPED, ids=lambda p: os.path.basename(p))
def test_shipped_plant_loads_and_runs(path):
    with open(path) as f:
        raw = json.load(f)
    assert raw['format'] == 1 and isinstance(raw['seed'], int) and raw['description']
    spec = load_plant(path)
    assert spec['name'] == os.path.basename(path)[:-5]
    assert sum(1 for e in spec['samples'] if e['probe']) == 1
    p = Plant(spec)
    p.step(60000, True, 0.0)
    assert p.chamber_c < spec['initial_c'] - 5
    assert p.read_sample_probe() is not None


def test_rack_and_vials_have_the_right_units():
    rack = Plant(load_plant(os.path.join(PLANTS, 'rack_8_bags.json')))
    assert rack.n_units == 8
    assert all(e['kind'] == 'bag' and e['volume_ml'] in (50, 100)
               for e in rack.spec['samples'])
    vials = Plant(load_plant(os.path.join(PLANTS, 'vials_20x1p8ml.json')))
    assert vials.n_units == 20


def test_defaults_filled_and_input_untouched():
    raw = base()
    before = copy.deepcopy(raw)
    spec = validate_plant(raw)
    assert raw == before
    assert spec['dt_ms'] == 100 and spec['ambient_c'] == 22.0 and spec['initial_c'] == 4.0
    assert spec['ln2']['supply'] == {'kind': 'constant', 'factor': 1.0}
    s = spec['samples'][0]
    assert s['count'] == 1 and s['h_w_m2k'] == 25.0
    # derived bag area: two faces of a 6 mm slab (reference: ~0.017 m2 for 50 mL)
    assert s['area_m2'] == pytest.approx(0.0167, rel=0.02)
    assert validate_plant(spec) == spec        # idempotent


def test_derived_vial_area_gives_minutes_time_constant():
    raw = base()
    raw['samples'] = [{'kind': 'vial', 'volume_ml': 1.8, 'probe': True}]
    s = validate_plant(raw)['samples'][0]
    tau_s = 1.8 * 1.05e-3 * 3700 / (25 * s['area_m2'])
    assert 60 <= tau_s <= 180                 # reference: ~1-2 min


def test_seed_override():
    spec = validate_plant(base())
    assert Plant(spec).seed == 3
    assert Plant(spec, seed=9).seed == 9


def bad(mutate):
    raw = base()
    mutate(raw)
    with pytest.raises(PlantError) as e:
        validate_plant(raw)
    return str(e.value)


def test_out_of_range_message_names_field():
    def m(r):
        r['samples'] = [{'kind': 'bag', 'volume_ml': 50},
                        {'kind': 'vial', 'volume_ml': 2, 'count': 3},
                        {'kind': 'bag', 'volume_ml': 900, 'probe': True}]
    assert bad(m) == 'plant file: samples[2].volume_ml: must be 0.5..500'


@pytest.mark.parametrize('mutate, field, reason', [
    (lambda r: r.update(colour='red'), 'colour', 'unknown key'),
    (lambda r: r.update(chamber={'fan_watts': 20}), 'chamber.fan_watts', 'unknown key'),
    (lambda r: r['samples'][0].update(shape='round'), 'samples[0].shape', 'unknown key'),
    (lambda r: r.update(seed='7'), 'seed', 'integer'),
    (lambda r: r.update(seed=1.5), 'seed', 'integer'),
    (lambda r: r.update(ambient_c=True), 'ambient_c', 'number'),
    (lambda r: r.update(ambient_c='warm'), 'ambient_c', 'number'),
    (lambda r: r.update(chamber={'heater_w': 5000}), 'chamber.heater_w', 'must be 0..3000'),
    (lambda r: r.update(ln2={'line_loss': -0.1}), 'ln2.line_loss', 'must be'),
    (lambda r: r.update(ln2={'delay_ms': 1.5}), 'ln2.delay_ms', 'integer'),
    (lambda r: r.update(format=2), 'format', 'must be 1..1'),
    (lambda r: r.pop('format'), 'format', 'missing'),
    (lambda r: r.pop('name'), 'name', 'missing'),
    (lambda r: r.update(name=5), 'name', 'string'),
    (lambda r: r.update(samples=[]), 'samples', 'list'),
    (lambda r: r['samples'][0].update(kind='ampoule'), 'samples[0].kind', 'bag or vial'),
    (lambda r: r['samples'][0].update(count=0), 'samples[0].count', 'must be 1..100'),
    (lambda r: r['samples'][0].update(probe='yes'), 'samples[0].probe', 'true or false'),
    (lambda r: r['samples'].append({'kind': 'bag', 'volume_ml': 50, 'probe': True}),
     'samples[1].probe', 'only one'),
    (lambda r: r['samples'][0].update(probe=False), 'samples', 'exactly one'),
    (lambda r: r['samples'][0].update(count=100) or r['samples'].append(
        {'kind': 'vial', 'volume_ml': 1, 'count': 101}), 'samples[1].count', 'must be'),
    (lambda r: r['samples'][0].update(count=100) or r['samples'].extend(
        [{'kind': 'vial', 'volume_ml': 1, 'count': 100}] * 2), 'samples', 'at most 200'),
    (lambda r: r.update(medium={'supercool_c': [5, 2]}), 'medium.supercool_c', 'low <= high'),
    (lambda r: r.update(medium={'tm_c': 2}), 'medium.tm_c', 'must be'),
    (lambda r: r.update(sensors={'sample': {'tau_s': -1}}), 'sensors.sample.tau_s', 'must be'),
    (lambda r: r.update(sensors={'probe': {}}), 'sensors.probe', 'unknown key'),
    (lambda r: r.update(ln2={'supply': {'kind': 'tank'}}), 'ln2.supply.kind', 'must be'),
    (lambda r: r.update(ln2={'supply': {'kind': 'dewar', 'initial_kg': 5, 'low_kg': 6}}),
     'ln2.supply.low_kg', 'must be 0..5'),
    (lambda r: r.update(ln2={'supply': {'kind': 'schedule', 'points': [[0, 1], [0, 0.5]]}}),
     'ln2.supply.points[1]', 'increase'),
    (lambda r: r.update(ln2={'supply': {'kind': 'schedule', 'points': [[0, 3]]}}),
     'ln2.supply.points[0]', 'factor'),
    (lambda r: r.update(chamber=[]), 'chamber', 'object'),
])
def test_bad_field_is_named(mutate, field, reason):
    msg = bad(mutate)
    assert msg.startswith('plant file: %s: ' % field), msg
    assert reason in msg


def test_bad_json_names_the_file(tmp_path):
    path = tmp_path / 'broken_plant.json'
    path.write_text('{"format": 1, "name": "x",,}')
    with pytest.raises(PlantError) as e:
        load_plant(str(path))
    assert str(path) in str(e.value) and 'JSON' in str(e.value)


def test_missing_file_names_the_file(tmp_path):
    path = str(tmp_path / 'nope.json')
    with pytest.raises(PlantError) as e:
        load_plant(path)
    assert path in str(e.value)


def test_top_level_must_be_object(tmp_path):
    path = tmp_path / 'list.json'
    path.write_text('[1, 2]')
    with pytest.raises(PlantError):
        load_plant(str(path))


def test_plant_error_is_value_error():
    assert issubclass(PlantError, ValueError)
