"""The README's command block is the synopsis the commands themselves generate."""

from bench.cli import usage
from tests.conftest import ROOT


def test_readme_command_block_is_what_the_commands_declare():
    readme = (ROOT / "README.md").read_text()
    assert usage.readme_block(readme) == usage.synopsis(), "run: python -m bench.cli.usage --write README.md"


def test_every_run_option_is_in_the_synopsis():
    from bench.execution import options

    text = usage.synopsis()
    for field in options.fields():
        assert f"--{field.name.replace('_', '-')}" in text
