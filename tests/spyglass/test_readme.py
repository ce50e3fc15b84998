"""The README's examples are real: its configuration block is a valid config, and the
two commands a new user needs are there."""

import re
from pathlib import Path

from spyglass.config import parse_config

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_configuration_example_is_valid():
    text = README.read_text()
    section = text[text.index("## Configuration"):]
    block = re.search(r"```yaml\n(.*?)```", section, re.DOTALL).group(1)
    cfg = parse_config(block, "README.md")
    assert cfg.server.http == "127.0.0.1:9700"


def test_readme_gives_the_two_commands():
    text = README.read_text()
    assert "make run" in text and "make test" in text
