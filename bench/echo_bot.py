"""The baseline: a bare python-telegram-bot echo bot in its default configuration."""

import os

from telegram import Update
from telegram.ext import ApplicationBuilder, ContextTypes, MessageHandler, filters


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await update.message.reply_text(update.message.text)


def main() -> None:
    application = ApplicationBuilder().token(os.environ["BENCH_TOKEN"]).base_url(os.environ["BENCH_BASE_URL"]).build()
    application.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    application.run_polling(timeout=10)


if __name__ == "__main__":
    main()
