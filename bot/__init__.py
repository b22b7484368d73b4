"""The Discord bot: builds the application and translates Discord to store calls."""
