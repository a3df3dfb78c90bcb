"""Import a settings model named by reference (``module:Class`` or ``file.py:Class``): what
``export``, ``check``, ``run`` and the demo do to read a bot's model. Apart from
``deploy_config`` (which only reads files) because importing runs the bot's module under
``runtime.reading_model``: the runtime reads ``pcc-deploy.toml`` through ``deploy_config``, and
this module sits above both."""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import Any

from pcc_env.deploy_config import show_name, show_path
from pcc_env.errors import ConfigError


def load_settings_class(ref: str) -> type[Any]:
    """Import ``module:Class`` or ``path/to/file.py:Class`` (the module's code runs).

    The current directory is put on ``sys.path`` first, as ``python -m`` would. While the
    module runs, ``load_settings`` returns settings without values instead of raising
    (``runtime.reading_model``): reading a model needs no secrets. An import that fails is
    reported by exception type and line, never by its message (it may quote a value).
    """
    import importlib
    import importlib.util

    from pcc_env.runtime import reading_model

    target, sep, attr = ref.rpartition(":")
    if not sep or not target or not attr:
        raise ConfigError(
            f"settings reference {show_name(ref)} must be 'module:Class' or 'file.py:Class'"
        )
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    failure: str | None = None
    with reading_model() as placeholders:
        try:
            if target.endswith(".py") or os.sep in target:
                path = Path(target)
                if not path.is_file():
                    raise ConfigError(f"settings reference {show_name(ref)}: the file is not found")
                name = f"_pcc_env_settings_{path.stem}"
                spec = importlib.util.spec_from_file_location(name, path)
                if spec is None or spec.loader is None:
                    raise ConfigError(f"settings reference {show_name(ref)}: cannot load the file")
                module = importlib.util.module_from_spec(spec)
                sys.modules[spec.name] = module
                spec.loader.exec_module(module)
            else:
                module = importlib.import_module(target)
        except ConfigError:
            raise
        except (Exception, SystemExit) as exc:  # the user's module failed; its text may hold data
            failure = _import_failure(ref, exc, placeholders)
    if failure is not None:  # raised here, so that the user's exception is not its __context__
        raise ConfigError(failure)
    cls = getattr(module, attr, None)
    if not isinstance(cls, type):
        raise ConfigError(
            f"settings reference {show_name(ref)}: no class {show_name(attr)} "
            f"in {show_name(target)}"
        )
    from pydantic_settings import BaseSettings

    if not issubclass(cls, BaseSettings):
        raise ConfigError(
            f"settings reference {show_name(ref)}: {attr} is not a pydantic-settings model"
        )
    return cls


def _import_failure(ref: str, exc: BaseException, placeholders: list[str]) -> str:
    """Why importing ``ref`` failed: the exception type and the failing line of the user's
    module (``file:line``), plus the missing module's name for a ModuleNotFoundError. Never the
    exception's message, which may quote a value."""
    kind = type(exc).__name__
    where = _failing_line(exc)
    head = f"settings reference {show_name(ref)}: importing it failed ({kind}{where})"
    if isinstance(exc, ModuleNotFoundError) and exc.name:
        return f"{head}: no module named {show_name(exc.name)}"
    if isinstance(exc, SystemExit):
        return f"{head}: the module exits when imported; guard that with if __name__ == '__main__'"
    if placeholders:
        models = ", ".join(sorted(set(placeholders)))
        return (
            f"{head}. While pcc-env reads the model, load_settings({models}) returns settings "
            "without values: move code that uses the values into a function such as main()"
        )
    return head


def _failing_line(exc: BaseException) -> str:
    """`` at file:line``: in the first file of the traceback that is neither importlib's nor
    pcc-env's (the module being imported), the innermost line that was running."""
    import importlib
    import traceback

    skip = ("<", str(Path(__file__).resolve().parent), str(Path(importlib.__file__).parent))
    frames = [
        (frame.f_code.co_filename, line)
        for frame, line in traceback.walk_tb(exc.__traceback__)
        if not frame.f_code.co_filename.startswith(skip)
    ]
    if not frames:
        return ""
    module_file = frames[0][0]
    line = [n for f, n in frames if f == module_file][-1]
    shown = Path(module_file)
    with contextlib.suppress(ValueError):
        shown = shown.resolve().relative_to(Path.cwd().resolve())
    return f" at {show_path(str(shown))}:{line}"
