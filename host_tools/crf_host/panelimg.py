"""The front panel's display on the host: the 128x64 MONO_VLSB framebuffer
(as the `screen` command returns it) to PNG, from PNG, and to terminal text.

PNG: 8-bit grayscale written with zlib only (no imaging library), each
display pixel a `scale` x `scale` block, lit pixels light on dark like the
OLED. read_png() reads such a file back into display pixels, so reference
images can be compared pixel by pixel.
"""

import base64
import struct
import zlib

WIDTH = 128
HEIGHT = 64
ON = 235        # gray levels of lit and dark pixels in the PNG
OFF = 16


def from_reply(reply):
    """The framebuffer bytes of a `screen` reply (base64 in "fb")."""
    buf = base64.b64decode(reply["fb"])
    w, h = reply.get("width", WIDTH), reply.get("height", HEIGHT)
    if len(buf) != w * h // 8:
        raise ValueError(f"screen: {len(buf)} bytes for {w}x{h} pixels")
    return buf, w, h


def pixels(buf, w=WIDTH, h=HEIGHT):
    """MONO_VLSB bytes -> rows of 0/1 (byte (y // 8) * w + x, bit y % 8)."""
    return [[(buf[(y >> 3) * w + x] >> (y & 7)) & 1 for x in range(w)] for y in range(h)]


def to_buf(rows):
    """Rows of 0/1 -> MONO_VLSB bytes."""
    h, w = len(rows), len(rows[0])
    buf = bytearray(w * h // 8)
    for y in range(h):
        for x in range(w):
            if rows[y][x]:
                buf[(y >> 3) * w + x] |= 1 << (y & 7)
    return bytes(buf)


def png_bytes(buf, w=WIDTH, h=HEIGHT, scale=4):
    rows = pixels(buf, w, h)
    raw = bytearray()
    for row in rows:
        line = bytearray()
        for v in row:
            line += bytes((ON if v else OFF,)) * scale
        for _ in range(scale):
            raw += b"\x00" + line       # filter type 0 (none)

    def chunk(kind, data):
        c = kind + data
        return struct.pack(">I", len(data)) + c + struct.pack(">I", zlib.crc32(c) & 0xFFFFFFFF)

    head = struct.pack(">IIBBBBB", w * scale, h * scale, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", head) +
            chunk(b"IDAT", zlib.compress(bytes(raw), 9)) + chunk(b"IEND", b""))


def write_png(path, buf, w=WIDTH, h=HEIGHT, scale=4):
    with open(path, "wb") as f:
        f.write(png_bytes(buf, w, h, scale))


def read_png(path, w=WIDTH, h=HEIGHT):
    """A PNG written by write_png -> display pixels (rows of 0/1); the scale
    is taken from the image size. ValueError if it is not such a file."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(f"{path}: not a PNG file")
    pos, idat, head = 8, b"", None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            head = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    if head is None or head[2:5] != (8, 0, 0) or head[6] != 0:
        raise ValueError(f"{path}: not an 8-bit grayscale PNG as write_png makes them")
    pw, ph = head[0], head[1]
    scale = pw // w
    if scale < 1 or pw != w * scale or ph != h * scale:
        raise ValueError(f"{path}: {pw}x{ph} is not a multiple of {w}x{h}")
    raw = zlib.decompress(idat)
    stride = pw + 1
    rows = []
    for y in range(h):
        line = raw[(y * scale) * stride:(y * scale + 1) * stride]
        if line[0] != 0:
            raise ValueError(f"{path}: PNG row filter {line[0]} (write_png uses none)")
        rows.append([1 if line[1 + x * scale] >= 128 else 0 for x in range(w)])
    return rows


def terminal_lines(buf, w=WIDTH, h=HEIGHT):
    """The display as text, two pixel rows per line with half blocks."""
    rows = pixels(buf, w, h)
    out = []
    for y in range(0, h, 2):
        top, bot = rows[y], rows[y + 1]
        out.append("".join("█" if a and b else "▀" if a else "▄" if b else " "
                           for a, b in zip(top, bot)))
    return out
