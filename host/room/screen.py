"""A terminal painter for the control room: a frame is a list of rows, each a list of
(text, style) segments; drawing a frame writes only the rows that differ from the frame
before (cursor to the row, the row, erase to its end), so a new alarm costs one short
write, not a full-screen repaint. Styles are words ("bold red", "black on cyan",
"reverse", "dim") turned into SGR codes here. Text from the field (device names, event
fields) is cleaned of control characters: a board must not be able to steer the
operator's terminal with escape sequences."""
import os
import re
import unicodedata

COLOURS = ('black', 'red', 'green', 'yellow', 'blue', 'magenta', 'cyan', 'white')
ATTRS = {'bold': '1', 'dim': '2', 'italic': '3', 'underline': '4', 'reverse': '7'}
_CONTROL = re.compile('[\x00-\x1f\x7f-\x9f]')
_sgr_cache = {}


def sgr(style):
    """'bold white on red' -> '\\x1b[1;37;41m' ('' for no style)."""
    if not style:
        return ''
    hit = _sgr_cache.get(style)
    if hit is None:
        codes, words, bg = [], style.split(), False
        for w in words:
            if w == 'on':
                bg = True
            elif w in ATTRS:
                codes.append(ATTRS[w])
            elif w in COLOURS:
                codes.append(str((40 if bg else 30) + COLOURS.index(w)))
                bg = False
            else:
                raise ValueError('unknown style word %r in %r' % (w, style))
        hit = _sgr_cache[style] = '\x1b[%sm' % ';'.join(codes) if codes else ''
    return hit


def clean(text):
    """Text safe to show: control characters (ESC among them) become '?'."""
    text = str(text)
    return _CONTROL.sub('?', text) if _CONTROL.search(text) else text


def cells(text):
    """Terminal cells the text takes (wide East Asian characters two, combining marks none)."""
    if text.isascii():
        return len(text)
    n = 0
    for ch in text:
        if unicodedata.combining(ch):
            continue
        n += 2 if unicodedata.east_asian_width(ch) in ('W', 'F') else 1
    return n


def cut(text, width):
    """The longest start of text that fits in `width` cells."""
    if text.isascii():
        return text[:width]
    n = 0
    for i, ch in enumerate(text):
        w = 0 if unicodedata.combining(ch) else 2 if unicodedata.east_asian_width(ch) in ('W', 'F') else 1
        if n + w > width:
            return text[:i]
        n += w
    return text


def pad(text, width):
    """Cut or pad text to exactly `width` cells."""
    text = cut(text, width)
    return text + ' ' * (width - cells(text))


def paint(row, width):
    """One row (segments) as the bytes-to-be of a terminal line, at most `width` cells."""
    out, left = [], width
    for text, style in row:
        if left <= 0:
            break
        piece = cut(text, left)
        left -= cells(piece)
        code = sgr(style)
        out.append(code + piece + '\x1b[0m' if code else piece)
    return ''.join(out)


class Screen:
    """Paints frames on a terminal (an fd or a binary file), rows that changed only."""

    def __init__(self, out, size=None):
        self.out = out
        self.fd = out if isinstance(out, int) else out.fileno()
        self.size = size            # (columns, rows); None: ask the terminal each frame
        self.shown = []             # the rows on screen, as painted
        self.shown_size = None
        self.bytes = 0              # written so far (the benchmark reports it)

    def _write(self, s):
        data = s.encode('utf-8', 'replace')
        view = memoryview(data)
        while view:
            n = os.write(self.fd, view)
            view = view[n:]
        self.bytes += len(data)

    def __enter__(self):
        self._write('\x1b[?1049h\x1b[?25l\x1b[2J')     # alternate screen, cursor hidden, cleared
        self.shown = []
        return self

    def __exit__(self, *exc):
        self._write('\x1b[0m\x1b[?25h\x1b[?1049l')

    def dimensions(self):
        if self.size:
            return self.size
        try:
            sz = os.get_terminal_size(self.fd)
            return sz.columns, sz.lines
        except OSError:
            return 100, 40

    def draw(self, rows, scroll=None):
        """Paint a frame (a list of rows); returns how many rows were written. scroll:
        (first, end) rows of a log that scrolls up: when the new frame's log is the old one
        moved up by a few lines, the terminal scrolls that region itself and only the new
        lines are written."""
        width, height = self.dimensions()
        if (width, height) != self.shown_size:       # resized: repaint everything
            self.shown = []
            self.shown_size = (width, height)
            self._write('\x1b[0m\x1b[2J')
        painted = [paint(r, width) for r in rows[:height]]
        painted += [''] * (len(self.shown) - len(painted))
        parts = []
        if scroll and scroll == getattr(self, '_scroll', None) and scroll[1] <= len(self.shown):
            first, end = scroll
            old, new = self.shown[first:end], painted[first:end]
            n = len(new)
            for k in range(1, min(n, 8)):
                if new[:n - k] == old[k:] and old[k:] != old[:n - k]:
                    parts.append('\x1b[%d;%dr\x1b[%d;1H%s\x1b[r' % (first + 1, end, end, '\n' * k))
                    self.shown[first:end] = old[k:] + [''] * k
                    break
        self._scroll = scroll
        for i, line in enumerate(painted):
            if i >= len(self.shown) or self.shown[i] != line:
                parts.append('\x1b[%d;1H%s\x1b[K' % (i + 1, line))
        self.shown = painted[:height]
        if parts:
            self._write(''.join(parts))
        return len(parts)


def table(title, headers, rows, width, styles=None, widths=None):
    """Rows of a titled table: columns as wide as their widest cell (the last one takes
    what is left). rows: lists of cells, a cell is text or (text, style); styles: a row
    style per row (None for none)."""
    n = len(headers)
    if widths is None:
        widths = [cells(h) for h in headers]
        for r in rows:
            for i, c in enumerate(r):
                t = c[0] if isinstance(c, tuple) else c
                widths[i] = min(max(widths[i], cells(clean(t))), 40)
    used = sum(widths[:-1]) + 2 * (n - 1)
    widths = widths[:-1] + [max(widths[-1], width - used)]
    out = [[(title, 'bold')], [(pad(h, w) + '  ', 'bold') for h, w in zip(headers, widths)]]
    for k, r in enumerate(rows):
        rs = styles[k] if styles else None
        line = []
        for i, c in enumerate(r):
            text, st = c if isinstance(c, tuple) else (c, None)
            line.append((pad(clean(text), widths[i]) + ('  ' if i < n - 1 else ''), st or rs))
        out.append(line)
    return out
