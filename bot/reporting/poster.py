"""The 扫码海报: a printable A4 poster for one village or school, with a big QR code residents scan with WeChat.

The QR code holds the WeCom customer-service link (微信客服, `https://work.weixin.qq.com/kfid/...`): scanning it opens
the chat with the bot. Drawn with Pillow and the bundled CJK font, like the certificate (bot/reporting/certificate.py),
whose font loading and line wrapping it reuses; the QR code comes from segno (pure Python, no dependencies).

Like the certificate, the poster takes every word it shows as a parameter: the caller passes catalog strings if it
has them, the Chinese defaults below otherwise.

    poster = render_poster("https://work.weixin.qq.com/kfid/kfc...", "青石镇", "河西村")
    Path("河西村.pdf").write_bytes(poster.pdf)   # one A4 page, 300 dpi; print at 100 % ("actual size")
"""

from __future__ import annotations

import functools
import io
import itertools
from collections.abc import Mapping
from dataclasses import dataclass

import segno
from PIL import Image, ImageDraw, ImageFont

from bot.reporting.certificate import GOLD, INK, RED, font, wrap

DPI = 300
SIZE = (2480, 3508)  # A4 (210 × 297 mm) at 300 dpi
WHITE = (255, 255, 255)
GREY = (90, 90, 90)

TITLE = "扫码学法 · 有问题随时问"
TAGLINE = "防诈骗、禁毒、防溺水、反家暴……普法小知识、答题和法律帮助，微信扫一扫就能问"
FOOTER = "{town}司法所"  # filled with the town's name

FRAME = 118  # the red frame line, 10 mm in from the edge: inside what office printers can print
SAFE = 230  # every text line and the QR code stay this far from the edge (≈ 19.5 mm), inside the frame
QR_MIN = 1200  # px, quiet zone included (≈ 10 cm): readable from arm's length on a wall
QR_MAX = 1800
MODULE_MIN = 12  # px per module (1 mm): a URL needing smaller modules is refused
QR_BORDER = 4  # modules of quiet zone, as the QR specification asks
QR_ERROR = "Q"  # 25 % of the code may be dirty, torn or covered by a drawing pin and it still reads

BREAK_AFTER = "，、。；：！？…）」』,;:!?) "  # a line may end after these
NO_BREAK_BEFORE = "，、。；：！？…）」』·,.;:!?) "  # and never start with these

Box = tuple[int, int, int, int]  # left, top, right, bottom, in pixels


@dataclass(frozen=True)
class Poster:
    png: bytes  # 2480 × 3508 px, 300 dpi recorded in the file
    pdf: bytes  # one A4 page (595 × 842 pt) holding the same picture
    boxes: Mapping[str, Box]  # where each part landed: "title", "names", "qr", "tagline", "footer"


@dataclass(frozen=True)
class _Block:
    name: str
    lines: list[str]
    face: ImageFont.FreeTypeFont
    leading: int  # distance from one line's top to the next
    fill: tuple[int, int, int]


