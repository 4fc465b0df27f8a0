"""Laws and article numbers written inside the text residents read (「根据《刑法》第三百五十三条」).

A tip's `source` is checked field by field; the same law named in its body is only words. `LawNames` reads those
words: every 《title》 that looks like a law must be in laws.yaml (by its full or short name), and every 第X条 is
checked against the law it belongs to — the law named right before it, or, for a bare 第X条 (「依照第四十四条」),
the law named last in the same text. What it reports: an unknown law, an article beyond the law's article count,
and an article number from before a renumbering (laws.yaml `old_numbers`) as a warning.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from bot.content.model import Law
from bot.content.numerals import chinese_to_int
from bot.content.problems import Msg, Severity, msg

_NUM = "[零〇一二两三四五六七八九十百千]+"
_ARTICLE = re.compile(rf"第({_NUM}|[0-9]+)条(?:之{_NUM})?")
_TITLE = re.compile(r"《([^《》\n]{1,80})》")
# A 《title》 ending like this is a law, regulation or official decision: it must be in laws.yaml.
_LAW_LIKE = re.compile(r"(?:法|法典|条例|规定|决定|办法|规则|细则|决议|解释|公告|通知|意见|修正案)(?:（[^）]*）)?$")
# An unbracketed name right before 第X条 that ends like a law (「大气污染防治法第八十二条」) ...
_UNBRACKETED = re.compile(r"([\u4e00-\u9fff]{1,12}(?:法|条例))$")
# ... unless it is one of these words, which name no particular law (本法 and 该法 point back to the law just named).
_NOT_A_LAW = {
    *("本法", "该法", "此法", "同法", "本条例", "该条例", "依法", "违法", "犯法", "守法", "合法", "非法", "方法"),
    *("办法", "说法", "做法", "想法", "用法", "看法", "立法", "执法", "司法", "普法", "懂法", "学法", "知法"),
}


@dataclass(frozen=True)
class Finding:
    offset: int  # character offset in the text, for its line
    detail: Msg  # what is wrong, put into words when it is printed
    severity: Severity = Severity.ERROR


@dataclass
class TextCheck:
    findings: list[Finding] = field(default_factory=list)
    cited: dict[str, Law] = field(default_factory=dict)  # laws whose articles the text names, by id


class LawNames:
    """The names content may use for the laws of one laws.yaml, and the check of a text against them."""

    def __init__(self, laws: dict[str, Law], today: dt.date, unusable: set[str] | None = None) -> None:
        """`unusable`: names of laws.yaml entries that have errors of their own — known, but not checked."""
        self.today = today
        self.by_name: dict[str, Law | None] = dict.fromkeys(unusable or ())
        for law in laws.values():
            for name in law.names():
                self.by_name[name] = law
        names = sorted(self.by_name, key=len, reverse=True)  # longest first: 中华人民共和国刑法 before 刑法
        self._names = re.compile("|".join(re.escape(n) for n in names)) if names else None

    def check(self, text: str) -> TextCheck:
        result = TextCheck()
        findings = result.findings
        titles = [(m.start(), m.end(), m.group(1)) for m in _TITLE.finditer(text)]
        inside = [(start, end) for start, end, _ in titles]
        tokens: list[tuple[int, int, str, Any]] = [(s, e, "title", t) for s, e, t in titles]
        if self._names is not None:
            for m in self._names.finditer(text):
                if not any(s <= m.start() < e for s, e in inside):
                    tokens.append((m.start(), m.end(), "name", self.by_name[m.group(0)]))
        tokens.extend((m.start(), m.end(), "article", m) for m in _ARTICLE.finditer(text))
        tokens.sort(key=lambda t: (t[0], t[2] != "title"))

        current: Law | None = None  # the law named last in this text
        named_end = -1  # where the last law name ended: an article right after it belongs to it
        reported: set[str] = set()
        for start, end, kind, value in tokens:
            if kind == "title":
                title = str(value)
                law = self.by_name.get(title)
                if law is not None:
                    current, named_end = law, end
                    self._in_force(findings, start, law, reported)
                elif title in self.by_name:  # an entry of laws.yaml with its own error there
                    current, named_end = None, end
                elif _LAW_LIKE.search(title):
                    findings.append(Finding(start, msg("text_unknown_law", title=title)))
                    current, named_end = None, end
            elif kind == "name":
                current, named_end = (value if isinstance(value, Law) else None), end
                if current is not None:
                    self._in_force(findings, start, current, reported)
            else:
                adjacent = start == named_end
                if not adjacent and self._unknown_before(findings, text, start, value.group(0)):
                    current = None
                    continue
                if current is not None and current.has_articles:
                    self._article(findings, start, current, value)
                    result.cited[current.id] = current
        return result

    def _in_force(self, findings: list[Finding], start: int, law: Law, reported: set[str]) -> None:
        if law.id in reported:
            return
        reported.add(law.id)
        if law.repealed_on is not None and law.repealed_on <= self.today:
            findings.append(Finding(start, msg("text_law_repealed", short=law.short, date=law.repealed_on)))
        elif law.in_force_since is not None and law.in_force_since > self.today:
            findings.append(Finding(start, msg("text_law_not_in_force", short=law.short, date=law.in_force_since)))

    def _unknown_before(self, findings: list[Finding], text: str, start: int, article: str) -> bool:
        """「某某法第X条」 with a name laws.yaml does not have: report it (True)."""
        match = _UNBRACKETED.search(text[max(0, start - 12) : start])
        if match is None:
            return False
        run = match.group(1)
        if any(run.endswith(word) for word in _NOT_A_LAW):
            return False
        if any(run.endswith(name) for name in self.by_name):
            return False  # a known name that is part of a longer run (「现行刑法」): the name token covers it
        findings.append(Finding(start - len(run), msg("text_unnamed_law", name=f"{run}{article}")))
        return True

    def _article(self, findings: list[Finding], start: int, law: Law, match: re.Match[str]) -> None:
        raw = match.group(1)
        number = int(raw) if raw.isdigit() else chinese_to_int(raw)
        shown = f"《{law.short}》{match.group(0)}"
        if law.articles is not None and number > law.articles:
            findings.append(
                Finding(start, msg("text_article_too_big", article=shown, short=law.short, count=law.articles))
            )
            return
        moved = dict(law.old_numbers)
        if number in moved and number not in moved.values():
            findings.append(
                Finding(
                    start,
                    msg(
                        "text_old_article",
                        article=shown,
                        short=law.short,
                        date=law.renumbered_on,
                        new=f"第{_chinese(moved[number])}条",
                    ),
                    Severity.WARNING,
                )
            )


def old_number_warning(law: Law, article: str, numbers: list[int]) -> Msg | None:
    """The same renumbering check for a structured `source: article:`."""
    moved = dict(law.old_numbers)
    for number in numbers:
        if number in moved and number not in moved.values():
            return msg(
                "old_article",
                article=article,
                short=law.short,
                date=law.renumbered_on,
                new=f"第{_chinese(moved[number])}条",
            )
    return None


_DIGITS = "零一二三四五六七八九"


def _chinese(number: int) -> str:
    """84 → 八十四, 136 → 一百三十六, 10 → 十 (article numbers are below 1000)."""
    hundreds, rest = divmod(number, 100)
    tens, ones = divmod(rest, 10)
    out = f"{_DIGITS[hundreds]}百" if hundreds else ""
    if tens:
        out += f"{_DIGITS[tens] if tens > 1 or hundreds else ''}十"
    elif hundreds and ones:
        out += "零"
    if ones:
        out += _DIGITS[ones]
    return out or "零"
