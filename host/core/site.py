"""The site file: load YAML keeping line numbers, validate against the schema, the board
profiles and the controller definitions, and produce each device's flat config."""
import difflib
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from . import boards, heapfit, proto, tzrules
from .errors import EdgeError

FIXED_KEYS = ('name', 'type', 'pins', 'active_low', 'invert_ack')
DEVICE_KEYS = ('board', 'controllers', 'alarms', 'pos', 'camera')   # alarms, pos, camera: the control room's, never sent to the board
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
    syntax: bool = False            # not read as YAML at all (nothing else was checked)

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


# A site file is a few KB. Bounds keep a hostile one ("billion laughs": aliases of aliases
# that expand to millions of nodes) from taking the machine's memory: the file's size, the
# aliases in it, the nodes it expands to and how deep it nests.
MAX_BYTES = 1 << 20
MAX_ALIASES = 200
MAX_NODES = 100000
MAX_DEPTH = 50


class _TooBig(Exception):
    pass


class _BoundedLoader(yaml.SafeLoader):
    """PyYAML's safe loader that counts aliases as it composes (an alias costs nothing to
    compose but everything to walk)."""

    def __init__(self, text):
        super().__init__(text)
        self.aliases = 0

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            self.aliases += 1
            if self.aliases > MAX_ALIASES:
                mark = self.peek_event().start_mark
                raise _TooBig((mark.line + 1, 'more than %d aliases (*name): a site file needs few; '
                                              'write the values out' % MAX_ALIASES))
        return super().compose_node(parent, index)


def _expanded_size(node):
    """Nodes the document expands to with every alias written out, and its depth; without
    expanding it (each shared node counted once per use, computed once)."""
    sizes = {}

    def size(n, depth):
        if depth > MAX_DEPTH:
            raise _TooBig((n.start_mark.line + 1, 'nested more than %d levels deep' % MAX_DEPTH))
        if id(n) in sizes:
            return sizes[id(n)]
        if isinstance(n, yaml.MappingNode):
            total = 1 + sum(size(k, depth + 1) + size(v, depth + 1) for k, v in n.value)
        elif isinstance(n, yaml.SequenceNode):
            total = 1 + sum(size(v, depth + 1) for v in n.value)
        else:
            total = 1
        sizes[id(n)] = total
        return total
    return size(node, 0)


# PyYAML's words for a syntax error -> what is wrong, for someone editing a site file
_YAML_WORDS = (
    ("found character '\\t'", 'a tab character: YAML indents with spaces only'),
    ('mapping values are not allowed', "a ':' where none can be: indent this line like its neighbours, or "
                                       "quote a value that contains ': '"),
    ("could not find expected ':'", "a line without 'key: value' (a missing ':' or a quote left open)"),
    ('did not find expected key', 'this line does not line up with the keys above it (indentation)'),
    ("did not find expected '-' indicator", "this line does not line up with the list above it (indentation)"),
    ('found undefined alias', 'uses *name, but no &name is defined above it'),
    ('found unexpected end of stream', 'the file ends inside a quoted value: a quote is never closed'),
    ("expected ',' or ']'", "a [list] that is not closed, or a missing ','"),
    ("expected ',' or '}'", "a {mapping} that is not closed, or a missing ','"),
    ('found duplicate anchor', 'the same &name is defined twice'),
    ('block sequence entries are not allowed', "a '- ' list item where a value was expected (indentation)"),
    ('found unknown escape character', 'a backslash escape that YAML does not know inside "...": use \'...\''),
    ('found a tab character', 'a tab character: YAML indents with spaces only'),
    ('could not determine a constructor', "a '!tag' that a site file cannot use"),
)


def _yaml_words(e):
    problem = str(getattr(e, 'problem', None) or e)
    for key, words in _YAML_WORDS:
        if key in problem:
            return words
    return problem


def parse(text, fname):
    """YAML text -> Site with line numbers; YAML syntax errors, and files too large or too
    deeply aliased to be a site file, become problems (`site.syntax` set)."""
    if len(text) > MAX_BYTES:
        return _broken(fname, 1, 'the file has %d bytes; a site file has at most %d' % (len(text), MAX_BYTES))
    loader = _BoundedLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return _broken(fname, 1, 'the file is empty: `edgectl init` writes a starter site file '
                                     '(format: docs/site-file.md)')
        n = _expanded_size(node)
        if n > MAX_NODES:
            raise _TooBig((1, 'it expands to %d values through its aliases (at most %d)' % (n, MAX_NODES)))
        data = loader.construct_document(node)
    except _TooBig as e:
        line, msg = e.args[0]
        return _broken(fname, line, 'refused: %s' % msg)
    except RecursionError:
        return _broken(fname, 1, 'refused: nested too deeply to be a site file')
    except yaml.YAMLError as e:
        mark = getattr(e, 'problem_mark', None) or getattr(e, 'context_mark', None)
        line = mark.line + 1 if mark else 1
        col = (' (column %d)' % (mark.column + 1)) if mark else ''
        return _broken(fname, line, 'not valid YAML%s: %s' % (col, _yaml_words(e)))
    finally:
        loader.dispose()
    site = Site(fname, data, {})
    _walk(_BoundedLoader(''), node, (), site.lines, site.problems, fname)
    return site


