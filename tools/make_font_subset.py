"""Build the CJK font the package ships: Noto Sans CJK SC, subset to what residents' names and our texts use.

Source: Debian's fonts-noto-cjk (`apt-get install fonts-noto-cjk`), SIL Open Font License 1.1.
Kept: ASCII and Latin-1, every GB2312 character (the 6,763 hanzi in everyday use plus its symbols),
CJK and full-width punctuation, and every character in content/ and bot/locales/. Run from the repo root:

    python tools/make_font_subset.py

It needs fontTools (`pip install fonttools`), a development tool only: the bot itself reads the result with
Pillow/matplotlib.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTCollection

REPO = Path(__file__).resolve().parent.parent
SOURCES = {
    "Regular": Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
    "Bold": Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc"),
}
SC_INDEX = 2  # the Simplified Chinese face inside the collection
OUT = REPO / "bot" / "fonts"


def gb2312() -> set[str]:
    chars = set()
    for high in range(0xA1, 0xF8):
        for low in range(0xA1, 0xFF):
            with contextlib.suppress(UnicodeDecodeError):
                chars.add(bytes([high, low]).decode("gb2312"))
    return chars


def wanted() -> set[str]:
    chars = {chr(c) for c in range(0x20, 0x7F)} | {chr(c) for c in range(0xA0, 0x100)}
    chars |= {chr(c) for c in range(0x3000, 0x3040)} | {chr(c) for c in range(0xFF01, 0xFF5F)}
    chars |= {"—", "–", "…", "·", "“", "”", "‘", "’", "《", "》", "✓", "✗", "•", "★", "☆", "№", "℃"}
    chars |= gb2312()
    for folder in (REPO / "content", REPO / "bot" / "locales"):
        for path in folder.rglob("*.yaml"):
            chars |= set(path.read_text(encoding="utf-8"))
    return {c for c in chars if c.isprintable() or c == " "}


def main() -> None:
    text = "".join(sorted(wanted()))
    OUT.mkdir(parents=True, exist_ok=True)
    for weight, source in SOURCES.items():
        font = TTCollection(str(source)).fonts[SC_INDEX]
        options = subset.Options()
        options.layout_features = ["*"]
        options.name_IDs = ["*"]
        options.notdef_outline = True
        options.drop_tables += ["DSIG"]
        subsetter = subset.Subsetter(options)
        subsetter.populate(text=text)
        subsetter.subset(font)
        target = OUT / f"NotoSansSC-{weight}-subset.otf"
        font.save(str(target))
        print(f"{target.relative_to(REPO)}: {target.stat().st_size / 1e6:.1f} MB, {len(text)} characters")


if __name__ == "__main__":
    main()
