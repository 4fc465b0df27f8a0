"""The 学法证书 (certificate of legal study) as a PNG, drawn with Pillow and the bundled CJK font.

The font ships inside the package (bot/fonts, SIL OFL, see LICENSE-fonts-noto-cjk.txt), so Chinese
renders after `pip install` alone on any machine, Windows included, without system fonts.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

FONTS = Path(__file__).parent.parent / "fonts"  # bot/fonts
REGULAR = FONTS / "NotoSansSC-Regular-subset.otf"
BOLD = FONTS / "NotoSansSC-Bold-subset.otf"
SIZE = (1600, 1131)  # A4 landscape proportions
RED = (178, 34, 34)
GOLD = (201, 162, 39)
INK = (40, 40, 40)
PAPER = (255, 251, 240)


def font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(BOLD if bold else REGULAR), size)


def wrap(draw: ImageDraw.ImageDraw, text: str, face: ImageFont.FreeTypeFont, width: int) -> list[str]:
    """Break Chinese text by measured width (it has no spaces to break at)."""
    lines, line = [], ""
    for char in text:
        if char == "\n":
            lines.append(line)
            line = ""
            continue
        if draw.textlength(line + char, font=face) > width and line:
            lines.append(line)
            line = char
        else:
            line += char
    if line:
        lines.append(line)
    return lines


def render_certificate(path: Path, title: str, greeting: str, text: str, issuer: str, day: dt.date) -> Path:
    image = Image.new("RGB", SIZE, PAPER)
    draw = ImageDraw.Draw(image)
    width, height = SIZE
    draw.rectangle((30, 30, width - 30, height - 30), outline=RED, width=12)
    draw.rectangle((58, 58, width - 58, height - 58), outline=GOLD, width=4)

    title_face = font(120, bold=True)
    draw.text((width / 2, 200), title, font=title_face, fill=RED, anchor="mm")
    body_face = font(48)
    draw.text((180, 360), greeting, font=font(52, bold=True), fill=INK)
    y = 450
    for line in wrap(draw, "　　" + text, body_face, width - 360):
        draw.text((180, y), line, font=body_face, fill=INK)
        y += 74
    date_text = f"{day.year}年{day.month}月{day.day}日"
    draw.text((width - 180, height - 250), issuer, font=font(48, bold=True), fill=INK, anchor="rm")
    draw.text((width - 180, height - 170), date_text, font=body_face, fill=INK, anchor="rm")
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, format="PNG", optimize=True)
    return path
