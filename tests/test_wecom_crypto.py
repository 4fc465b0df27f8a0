"""WeCom's callback crypto against Tencent's published test vectors (../shared/telegram-wecom-notes.md §6.3)."""

from __future__ import annotations

import pytest

from bot.channels.wecom.crypto import CallbackError, WeComCrypto, signature

TOKEN = "hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo"
AES_KEY = "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt"
CORP_ID = "ww1436e0e65a779aee"
ECHO = "fsi1xnbH4yQh0+PJxcOdhhK6TDXkjMyhEPA7xB2TGz6b+g7xyAbEkRxN/3cNXW9qdqjnoVzEtpbhnFyq6SVHyA=="
MESSAGE = (
    "Kl7kjoSf6DMD1zh7rtrHjFaDapSCkaOnwu3bqLc5tAybhhMl9pFeK8NslNPVdMwmBQTNoW4mY7AIjeLvEl3NyeTkAgGzBhzTtRLNshw2AEew+kk"
    "YcD+Fq72Kt00fT0WnN87hGrW8SqGc+NcT3mu87Ha3dz1pSDi6GaUA6A0sqfde0VJPQbZ9U+3JWcoD4Z5jaU0y9GSh010wsHF8KZD24YhmZH4ch4"
    "Ka7ilEbjbfvhKkNL65HHL0J6EYJIZUC2pFrdkJ7MhmEbU2qARR4iQHE7wy24qy0cRX3Mfp6iELcDNfSsPGjUQVDGxQDCWjayJOpcwocugux082f"
    "49HKYg84EpHSGXAyh+/oxwaWbvL6aSDPOYuPDGOCI8jmnKiypE+"
)
V4_PLAIN = (
    "<xml><ToUserName><![CDATA[ww1436e0e65a779aee]]></ToUserName><FromUserName><![CDATA[zhangsan]]></FromUserName>"
    "<CreateTime>1700000000</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[hello 企业微信]]>"
    "</Content><MsgId>1234567890</MsgId><AgentID>1000002</AgentID></xml>"
)
V4_ENCRYPT = (
    "scEag1243Fmy/fYz4Ux8Dw7XK1YsyrvwyuZoqKiB20kK26lu/U+f/DR610+ejlacWJi1gGe041Aas6iJ70njs1wRnrRXyXo1wR8O1OwN+ht2x5qy"
    "y0WHqSmXr1xdVqQPtKwz05bWgY5hmcrVN3uYvWMhPUnNpCfLhj4wY8jreLJdUy+ULoORqMABx0p84W0zNMWgXdGlM2+r7aUxrTTtWZqctH/qt/+mx"
    "qXsDwjDv20u2ZsxOC7euU51NepDVqzR6/jIB1SgEXdLJfzYdPeTThdNE1WADmUv8tX9BIkSMg21WghcQNC75Hin0eNSTzHX9SU+R+oPoUaDL9bugP"
    "uIwlnJi1rcqNZWqjWCQmpQzwNojQenMXS2pOiI5Y3GmtY/doKGTs0sA7kmRJhXfaMt2FRBTw7mHoQi7s7iKWuf8eCTJEqQjuPdr/WOyTDf6c2lfbEX"
    "gHisEIlnJ1E5m/fZhg=="
)


@pytest.fixture
def crypto() -> WeComCrypto:
    return WeComCrypto(TOKEN, AES_KEY, CORP_ID)


def test_url_verification_vector(crypto: WeComCrypto) -> None:
    crypto.verify("012bc692d0a58dd4b10f8dfe5c4ac00ae211ebeb", "1476416373", "47744683", ECHO)
    assert crypto.decrypt(ECHO) == "1288432023552776189"


def test_message_vector(crypto: WeComCrypto) -> None:
    crypto.verify("0c3914025cb4b4d68103f6bfc8db550f79dcf48e", "1476422779", "1597212914", MESSAGE)
    plain = crypto.decrypt(MESSAGE)
    assert "<FromUserName>ChenJiaShun</FromUserName>" in plain and "<Content>你好</Content>" in plain
    assert "<MsgId>1456453720</MsgId>" in plain and "<AgentID>1000002</AgentID>" in plain


def test_deterministic_encryption_vector(crypto: WeComCrypto) -> None:
    assert crypto.encrypt(V4_PLAIN, random16=b"0123456789abcdef") == V4_ENCRYPT
    assert signature(TOKEN, "1700000000", "123456789", V4_ENCRYPT) == "2e7532a49d4cdda27bbef28856d818762c4260f9"


def test_round_trip(crypto: WeComCrypto) -> None:
    for message in ("", "x", "你好" * 500, "<xml>" + "a" * 31 + "</xml>"):
        assert crypto.decrypt(crypto.encrypt(message)) == message


def test_refusals(crypto: WeComCrypto) -> None:
    with pytest.raises(CallbackError, match="wrong signature"):
        crypto.verify("0" * 40, "1476416373", "47744683", ECHO)
    with pytest.raises(CallbackError, match="wrong receive id"):
        WeComCrypto(TOKEN, AES_KEY, "ww-someone-else").decrypt(MESSAGE)
    with pytest.raises(CallbackError):
        crypto.decrypt("not base64!!")
    tampered = ECHO[:-8] + "AAAAAAA="
    with pytest.raises(CallbackError):
        crypto.decrypt(tampered)
    with pytest.raises(ValueError):
        WeComCrypto(TOKEN, "short", CORP_ID)
