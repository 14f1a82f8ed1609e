"""Read a QR image back into its modules and compare them with segno's symbol for a text: a decoder for
the one question the tests ask ("does this picture say that text?") without a barcode library.

The symbol's bounds are where its dark modules start and end (the finder patterns sit in three corners);
each module is sampled at its centre. Works on any image given as a `dark(x, y)` function.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import segno
from PIL import Image


def says(dark: Callable[[int, int], bool], width: int, height: int, text: str) -> bool:
    """True when the image's QR symbol has exactly the modules segno draws for `text` (error level M,
    as the simulator makes it, daraja_core/simulator/qr.py)."""
    expected = [[bool(m) for m in row] for row in segno.make_qr(text, error="m").matrix]
    size = len(expected)
    dark_xs = [x for x in range(width) if any(dark(x, y) for y in range(0, height, 2))]
    dark_ys = [y for y in range(height) if any(dark(x, y) for x in range(0, width, 2))]
    if not dark_xs or not dark_ys:
        return False
    left, top = dark_xs[0], dark_ys[0]
    module = (dark_xs[-1] + 1 - left) / size
    if abs((dark_ys[-1] + 1 - top) / size - module) > 0.5:
        return False
    seen = [
        [dark(int(left + (col + 0.5) * module), int(top + (row + 0.5) * module)) for col in range(size)]
        for row in range(size)
    ]
    return seen == expected


def png_says(image: bytes, text: str) -> bool:
    picture = Image.open(io.BytesIO(image)).convert("L")
    pixels = picture.load()
    assert pixels is not None
    return says(lambda x, y: int(pixels[x, y]) < 128, picture.width, picture.height, text)  # type: ignore[arg-type]
