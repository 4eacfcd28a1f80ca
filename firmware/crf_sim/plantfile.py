# The virtual freezer's plant file: its validation and defaults
# (docs/plant-model.md), apart from the model (crf_sim/plant.py) so the
# virtual freezer can drop this code once the file is read. Runs unchanged
# on CPython and the MicroPython unix port.

import math

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

BAG_THICK_M = 0.006  # filled bag thickness used to derive its area
VIAL_OD_M = 0.0125   # cryovial outer diameter
VIAL_ID_M = 0.0105   # cryovial inner diameter
VIAL_HEAD_M = 0.020  # headspace + cap height that also exchanges heat


class PlantError(ValueError):
    pass


def _fail(path, reason):
    raise PlantError('plant file: %s: %s' % (path, reason))


def _is_num(v):
    return (isinstance(v, int) or isinstance(v, float)) and not isinstance(v, bool)


def _num(d, key, path, lo, hi, default=None, integer=False):
    p = path + key if path == '' else path + '.' + key
    if key not in d:
        if default is None:
            _fail(p, 'missing')
        return default
    v = d[key]
    if integer:
        if not isinstance(v, int) or isinstance(v, bool):
            _fail(p, 'must be an integer')
    elif not _is_num(v):
        _fail(p, 'must be a number')
    if v != v or v < lo or v > hi:
        _fail(p, 'must be %s..%s' % (_fmt(lo), _fmt(hi)))
    return v if integer else float(v)


def _fmt(x):
    if isinstance(x, float) and x == int(x) and abs(x) < 1e9:
        return str(int(x))
    return str(x)


def _obj(d, key, path, allowed):
    p = path + key if path == '' else path + '.' + key
    v = d.get(key, {})
    if not isinstance(v, dict):
        _fail(p, 'must be an object')
    _keys(v, p, allowed)
    return v


def _keys(d, path, allowed):
    for k in d:
        if k not in allowed:
            _fail(path + '.' + str(k) if path else str(k), 'unknown key')


def _str(d, key, path, maxlen, default=None):
    p = path + key if path == '' else path + '.' + key
    if key not in d:
        if default is None:
            _fail(p, 'missing')
        return default
    v = d[key]
    if not isinstance(v, str):
        _fail(p, 'must be a string')
    if len(v) > maxlen:
        _fail(p, 'must be at most %d characters' % maxlen)
    return v


def derived_area_m2(kind, volume_ml):
    # Geometry behind the default area (see docs/plant-model.md).
    v = volume_ml * 1e-6
    if kind == 'bag':
        return 2.0 * v / BAG_THICK_M  # flat slab, both faces
    fill = v / (math.pi * (VIAL_ID_M / 2) ** 2)
    return math.pi * VIAL_OD_M * (fill + VIAL_HEAD_M) + math.pi * VIAL_OD_M ** 2 / 4


def _supply(ln2, path):
    p = path + '.supply'
    s = ln2.get('supply', {'kind': 'constant'})
    if not isinstance(s, dict):
        _fail(p, 'must be an object')
    kind = s.get('kind', 'constant')
    if kind == 'constant':
        _keys(s, p, ('kind', 'factor'))
        return {'kind': kind, 'factor': _num(s, 'factor', p, 0.0, 2.0, 1.0)}
    if kind == 'schedule':
        _keys(s, p, ('kind', 'points'))
        pts = s.get('points')
        if not isinstance(pts, list) or not pts:
            _fail(p + '.points', 'must be a non-empty list of [t_s, factor]')
        out = []
        last = -1.0
        for i in range(len(pts)):
            q = '%s.points[%d]' % (p, i)
            pt = pts[i]
            if not isinstance(pt, list) or len(pt) != 2 or not _is_num(pt[0]) or not _is_num(pt[1]):
                _fail(q, 'must be [t_s, factor]')
            if pt[0] <= last or pt[0] > 1e6:
                _fail(q, 't_s must increase, 0..1000000')
            if pt[1] < 0 or pt[1] > 2:
                _fail(q, 'factor must be 0..2')
            last = float(pt[0])
            out.append([float(pt[0]), float(pt[1])])
        return {'kind': kind, 'points': out}
    if kind == 'dewar':
        _keys(s, p, ('kind', 'initial_kg', 'low_kg', 'floor_factor'))
        ini = _num(s, 'initial_kg', p, 0.1, 500.0)
        low = _num(s, 'low_kg', p, 0.0, ini)
        flo = _num(s, 'floor_factor', p, 0.0, 1.0, 0.5)
        return {'kind': kind, 'initial_kg': ini, 'low_kg': low, 'floor_factor': flo}
    _fail(p + '.kind', 'must be constant, schedule or dewar')