def render_poster(
    url: str,
    town: str,
    place: str,
    *,
    tagline: str | None = None,
    title: str = TITLE,
    footer: str | None = None,
) -> Poster:
    """Draw the poster for `place` (a village or school) in `town`, its QR code holding `url`.

    `tagline` (what the bot offers) defaults to TAGLINE, `footer` (who put the poster up) to "{town}司法所".
    Raises ValueError for an empty URL or name, for text the bundled font cannot draw (it would print as empty
    boxes), and for text too long to fit.
    """
    url, town, place = url.strip(), town.strip(), place.strip()
    if not url or not town or not place:
        raise ValueError("the poster needs a URL, a town and a place")
    tagline = TAGLINE if tagline is None else tagline
    footer = FOOTER.format(town=town) if footer is None else footer
    if not title.strip() or not tagline.strip() or not footer.strip():
        raise ValueError("the poster's title, tagline and footer cannot be empty")
    missing = sorted({char for text in (title, town, place, tagline, footer) for char in missing_glyphs(text)})
    if missing:
        raise ValueError(
            f"the bundled font has no glyph for {''.join(missing)!r}; add them with tools/make_font_subset.py"
        )

    width, height = SIZE
    image = Image.new("RGB", SIZE, WHITE)
    draw = ImageDraw.Draw(image)
    inner = width - 2 * SAFE

    title_block = _block(draw, "title", [(title, 1), (title, 2)], bold=True, sizes=(160, 110), width=inner, fill=RED)
    names_block = _block(
        draw,
        "names",
        # on one line if it fits at a good size, else the town above the place (a long place name may wrap once)
        [(f"{town} · {place}", 1), (f"{town}\n{place}", 2), (f"{town}\n{place}", 3)],
        bold=True,
        sizes=(140, 104),
        width=inner,
        fill=INK,
    )
    tagline_block = _block(draw, "tagline", [(tagline, 2), (tagline, 3)], bold=False, sizes=(96, 64), width=inner)
    footer_block = _block(
        draw, "footer", [(footer, 1), (footer, 2)], bold=False, sizes=(64, 44), width=inner, fill=GREY
    )

    # Title and names flow down from the top, footer and tagline up from the bottom; the QR code takes the middle.
    boxes: dict[str, Box] = {}
    boxes["title"] = _draw_block(draw, title_block, top=SAFE)
    boxes["names"] = _draw_block(draw, names_block, top=boxes["title"][3] + 60)
    boxes["footer"] = _draw_block(draw, footer_block, bottom=height - SAFE)
    boxes["tagline"] = _draw_block(draw, tagline_block, bottom=boxes["footer"][1] - 80)
    top, bottom = boxes["names"][3] + 90, boxes["tagline"][1] - 90

    code = _qr(url, min(QR_MAX, inner, bottom - top))
    left = (width - code.width) // 2
    qr_top = top + (bottom - top - code.height) // 2
    image.paste(code, (left, qr_top))
    boxes["qr"] = (left, qr_top, left + code.width, qr_top + code.height)
    _frame(draw, boxes["qr"])

    png = io.BytesIO()
    image.save(png, format="PNG", dpi=(DPI, DPI), compress_level=9)
    pdf = io.BytesIO()
    # Pillow's PDF writer stores an RGB page as JPEG: full chroma and a high quality keep text and modules sharp.
    image.save(pdf, format="PDF", resolution=float(DPI), quality=95, subsampling=0, title=f"{title} {town} · {place}")
    return Poster(png=png.getvalue(), pdf=pdf.getvalue(), boxes=boxes)


def missing_glyphs(text: str, bold: bool = True) -> str:
    """The characters of `text` the bundled font draws as its empty box (.notdef), in order, once each."""
    notdef = _glyph("\uffff", bold)
    return "".join(dict.fromkeys(c for c in text if not c.isspace() and _glyph(c, bold) == notdef))


@functools.lru_cache(maxsize=4096)
def _glyph(char: str, bold: bool) -> bytes:
    face = font(40, bold=bold)
    cell = Image.new("L", (80, 80))
    ImageDraw.Draw(cell).text((20, 20), char, font=face, fill=255)
    return cell.tobytes()


def _block(
    draw: ImageDraw.ImageDraw,
    name: str,
    candidates: list[tuple[str, int]],
    *,
    bold: bool,
    sizes: tuple[int, int],
    width: int,
    fill: tuple[int, int, int] = INK,
) -> _Block:
    """The first (text, most lines) candidate that fits, at the largest size from sizes[0] down to sizes[1].

    First every candidate and size is tried with lines broken only after punctuation; then broken anywhere.
    """
    largest, smallest = sizes
    for anywhere in (False, True):
        for text, most in candidates:
            for size in range(largest, smallest - 1, -2):
                face = font(size, bold=bold)
                lines = _lines(draw, text, face, width, anywhere=anywhere)
                if lines is not None and len(lines) <= most:
                    return _Block(name, lines, face, round(size * 1.45), fill)
    raise ValueError(f"the poster's {name} is too long to fit: {candidates[-1][0]!r}")


def _lines(
    draw: ImageDraw.ImageDraw, text: str, face: ImageFont.FreeTypeFont, width: int, *, anywhere: bool
) -> list[str] | None:
    """`text` in lines no wider than `width`, each paragraph in as few lines as the certificate's wrap needs.

    Lines break after punctuation, of even length; if that cannot fit and `anywhere` is set, between any two
    characters except before punctuation. None if neither fits.
    """
    out: list[str] = []
    for paragraph in text.split("\n"):
        plain = wrap(draw, paragraph, face, width)
        if len(plain) < 2:
            out += plain
            continue
        lines = _at_punctuation(draw, paragraph, face, width, len(plain))
        if lines is None and anywhere:
            lines = _kinsoku(draw, plain, face, width)
        if lines is None:
            return None
        out += lines
    return out


