"""Optional tracing: reads through a copy of the environment, and a name computed at run time."""

import os


def tracing_config(service: str) -> dict[str, str | None]:
    settings = os.environ.copy()
    return {
        "endpoint": settings.get("OTEL_EXPORTER_OTLP_ENDPOINT") or None,
        "token": os.getenv(f"{service.upper()}_TRACING_TOKEN"),
    }
