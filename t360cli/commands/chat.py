"""``t360 chat``: one-shot answers and the REPL's entry, as Typer declares it. Glue only:
flags -> options (``ChatOptions``) -> ``run_chat`` (``commands/chat_run.py``: a complete
``Chat``, the turn pipeline, the report) -> exit code. A one-shot whose flags
``chat_argv`` reads comes to ``run_chat`` without Typer (``entry.run``).

No ``from __future__ import annotations`` here: Typer resolves every parameter's
annotation before the first request, and evaluated ones spare it 1.5 ms of parsing.
"""

import typer

from t360cli.commands.chat_run import run_chat
from t360cli.commands.common import environment
from t360cli.commands.options import ChatOptions, gather
from t360cli.commands.params import (
    AllowSecretsOption,
    ApiKeyOption,
    AttachOption,
    BaseUrlOption,
    ContinueOption,
    ConversationOption,
    DebugOption,
    DryRunOption,
    EditorOption,
    ExtractLastOption,
    ExtractOption,
    FileOption,
    IgnoreBudgetOption,
    JsonOption,
    MaxCostOption,
    MaxTokensOption,
    MaxToolRoundsOption,
    ModelOption,
    NoSaveOption,
    NoStdinOption,
    NoStreamOption,
    OptionOption,
    PasteOption,
    ProfileOption,
    PromptArgument,
    QuietOption,
    RawOption,
    RetriesOption,
    RoleOption,
    SchemaOption,
    SystemFileOption,
    SystemOption,
    TemperatureOption,
    TimeoutOption,
    ToolsOption,
    YesToolsOption,
)
from t360cli.errors import ExitCode


def chat(
    ctx: typer.Context,
    prompt: PromptArgument = None,
    model: ModelOption = None,
    system: SystemOption = None,
    system_file: SystemFileOption = None,
    files: FileOption = None,
    attach: AttachOption = None,
    temperature: TemperatureOption = None,
    max_tokens: MaxTokensOption = None,
    option: OptionOption = None,
    continue_: ContinueOption = False,
    conversation: ConversationOption = None,
    json_out: JsonOption = False,
    quiet: QuietOption = False,
    raw: RawOption = False,
    no_stream: NoStreamOption = False,
    no_save: NoSaveOption = False,
    no_stdin: NoStdinOption = False,
    timeout: TimeoutOption = None,
    retries: RetriesOption = None,
    profile: ProfileOption = None,
    role: RoleOption = None,
    editor: EditorOption = False,
    schema: SchemaOption = None,
    extract: ExtractOption = False,
    extract_last: ExtractLastOption = False,
    max_cost: MaxCostOption = None,
    ignore_budget: IgnoreBudgetOption = False,
    dry_run: DryRunOption = False,
    paste: PasteOption = False,
    allow_secrets: AllowSecretsOption = False,
    tools: ToolsOption = None,
    yes: YesToolsOption = False,
    max_tool_rounds: MaxToolRoundsOption = 10,
    api_key: ApiKeyOption = None,
    base_url: BaseUrlOption = None,
    debug: DebugOption = False,
) -> None:
    """Send a prompt and stream the answer; without one on a terminal, start a REPL."""
    o = gather(ChatOptions, locals())
    code = run_chat(environment(ctx), o)
    if code is not ExitCode.OK:
        raise typer.Exit(code)
