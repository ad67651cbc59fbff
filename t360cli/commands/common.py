"""Helpers the commands share: the Environment, gateway settings and roles, guards, the
secrets check, output, and the one-shot's prompt (``chat`` and ``compare`` build it the
same way). No Typer here: its declarations are in ``params.py``."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from t360cli.config import Settings, api_key_from, load_settings, read_config
from t360cli.environment import Environment
from t360cli.errors import ConfigError, GuardError, UsageError
from t360cli.guards import Budget, Guard
from t360cli.request import RequestOptions, check_options
from t360cli.roles import Role
from t360cli.roles import find as find_role
from t360cli.safety import redact, sanitize
from t360cli.session import Chat

if TYPE_CHECKING:  # the prompt's modules load with the commands that build one
    import typer

    from t360cli.attachments import Attachment
    from t360cli.secrets_guard import Check


def environment(ctx: typer.Context) -> Environment:
    """The Environment the boundary (``cli.run``) built for this run."""
    env = ctx.find_object(Environment)
    if env is None:
        raise RuntimeError("t360 commands run through t360cli.cli.run")
    return env


def gateway_settings(env: Environment, flags: Mapping[str, object | None]) -> Settings:
    """Settings for a command that talks to the gateway: warnings shown, key required."""
    return require_key(env, load_settings(env, flags))


class Setup:
    """Settings, request options and role for this run's flags, under a role or none:
    the one place they are layered, for the start and for the REPL's ``/role``."""

    def __init__(
        self,
        env: Environment,
        flags: Mapping[str, object | None],
        conversation: Mapping[str, object | None] | None,
        request: RequestOptions,
    ) -> None:
        self.env = env
        self.flags = flags
        self.conversation = conversation
        self.request = request
        self.table = read_config(env)

    def __call__(self, role_name: str | None) -> tuple[Settings, RequestOptions, Role | None]:
        role = find_role(self.env, self.table, role_name) if role_name else None
        settings = load_settings(
            self.env,
            self.flags,
            self.conversation,
            table=self.table,
            role=role.layer() if role else None,
            role_name=role_name,
        )
        request = self.request
        if role is not None:
            temperature = request.temperature
            request = request._replace(
                temperature=role.temperature if temperature is None else temperature,
                options={**role.options, **request.options},  # -o beats the role
            )
        return settings, check_options(request), role


def make_guard(
    env: Environment,
    settings: Settings,
    table: Mapping[str, object],
    *,
    max_cost: float | None = None,
    ignore_budget: bool = False,
) -> Guard:
    """The guards of this run: budgets (unless ignored), --max-cost, the context length."""
    from t360cli import modelinfo

    def info(model: str) -> modelinfo.ModelInfo:
        return modelinfo.lookup(env.paths, table, model)

    budgeted = settings.budget_daily is not None or settings.budget_monthly is not None
    return Guard(
        info,
        (lambda: budget(env, settings)) if budgeted and not ignore_budget else None,
        max_cost,
        env.warn,
    )


def check_max_cost(max_cost: float | None) -> None:
    if max_cost is not None and not (0 < max_cost < float("inf")):
        raise UsageError(f"--max-cost must be a positive amount in USD, got {max_cost}")


def refresh_models(env: Environment, session: Chat) -> None:
    """Ask the gateway for its models (prices, context lengths) when the cache is old."""
    from t360cli import modelinfo

    settings = session.settings
    if not modelinfo.fresh(env.paths, settings.base_url, env.clock()):
        items = session.gateway.models()
        modelinfo.remember(env.paths, settings.base_url, items, env.clock())


def budget(env: Environment, settings: Settings) -> Budget:
    """The budgets and what the history says was spent today and this month."""
    from t360cli.guards import day_and_month_start
    from t360cli.history import History

    day, month = day_and_month_start(env.clock())
    today = month_total = 0.0
    if env.paths.history_db.exists():
        with History.open(env.paths.history_db) as history:
            today, month_total = history.spend(day), history.spend(month)
    return Budget(settings.budget_daily, settings.budget_monthly, today, month_total)


def warn_plain_http(env: Environment, settings: Settings) -> None:
    """A key about to cross a network unencrypted is worth one warning (not loopback)."""
    from urllib.parse import urlsplit

    parts = urlsplit(settings.base_url)
    if parts.scheme != "http" or not settings.api_key:
        return
    host = parts.hostname or ""
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback:
        env.warn(f"sending your API key unencrypted to {host} (use https:// in --base-url)")


def secrets_check(
    env: Environment, settings: Settings, table: Mapping[str, object], *, allow: bool
) -> Check:
    """The secrets guard of this run: the ``secrets`` setting (``--allow-secrets`` makes a
    refusal a warning, once), knowing the user's own keys wherever they are configured."""
    from t360cli.secrets_guard import Check

    profiles = table.get("profiles")
    keys = [settings.api_key, env.vars.get("T360_API_KEY"), table.get("api_key")]
    if isinstance(profiles, dict):
        keys += [p.get("api_key") for p in profiles.values() if isinstance(p, dict)]
    mode = "warn" if allow and settings.secrets == "refuse" else settings.secrets
    return Check(mode, [key for key in keys if isinstance(key, str)], env.warn)


