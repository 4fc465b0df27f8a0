"""The office's web console: another face of the same core and storage as the chat channels (docs/web.md).

Server-rendered pages (aiohttp, Jinja2 templates in `templates/`), charts drawn as SVG on the server, two small
files of its own in `static/`: nothing from the internet, and everything but live progress works without
JavaScript. Admins sign in with one-time links (`bot.core.web_links`); there are no passwords.
"""

from bot.channels.web.app import WebConsole

__all__ = ["WebConsole"]
