"""The site file: load YAML keeping line numbers, validate against the schema, the board
profiles and the controller definitions, and produce each device's flat config."""
import difflib
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from . import boards, heapfit, proto
from .errors import EdgeError

FIXED_KEYS = ('name', 'type', 'pins', 'active_low')
DEVICE_KEYS = ('board', 'controllers')
RESERVED = ('flash', 'psram', 'uart0', 'usb', 'ethernet')   # pin kinds a board profile may reserve


@dataclass
class Problem:
    file: str
    line: int
    path: str
    msg: str
    level: str = 'error'

    def __str__(self):
        return '%s:%d: %s%s%s' % (self.file, self.line, 'warning: ' if self.level == 'warning' else '',
                                  (self.path + ': ') if self.path else '', self.msg)


@dataclass
class Site:
    path: str
    data: dict
    lines: dict                     # path tuple -> 1-based line
    problems: list = field(default_factory=list)

    @property
    def errors(self):
        return [p for p in self.problems if p.level == 'error']

    @property
    def warnings(self):
        return [p for p in self.problems if p.level == 'warning']

    @property
    def name(self):
        return self.data['site']

    @property
    def devices(self):
        return self.data['devices']

    def line(self, path):
        path = tuple(path)
        while path and path not in self.lines:
            path = path[:-1]
        return self.lines.get(path, 1)

    def add(self, path, msg, level='error'):
        self.problems.append(Problem(self.path, self.line(path), _fmt_path(path), msg, level))


def _fmt_path(path):
    out = ''
    for p in path:
        out += '[%d]' % p if isinstance(p, int) else ('.' if out else '') + str(p)
    return out


def _walk(loader, node, path, lines, problems, fname):
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        seen = {}
        for k, v in node.value:
            key = loader.construct_object(k, deep=True)
            if key in seen:
                problems.append(Problem(fname, k.start_mark.line + 1, _fmt_path(path + (key,)),
                                        'appears twice (first at line %d): remove one' % seen[key]))
            seen[key] = k.start_mark.line + 1
            _walk(loader, v, path + (key,), lines, problems, fname)
            lines[path + (key,)] = k.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, v in enumerate(node.value):
            _walk(loader, v, path + (i,), lines, problems, fname)


