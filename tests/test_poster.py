"""The printable QR poster (bot/reporting/poster.py): A4 at 300 dpi, a QR code that reads back, text on the page."""

from __future__ import annotations

import io
import itertools
import re
from urllib.parse import quote

import pytest
import zxingcpp
from PIL import Image, ImageDraw

from bot.reporting.poster import SIZE, Poster, render_poster

KF = "https://work.weixin.qq.com/kfid/kfc0123456789abcdef"
SCENE = quote("town=青石镇&place=河西村&from=poster")  # a WeCom scene_param: up to 128 bytes, URL-encoded
SCENE += "x" * (128 - len(SCENE))
LONG_KF = f"{KF}?enc_scene=ENCx7Hq2Ld9QmZpR4sVb&scene_param={SCENE}"
SCHOOL = "青石镇第一中心小学附属幼儿园分园"
VILLAGE = "河西村民委员会第三村民小组活动室"
A4_PT = (595.28, 841.89)


def picture(poster: Poster) -> Image.Image:
    with Image.open(io.BytesIO(poster.png)) as image:
        return image.convert("RGB")


def only_qr(image: Image.Image) -> zxingcpp.Barcode:
    found = zxingcpp.read_barcodes(image)
    assert len(found) == 1, found
    assert found[0].format == zxingcpp.BarcodeFormat.QRCode  # a full QR code: WeChat does not read Micro QR
    return found[0]


@pytest.fixture(scope="module")
def poster() -> Poster:
    return render_poster(KF, "青石镇", "河西村")


@pytest.fixture(scope="module")
def long_poster() -> Poster:
    return render_poster(LONG_KF, "青石镇", SCHOOL)


def test_png_is_a4_at_300_dpi(poster: Poster) -> None:
    with Image.open(io.BytesIO(poster.png)) as image:
        assert image.format == "PNG"
        assert image.size == SIZE == (2480, 3508)
        assert image.info["dpi"] == pytest.approx((300, 300), abs=0.01)
    assert SIZE[0] / 300 * 25.4 == pytest.approx(210, abs=0.1)
    assert SIZE[1] / 300 * 25.4 == pytest.approx(297, abs=0.1)


def test_qr_code_reads_back_exactly_the_url(poster: Poster) -> None:
    code = only_qr(picture(poster))
    assert code.text == KF
    assert code.ec_level in ("M", "Q")


def test_qr_code_is_big_with_a_quiet_zone_of_four_modules(poster: Poster) -> None:
    image = picture(poster).convert("L")
    left, top, right, bottom = poster.boxes["qr"]
    assert right - left >= 1200
    assert bottom - top == right - left
    symbol = image.crop(poster.boxes["qr"]).point(lambda v: 255 if v < 128 else 0)
    x0, y0, x1, y1 = symbol.getbbox()  # the dark modules
    row = [symbol.getpixel((x, y0)) for x in range(x0, x1)]
    module = next(i for i, v in enumerate(row) if not v) / 7  # the finder pattern's top edge is 7 modules
    assert module == int(module) >= 12  # whole pixels per module, each ≥ 1 mm
    for margin in (x0, y0, (right - left) - x1, (bottom - top) - y1):
        assert margin == 4 * module
    edge = image.crop((left, top, right, bottom))
    assert edge.crop((0, 0, x0, edge.height)).getextrema() == (255, 255)  # the quiet zone is paper white


def test_long_kf_link_still_reads(long_poster: Poster) -> None:
    assert len(SCENE) == 128
    assert len(LONG_KF.encode()) > 200
    assert only_qr(picture(long_poster)).text == LONG_KF
    left, _, right, _ = long_poster.boxes["qr"]
    assert right - left >= 1200


