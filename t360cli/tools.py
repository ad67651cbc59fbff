"""Tools from MCP servers: which are configured, what is offered to the model, and how
a call the model makes is approved, run, shown and answered.

A ``Toolbox`` holds the servers of one run. They start in the background (``start``) while
the request is prepared or the first message typed; ``ready`` waits for them. ``run``
takes the tool calls of one answer: each is shown (``show``) and approved (``-y``, the
server's ``auto_approve``, an earlier "always", or the user asked through ``approve``;
``toolview`` does both on the terminal), the approved ones run at once, and each call
gets a ``conversation.ToolRun``: its result is sent back, and it is the ``tool_runs`` item
of ``--json``.
Everything a server sends is untrusted: sizes are bounded and text is made safe before it
is shown.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from .conversation import CANCELLED, DECLINED, WITHHELD, ToolCall, ToolRun
from .environment import Environment
from .errors import ConfigError, UsageError
from .mcp import (
    HEADER_TEXT,
    VARIABLE,
    MCPError,
    Peer,
    Reach,
    Request,
    Server,
    Timeout,
    Tool,
    checked,
)
from .safety import sanitize

if TYPE_CHECKING:
    from .config import Settings
    from .secrets_guard import Check

#: The longest tool result sent to the model, in characters.
MAX_RESULT = 100_000
#: A tool result as shown: at most this many characters, on one line.
PREVIEW = 160
#: Tools offered to the model at most (OpenAI-compatible APIs refuse more).
MAX_TOOLS = 128
DEFAULT_TIMEOUT = 60.0
#: Seconds a server has to start, answer ``initialize`` and list its tools.
DEFAULT_START_TIMEOUT = 30.0
#: Seconds of waiting for servers to start after which the user is told what is awaited.
PATIENCE = 1.0
KEYS = (
    "command",
    "args",
    "env",
    "cwd",
    "url",
    "headers",
    "auto_approve",
    "timeout",
    "start_timeout",
)
#: The keys of a server run as a command (a server reached at a URL has none of them).
COMMAND_KEYS = ("command", "args", "env", "cwd")
#: Headers t360 sets itself, which a server's ``headers`` may not.
OWN_HEADERS = frozenset(
    {
        "accept",
        "accept-encoding",
        "connection",
        "content-length",
        "content-type",
        "host",
        "mcp-protocol-version",
        "mcp-session-id",
        "transfer-encoding",
        "user-agent",
    }
)
#: A header's name (an HTTP token).
HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
UNNAMED = "(unnamed tool)"

#: What the user decided about a call: run it; run it and, in this session, every call
#: of that tool; or not.
Decision = Literal["yes", "always", "no"]
#: Asks whether a call runs, given its line as shown and its arguments; None when there
#: turns out to be no one to ask.
Approve = Callable[[str, dict[str, Any]], Decision | None]
#: Shows one line about the tools: a call, its result, the servers awaited.
Show = Callable[[str], None]

#: A call's outcome: the text for the model, the error if the tool failed, and how many
#: characters were cut.
Result = tuple[str, str | None, int]


class ServerConfig(NamedTuple):
    """``[mcp_servers.NAME]`` of the config file, checked: a ``command`` to run, or a
    ``url`` to reach (``command`` is then empty)."""

    name: str
    command: str
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = {}
    cwd: str | None = None
    auto_approve: frozenset[str] = frozenset()
    timeout: float = DEFAULT_TIMEOUT
    start_timeout: float = DEFAULT_START_TIMEOUT
    #: Chosen through ``-T all`` (not by name): when it cannot start, the others go on.
    optional: bool = False
    url: str | None = None
    #: Sent with every request to ``url``; ``${VAR}`` in a value: from the environment.
    headers: Mapping[str, str] = {}


def configured(table: Mapping[str, object]) -> dict[str, ServerConfig]:
    """Every ``[mcp_servers.NAME]`` of the config file; ConfigError names a bad one."""
    servers = table.get("mcp_servers") or {}
    if not isinstance(servers, dict):
        raise ConfigError("[mcp_servers] in the config file must be a table")
    return {name: _checked(name, entry) for name, entry in servers.items()}


def _checked(name: str, entry: object) -> ServerConfig:
    where = f"[mcp_servers.{name}]"
    if not isinstance(entry, dict):
        raise ConfigError(f"{where} in the config file must be a table")
    unknown = sorted(set(entry) - set(KEYS))
    if unknown:
        raise ConfigError(
            f"{where} has unknown keys: {', '.join(unknown)}", f"a server takes {', '.join(KEYS)}"
        )

    def strings(key: str) -> list[str]:
        value = entry.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{where}: {key} must be a list of strings")
        return value

    def seconds(key: str, default: float) -> float:
        value = entry.get(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            raise ConfigError(f"{where}: {key} must be a number of seconds above 0")
        return float(min(value, 86_400))

    if ("command" in entry) == ("url" in entry):
        raise ConfigError(
            f"{where} needs either a command or a url"
            if "command" not in entry
            else f"{where} has both a command and a url",
            'e.g. command = "mcp-server-time", or url = "https://mcp.example.com/mcp"',
        )
    auto_approve = frozenset(strings("auto_approve"))
    timeout = seconds("timeout", DEFAULT_TIMEOUT)
    start_timeout = seconds("start_timeout", DEFAULT_START_TIMEOUT)
    if "url" in entry:
        wrong = [key for key in COMMAND_KEYS if key in entry]
        if wrong:
            raise ConfigError(f"{where}: {', '.join(wrong)} go with a command, not a url")
        return ServerConfig(
            name,
            "",
            auto_approve=auto_approve,
            timeout=timeout,
            start_timeout=start_timeout,
            url=_url(where, entry["url"]),
            headers=_headers(where, entry.get("headers", {})),
        )
    if "headers" in entry:
        raise ConfigError(f"{where}: headers go with a url, not a command")
    command = entry.get("command")
    if not isinstance(command, str) or not command.strip():
        raise ConfigError(f"{where}: command must name a program", 'e.g. "mcp-server-time"')
    variables = entry.get("env", {})
    if not isinstance(variables, dict) or not all(isinstance(v, str) for v in variables.values()):
        raise ConfigError(f"{where}: env must be a table of strings")
    for variable in variables:
        if not variable or "=" in variable:
            raise ConfigError(f"{where}: env has a bad variable name {variable!r}")
    cwd = entry.get("cwd")
    if cwd is not None and not (isinstance(cwd, str) and cwd):
        raise ConfigError(f"{where}: cwd must be a folder's path")
    args = strings("args")
    # a process can be given no NUL: its command, arguments and environment are C strings
    for key, texts in (
        ("command", [command]),
        ("args", args),
        ("env", [*variables, *variables.values()]),
        ("cwd", [cwd or ""]),
    ):
        if any("\0" in text for text in texts):
            raise ConfigError(f"{where}: {key} holds a NUL character")
    return ServerConfig(
        name,
        _home(command),
        tuple(args),
        dict(variables),
        _home(cwd) if cwd else None,
        auto_approve,
        timeout,
        start_timeout,
    )


def _url(where: str, url: object) -> str:
    """A server's ``url``, checked: http or https, a host, nothing that cannot be sent."""
    from urllib.parse import urlsplit

    hint = 'e.g. url = "https://mcp.example.com/mcp"'
    if not isinstance(url, str) or any(ch.isspace() or not ch.isprintable() for ch in url):
        raise ConfigError(f"{where}: url must be a URL, without spaces or control characters", hint)
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as exc:
        raise ConfigError(f"{where}: url is not a valid URL ({exc})", hint) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{where}: url must start with http:// or https:// and name a host", hint)
    if "@" in parts.netloc:
        raise ConfigError(
            f"{where}: url must not hold user:password@",
            'give credentials in headers, e.g. headers = { Authorization = "Bearer ${TOKEN}" }',
        )
    return url


