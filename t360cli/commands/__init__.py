"""The commands of the Typer app, one module each; ``cli.py`` registers them."""
