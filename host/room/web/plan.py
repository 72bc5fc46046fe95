"""The site plan the page draws: the plan image the site file names (`plan: FILE`, SVG or
PNG beside the site file), its size, and where each device sits (`pos: [x, y]` in the
image's pixels). Devices without a position are laid out in a grid of their own (the whole
plan when there is no image), so a site with no plan at all still gets one."""
import re
from pathlib import Path

CELL = 160          # a generated position's spacing, in plan units
MARGIN = 80
IMAGE_MAX = 8 << 20  # a plan image larger than this is not served
TYPES = {'.svg': 'image/svg+xml', '.png': 'image/png'}


def image_size(path):
    """(width, height) of a PNG or SVG file, or None when it cannot be read."""
    p = Path(path)
    try:
        head = p.read_bytes()[:65536]
    except OSError:
        return None
    if head[:8] == b'\x89PNG\r\n\x1a\n' and head[12:16] == b'IHDR':
        return int.from_bytes(head[16:20], 'big'), int.from_bytes(head[20:24], 'big')
    text = head.decode('utf-8', 'replace')
    m = re.search(r'<svg\b[^>]*>', text)
    if not m:
        return None
    tag = m.group(0)
    vb = re.search(r'viewBox\s*=\s*["\']\s*[-\d.]+[\s,]+[-\d.]+[\s,]+([\d.]+)[\s,]+([\d.]+)', tag)
    if vb:
        return float(vb.group(1)), float(vb.group(2))
    w = re.search(r'\bwidth\s*=\s*["\']([\d.]+)', tag)
    h = re.search(r'\bheight\s*=\s*["\']([\d.]+)', tag)
    if w and h:
        return float(w.group(1)), float(h.group(1))
    return None


def plan_file(site):
    """The plan image's path (resolved beside the site file), or None."""
    name = site.data.get('plan')
    if not name:
        return None
    return (Path(site.path).parent / name).resolve()


def layout(site):
    """{'image': bool, 'type', 'image_w', 'image_h', 'w', 'h', 'devices': {device: {'x', 'y', 'placed'}}}: placed
    is False for a generated position."""
    devices = site.devices
    out = {'image': False, 'type': None, 'devices': {}}
    w = h = 0
    f = plan_file(site)
    size = image_size(f) if f is not None and f.suffix.lower() in TYPES else None
    if size:
        w, h = size
        out.update(image=True, type=TYPES[f.suffix.lower()], image_w=w, image_h=h)
    loose = []
    for d in sorted(devices):
        pos = devices[d].get('pos')
        if pos and size:
            out['devices'][d] = {'x': pos[0], 'y': pos[1], 'placed': True}
        else:
            loose.append(d)
    if loose:             # a grid below the image (or the whole plan)
        cols = max(1, min(len(loose), int(max(w, CELL * 4) // CELL)))
        top = h + MARGIN if size else MARGIN
        for i, d in enumerate(loose):
            out['devices'][d] = {'x': MARGIN + CELL * (i % cols), 'y': top + CELL * (i // cols), 'placed': False}
        w = max(w, 2 * MARGIN + CELL * (cols - 1))
        h = top + CELL * ((len(loose) - 1) // cols) + MARGIN
    out['w'], out['h'] = w, h
    return out