def _headers(where: str, headers: object) -> dict[str, str]:
    """A server's ``headers``, checked: names HTTP allows and t360 does not set itself,
    values of printable ASCII where ``${`` only begins a variable's name."""
    if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
        raise ConfigError(f"{where}: headers must be a table of strings")
    for name, value in headers.items():
        if not HEADER_NAME.fullmatch(name):
            raise ConfigError(f"{where}: headers has a bad header name {name[:60]!r}")
        if name.lower() in OWN_HEADERS:
            raise ConfigError(f"{where}: headers may not set {name}, which t360 sets itself")
        if not HEADER_TEXT.fullmatch(value) or "${" in VARIABLE.sub("", value):
            raise ConfigError(  # the value is not shown: it may be a token
                f"{where}: the value of headers.{name} must be printable ASCII, where ${{"
                " begins a variable, as in ${TOKEN}"
            )
    return dict(headers)


def _home(path: str) -> str:
    """``~`` expanded; anything else exactly as written (``./server`` stays relative)."""
    return str(Path(path).expanduser()) if path.startswith("~") else path


def choose(table: Mapping[str, object], names: Sequence[str]) -> list[ServerConfig]:
    """The servers ``-T`` names (``all``: every one, each ``optional`` unless also named),
    in order, each once."""
    servers = configured(table)
    chosen: dict[str, ServerConfig] = {}
    for name in names:
        if name == "all":
            if not servers:
                raise UsageError(
                    "-T all: no MCP servers are configured", "add [mcp_servers.NAME] (see README)"
                )
            for each, config in servers.items():
                chosen.setdefault(each, config._replace(optional=True))
        elif name in servers:
            chosen[name] = servers[name]
        else:
            known = ", ".join(sorted(servers)) or "none (add [mcp_servers.NAME])"
            raise UsageError(f"no MCP server {name!r} in the config file", f"known: {known}")
    return list(chosen.values())