def _at_punctuation(
    draw: ImageDraw.ImageDraw, text: str, face: ImageFont.FreeTypeFont, width: int, count: int
) -> list[str] | None:
    """`text` in `count` lines broken after punctuation, the widest as narrow as can be; None if none fits."""
    breaks = [i for i in range(1, len(text)) if text[i - 1] in BREAK_AFTER and text[i] not in NO_BREAK_BEFORE]
    best, best_width = None, 0.0
    for cut in itertools.combinations(breaks, count - 1):
        lines = [text[a:b].strip(" ·") for a, b in itertools.pairwise((0, *cut, len(text)))]
        widest = max(draw.textlength(line, font=face) for line in lines)
        if widest <= width and (best is None or widest < best_width):
            best, best_width = lines, widest
    return best


def _kinsoku(draw: ImageDraw.ImageDraw, lines: list[str], face: ImageFont.FreeTypeFont, width: int) -> list[str] | None:
    """Wrapped lines fixed so none starts with punctuation: the character before it moves down with it."""
    lines = list(lines)
    for i in range(1, len(lines)):
        while lines[i] and lines[i][0] in NO_BREAK_BEFORE and len(lines[i - 1]) > 1:
            lines[i - 1], lines[i] = lines[i - 1][:-1], lines[i - 1][-1] + lines[i]
    if any(draw.textlength(line, font=face) > width for line in lines):
        return None
    return lines


def _draw_block(draw: ImageDraw.ImageDraw, block: _Block, *, top: int | None = None, bottom: int | None = None) -> Box:
    """Draw the lines centred, the ink starting at `top` or ending at `bottom`; return the box the ink covers."""
    centre = SIZE[0] // 2
    if top is None:
        assert bottom is not None
        top = bottom - _ink(draw, block, centre, 0)[3]
    else:
        top -= _ink(draw, block, centre, 0)[1]
    for number, line in enumerate(block.lines):
        draw.text((centre, top + number * block.leading), line, font=block.face, fill=block.fill, anchor="ma")
    return _ink(draw, block, centre, top)


def _ink(draw: ImageDraw.ImageDraw, block: _Block, x: int, y: int) -> Box:
    """The box the block's lines cover when its first line is anchored (middle, ascender) at (x, y)."""
    boxes = [
        draw.textbbox((x, y + number * block.leading), line, font=block.face, anchor="ma")
        for number, line in enumerate(block.lines)
    ]
    return (
        min(int(b[0]) for b in boxes),
        min(int(b[1]) for b in boxes),
        max(int(-(-b[2] // 1)) for b in boxes),
        max(int(-(-b[3] // 1)) for b in boxes),
    )


def _qr(url: str, room: int) -> Image.Image:
    """The QR code of `url`, quiet zone included, as large as fits in `room` px with whole pixels per module."""
    too_long = f"the URL is too long for a QR code a phone reads easily off a wall: {len(url.encode())} bytes"
    try:  # make_qr: never a Micro QR, which WeChat does not read
        code = segno.make_qr(url, error=QR_ERROR, boost_error=False)
    except segno.DataOverflowError:
        raise ValueError(too_long) from None
    modules = code.symbol_size(scale=1, border=QR_BORDER)[0]
    scale = room // modules
    if scale < MODULE_MIN or scale * modules < QR_MIN:
        raise ValueError(too_long)
    out = io.BytesIO()
    code.save(out, kind="png", scale=scale, border=QR_BORDER, dark="black", light="white")
    out.seek(0)
    with Image.open(out) as picture:
        return picture.convert("RGB")


def _frame(draw: ImageDraw.ImageDraw, qr: Box) -> None:
    """The page frame, and a thin rounded line around the QR code's quiet zone to set it off from the text."""
    width, height = SIZE
    draw.rectangle((FRAME, FRAME, width - FRAME, height - FRAME), outline=RED, width=14)
    draw.rectangle((FRAME + 30, FRAME + 30, width - FRAME - 30, height - FRAME - 30), outline=GOLD, width=5)
    left, top, right, bottom = qr
    draw.rounded_rectangle((left - 24, top - 24, right + 24, bottom + 24), radius=40, outline=GOLD, width=6)
