"""普法宣传机器人 — a legal-publicity chatbot for township judicial offices."""

__version__ = "0.1.0"