class Toolbox:
    """The MCP servers of one run (a one-shot or a REPL session) and their tools; those
    reached at a URL go through the proxy and TLS trust of ``settings``, as the gateway."""

    def __init__(
        self,
        env: Environment,
        servers: Sequence[ServerConfig],
        *,
        settings: Settings,
        yes: bool,
        quiet: bool,
        approve: Approve | None,
        show: Show,
        debug: Callable[[str], None] | None = None,
    ) -> None:
        self.env = env
        self.yes = yes
        self.quiet = quiet  # -q: only the calls asked about are shown
        #: How a call is asked about; None: there is no one to ask (it is declined).
        self.approve = approve
        self.show = show
        self.debug = debug  # --debug: each server's messages, one line each
        self.reach = Reach(settings.proxy, settings.ca_bundle, settings.connect_timeout, env.vars)
        self.configs: dict[str, ServerConfig] = {c.name: c for c in servers}
        #: Every server launched, started or still starting (``close`` stops them all).
        self._servers: dict[str, Peer] = {}
        self._tools: dict[str, list[Tool]] = {}  # of those that started
        self._failed: dict[str, str] = {}
        self._threads: dict[str, threading.Thread] = {}
        self._lock = threading.Lock()
        #: (server, tool) pairs the user said "always" to in this session.
        self.always: set[tuple[str, str]] = set()
        #: The function names offered to the model, each with its server and tool.
        self.offered: dict[str, tuple[str, Tool]] = {}

    # -- servers -----------------------------------------------------------------------------

    def start(self) -> None:
        """Start every server not yet started, each in a thread of its own."""
        for name, config in self.configs.items():
            if name in self._threads:
                continue
            server: Peer
            if config.url is not None:
                from .mcp_http import RemoteServer  # httpx loads only for a URL

                server = RemoteServer(
                    config.name,
                    config.url,
                    config.headers,
                    environ=server_environment(self.env, config),  # for ${VAR}
                    reach=self.reach,
                    timeout=config.timeout,
                    start_timeout=config.start_timeout,
                    log=log_path(self.env, config.name),
                    debug=self.debug,
                )
            else:
                server = Server(
                    config.name,
                    [config.command, *config.args],
                    environ=server_environment(self.env, config),
                    cwd=config.cwd,
                    log=log_path(self.env, config.name),
                    debug=self.debug,
                )
            self._servers[name] = server
            thread = threading.Thread(
                target=self._launch, args=(server, config), name=f"t360-start-{name}", daemon=True
            )
            self._threads[name] = thread
            thread.start()

    def _launch(self, server: Peer, config: ServerConfig) -> None:
        deadline = time.monotonic() + config.start_timeout
        try:
            server.start(config.start_timeout)
            tools = server.tools(deadline - time.monotonic())
        except MCPError as exc:
            server.close()
            why = str(exc)
            if isinstance(exc, Timeout):
                why = f"it did not start within {config.start_timeout:g} s (its start_timeout)"
            with self._lock:
                self._failed[config.name] = why
            return
        with self._lock:
            self._tools[config.name] = tools

    def wait(self) -> dict[str, str]:
        """Wait for the servers to start (after PATIENCE seconds, saying once which are
        awaited, unless quiet); the errors of those that could not, in config order."""
        self._join(list(self._threads))
        with self._lock:
            return {name: self._failed[name] for name in self.configs if name in self._failed}

    def _join(self, names: Sequence[str]) -> None:
        """Wait for these servers' start-up threads, saying once which are awaited when
        that takes over PATIENCE seconds (unless quiet)."""
        threads = [(name, self._threads[name]) for name in names]
        patience = time.monotonic() + PATIENCE
        for _, thread in threads:
            thread.join(max(0.0, patience - time.monotonic()))
        slow = [name for name, thread in threads if thread.is_alive()]
        if slow:
            self._show(f"waiting for MCP server{'s' * (len(slow) > 1)} {', '.join(slow)}…")
        for _, thread in threads:
            thread.join()

    def drop_failed(self) -> dict[str, str]:
        """Wait for the servers; those that could not start, with why, no longer in use
        (a REPL session goes on without them)."""
        failed = self.wait()
        for name in failed:
            self.remove(name)
        return failed

    def ready(self) -> None:
        """Wait for the servers. One that could not start is a ConfigError, unless it is
        ``optional`` (``-T all``) and another started: then it is named on stderr and the
        others are offered. Every one that failed is named."""
        optional = {name for name, config in self.configs.items() if config.optional}
        failed = self.drop_failed()
        fatal = [name for name in failed if name not in optional or not self.configs]
        for name, why in failed.items():
            if name not in fatal[:1]:
                error = server_error(self.env, name, why)
                going = f"{error.message}; going on without it ({error.hint})"
                self.env.warn(error.line() if fatal else going)
        if fatal:
            raise server_error(self.env, fatal[0], failed[fatal[0]])
        self._offer()

    def tools(self) -> dict[str, list[Tool]]:
        """Each started server's tools, in the order the servers were configured."""
        with self._lock:
            return {name: self._tools[name] for name in self.configs if name in self._tools}

    def add(self, config: ServerConfig) -> None:
        """Start one more server (the REPL's ``/tools add``); ConfigError if it cannot."""
        if config.name in self.configs:
            return  # in use already
        self.configs[config.name] = config
        self.start()
        self._join([config.name])
        with self._lock:
            why = self._failed.get(config.name)
        if why is not None:
            self.remove(config.name)
            raise server_error(self.env, config.name, why)
        self._offer()

    def remove(self, name: str) -> bool:
        """Stop a server and stop offering its tools; False if it was not in use."""
        config = self.configs.pop(name, None)
        server = self._servers.pop(name, None)
        if server is not None:
            server.close()
        thread = self._threads.pop(name, None)
        if thread is not None:
            thread.join()
        with self._lock:
            self._tools.pop(name, None)
            self._failed.pop(name, None)
        self._offer()
        return config is not None

    def close(self) -> None:
        """Stop every server, started or still starting (at exit, on Ctrl-C, on errors):
        none is left behind. They are stopped side by side."""
        servers, self._servers = list(self._servers.values()), {}
        closers = [threading.Thread(target=server.close, daemon=True) for server in servers]
        for closer in closers:
            closer.start()
        for closer in [*closers, *self._threads.values()]:
            closer.join()
        self._threads = {}
        with self._lock:
            self._tools = {}
        self.offered = {}

    # -- what the model is offered -------------------------------------------------------------

    def _offer(self) -> None:
        offered: dict[str, tuple[str, Tool]] = {}
        for name, tools in self.tools().items():
            for tool in tools:
                offered[function_name(name, tool.name, offered)] = (name, tool)
        if len(offered) > MAX_TOOLS:
            self.env.warn(f"{len(offered)} tools: only the first {MAX_TOOLS} are offered")
            offered = dict(list(offered.items())[:MAX_TOOLS])
        self.offered = offered

    def offers(self) -> list[dict[str, Any]]:
        """The request's ``tools`` field."""
        return [
            {
                "type": "function",
                "function": {
                    "name": function,
                    "description": tool.description[:4096],
                    "parameters": tool.schema,
                },
            }
            for function, (_, tool) in self.offered.items()
        ]

    # -- calls --------------------------------------------------------------------------------

    def run(
        self, calls: Sequence[ToolCall], secrets: Check | None = None
    ) -> tuple[list[ToolRun], KeyboardInterrupt | None]:
        """Approve and run the tool calls of one answer; their runs in call order, and
        the Ctrl-C (or SIGTERM) that stopped them, if one did: the calls not done then
        are cancelled, and say so. Each result goes through the ``secrets`` guard before
        it is shown, sent or saved (see ``screened``)."""
        from .terminal import Spinner

        spinner = Spinner(self.env, show=not self.quiet)  # on a terminal, after 0.25 s
        runs: list[ToolRun | None] = [None] * len(calls)
        under_way: dict[int, tuple[str, str, Request[Result], float]] = {}  # server, tool, …
        stop: KeyboardInterrupt | None = None
        try:
            for index, call in enumerate(calls):  # each shown and decided, in order
                decided = self._decide(call)
                if isinstance(decided, ToolRun):
                    runs[index] = decided
                    continue
                server, tool, arguments = decided
                started = time.perf_counter()
                try:
                    request = self._servers[server].call(tool, arguments, result_text)
                except MCPError as exc:  # it went away since it started
                    runs[index] = failed = _run(
                        call, server, approved=True, error=str(exc), since=started
                    )
                    self._show_result(failed)
                    continue
                under_way[index] = (server, tool, request, started)
            for index, (server, tool, request, started) in under_way.items():  # all at once
                left = started + self.configs[server].timeout - time.perf_counter()
                spinner.start(sanitize(f"running {server}/{tool}"))
                try:
                    output, error, cut = request.result(left)
                except Timeout:
                    output, error, cut = (
                        None,
                        f"no answer within {self.configs[server].timeout:g} s",
                        0,
                    )
                except MCPError as exc:
                    output, error, cut = None, str(exc), 0
                finally:
                    spinner.stop()
                ran = _run(
                    calls[index], server, approved=True, output=output, error=error, since=started
                )
                runs[index] = ran = screened(ran, f"{server}/{tool}", secrets)
                self._show_result(ran)
                if cut:
                    self.env.warn(
                        f"the result of {ran.name} was cut to {MAX_RESULT:,} characters"
                        f" ({cut:,} left out)"
                    )
        except KeyboardInterrupt as interrupt:
            stop = interrupt
            for index, (_, _, request, _) in under_way.items():
                if runs[index] is None:
                    request.cancel("interrupted by the user")
        done: list[ToolRun] = []
        for index, call in enumerate(calls):
            found = runs[index]
            if found is None:
                where = under_way[index][0] if index in under_way else None
                found = _run(call, where, approved=index in under_way, error=CANCELLED)
            done.append(found)
        return done, stop

    def _decide(self, call: ToolCall) -> ToolRun | tuple[str, str, dict[str, Any]]:
        """Show the call and decide: (server, tool, arguments) to run it, or its ToolRun
        when it will not run (unknown tool, bad arguments, declined)."""
        function = call.name
        found = self.offered.get(function)
        arguments = _arguments(call)
        label = f"{found[0]}/{found[1].name}" if found else function or UNNAMED
        allowed = found is not None and (
            self.yes
            or found[1].name in self.configs[found[0]].auto_approve
            or (found[0], found[1].name) in self.always
        )
        asking = not allowed and self.approve is not None and isinstance(arguments, dict)
        line = f"tool {label} {_compact(arguments)}"
        self._show(line, always=asking)  # with -q too: what is asked about
        if found is None:
            why = f"no tool named {function!r}" if function else "the call names no tool"
            return _run(call, None, approved=False, error=why)
        server, tool = found
        if not isinstance(arguments, dict):
            return _run(call, server, approved=False, error="the arguments are not a JSON object")
        if allowed:
            return server, tool.name, arguments
        decision = self.approve(line, arguments) if self.approve is not None else None
        if decision == "always":
            self.always.add((server, tool.name))
        if decision in ("yes", "always"):
            return server, tool.name, arguments
        if decision is None:
            self.env.warn(
                f"declined {label}: no terminal to ask; pass -y, or add {tool.name!r} to"
                f" auto_approve in [mcp_servers.{server}]"
            )
        return _run(call, server, approved=False, error=DECLINED)

    def _show(self, line: str, *, always: bool = False) -> None:
        """A line about the tools (not with -q, unless ``always``)."""
        if always or not self.quiet:
            self.show(line)

    def _show_result(self, run: ToolRun) -> None:
        if run.error is not None:
            self._show(f"  ↳ error: {' '.join(run.error.split())}")
            return
        text = " ".join((run.output or "").split())
        more = "…" if len(text) > PREVIEW else ""
        self._show(f"  ↳ {text[:PREVIEW]}{more}")