def parse(text, fname):
    """YAML text -> Site with line numbers; YAML syntax errors become problems."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return Site(fname, {}, {}, [Problem(fname, 1, '', 'the file is empty: see CONTRACT.md section 1')])
        data = loader.construct_document(node)
    except yaml.YAMLError as e:
        mark = getattr(e, 'problem_mark', None)
        line = mark.line + 1 if mark else 1
        return Site(fname, {}, {}, [Problem(fname, line, '', 'not valid YAML: %s' % (getattr(e, 'problem', None) or e))])
    finally:
        loader.dispose()
    site = Site(fname, data, {})
    _walk(yaml.SafeLoader(''), node, (), site.lines, site.problems, fname)
    return site


def load(path):
    p = Path(path)
    if not p.is_file():
        raise EdgeError('no site file %s: pass --site FILE, or see CONTRACT.md section 1 for the format' % path, 2)
    site = parse(p.read_text(), str(path))
    if not site.problems:
        validate(site)
    return site


def load_valid(path):
    """Load and validate; raise EdgeError listing every error (exit 2) if invalid."""
    site = load(path)
    if site.errors:
        raise EdgeError('%s is invalid:\n  %s' % (path, '\n  '.join(str(p) for p in site.errors)), 2)
    return site


def validate(site):
    if not isinstance(site.data, dict):
        site.add((), 'the site file must be a mapping with site, broker and devices')
        return site
    for e in proto.validator('site').iter_errors(site.data):
        site.add(tuple(e.absolute_path), _schema_msg(e))
    if site.errors:
        return site
    defs = proto.controllers()
    for dev_id, dev in site.data['devices'].items():
        _check_device(site, defs, dev_id, dev)
        heapfit.check_device(site, dev_id, dev)      # controllers that cannot fit the board's heap
    return site


def _schema_msg(e):
    if e.validator == 'additionalProperties':
        return '%s (allowed: %s)' % (e.message, ', '.join(sorted(e.schema.get('properties', {}))))
    if e.validator == 'pattern':
        return '%r must match %s (lower-case letters, digits, -)' % (e.instance, e.validator_value)
    if e.validator == 'enum':
        return '%r is not one of %s' % (e.instance, ', '.join(map(str, e.validator_value)))
    return e.message


def _suggest(word, choices):
    m = difflib.get_close_matches(str(word), list(choices), n=1)
    return (": did you mean '%s'?" % m[0]) if m else ''


DAYS = ('mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun')


def parse_hhmm(v):
    """'18:00' -> minutes after midnight (24:00 allowed as an end); ValueError otherwise."""
    if not isinstance(v, str) or v.count(':') != 1:
        raise ValueError('%r is not a time like "18:00"' % (v,))
    h, m = v.split(':')
    if not (h.isdigit() and m.isdigit() and len(m) == 2) or int(m) > 59 or int(h) > 24 or (int(h) == 24 and int(m)):
        raise ValueError('%r is not a time like "18:00"' % (v,))
    return int(h) * 60 + int(m)


def parse_days(v):
    """'mon-fri', 'sat,sun', 'mon,wed-fri' -> bit mask (bit 0 Monday)."""
    if not isinstance(v, str) or not v.strip():
        raise ValueError('days must be like "mon-sun", "mon-fri" or "sat,sun"')
    mask = 0
    for part in v.lower().replace(' ', '').split(','):
        a, _, b = part.partition('-')
        if a not in DAYS or (b and b not in DAYS):
            raise ValueError('%r: days are %s' % (part, ', '.join(DAYS)))
        i, j = DAYS.index(a), DAYS.index(b or a)
        k = i
        while True:
            mask |= 1 << k
            if k == j:
                break
            k = (k + 1) % 7
    return mask


def parse_date(v):
    import datetime
    try:
        return (datetime.date.fromisoformat(str(v)) - datetime.date(1970, 1, 1)).days
    except ValueError:
        raise ValueError('%r is not a date like "2026-12-25"' % (v,))


def _window(w):
    """YAML 1.1 reads the keys on/off as the booleans true/false: take them back."""
    if not isinstance(w, dict):
        return w
    return {('on' if k is True else 'off' if k is False else k): v for k, v in w.items()}


def _check_schedule(site, path, val):
    if not isinstance(val, list):
        site.add(path, 'must be a list of windows like {on: "18:00", off: "22:30", days: "mon-sun"}')
        return
    for i, w in enumerate(val):
        w = _window(w)
        if not isinstance(w, dict) or set(w) - {'on', 'off', 'days'} or 'on' not in w or 'off' not in w:
            site.add(path + (i,), 'a window is {on: "HH:MM", off: "HH:MM", days: "mon-sun"}')
            continue
        for k in ('on', 'off'):
            try:
                parse_hhmm(w[k])
            except ValueError as e:
                site.add(path + (i, k), str(e))
        try:
            parse_days(w.get('days', 'mon-sun'))
        except ValueError as e:
            site.add(path + (i, 'days'), str(e))


def flat_schedule(val):
    return [[parse_hhmm(w['on']) % 1440, parse_hhmm(w['off']) % 1440, parse_days(w.get('days', 'mon-sun'))]
            for w in map(_window, val)]


def _check_setting(site, path, key, val, spec):
    t = spec['type']
    if t == 'str':
        if not isinstance(val, str):
            site.add(path, 'must be a string')
        return
    if t == 'schedule':
        _check_schedule(site, path, val)
        return
    if t == 'dates':
        if not isinstance(val, list):
            site.add(path, 'must be a list of dates like ["2026-12-25"]')
            return
        for i, d in enumerate(val):
            try:
                parse_date(d)
            except ValueError as e:
                site.add(path + (i,), str(e))
        return
    if t == 'bool':
        if not isinstance(val, bool):
            site.add(path, 'must be true or false')
        return
    if isinstance(val, bool) or not isinstance(val, (int, float)) or (t == 'int' and not isinstance(val, int)):
        site.add(path, 'must be %s' % ('a whole number' if t == 'int' else 'a number'))
        return
    if val < spec.get('min', val) or val > spec.get('max', val):
        site.add(path, '%s is out of range %s..%s' % (val, spec.get('min'), spec.get('max')))


def _check_device(site, defs, dev_id, dev):
    base = ('devices', dev_id)
    try:
        board = boards.load(dev['board'])
    except EdgeError as e:
        site.add(base + ('board',), str(e))
        return
    dev_settings = defs['device_settings']
    for k, v in dev.items():
        if k in DEVICE_KEYS:
            continue
        if k not in dev_settings:
            site.add(base + (k,), 'unknown device setting%s (known: %s)' % (
                _suggest(k, dev_settings), ', '.join(sorted(dev_settings))))
        else:
            _check_setting(site, base + (k,), k, v, dev_settings[k])
    used = {}
    names = {}
    for i, c in enumerate(dev['controllers']):
        cp = base + ('controllers', i)
        if c['name'] in names:
            site.add(cp + ('name',), 'controller name %r already used by controllers[%d]' % (c['name'], names[c['name']]))
        names[c['name']] = i
        tdef = defs['types'][c['type']]
        if not tdef.get('available'):
            site.add(cp + ('type',), 'controller type %r is not in this firmware yet (issue %s)' % (c['type'], tdef.get('issue')))
            continue
        _check_pins(site, cp, c, tdef, board, used)
        for k, v in c.items():
            if k in FIXED_KEYS:
                continue
            if k not in tdef['settings']:
                site.add(cp + (k,), 'unknown %s setting%s (known: %s)' % (
                    c['type'], _suggest(k, tdef['settings']), ', '.join(sorted(tdef['settings']))))
            else:
                _check_setting(site, cp + (k,), k, v, tdef['settings'][k])


def _check_pins(site, cp, c, tdef, board, used):
    signals = dict(tdef['inputs'])
    signals.update(tdef['outputs'])
    pins = c['pins']
    for sig, required in signals.items():
        if required and sig not in pins:
            site.add(cp + ('pins',), 'missing pin for %r (a %s needs: %s)' % (
                sig, c['type'], ', '.join(s for s, r in signals.items() if r)))
    for sig in c.get('active_low', []):
        if sig not in signals:
            site.add(cp + ('active_low',), 'unknown signal %r%s' % (sig, _suggest(sig, signals)))
    bname = board['name']
    for sig, pin in pins.items():
        pp = cp + ('pins', sig)
        if sig not in signals:
            site.add(pp, 'a %s has no signal %r%s (signals: %s)' % (
                c['type'], sig, _suggest(sig, signals), ', '.join(signals)))
            continue
        if pin not in board['gpio']:
            site.add(pp, 'GPIO%d does not exist on %s' % (pin, bname))
            continue
        for kind in RESERVED:
            if pin in board.get(kind, []):
                site.add(pp, 'GPIO%d is %s: choose another pin' % (pin, board['notes'][kind]))
        is_out = sig in tdef['outputs']
        if is_out and pin in board['input_only']:
            free = [p for p in board['gpio'] if p not in board['input_only'] and p not in board['strapping']
                    and not any(p in board.get(k, []) for k in RESERVED) and p not in used][:4]
            site.add(pp, 'GPIO%d is input-only on %s and cannot drive %r: use an output pin such as %s' % (
                pin, bname, sig, ', '.join(map(str, free))))
        eol = sig == 'contact' and c.get('contact_eol')
        if (sig in tdef.get('analog', []) or eol) and pin not in board.get('adc', []):
            site.add(pp, 'GPIO%d has no ADC on %s: %r is analog (ADC pins: %s)' % (
                pin, bname, sig, ', '.join(map(str, board['adc']))))
        if pin in board['strapping']:
            site.add(pp, 'GPIO%d is a strapping pin on %s (%s)' % (pin, bname, board['notes']['strapping']), 'warning')
        if pin in used:
            site.add(pp, 'GPIO%d is already used by %s' % (pin, used[pin]))
        else:
            used[pin] = '%s.%s' % (c['name'], sig)


def device_config(site, device, broker=None):
    """The flat, validated config document for one device (what the board runs)."""
    if device not in site.devices:
        raise EdgeError('no device %r in %s (devices: %s)' % (device, site.path, ', '.join(sorted(site.devices))), 2)
    defs = proto.controllers()
    dev = site.devices[device]
    cfg = {'site': site.name, 'device': device, 'board': dev['board'],
           'broker': dict(broker or site.data['broker'])}
    for k, spec in defs['device_settings'].items():
        cfg[k] = dev.get(k, spec['default'])
    ctrls = []
    for c in dev['controllers']:
        tdef = defs['types'][c['type']]
        flat = {'name': c['name'], 'type': c['type'], 'pins': dict(c['pins']),
                'active_low': list(c.get('active_low', []))}
        for k, spec in tdef['settings'].items():
            flat[k] = c.get(k, spec['default'])
        if 'schedule' in flat:          # the board gets minutes and day masks, not text
            flat['schedule'] = flat_schedule(flat['schedule'])
        if 'except_dates' in flat:
            flat['except_days'] = [parse_date(d) for d in flat.pop('except_dates')]
        ctrls.append(flat)
    cfg['controllers'] = ctrls
    body = json.dumps({k: v for k, v in cfg.items() if k != 'broker'}, sort_keys=True)
    cfg['rev'] = hashlib.sha256(body.encode()).hexdigest()[:12]
    return cfg
