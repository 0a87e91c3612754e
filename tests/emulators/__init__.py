"""aiohttp servers that behave like AmoCRM, Bitrix24, a generic receiver and Yandex Metrica."""