def _broken(fname, line, msg):
    site = Site(fname, {}, {}, [Problem(fname, line, '', msg)])
    site.syntax = True
    return site


def load(path):
    p = Path(path)
    if not p.is_file():
        raise EdgeError('no site file %s: pass --site FILE, or write a starter one with `edgectl init` '
                        '(format: docs/site-file.md)' % path, 2)
    if p.stat().st_size > MAX_BYTES:
        site = _broken(str(path), 1, 'the file has %d bytes; a site file has at most %d' % (p.stat().st_size,
                                                                                             MAX_BYTES))
    else:
        try:
            text = p.read_text()
        except UnicodeDecodeError as e:
            raise EdgeError('%s is not a UTF-8 text file (byte %d): a site file is YAML text' % (path, e.start), 2)
        site = parse(text, str(path))
    if not site.syntax:
        validate(site)            # duplicate keys and schema errors are reported together
    return site


def load_valid(path):
    """Load and validate; raise EdgeError listing every error (exit 2) if invalid."""
    site = load(path)
    if site.errors:
        raise EdgeError('%s is invalid:\n  %s' % (path, '\n  '.join(str(p) for p in site.errors)), 2)
    return site


def validate(site):
    """Every problem at once: the schema's, then the board and controller checks of each
    device the schema found in shape (a device with a schema error is checked no further,
    the others are)."""
    if not isinstance(site.data, dict):
        site.add((), 'the site file must be a mapping with site, broker and devices')
        return site
    broken = set()
    _schema_problems(site, broken)
    devices = site.data.get('devices')
    if not isinstance(devices, dict) or ('devices',) in broken:
        return site
    _check_names(site)
    _check_alarms(site)
    if ('plan',) not in broken:
        _check_plan(site)
    defs = proto.controllers()
    for dev_id, dev in devices.items():
        if ('devices', dev_id) not in broken:
            _check_device(site, defs, dev_id, dev)
            heapfit.check_device(site, dev_id, dev)      # controllers that cannot fit the board's heap
    return site


def _check_plan(site):
    """The plan image named by `plan:` must be there, beside the site file."""
    name = site.data.get('plan')
    if isinstance(name, str) and not (Path(site.path).parent / name).is_file():
        site.add(('plan',), 'no plan image %s beside the site file' % name)


def _schema_problems(site, broken):
    """The schema's errors, worded; `broken` gets the top-level key or device each is in. A
    missing required key next to a misspelt one is one problem: did you mean."""
    typos = set()
    for e in sorted(proto.validator('site').iter_errors(site.data), key=lambda e: list(map(str, e.absolute_path))):
        path = tuple(e.absolute_path)
        if 'propertyNames' in e.absolute_schema_path:     # a bad name: its device is still checked
            site.add(path + (e.instance,), _schema_msg(e))
            continue
        broken.add(path[:2] if path[:1] == ('devices',) else path[:1])
        if e.validator == 'required' and isinstance(e.instance, dict):
            for want in [k for k in e.validator_value if k not in e.instance]:
                typo = _typo_of(want, e.instance, e.schema.get('properties', {}))
                if typo is not None:
                    if path + (typo,) not in typos:
                        typos.add(path + (typo,))
                        site.add(path + (typo,), "unknown key %r: did you mean '%s'?" % (typo, want))
                else:
                    site.add(path, 'missing %r (%s needs: %s)' % (want, _what(path), ', '.join(e.validator_value)))
            continue
        if e.validator == 'additionalProperties' and isinstance(e.instance, dict):
            allowed = e.schema.get('properties', {})
            for k in e.instance:
                if k not in allowed and path + (k,) not in typos:
                    typos.add(path + (k,))
                    site.add(path + (k,), 'unknown key %r%s (allowed: %s)' % (k, _suggest(k, allowed),
                                                                             ', '.join(sorted(allowed))))
            continue
        site.add(path, _schema_msg(e))


