#!/usr/bin/env python3
"""Decodes a PNG with the standard library alone (zlib) and prints what a
blank-page check needs, as JSON: width, height, the number of distinct
colours, and the share of pixels that are not the most common colour (the
page background).

Used by the report's browser test: a blank or failed render is one colour;
a drawn report has thousands (anti-aliased text and curves). Handles 8-bit
greyscale, RGB, palette, grey+alpha and RGBA, non-interlaced, as Chromium
writes them; anything else exits with status 2 and a message.
"""
import json
import struct
import sys
import zlib
from collections import Counter


def decode(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG file")
    pos, idat, palette = 8, [], None
    width = height = depth = colour = interlace = None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if zlib.crc32(kind + body) & 0xFFFFFFFF != struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])[0]:
            raise ValueError("bad CRC in chunk %r" % kind)
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
        elif kind == b"PLTE":
            palette = [body[i:i + 3] for i in range(0, len(body), 3)]
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
        pos += 12 + length
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}.get(colour)
    if width is None or depth != 8 or channels is None or interlace:
        raise ValueError("unsupported PNG (depth %s, colour type %s, interlace %s)" % (depth, colour, interlace))
    raw = zlib.decompress(b"".join(idat))
    stride = width * channels
    if len(raw) != height * (stride + 1):
        raise ValueError("image data has %d bytes, not %d" % (len(raw), height * (stride + 1)))
    previous = bytearray(stride)
    rows = []
    for y in range(height):
        kind = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        if kind == 1:
            for i in range(channels, stride):
                line[i] = (line[i] + line[i - channels]) & 0xFF
        elif kind == 2:
            line = bytearray((a + b) & 0xFF for a, b in zip(line, previous))
        elif kind == 3:
            for i in range(stride):
                left = line[i - channels] if i >= channels else 0
                line[i] = (line[i] + ((left + previous[i]) >> 1)) & 0xFF
        elif kind == 4:
            for i in range(stride):
                a = line[i - channels] if i >= channels else 0
                b = previous[i]
                c = previous[i - channels] if i >= channels else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        elif kind != 0:
            raise ValueError("row %d has unknown filter %d" % (y, kind))
        rows.append(bytes(line))
        previous = line
    return width, height, channels, palette, rows


def main():
    if len(sys.argv) != 2:
        print("usage: png-stats.py FILE.png", file=sys.stderr)
        return 2
    try:
        width, height, channels, palette, rows = decode(sys.argv[1])
    except (OSError, ValueError, zlib.error, struct.error) as error:
        print("png-stats.py: %s: %s" % (sys.argv[1], error), file=sys.stderr)
        return 2
    counts = Counter()
    for row in rows:
        counts.update(row[i:i + channels] for i in range(0, len(row), channels))
    total = width * height
    background, most = counts.most_common(1)[0]
    if palette is not None:
        background = palette[background[0]] if background[0] < len(palette) else background
    print(json.dumps({"width": width, "height": height, "colours": len(counts),
                      "background": background.hex(), "drawn_fraction": 1 - most / total}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