def screened(run: ToolRun, label: str, secrets: Check | None) -> ToolRun:
    """``run`` as its result may be shown, sent and saved: through the secrets guard
    (source ``tool SERVER/NAME``), redacted under ``redact``, said under ``warn``; under
    ``refuse`` a result holding a secret is withheld, the model and the user told which
    kinds of secret it held (never the secret), and the answer goes on."""
    if secrets is None:
        return run
    from .secrets_guard import Refused

    source = f"tool {label}"
    try:
        return run._replace(
            output=None if run.output is None else secrets.text(source, run.output),
            error=None if run.error is None else secrets.text(source, run.error),
        )
    except Refused as refused:
        kinds = sorted({finding.kind for finding in refused.findings})
        held = f"it held a secret ({', '.join(kinds)})"
        secrets.warn(
            f"the result of {label} was withheld from the model: {held}; to send such results,"
            " pass --allow-secrets, or redact them: t360 config set secrets redact"
        )
        return run._replace(output=None, error=f"{WITHHELD}: {held}")


def _run(
    call: ToolCall,
    server: str | None,
    *,
    approved: bool,
    output: str | None = None,
    error: str | None = None,
    since: float | None = None,
) -> ToolRun:
    return ToolRun(
        call.id,
        call.name,
        server,
        _arguments(call),
        output,
        error,
        approved,
        None if since is None else _since(since),
    )