def _typo_of(want, instance, known):
    """The key in `instance` that is most likely `want` misspelt (not a key it may have)."""
    spare = [k for k in instance if isinstance(k, str) and k not in known]
    m = difflib.get_close_matches(want, spare, n=1, cutoff=0.75)
    return m[0] if m else None


def _what(path):
    if not path:
        return 'a site file'
    if path[0] == 'devices' and len(path) == 2:
        return 'a device'
    if path[0] == 'devices' and len(path) == 4:
        return 'a controller'
    return _fmt_path(path)
def _check_names(site):
    """Site, device and controller names become topic levels and logins: one rule for all
    (protocols/topics.py bad_name, which the board applies too), reserved names refused."""
    bad = proto.topics.bad_name
    said = {p.path for p in site.problems}       # the schema's pattern may have said it already

    def add(path, msg):
        if _fmt_path(path) not in said:
            site.add(path, msg)
    why = bad(site.data['site']) if isinstance(site.data.get('site'), str) else None
    if why:
        add(('site',), 'site name %r %s' % (site.data['site'], why))
    for dev_id, dev in site.data['devices'].items():
        why = bad(dev_id)
        if why:
            add(('devices', dev_id), 'device name %r %s' % (dev_id, why))
        ctrls = dev.get('controllers') if isinstance(dev, dict) else None
        for i, c in enumerate(ctrls if isinstance(ctrls, list) else []):
            why = bad(c.get('name'), '_') if isinstance(c, dict) else None
            if why:
                add(('devices', dev_id, 'controllers', i, 'name'), 'controller name %r %s' % (c.get('name'), why))


def _check_alarms(site):
    """What the schema cannot say about the alarm settings (issue 21): a notify hook is one
    of cmd and webhook, a command splits into a program and arguments, a webhook is a plain
    http(s) URL with a host, and re-prioritised alarm types exist."""
    import shlex
    import urllib.parse
    a = site.data.get('alarms')
    a = a if isinstance(a, dict) else {}
    for i, h in enumerate(a.get('notify') if isinstance(a.get('notify'), list) else []):
        if not isinstance(h, dict):
            continue
        path = ('alarms', 'notify', i)
        if ('cmd' in h) == ('webhook' in h):
            site.add(path, 'a hook is either {cmd: [program, args...]} or {webhook: "https://..."}: one of the two')
        if isinstance(h.get('cmd'), str):
            try:
                if not shlex.split(h['cmd']):
                    site.add(path + ('cmd',), 'is empty: name the program to run')
            except ValueError as e:
                site.add(path + ('cmd',), 'cannot be split into a program and arguments (%s): write it as a list' % e)
        for k in ('timeout_s', 'backoff_s'):
            if isinstance(h.get(k), float) and h[k] != h[k]:      # NaN passes the schema's bounds
                site.add(path + (k,), 'must be a number of seconds (got %r)' % h[k])
        url = h.get('webhook')
        if isinstance(url, str):
            try:
                u = urllib.parse.urlsplit(url)
                ok = u.scheme in ('http', 'https') and bool(u.hostname) and (u.port is None or u.port > 0)
            except ValueError:
                ok = False
            if not ok or any(ch.isspace() or ord(ch) < 32 for ch in url):
                site.add(path + ('webhook',), '%s is not an http:// or https:// URL with a host (and a port '
                                              'between 1 and 65535, no spaces)' % _shown(url))
    known = proto.controllers()['alarms']['priority']
    places = [(('alarms', 'priority'), a.get('priority'))]
    for dev, d in site.data['devices'].items():
        da = d.get('alarms') if isinstance(d, dict) else None
        places.append((('devices', dev, 'alarms', 'priority'), da.get('priority') if isinstance(da, dict) else None))
    for path, prio in places:
        for etype in (prio if isinstance(prio, dict) else {}):
            if isinstance(etype, str) and etype not in known:
                site.add(path + (etype,), 'no alarm type %r%s (the alarm types are in docs/events.md)' % (
                    etype, _suggest(etype, known)))


def _schema_msg(e):
    if e.validator == 'pattern':
        return '%r must match %s (lower-case letters, digits, -)' % (e.instance, e.validator_value)
    if e.validator == 'enum':
        return '%r is not one of %s%s' % (e.instance, ', '.join(map(str, e.validator_value)),
                                          _suggest(e.instance, map(str, e.validator_value)))
    if e.validator == 'type':
        want = e.validator_value if isinstance(e.validator_value, list) else [e.validator_value]
        return 'must be %s (got %s)' % (' or '.join(_TYPE_WORDS.get(t, t) for t in want), _shown(e.instance))
    if e.validator in ('minimum', 'maximum'):
        return '%s is out of range (%s %s)' % (_shown(e.instance), 'at least' if e.validator == 'minimum' else
                                               'at most', e.validator_value)
    if e.validator == 'minItems' or e.validator == 'minProperties':
        return 'must not be empty'
    if e.validator == 'maxLength':
        return 'is longer than %d characters' % e.validator_value
    return e.message


