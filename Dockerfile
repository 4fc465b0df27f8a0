# 普法宣传机器人 — production image: installs the package and serves every configured channel.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    BOT_DB=/data/bot.sqlite3 \
    BOT_CONTENT_DIR=/app/content

WORKDIR /app
COPY pyproject.toml README.md constraints.txt ./
COPY bot ./bot
COPY content ./content
RUN pip install -c constraints.txt . \
    && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin pufa \
    && mkdir -p /data && chown pufa /data

USER pufa
# The SQLite database (residents, reach events) lives here: mount a volume so it survives upgrades.
VOLUME ["/data"]
# Telegram webhook (TELEGRAM_LISTEN=0.0.0.0:8443) and WeCom callbacks (WECOM_LISTEN=0.0.0.0:8090).
EXPOSE 8443 8090

# SIGTERM (docker stop) flushes buffered reach events before exit.
STOPSIGNAL SIGTERM
CMD ["python", "-m", "bot", "run"]
