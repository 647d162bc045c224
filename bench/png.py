"""A small dependency-free line-chart PNG writer (zlib + struct), enough for the benchmark plot."""

from __future__ import annotations

import struct
import zlib

# 3x5 glyphs, rows top to bottom, bits left to right.
FONT = {
    "0": "111101101101111",
    "1": "010110010010111",
    "2": "111001111100111",
    "3": "111001111001111",
    "4": "101101111001001",
    "5": "111100111001111",
    "6": "111100111101111",
    "7": "111001001001001",
    "8": "111101111101111",
    "9": "111101111001111",
    ".": "000000000000010",
    "/": "001001010100100",
    "-": "000000111000000",
    " ": "000000000000000",
    "=": "000111000111000",
    "x": "000101010101000",
    "a": "000011101101011",
    "c": "000111100100111",
    "d": "001011101101011",
    "e": "000111111100111",
    "h": "100110101101101",
    "i": "010000010010010",
    "l": "010010010010010",
    "n": "000110101101101",
    "o": "000111101101111",
    "p": "000111101111100",
    "r": "000111100100100",
    "s": "000111110011111",
    "t": "010111010010011",
    "u": "000101101101111",
    "y": "000101111001111",
    "g": "000111101111001",
    "b": "100110101101110",
    "k": "100101110101101",
    "m": "000111111101101",
    "f": "011010111010010",
    "T": "111010010010010",
    "(": "010100100100010",
    ")": "010001001001010",
    ",": "000000000010100",
    "%": "101001010100101",
    "v": "000101101101010",
    "w": "000101101111111",
    ":": "000010000010000",
}


class Canvas:
    def __init__(self, width: int, height: int) -> None:
        self.w, self.h = width, height
        self.px = bytearray(b"\xff" * (width * height * 3))

    def dot(self, x: int, y: int, color: tuple[int, int, int]) -> None:
        if 0 <= x < self.w and 0 <= y < self.h:
            i = (y * self.w + x) * 3
            self.px[i : i + 3] = bytes(color)

    def line(self, x0, y0, x1, y1, color, width: int = 1, dash: int = 0) -> None:
        steps = max(abs(x1 - x0), abs(y1 - y0), 1)
        for s in range(steps + 1):
            if dash and (s // dash) % 2:
                continue
            x = round(x0 + (x1 - x0) * s / steps)
            y = round(y0 + (y1 - y0) * s / steps)
            for dx in range(-(width // 2), width - width // 2):
                for dy in range(-(width // 2), width - width // 2):
                    self.dot(x + dx, y + dy, color)

    def box(self, x, y, size, color) -> None:
        for dx in range(-size, size + 1):
            for dy in range(-size, size + 1):
                self.dot(x + dx, y + dy, color)

    def text(self, x: int, y: int, text: str, color=(0, 0, 0), scale: int = 2) -> None:
        for ch in text:
            glyph = FONT.get(ch, FONT[" "])
            for row in range(5):
                for col in range(3):
                    if glyph[row * 3 + col] == "1":
                        for sx in range(scale):
                            for sy in range(scale):
                                self.dot(x + col * scale + sx, y + row * scale + sy, color)
            x += 4 * scale

    def png(self) -> bytes:
        raw = b"".join(b"\x00" + bytes(self.px[y * self.w * 3 : (y + 1) * self.w * 3]) for y in range(self.h))

        def chunk(kind: bytes, data: bytes) -> bytes:
            return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

        header = struct.pack(">IIBBBBB", self.w, self.h, 8, 2, 0, 0, 0)
        return (
            b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(raw, 9))
            + chunk(b"IEND", b"")
        )


def line_chart(series: list[dict], x_label: str, y_label: str, title: str, width=720, height=480) -> bytes:
    """series: {"label", "points": [(x, y)], "color", "dash": bool}; x on a log2 axis."""
    import math

    c = Canvas(width, height)
    left, right, top, bottom = 80, width - 190, 50, height - 60
    xs = sorted({x for s in series for x, _ in s["points"]})
    y_max = max(y for s in series for _, y in s["points"]) * 1.1
    step = 10 ** math.floor(math.log10(y_max / 5))
    step = next(m * step for m in (1, 2, 5, 10) if y_max / (m * step) <= 8)
    y_max = math.ceil(y_max / step) * step

    def px(x: float) -> int:
        lo, hi = math.log2(xs[0]), math.log2(xs[-1])
        return round(left + (math.log2(x) - lo) / ((hi - lo) or 1) * (right - left))

    def py(y: float) -> int:
        return round(bottom - y / y_max * (bottom - top))

    c.line(left, bottom, right, bottom, (0, 0, 0))
    c.line(left, top, left, bottom, (0, 0, 0))
    tick = 0.0
    while tick <= y_max + 1e-9:
        c.line(left - 4, py(tick), right, py(tick), (225, 225, 225))
        label = f"{tick:g}"
        c.text(left - 10 - 8 * len(label), py(tick) - 5, label)
        tick += step
    for x in xs:
        c.line(px(x), bottom, px(x), bottom + 5, (0, 0, 0))
        c.text(px(x) - 4 * len(str(x)), bottom + 10, str(x))
    c.text((left + right) // 2 - 4 * len(x_label), bottom + 32, x_label)
    c.text(8, top - 30, y_label)
    c.text(left, 12, title)
    for i, s in enumerate(series):
        pts = sorted(s["points"])
        for (x0, y0), (x1, y1) in zip(pts, pts[1:], strict=False):
            c.line(
                px(x0),
                py(y0),
                px(x1),
                py(y1),
                s["color"],
                width=1 if s.get("dash") else 2,
                dash=6 if s.get("dash") else 0,
            )
        if not s.get("dash"):
            for x, y in pts:
                c.box(px(x), py(y), 3, s["color"])
        ly = top + 10 + i * 22
        c.line(
            right + 15,
            ly + 5,
            right + 45,
            ly + 5,
            s["color"],
            width=1 if s.get("dash") else 2,
            dash=6 if s.get("dash") else 0,
        )
        c.text(right + 52, ly, s["label"])
    return c.png()
