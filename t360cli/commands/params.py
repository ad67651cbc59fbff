"""The flags and arguments of the commands, as Typer declares them: each once, named, so
that a command's signature reads one line per flag. Typer loads with this module, so
nothing on a one-shot's path (``chat_argv``) imports it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

#: The options every command that talks to the gateway takes.
ApiKeyOption = Annotated[
    str | None, typer.Option("--api-key", help="API key (prefer T360_API_KEY).")
]

BaseUrlOption = Annotated[str | None, typer.Option("--base-url", help="Gateway URL.")]

DebugOption = Annotated[
    bool, typer.Option("--debug", help="Log request and response metadata to stderr.")
]

ProfileOption = Annotated[
    str | None,
    typer.Option(
        "-p",
        "--profile",
        help="Use the settings of [profiles.NAME] (or T360_PROFILE).",
    ),
]

#: ``--json`` of the commands that print one object of figures (stats, bench, tools).
PlainJsonOption = Annotated[bool, typer.Option("--json", help="One JSON object.")]

ModelOption = Annotated[
    str | None,
    typer.Option("-m", "--model", help="Model id (or alias)."),
]

TemperatureOption = Annotated[
    float | None, typer.Option("--temperature", help="Sampling temperature (0 or more).")
]

MaxTokensOption = Annotated[
    int | None, typer.Option("--max-tokens", min=1, help="Longest answer, in tokens.")
]

OptionOption = Annotated[
    list[str] | None,
    typer.Option("-o", "--option", help="Extra request field KEY=VALUE (JSON if it parses)."),
]

QuietOption = Annotated[bool, typer.Option("-q", "--quiet", help="No stats footer.")]

NoSaveOption = Annotated[
    bool, typer.Option("--no-save", help="Keep this exchange out of the history.")
]

NoStdinOption = Annotated[bool, typer.Option("-n", "--no-stdin", help="Ignore stdin.")]

TimeoutOption = Annotated[
    float | None,
    typer.Option("--timeout", help="Longest silence tolerated while waiting, in seconds."),
]

RetriesOption = Annotated[
    int | None,
    typer.Option("--retries", help="Retries before the first token (default 2, at most 10)."),
]

RoleOption = Annotated[
    str | None,
    typer.Option(
        "-r",
        "--role",
        help="Use the role [roles.NAME] or roles/NAME.md.",
    ),
]

TaskArgument = Annotated[
    list[str] | None, typer.Argument(help="What the command should do (stdin joins it).")
]

PromptArgument = Annotated[
    list[str] | None,
    typer.Argument(help="The prompt (words are joined by spaces; '-' reads stdin there)."),
]

SystemOption = Annotated[str | None, typer.Option("-s", "--system", help="System prompt.")]

SystemFileOption = Annotated[
    Path | None, typer.Option("--system-file", help="Read the system prompt from a file.")
]

FileOption = Annotated[
    list[str] | None,
    typer.Option(
        "-f",
        "--file",
        help="Add a text file, every text file under a folder, or a web page (repeatable).",
    ),
]

AttachOption = Annotated[
    list[str] | None,
    typer.Option(
        "-a",
        "--attach",
        help="Attach an image, PDF or audio file, an image URL, or - for stdin (repeatable).",
    ),
]

PasteOption = Annotated[
    bool,
    typer.Option("--paste", help="Add the clipboard: text as a block, an image as an attachment."),
]

JsonOption = Annotated[
    bool, typer.Option("--json", help="Print one JSON object with the answer and stats.")
]

MaxCostOption = Annotated[
    float | None,
    typer.Option("--max-cost", help="Refuse or bound the request so it costs at most USD."),
]

IgnoreBudgetOption = Annotated[
    bool, typer.Option("--ignore-budget", help="Send even when a budget is spent.")
]

DryRunOption = Annotated[
    bool,
    typer.Option("--dry-run", help="Print the request as JSON with estimates; send nothing."),
]

AllowSecretsOption = Annotated[
    bool,
    typer.Option(
        "--allow-secrets", help="Send this once although the secrets guard found something."
    ),
]

CompareModelsOption = Annotated[
    list[str] | None,
    typer.Option("-m", "--model", help="A model to ask (repeatable: two or more)."),
]

ContinueOption = Annotated[
    bool, typer.Option("-c", "--continue", help="Continue the most recent conversation.")
]

ConversationOption = Annotated[
    str | None,
    typer.Option(
        "--conversation",
        help="Continue the conversation with this id.",
    ),
]

RawOption = Annotated[bool, typer.Option("--raw", help="No markdown rendering.")]

NoStreamOption = Annotated[
    bool, typer.Option("--no-stream", help="Ask for the whole answer at once.")
]

EditorOption = Annotated[
    bool, typer.Option("--editor", help="Write the prompt in $VISUAL or $EDITOR first.")
]

SchemaOption = Annotated[
    str | None,
    typer.Option(
        "--schema",
        help="Answer JSON matching this: JSON Schema text, a file, or 'name, age int'.",
    ),
]

ExtractOption = Annotated[
    bool, typer.Option("-x", "--extract", help="Print only the first fenced code block.")
]

ExtractLastOption = Annotated[
    bool, typer.Option("--extract-last", help="Print only the last fenced code block.")
]

ToolsOption = Annotated[
    list[str] | None,
    typer.Option(
        "-T",
        "--tools",
        help="Offer the tools of this MCP server (repeatable; 'all': every one).",
    ),
]

YesToolsOption = Annotated[
    bool, typer.Option("-y", "--yes", help="Run the tools the model calls without asking.")
]

MaxToolRoundsOption = Annotated[
    int,
    typer.Option("--max-tool-rounds", min=1, help="Most rounds of tool calls in one answer."),
]
