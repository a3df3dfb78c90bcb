"""What walking real projects (init → push → deploy → rotate → status → redeploy) turned up,
each as a fixture of its own pattern."""

from __future__ import annotations

from pcc_env.dotenv_file import RECORD_PREFIX, TemplateEntry, update_template


def test_the_record_line_does_not_split_a_heading_from_its_key() -> None:
    # Pipecat templates start with a group heading right above its key ("# Daily credentials").
    existing = "# Daily credentials\nDAILY_API_KEY=\n\n# Service keys\nOPENAI_API_KEY=\n"
    lines = update_template(
        existing, [TemplateEntry("DAILY_API_KEY"), TemplateEntry("OPENAI_API_KEY")]
    ).splitlines()
    assert lines[0].startswith(RECORD_PREFIX)
    assert lines[1:3] == ["# Daily credentials", "DAILY_API_KEY="]