def known_key(env: Environment, settings: Settings) -> Settings:
    """``settings`` with the API key run from ``api_key_cmd``, or read from the keychain,
    if that is where it comes from, and the key among the secrets: only when it is needed,
    for a request or before MCP servers start (a variable holding it is kept from them, so
    it must be known)."""
    if not settings.api_key and settings.api_key_cmd:
        key = api_key_from(settings.api_key_cmd, env.vars)
        env.secrets.add(key)
        settings = settings._replace(api_key=key)
    elif not settings.api_key and settings.key_store != "file":
        from t360cli import keychain  # keyring loads only here: no key anywhere else

        kept = keychain.get(env.vars, settings.profile)
        if kept:
            env.secrets.add(kept)
            settings = settings._replace(api_key=kept)
    return settings


def require_key(env: Environment, settings: Settings) -> Settings:
    """``settings`` with the API key (``known_key``); no key at all is a configuration
    error."""
    settings = known_key(env, settings)
    if not settings.api_key:
        raise ConfigError(
            "no API key", "set T360_API_KEY, or run: t360 config set api_key (it asks for it)"
        )
    warn_plain_http(env, settings)
    return settings


def write_out(env: Environment, text: str) -> None:
    """Saved or fetched text on stdout: exact in a pipe, made safe on a terminal."""
    env.stdout.write(sanitize(text) if env.stdout_isatty else text)
    env.stdout.flush()


# -- the checks, the prompt and the preview of a one-shot (chat, compare, cmd) -----------


def exclusive(*pairs: tuple[str, str, bool, bool]) -> None:
    """Each pair (two flags, whether each was given): a usage error when both were."""
    for first, second, one, other in pairs:
        if one and other:
            raise UsageError(f"give either {first} or {second}, not both")


def compose_message(
    env: Environment,
    settings: Settings,
    role: Role | None,
    words: list[str],
    files: list[str],
    specs: list[str],
    editor: bool,
    no_stdin: bool,
    secrets: Check,
    paste: bool = False,
) -> tuple[str, list[Attachment]]:
    """A one-shot's user message and attachments: the words (first in the editor, with
    --editor), piped stdin, -f texts and -a attachments, through the secrets guard (each
    part under its own name) and the role's template."""
    from t360cli.attachments import MAX_ATTACHMENT, from_bytes, gather
    from t360cli.attachments import load as load_attachment
    from t360cli.prompt import compose, read_stdin
    from t360cli.terminal import edit_text

    if editor:
        words = [edit_text(env, " ".join(words))]
        if not words[0]:
            raise UsageError("empty prompt: nothing was sent", "write the prompt, then save")
    attached = [load_attachment(spec, env.stdin, env.vars) for spec in specs]
    from_stdin = no_stdin or env.stdin_isatty or "-" in specs  # -a - takes stdin
    stdin_text = None if from_stdin else read_stdin(env.stdin)
    texts = gather(files, lambda url: fetch(env, settings, url), env.warn)
    if paste:
        from t360cli.clipboard import paste as read_clipboard

        pasted = read_clipboard(env.vars, MAX_ATTACHMENT)
        if pasted.image is not None:
            attached.append(from_bytes("clipboard", pasted.image))
        elif pasted.text and pasted.text.strip():
            texts.append(("clipboard", pasted.text))
    parts = [("stdin", stdin_text)] if stdin_text is not None else []
    words, checked = secrets.prompt(words, [*parts, *texts])
    if parts:
        stdin_text = checked.pop(0)
    texts = [(label, text) for (label, _), text in zip(texts, checked, strict=True)]
    message = compose(words, stdin_text, texts)
    if role is not None:
        message = role.apply(message)
    if not message and not attached:
        raise UsageError("no prompt given", "pass it as an argument, or pipe text in on stdin")
    return message, attached


def fetch(env: Environment, settings: Settings, url: str) -> tuple[str, bytes]:
    """``-f URL``: the page, through the gateway's proxy and TLS trust (httpx loads here)."""
    from t360cli.attachments import MAX_PAGE
    from t360cli.client import fetch_page

    return fetch_page(settings, env.vars, url, MAX_PAGE, env.warn)


def preview(
    env: Environment, session: Chat, message: str, table: Mapping[str, object]
) -> tuple[dict[str, Any], GuardError | None]:
    """--dry-run: the request ``session`` would send for ``message`` (the key redacted),
    with the token and cost estimates, and the refusal of a guard that would refuse it."""
    from t360cli.guards import worst_case
    from t360cli.modelinfo import lookup
    from t360cli.request import estimate_tokens

    if session.tools is not None:
        session.tools.ready()  # the tools are part of the request
    payload = session.payload(message)
    refused = None
    if session.guard is not None:
        try:
            payload = session.guard.apply(payload)
        except GuardError as error:
            refused = error
    settings = session.settings
    info = lookup(env.paths, table, settings.model)
    estimate = estimate_tokens(payload["messages"])
    return {
        "url": f"{settings.base_url}/chat/completions",
        "headers": {
            "Authorization": f"Bearer {redact(settings.api_key)}",
            "Content-Type": "application/json",
            "Accept": "text/event-stream" if payload.get("stream") else "application/json",
        },
        "body": payload,
        "estimates": {
            "prompt_tokens": estimate,
            "context_length": info.context_length,
            "worst_case_cost": worst_case(estimate, payload.get("max_tokens"), info),
        },
        "refused": refused.line() if refused else None,
    }, refused
