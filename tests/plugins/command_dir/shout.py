"""A plugin that adds a `mediahub shout` command."""

import click

from mediahub import hookimpl


@click.command()
@click.argument("word")
def shout(word):
    """Print WORD loudly."""
    click.echo(word.upper() + "!")


@hookimpl
def register_commands(cli):
    cli.add_command(shout)