@pytest.mark.parametrize("place", [SCHOOL, VILLAGE, "河西村"])
def test_every_part_lands_on_the_page_without_overlapping(place: str) -> None:
    assert len(place) in (16, 3)
    poster = render_poster(LONG_KF, "青石镇", place)
    width, height = SIZE
    margin = 200  # inside the frame (drawn ≈ 10–13 mm in) and so inside what a printer prints
    for name, (left, top, right, bottom) in poster.boxes.items():
        assert margin <= left < right <= width - margin, name
        assert margin <= top < bottom <= height - margin, name
    for (a, box_a), (b, box_b) in itertools.combinations(poster.boxes.items(), 2):
        apart = box_a[2] <= box_b[0] or box_b[2] <= box_a[0] or box_a[3] <= box_b[1] or box_b[3] <= box_a[1]
        assert apart, (a, b)
    names_height = poster.boxes["names"][3] - poster.boxes["names"][1]
    assert names_height >= 90  # still large: at least ≈ 8 mm of ink
    # No ink outside the boxes computed and the frames: blank them out and the page is white.
    image = picture(poster)
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, width, height), outline="white", width=190)  # the page frame
    for name, (left, top, right, bottom) in poster.boxes.items():
        pad = 40 if name == "qr" else 0  # the thin line round the QR code's quiet zone
        draw.rectangle((left - pad, top - pad, right + pad, bottom + pad), fill="white")
    assert image.convert("L").point(lambda v: 255 if v < 250 else 0).getbbox() is None


def test_a_long_place_name_goes_on_its_own_line(long_poster: Poster, poster: Poster) -> None:
    one_line = poster.boxes["names"][3] - poster.boxes["names"][1]
    long = long_poster.boxes["names"][3] - long_poster.boxes["names"][1]
    assert long > 1.8 * one_line  # 青石镇 above, the school below


def test_pdf_is_one_a4_page_whose_qr_code_reads(poster: Poster) -> None:
    pdf = poster.pdf
    assert pdf.startswith(b"%PDF")
    assert len(re.findall(rb"/Type\s*/Page\b", pdf)) == 1
    assert re.findall(rb"/Count\s+(\d+)", pdf) == [b"1"]
    box = re.search(rb"/MediaBox\s*\[\s*0\s+0\s+([\d.]+)\s+([\d.]+)\s*\]", pdf)
    assert box is not None
    assert (float(box[1]), float(box[2])) == pytest.approx(A4_PT, abs=1)
    page = pdf[pdf.index(b"\xff\xd8\xff") : pdf.rindex(b"\xff\xd9") + 2]  # the page is one JPEG image
    with Image.open(io.BytesIO(page)) as image:
        assert image.size == SIZE
        assert only_qr(image.convert("RGB")).text == KF


def test_words_are_parameters(poster: Poster) -> None:
    other = render_poster(KF, "青石镇", "河西村", tagline="有事找司法所", footer="青石镇司法所 宣", title="扫码学法")
    assert other.png != poster.png
    assert other.boxes["title"][2] - other.boxes["title"][0] < poster.boxes["title"][2] - poster.boxes["title"][0]
    assert (
        other.boxes["tagline"][3] - other.boxes["tagline"][1] < poster.boxes["tagline"][3] - poster.boxes["tagline"][1]
    )


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        (("", "青石镇", "河西村"), {}, "URL"),
        ((KF, "青石镇", " "), {}, "place"),
        ((KF, "青石镇", "河西村"), {"footer": ""}, "empty"),
        ((KF, "青石镇", "𠀀家村"), {}, "𠀀"),  # outside the bundled font: it would print as an empty box
        ((KF, "青石镇", "河西村"), {"tagline": "普法" * 200}, "too long"),
        ((KF + "?scene_param=" + "x" * 1000, "青石镇", "河西村"), {}, "too long"),  # modules under 1 mm
        ((KF + "?scene_param=" + "x" * 2000, "青石镇", "河西村"), {}, "too long"),  # beyond any QR code
    ],
)
def test_refuses_what_it_cannot_print(args: tuple[str, str, str], kwargs: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        render_poster(*args, **kwargs)
