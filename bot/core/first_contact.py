"""What a short message means before it is read as a question: a greeting, or a wish to stop or resume reminders.

Chinese users stop SMS and WeChat pushes with 退订 / TD / T, or just write 不要再发了; they greet with 你好 or 在吗.
Matched on the whole normalised message (not inside a sentence), so 「骗子叫我别发了」 stays a question.
"""

from __future__ import annotations

import re
from enum import Enum

from bot.textnorm import normalize


class Wish(Enum):
    GREETING = "greeting"
    UNSUBSCRIBE = "unsubscribe"
    SUBSCRIBE = "subscribe"


_GREETINGS = {
    "你好", "您好", "你好啊", "您好啊", "你们好", "大家好", "在吗", "在不在", "在么", "有人吗", "有人在吗",
    "哈喽", "嗨", "hi", "hello", "hey", "早上好", "上午好", "中午好", "下午好", "晚上好", "喂", "你好呀",
    "您好呀", "老师好",
}  # fmt: skip
_UNSUBSCRIBE = {
    "退订", "td", "t", "取消订阅", "取消提醒", "退订提醒", "关闭提醒", "不要提醒", "不用提醒", "停止推送",
    "unsubscribe", "stop",
}  # fmt: skip
_SUBSCRIBE = {"订阅", "恢复订阅", "重新订阅", "恢复提醒", "开启提醒", "打开提醒", "subscribe"}
# 不要再发了 / 别发了 / 不要再给我发消息了 / 别再推送了 / 不用再发了 …
_STOP_SENDING = re.compile(
    r"^(请|麻烦)?(你们)?(不要|别|不用|莫)(再)?(给我)?(发|推送?)(了|消息了?|信息了?|这些了?|啦)?(谢谢)?$"
)


def read_wish(text: str | None) -> Wish | None:
    if not text:
        return None
    words = normalize(text)
    if words in _UNSUBSCRIBE or _STOP_SENDING.match(words):
        return Wish.UNSUBSCRIBE
    if words in _SUBSCRIBE:
        return Wish.SUBSCRIBE
    if words in _GREETINGS:
        return Wish.GREETING
    return None
