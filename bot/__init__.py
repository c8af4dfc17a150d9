"""citebot's Telegram layer and application wiring (the `citebot` command lives in `bot.cli`)."""