def _since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


def _arguments(call: ToolCall) -> object:
    text = call.arguments or "{}"
    try:
        return checked(json.loads(text))
    except (ValueError, RecursionError):  # not JSON, or nested too deep for t360
        return text


def _compact(arguments: object) -> str:
    if isinstance(arguments, str):
        return arguments
    return json.dumps(arguments, ensure_ascii=False, separators=(",", ":"))


def result_text(result: dict[str, Any]) -> Result:
    """A ``tools/call`` result as text for the model, the error if the tool failed, and
    how many characters were cut: text parts joined, structured content as JSON when
    there is no text, images and resources as a short placeholder; at most MAX_RESULT
    characters, the cut said in the text. The reader of the server's answers makes it as
    it reads each one, so that a big result is never kept whole."""
    parts: list[str] = []
    content = result.get("content")
    for item in content if isinstance(content, list) else []:
        if not isinstance(item, dict):
            continue
        kind = item.get("type")
        if kind == "text" and isinstance(item.get("text"), str):
            parts.append(item["text"])
        elif kind in ("image", "audio"):
            data = str(item.get("data") or "")
            size = len(data) * 3 // 4 - len(data) + len(data.rstrip("="))
            parts.append(f"[{kind} {str(item.get('mimeType') or '')[:60]}, {size:,} bytes]")
        elif kind == "resource":
            inner = item.get("resource")
            uri = inner.get("uri") if isinstance(inner, dict) else None
            parts.append(f"[resource {str(uri or '')[:200]}]")
        elif kind == "resource_link":
            parts.append(f"[resource link {str(item.get('uri') or '')[:200]}]")
    structured = result.get("structuredContent")
    if not any(item for item in parts if not item.startswith("[")) and structured is not None:
        parts.append(json.dumps(structured, ensure_ascii=False))
    text = "\n".join(parts)
    cut = max(0, len(text) - MAX_RESULT)
    if cut:
        text = f"{text[:MAX_RESULT]}\n[{cut:,} more characters were left out by t360]"
    if result.get("isError") is True:
        return "", text or "the tool failed", cut
    return text, None, cut


