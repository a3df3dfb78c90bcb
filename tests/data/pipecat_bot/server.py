"""A local runner next to the bot: the other import styles of the environment."""

from os import environ, getenv

import uvicorn
from fastapi import FastAPI

DAILY_API_KEY = environ["DAILY_API_KEY"]
DAILY_API_URL = getenv("DAILY_API_URL", "https://api.daily.co/v1")
PORT_VAR = "BOT_PORT"

app = FastAPI()


def room_properties() -> dict[str, object]:
    properties: dict[str, object] = {"exp": int(getenv("DAILY_ROOM_EXPIRY", "3600"))}
    if "DAILY_RECORDING" in environ:
        properties["enable_recording"] = "cloud"
    return properties


def main() -> None:
    # Set by the shell, not by a secret set: left out of the model.
    print(environ.get("HOME"))
    uvicorn.run(app, host="0.0.0.0", port=int(getenv(PORT_VAR, "7860")))


if __name__ == "__main__":
    main()