_TYPE_WORDS = {'object': 'a mapping (key: value lines)', 'array': 'a list', 'string': 'text',
               'integer': 'a whole number', 'number': 'a number', 'boolean': 'true or false'}


def _shown(v):
    s = repr(v)
    return s if len(s) <= 40 else s[:37] + '...'


def _suggest(word, choices):
    m = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1)
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
        elif len(val) > spec['max_len']:
            site.add(path, 'is %d characters long: at most %d' % (len(val), spec['max_len']))
        return
    if isinstance(val, list) and len(val) > spec.get('max_items', len(val)):
        site.add(path, 'has %d items: at most %d' % (len(val), spec['max_items']))
        return
    if t == 'schedule':
        _check_schedule(site, path, val)
        return
    if t == 'tz':
        try:
            if val != '':
                tzrules.zone(val)
        except ValueError as e:
            site.add(path, str(e))
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
    if not spec['min'] <= val <= spec['max']:       # also NaN
        site.add(path, '%s is out of range %s..%s%s%s' % (
            val, spec['min'], spec['max'], (' ' + spec['unit']) if spec.get('unit') not in (None, 'count') else '',
            (' (a safety bound: %s)' % spec['why']) if spec.get('safety') else ''))


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
    for i, c in enumerate(dev['controllers']):      # a zone's members: inputs of this board's controllers
        if c['type'] == 'zone' and isinstance(c.get('members'), str):
            for m in c['members'].replace(',', ' ').split():
                name, _, sig = m.partition('.')
                j = names.get(name)
                other = dev['controllers'][j] if j is not None and j != i else None
                if other is None or sig not in defs['types'].get(other['type'], {}).get('inputs', {}):
                    site.add(base + ('controllers', i, 'members'), '%r is not an input of another controller on %s '
                             '(members are "ctrl.signal", e.g. "front.contact")' % (m, dev_id))


def _check_pins(site, cp, c, tdef, board, used):
    signals = dict(tdef['inputs'])
    signals.update(tdef['outputs'])
    signals.update(tdef.get('reader', {}))     # a card reader's D0/D1 (both or none)
    pins = c['pins']
    if ('reader_d0' in pins) != ('reader_d1' in pins):
        site.add(cp + ('pins',), 'a card reader needs both reader_d0 and reader_d1')
    for sig, required in signals.items():
        if required and sig not in pins:
            site.add(cp + ('pins',), 'missing pin for %r (a %s needs: %s)' % (
                sig, c['type'], ', '.join(s for s, r in signals.items() if r)))
    _check_inversions(site, cp, c, tdef, signals)
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


def _check_inversions(site, cp, c, tdef, signals):
    """active_low inverts signals at the pin; a safety signal inverted needs its explicit
    acknowledgement in invert_ack (the board refuses it otherwise, and journals it at boot)."""
    low, ack = c.get('active_low', []), c.get('invert_ack', [])
    for sig in low:
        if sig not in signals:
            site.add(cp + ('active_low',), 'unknown signal %r%s' % (sig, _suggest(sig, signals)))
        elif sig in tdef['safety_signals'] and sig not in ack:
            site.add(cp + ('active_low',), '%r is a safety signal: inverting it at the pin makes the board '
                     "report the opposite of what the hardware does if the wiring is not inverted too; if it "
                     'is, say so with invert_ack: [%s] (journaled at every boot)' % (sig, sig))
    for sig in ack:
        if sig not in low:
            site.add(cp + ('invert_ack',), '%r is not inverted by active_low: remove it' % sig)


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
        if c.get('invert_ack'):
            flat['invert_ack'] = list(c['invert_ack'])
        for k, spec in tdef['settings'].items():
            v = c.get(k, spec['default'])
            if spec['type'] == 'schedule':        # the board gets minutes and day masks, not text
                v = flat_schedule(v)
            elif spec['type'] == 'tz':            # and the UTC offsets of this year and the next
                v = tzrules.flat(v)
            elif spec['type'] == 'dates':         # and day numbers
                v = [parse_date(d) for d in v]
            flat[spec.get('flat_key', k)] = v
        ctrls.append(flat)
    cfg['controllers'] = ctrls
    body = json.dumps({k: v for k, v in cfg.items() if k != 'broker'}, sort_keys=True)
    cfg['rev'] = hashlib.sha256(body.encode()).hexdigest()[:12]
    return cfg