def function_name(server: str, tool: str, taken: Mapping[str, object]) -> str:
    """The name a tool is offered under: the characters the API accepts, at most 64,
    the server's name in front when two servers offer a tool of the same name."""
    name = re.sub(r"[^A-Za-z0-9_-]", "_", tool)[:64] or "tool"
    if name in taken:
        name = re.sub(r"[^A-Za-z0-9_-]", "_", f"{server}_{tool}")[:64]
    base, number = name[:60], 2
    while name in taken:
        name, number = f"{base}_{number}", number + 1
    return name


def server_environment(env: Environment, config: ServerConfig) -> dict[str, str]:
    """The user's environment for a server (a URL's: for its headers' ``${VAR}``): no
    ``T360_*`` variable and no secret t360 knows (the API key), plus the server's
    ``env``."""
    secrets = env.secrets
    kept = {
        name: value
        for name, value in env.vars.items()
        if not name.startswith("T360_") and value not in secrets
    }
    return {**kept, **config.env}


def log_path(env: Environment, name: str) -> Path:
    """Where a server's stderr (a URL's: what went wrong over HTTP) goes: ``mcp/NAME.log``
    in the state directory."""
    return env.paths.state_dir / "mcp" / (re.sub(r"[^A-Za-z0-9_.-]", "_", name) + ".log")


def server_error(env: Environment, name: str, why: str) -> ConfigError:
    return ConfigError(
        f"MCP server {name!r} cannot start: {env.shown(why)}",
        f"check [mcp_servers.{name}] in the config file, or its log {log_path(env, name)}",
    )
