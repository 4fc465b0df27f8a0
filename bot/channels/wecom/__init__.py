"""The WeCom (企业微信) channel: encrypted callbacks in, message/send out. Translation only."""
