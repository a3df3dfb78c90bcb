#
# The bot of the docs' runnable blocks: shaped like the Pipecat quickstart (Daily transport,
# Deepgram STT, OpenAI LLM, Cartesia TTS). It is scanned by `pcc-env init`, never run.
#

"""Pipecat Cloud bot: Daily transport, Deepgram STT, OpenAI LLM, Cartesia TTS."""

import os

from dotenv import load_dotenv
from pipecat.runner.types import RunnerArguments
from pipecat.services.cartesia.tts import CartesiaTTSService
from pipecat.services.deepgram.stt import DeepgramSTTService
from pipecat.services.openai.llm import OpenAILLMService

load_dotenv(override=True)


async def bot(runner_args: RunnerArguments) -> None:
    stt = DeepgramSTTService(api_key=os.getenv("DEEPGRAM_API_KEY"))
    tts = CartesiaTTSService(
        api_key=os.getenv("CARTESIA_API_KEY"),
        voice_id=os.getenv("CARTESIA_VOICE_ID", "71a7ad14-091c-4e8e-a314-022ece01c121"),
    )
    llm = OpenAILLMService(api_key=os.getenv("OPENAI_API_KEY"))
    if os.environ.get("ENV") != "local":
        pass  # Krisp noise filtering in the cloud
    print(stt, tts, llm)