TOP_KEYS = ('format', 'name', 'description', 'seed', 'dt_ms', 'ambient_c',
            'initial_c', 'chamber', 'ln2', 'medium', 'samples', 'sensors')
CHAMBER_KEYS = ('gas_j_per_k', 'wall_j_per_k', 'wall_cp_slope_per_k',
                'gas_wall_w_per_k', 'leak_w_per_k', 'fan_w', 'heater_w')
LN2_KEYS = ('flow_kg_per_min', 'delay_ms', 'line_loss', 'supply')
MEDIUM_KEYS = ('tm_c', 'cp_liquid_kj_per_kgk', 'cp_frozen_kj_per_kgk',
               'latent_kj_per_kg', 'density_g_per_ml', 'supercool_c',
               'crystal_tau_s')
SAMPLE_KEYS = ('kind', 'volume_ml', 'count', 'area_m2', 'h_w_m2k', 'probe')
SENSOR_KEYS = ('chamber', 'sample', 'resolution_c')
PROBE_KEYS = ('tau_s', 'noise_c')
MAX_UNITS = const(200)


def validate_plant(spec):
    """Return a new spec with defaults filled; raise PlantError naming the field."""
    if not isinstance(spec, dict):
        _fail('(top)', 'must be a JSON object')
    _keys(spec, '', TOP_KEYS)
    out = {}
    out['format'] = _num(spec, 'format', '', 1, 1, integer=True)
    out['name'] = _str(spec, 'name', '', 40)
    out['description'] = _str(spec, 'description', '', 400, '')
    out['seed'] = _num(spec, 'seed', '', 0, 4294967295, 1, integer=True)
    out['dt_ms'] = _num(spec, 'dt_ms', '', 10, 1000, 100, integer=True)
    out['ambient_c'] = _num(spec, 'ambient_c', '', -10.0, 45.0, 22.0)
    out['initial_c'] = _num(spec, 'initial_c', '', -20.0, 40.0, 4.0)

    c = _obj(spec, 'chamber', '', CHAMBER_KEYS)
    out['chamber'] = {
        'gas_j_per_k': _num(c, 'gas_j_per_k', 'chamber', 5.0, 500.0, 30.0),
        'wall_j_per_k': _num(c, 'wall_j_per_k', 'chamber', 500.0, 20000.0, 4500.0),
        'wall_cp_slope_per_k': _num(c, 'wall_cp_slope_per_k', 'chamber', 0.0, 0.003, 0.0016),
        'gas_wall_w_per_k': _num(c, 'gas_wall_w_per_k', 'chamber', 5.0, 1000.0, 150.0),
        'leak_w_per_k': _num(c, 'leak_w_per_k', 'chamber', 0.0, 5.0, 0.7),
        'fan_w': _num(c, 'fan_w', 'chamber', 0.0, 200.0, 25.0),
        'heater_w': _num(c, 'heater_w', 'chamber', 0.0, 3000.0, 500.0),
    }

    n = _obj(spec, 'ln2', '', LN2_KEYS)
    out['ln2'] = {
        'flow_kg_per_min': _num(n, 'flow_kg_per_min', 'ln2', 0.01, 2.0, 0.29),
        'delay_ms': _num(n, 'delay_ms', 'ln2', 0, 10000, 2000, integer=True),
        'line_loss': _num(n, 'line_loss', 'ln2', 0.0, 0.9, 0.4),
        'supply': _supply(n, 'ln2'),
    }

    m = _obj(spec, 'medium', '', MEDIUM_KEYS)
    med = {
        'tm_c': _num(m, 'tm_c', 'medium', -10.0, -0.5, -3.5),
        'cp_liquid_kj_per_kgk': _num(m, 'cp_liquid_kj_per_kgk', 'medium', 1.0, 5.0, 3.7),
        'cp_frozen_kj_per_kgk': _num(m, 'cp_frozen_kj_per_kgk', 'medium', 0.5, 4.0, 1.9),
        'latent_kj_per_kg': _num(m, 'latent_kj_per_kg', 'medium', 50.0, 340.0, 290.0),
        'density_g_per_ml': _num(m, 'density_g_per_ml', 'medium', 0.9, 1.3, 1.05),
        'crystal_tau_s': _num(m, 'crystal_tau_s', 'medium', 1.0, 300.0, 20.0),
    }
    sc = m.get('supercool_c', [3.0, 12.0])
    if (not isinstance(sc, list) or len(sc) != 2 or not _is_num(sc[0])
            or not _is_num(sc[1]) or sc[0] < 0 or sc[1] < sc[0] or sc[1] > 40):
        _fail('medium.supercool_c', 'must be [low, high] with 0 <= low <= high <= 40')
    med['supercool_c'] = [float(sc[0]), float(sc[1])]
    out['medium'] = med

    ss = spec.get('samples')
    if not isinstance(ss, list) or not ss or len(ss) > 16:
        _fail('samples', 'must be a list of 1..16 sample entries')
    samples = []
    probes = 0
    units = 0
    for i in range(len(ss)):
        p = 'samples[%d]' % i
        e = ss[i]
        if not isinstance(e, dict):
            _fail(p, 'must be an object')
        _keys(e, p, SAMPLE_KEYS)
        kind = e.get('kind')
        if kind != 'bag' and kind != 'vial':
            _fail(p + '.kind', 'must be bag or vial')
        vol = _num(e, 'volume_ml', p, 0.5, 500.0)
        cnt = _num(e, 'count', p, 1, 100, 1, integer=True)
        area = _num(e, 'area_m2', p, 1e-5, 1.0, derived_area_m2(kind, vol))
        h = _num(e, 'h_w_m2k', p, 2.0, 200.0, 25.0)
        pr = e.get('probe', False)
        if not isinstance(pr, bool):
            _fail(p + '.probe', 'must be true or false')
        if pr:
            probes += 1
            if probes > 1:
                _fail(p + '.probe', 'only one sample entry may carry the probe')
        units += cnt
        samples.append({'kind': kind, 'volume_ml': vol, 'count': cnt,
                        'area_m2': area, 'h_w_m2k': h, 'probe': pr})
    if probes != 1:
        _fail('samples', 'exactly one entry must have probe: true')
    if units > MAX_UNITS:
        _fail('samples', 'at most %d units in total' % MAX_UNITS)
    out['samples'] = samples

    s = _obj(spec, 'sensors', '', SENSOR_KEYS)
    sens = {'resolution_c': _num(s, 'resolution_c', 'sensors', 0.0, 1.0, 0.03125)}
    for name, tau in (('chamber', 2.0), ('sample', 4.0)):
        q = _obj(s, name, 'sensors', PROBE_KEYS)
        sens[name] = {'tau_s': _num(q, 'tau_s', 'sensors.' + name, 0.0, 60.0, tau),
                      'noise_c': _num(q, 'noise_c', 'sensors.' + name, 0.0, 2.0, 0.02)}
    out['sensors'] = sens
    return out


def load_plant(path):
    import json
    try:
        with open(path) as f:
            text = f.read()
    except OSError as e:
        raise PlantError('plant file: %s: cannot read (%s)' % (path, e))
    try:
        spec = json.loads(text)
    except ValueError as e:
        raise PlantError('plant file: %s: bad JSON (%s)' % (path, e))
    return validate_plant(spec)
