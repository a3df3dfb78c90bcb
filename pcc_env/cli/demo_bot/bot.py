"""A minimal Pipecat-style bot configuration using pcc-env (no Pipecat import needed).

On Pipecat Cloud the secret set's keys arrive as environment variables; locally they come from
.env. Run it with the variables missing to see the one message that names all of them:

    python examples/bot.py

It is also the bot of ``pcc-env demo``, which ships it inside the package (examples/ links here).
"""

from __future__ import annotations

import sys

from pydantic import Field, SecretStr

from pcc_env import MissingSecretsError, SecretSettings, SettingsError, load_settings


class BotSettings(SecretSettings, secret_set="demo-bot-secrets"):
    openai_api_key: SecretStr = Field(description="OpenAI key for the LLM service")
    daily_api_key: SecretStr = Field(description="Daily key for the transport")
    cartesia_api_key: SecretStr = Field(description="Cartesia key for text-to-speech")
    cartesia_voice_id: str = Field("71a7ad14-091c-4e8e-a314-022ece01c121", description="TTS voice")
    log_level: str = Field("INFO", description="Log level of the bot")


def main() -> int:
    try:
        settings = load_settings(BotSettings)
    except MissingSecretsError as exc:
        print(f"Cannot start the bot: {exc}", file=sys.stderr)
        return 78  # EX_CONFIG
    except SettingsError as exc:
        print(f"Cannot start the bot: {exc}", file=sys.stderr)
        return 78
    # A real bot would build its Pipecat pipeline here, passing
    # settings.openai_api_key.get_secret_value() to the LLM service, and so on.
    print(f"Bot configured: log level {settings.log_level}, voice {settings.cartesia_voice_id}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
