#
# A bot shaped like the Pipecat examples (foundational/07 and the Pipecat Cloud starters): the
# fixture of `pcc-env init`. It is scanned, never run: pipecat is not installed in the tests.
#

"""Pipecat Cloud-compatible bot: Daily transport, Deepgram STT, OpenAI LLM, Cartesia TTS."""

import os
import sys

from dotenv import load_dotenv
from loguru import logger
from pipecat.audio.vad.silero import SileroVADAnalyzer
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.runner import PipelineRunner
from pipecat.pipeline.task import PipelineParams, PipelineTask
from pipecat.processors.aggregators.openai_llm_context import OpenAILLMContext
from pipecat.runner.types import RunnerArguments
from pipecat.services.cartesia.tts import CartesiaTTSService
from pipecat.services.deepgram.stt import DeepgramSTTService
from pipecat.services.openai.llm import OpenAILLMService
from pipecat.transports.daily.transport import DailyParams, DailyTransport

load_dotenv(override=True)

logger.remove(0)
logger.add(sys.stderr, level=os.getenv("LOG_LEVEL", "INFO"))

# Read through a variable holding os.environ.
env = os.environ
VOICE_ID = env.get("CARTESIA_VOICE_ID", "71a7ad14-091c-4e8e-a314-022ece01c121")


async def run_bot(transport: DailyTransport) -> None:
    logger.info("Starting bot")

    stt = DeepgramSTTService(api_key=os.getenv("DEEPGRAM_API_KEY"))

    tts = CartesiaTTSService(
        api_key=os.getenv("CARTESIA_API_KEY"),
        voice_id=VOICE_ID,
    )

    llm = OpenAILLMService(
        api_key=os.environ["OPENAI_API_KEY"],
        model=os.environ.get("OPENAI_MODEL", "gpt-4o"),
    )

    messages = [
        {
            "role": "system",
            "content": "You are a friendly AI assistant. Keep your answers short.",
        },
    ]
    context = OpenAILLMContext(messages)
    context_aggregator = llm.create_context_aggregator(context)

    pipeline = Pipeline(
        [
            transport.input(),
            stt,
            context_aggregator.user(),
            llm,
            tts,
            transport.output(),
            context_aggregator.assistant(),
        ]
    )
    task = PipelineTask(pipeline, params=PipelineParams(enable_metrics=True))
    await PipelineRunner(handle_sigint=False).run(task)


async def bot(runner_args: RunnerArguments) -> None:
    """Main bot entry point, called by Pipecat Cloud."""
    transport = DailyTransport(
        runner_args.room_url,
        runner_args.token,
        "Pipecat Bot",
        params=DailyParams(
            audio_in_enabled=True,
            audio_out_enabled=True,
            vad_analyzer=SileroVADAnalyzer(),
        ),
    )
    await run_bot(transport)


if __name__ == "__main__":
    from pipecat.runner.run import main

    main()
