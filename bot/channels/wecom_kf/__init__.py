"""WeCom 微信客服: any WeChat user scans a village's QR code and chats with the bot inside WeChat."""
