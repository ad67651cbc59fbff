"""Saved conversations and per-response metrics, in SQLite in the platform data directory.

Writes happen in transactions; the database runs in WAL mode with a busy timeout, so two
t360 processes can write at once. The schema version lives in ``PRAGMA user_version``
and ``MIGRATIONS`` brings any older database up to date when it is opened.

Turns are written here by ``session.TurnJournal`` while they stream. Every public method
goes through one seam (``_translated``): sqlite3 errors on any read or write leave this
module as ConfigError (exit 3) naming the file, so a failing database costs a warning
during an answer and one clear line elsewhere, never a traceback.

Each response keeps the model id that was asked for (``model``) and the one the gateway
says answered (``served_model``): alias-resolving gateways make them differ.
"""

from __future__ import annotations

import contextlib
import functools
import json
import re
import secrets
import sqlite3
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, NamedTuple, TypeVar

from .attachments import KINDS, Attachment
from .conversation import (
    Answer,
    Exchange,
    Metrics,
    ToolCall,
    ToolResult,
    ToolRound,
    ToolRun,
)
from .errors import APIError, ConfigError, UsageError
from .safety import dumps
from .stats import Turn, milliseconds

MIGRATIONS: list[str] = [
    """
    CREATE TABLE conversations (
        id TEXT PRIMARY KEY,
        title TEXT NOT NULL,
        model TEXT NOT NULL,
        system TEXT,
        kind TEXT NOT NULL DEFAULT 'chat',
        created REAL NOT NULL,
        updated REAL NOT NULL
    );
    CREATE TABLE messages (
        id INTEGER PRIMARY KEY,
        conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
        role TEXT NOT NULL,
        content TEXT NOT NULL,
        reasoning TEXT,
        tool_calls TEXT,
        created REAL NOT NULL
    );
    CREATE INDEX messages_by_conversation ON messages(conversation_id, id);
    CREATE TABLE responses (
        message_id INTEGER PRIMARY KEY REFERENCES messages(id) ON DELETE CASCADE,
        conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
        model TEXT NOT NULL,
        provider TEXT,
        ttft_ms REAL,
        latency_ms REAL,
        prompt_tokens INTEGER,
        completion_tokens INTEGER,
        total_tokens INTEGER,
        cost REAL,
        finish_reason TEXT,
        error TEXT,
        partial INTEGER NOT NULL DEFAULT 1,
        usage TEXT,
        created REAL NOT NULL
    );
    CREATE INDEX responses_by_time ON responses(created);
    """,
    # 2: the conversation's kind on each response, and covering indexes, so that
    # `t360 stats` finds percentiles by walking an index instead of sorting every row.
    """
    ALTER TABLE responses ADD COLUMN kind TEXT NOT NULL DEFAULT 'chat';
    UPDATE responses SET kind = (
        SELECT c.kind FROM conversations c WHERE c.id = responses.conversation_id
    );
    CREATE INDEX responses_model_ttft ON responses(kind, model, ttft_ms, created, provider);
    CREATE INDEX responses_model_latency
        ON responses(kind, model, latency_ms, created, provider);
    CREATE INDEX responses_provider_ttft ON responses(kind, provider, ttft_ms, created, model);
    CREATE INDEX responses_provider_latency
        ON responses(kind, provider, latency_ms, created, model);
    """,
    # 3: the served model id beside the requested one (before, only the served one was
    # kept, in `model`, so old rows have both the same).
    """
    ALTER TABLE responses ADD COLUMN served_model TEXT;
    UPDATE responses SET served_model = model;
    """,
    # 4: the shell command `t360 cmd` ran from an answer, and its exit status.
    """
    ALTER TABLE responses ADD COLUMN ran TEXT;
    ALTER TABLE responses ADD COLUMN ran_status INTEGER;
    """,
    # 5: attachments of user messages; their bytes are files named by sha256 beside the
    # database (stored once, whatever number of messages send them).
    """
    CREATE TABLE attachments (
        message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        kind TEXT NOT NULL,
        name TEXT NOT NULL,
        mime TEXT,
        size INTEGER NOT NULL,
        sha256 TEXT,
        PRIMARY KEY (message_id, position)
    );
    CREATE INDEX attachments_by_sha ON attachments(sha256);
    """,
    # 6: tool results (role 'tool') answer a call by its id; what ran, where, whether
    # approved and how long it took, as the ``tool_runs`` item of --json. An answer that
    # took several requests keeps the time spent generating (tools' time left out).
    """
    ALTER TABLE messages ADD COLUMN tool_call_id TEXT;
    ALTER TABLE messages ADD COLUMN tool_run TEXT;
    ALTER TABLE responses ADD COLUMN generation_ms REAL;
    """,
    # 7: a request that failed before any answer text is no turn of a conversation: its
    # row has no message (and no conversation when it would have begun one), so its
    # error still counts. Times as the user lived them (ttft_ms and latency_ms from the
    # first attempt, retries and their waits inside) beside the gateway's (attempt_*,
    # from the attempt that answered); the retries, and a failure's HTTP status. Rows
    # before this were timed per attempt, with their retries unknown: both the same. A
    # row whose message or conversation is gone (written without foreign keys) keeps
    # its metrics, with no reference.
    """
    CREATE TABLE responses_7 (
        id INTEGER PRIMARY KEY,
        message_id INTEGER UNIQUE REFERENCES messages(id) ON DELETE CASCADE,
        conversation_id TEXT REFERENCES conversations(id) ON DELETE CASCADE,
        model TEXT NOT NULL,
        provider TEXT,
        ttft_ms REAL,
        latency_ms REAL,
        prompt_tokens INTEGER,
        completion_tokens INTEGER,
        total_tokens INTEGER,
        cost REAL,
        finish_reason TEXT,
        error TEXT,
        partial INTEGER NOT NULL DEFAULT 1,
        usage TEXT,
        created REAL NOT NULL,
        kind TEXT NOT NULL DEFAULT 'chat',
        served_model TEXT,
        ran TEXT,
        ran_status INTEGER,
        generation_ms REAL,
        attempt_ttft_ms REAL,
        attempt_latency_ms REAL,
        retries INTEGER,
        status INTEGER
    );
    INSERT INTO responses_7 (
        message_id, conversation_id, model, provider, ttft_ms, latency_ms, prompt_tokens,
        completion_tokens, total_tokens, cost, finish_reason, error, partial, usage, created,
        kind, served_model, ran, ran_status, generation_ms, attempt_ttft_ms, attempt_latency_ms
    ) SELECT
        (SELECT m.id FROM messages m WHERE m.id = r.message_id),
        (SELECT c.id FROM conversations c WHERE c.id = r.conversation_id),
        model, provider, ttft_ms, latency_ms, prompt_tokens,
        completion_tokens, total_tokens, cost, finish_reason, error, partial, usage, created,
        kind, served_model, ran, ran_status, generation_ms, ttft_ms, latency_ms
    FROM responses r ORDER BY r.message_id;
    DROP TABLE responses;
    ALTER TABLE responses_7 RENAME TO responses;
    CREATE INDEX responses_by_time ON responses(created);
    CREATE INDEX responses_model_ttft ON responses(kind, model, ttft_ms, created, provider);
    CREATE INDEX responses_model_latency
        ON responses(kind, model, latency_ms, created, provider);
    CREATE INDEX responses_provider_ttft ON responses(kind, provider, ttft_ms, created, model);
    CREATE INDEX responses_provider_latency
        ON responses(kind, provider, latency_ms, created, model);
    CREATE INDEX responses_model_attempt_ttft
        ON responses(kind, model, attempt_ttft_ms, created, provider);
    CREATE INDEX responses_model_attempt_latency
        ON responses(kind, model, attempt_latency_ms, created, provider);
    CREATE INDEX responses_provider_attempt_ttft
        ON responses(kind, provider, attempt_ttft_ms, created, model);
    CREATE INDEX responses_provider_attempt_latency
        ON responses(kind, provider, attempt_latency_ms, created, model);
    """,
    # 8: the comparison an answer was part of (t360 compare, the REPL's /compare): the
    # answers to one prompt sent to several models at once share its id, each in a
    # conversation of its own (or none, for a request that failed before any text).
    """
    ALTER TABLE responses ADD COLUMN comparison TEXT;
    CREATE INDEX responses_by_comparison ON responses(comparison) WHERE comparison IS NOT NULL;
    """,
    # 9: what the user typed, when a role's template or -f texts shaped the message sent
    # (None: the message is what was typed), and that role's name. An answer's tool calls
    # are saved only with their results, so a saved conversation is always one the API
    # accepts: calls saved before with no result after them (an interruption, the round
    # limit) are left out here, once, instead of each time the conversation is read.
    """
    ALTER TABLE messages ADD COLUMN typed TEXT;
    ALTER TABLE messages ADD COLUMN role_name TEXT;
    UPDATE messages SET tool_calls = (
        SELECT CASE count(*) WHEN 0 THEN NULL ELSE json_group_array(json(c.value)) END
        FROM json_each(messages.tool_calls) c
        WHERE EXISTS (
            SELECT 1 FROM messages t
            WHERE t.conversation_id = messages.conversation_id AND t.role = 'tool'
                AND t.id > messages.id AND t.tool_call_id = json_extract(c.value, '$.id')
                AND NOT EXISTS (
                    SELECT 1 FROM messages b
                    WHERE b.conversation_id = messages.conversation_id
                        AND b.id > messages.id AND b.id < t.id AND b.role != 'tool'
                )
        )
    ) WHERE tool_calls IS NOT NULL AND json_valid(tool_calls);
    """,
]

#: Conversations with their number of turns (user messages).
_WITH_TURNS = (
    "SELECT c.*, (SELECT count(*) FROM messages m WHERE m.conversation_id = c.id"
    " AND m.role = 'user') AS turns FROM conversations c"
)

ID_BYTES = 4  # 8 hex digits: short enough to type, unique prefixes accepted
#: The only names a stored attachment's bytes have: their sha256, in the store's folder.
_SHA256 = re.compile(r"[0-9a-f]{64}")
_STORED_KINDS = frozenset(KINDS.values())
TITLE_LENGTH = 60


_C = TypeVar("_C", bound=type)

_MEND = "move the file aside to start a new history (t360 recreates it)"


def _translated(cls: _C) -> _C:
    """Wrap every public method of ``cls``: the one seam where sqlite3 errors (locked,
    full, corrupt) become ConfigError, naming the database and what to do."""

    def wrap(method: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(method)
        def wrapper(self: History, *args: Any, **kwargs: Any) -> Any:
            try:
                return method(self, *args, **kwargs)
            except sqlite3.Error as exc:
                hint = _MEND if isinstance(exc, sqlite3.DatabaseError) else "check the disk"
                if isinstance(exc, sqlite3.OperationalError):
                    hint = "check the disk, or try again (another t360 may hold a lock)"
                raise ConfigError(f"the history database {self.path} failed: {exc}", hint) from None

        return wrapper

    for name, member in list(vars(cls).items()):
        if not name.startswith("_") and callable(member):
            setattr(cls, name, wrap(member))
    return cls


@dataclass(frozen=True)
class Conversation:
    id: str
    title: str
    model: str
    system: str | None
    created: float
    updated: float
    turns: int


class Message(NamedTuple):
    """A message as saved: an answer's with the metrics of its answer, when it carries
    them (the last message of the answer does)."""

    id: int
    role: str
    content: str
    reasoning: str | None
    created: float
    partial: bool = False
    #: What was attached to a user message (their bytes are loaded only to send them).
    attached: tuple[Attachment, ...] = ()
    #: The tools an assistant message called; the call a ``tool`` message answers, and
    #: how that call ran.
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    tool_run: ToolRun | None = None
    #: For a user message shaped by a role or -f texts: what was typed, and the role.
    typed: str | None = None
    role_name: str | None = None
    provider: str | None = None
    metrics: Metrics | None = None

    @property
    def error(self) -> str | None:
        return None if self.metrics is None else self.metrics.error


def _title(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= TITLE_LENGTH else flat[: TITLE_LENGTH - 1] + "…"


@_translated
class History:
    """The history database. Open with ``History.open(path)``; use as a context manager.
    Opened with a ``comparison`` id, the answers it saves are tagged with it."""

    def __init__(
        self, connection: sqlite3.Connection, path: Path, comparison: str | None = None
    ) -> None:
        self._db = connection
        self.path = path
        self.comparison = comparison

    @classmethod
    def open(cls, path: Path, *, comparison: str | None = None) -> History:
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            db = sqlite3.connect(path, timeout=10, isolation_level=None)
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA foreign_keys=ON")
            _migrate(db)
        except sqlite3.Error as exc:
            raise ConfigError(f"cannot open the history database {path}: {exc}", _MEND) from None
        except OSError as exc:
            raise ConfigError(
                f"cannot create the history directory {path.parent}: {exc.strerror or exc}"
            ) from None
        return cls(db, path, comparison)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> History:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)

    def query(self, sql: str, parameters: Sequence[Any] = ()) -> list[sqlite3.Row]:
        """Rows of a read-only query (``analytics`` builds its SQL, it runs here)."""
        return self._db.execute(sql, parameters).fetchall()

    # -- conversations -----------------------------------------------------------------

    def create(self, model: str, system: str | None, title: str, kind: str = "chat") -> str:
        now = time.time()
        with self._transaction():
            while True:
                conversation_id = secrets.token_hex(ID_BYTES)
                try:
                    self._db.execute(
                        "INSERT INTO conversations (id, title, model, system, kind, created,"
                        " updated) VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (conversation_id, _title(title), model, system, kind, now, now),
                    )
                    return conversation_id
                except sqlite3.IntegrityError:
                    continue

    def resolve(self, prefix: str) -> str:
        """The full id for a unique prefix of one."""
        prefix = prefix.strip().lower()
        if not prefix or not all(c in "0123456789abcdef" for c in prefix):
            raise UsageError(f"{prefix!r} is not a conversation id", "see t360 history list")
        rows = self._db.execute(
            "SELECT id FROM conversations WHERE id LIKE ? || '%' LIMIT 2", (prefix,)
        ).fetchall()
        if not rows:
            raise UsageError(f"no conversation {prefix!r}", "see t360 history list")
        if len(rows) > 1:
            raise UsageError(f"{prefix!r} matches several conversations", "type more of the id")
        return str(rows[0]["id"])

    def latest(self) -> str | None:
        row = self._db.execute(
            "SELECT id FROM conversations WHERE kind = 'chat' ORDER BY updated DESC LIMIT 1"
        ).fetchone()
        return None if row is None else str(row["id"])

    def get(self, conversation_id: str) -> Conversation:
        """A conversation this database has just named (by resolve, latest or a
        comparison): if it then cannot be read, its index and its rows disagree."""
        row = self._db.execute(
            f"{_WITH_TURNS} WHERE c.id = ?",
            (conversation_id,),
        ).fetchone()
        if row is None:
            raise ConfigError(
                f"the history database {self.path} lists conversation {conversation_id!r}"
                " but cannot read it",
                "if no other t360 just deleted it, " + _MEND,
            )
        return _conversation(row)

    def recent(self, limit: int = 20, model: str | None = None) -> list[Conversation]:
        """The latest conversations; with ``model``, those it answered in (or that use it)."""
        rows = self._db.execute(
            f"{_WITH_TURNS} WHERE c.kind IN ('chat', 'cmd') AND (? IS NULL OR c.model = ?"
            " OR c.id IN (SELECT conversation_id FROM responses WHERE model = ?))"
            " ORDER BY c.updated DESC LIMIT ?",
            (model, model, model, limit),
        ).fetchall()
        return [_conversation(row) for row in rows]

    def rename(self, conversation_id: str, title: str) -> str:
        """Give the conversation this title (on one line, cut as titles are); the title."""
        title = _title(title)
        with self._transaction():
            self._db.execute(
                "UPDATE conversations SET title = ? WHERE id = ?", (title, conversation_id)
            )
        return title

    def search(self, text: str, limit: int = 50) -> list[tuple[Conversation, Message]]:
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        rows = self._db.execute(
            "SELECT m.id AS message_id, m.role, m.content, m.reasoning, m.created AS m_created,"
            " c.*, 0 AS turns FROM messages m JOIN conversations c ON c.id = m.conversation_id"
            " WHERE m.content LIKE ? ESCAPE '\\' AND m.role != 'system'"
            " ORDER BY m.id DESC LIMIT ?",
            (pattern, limit),
        ).fetchall()
        return [
            (
                _conversation(row),
                Message(
                    row["message_id"],
                    row["role"],
                    row["content"],
                    row["reasoning"],
                    row["m_created"],
                ),
            )
            for row in rows
        ]

    def models(self) -> list[str]:
        """Model ids used before, most recent first (for completion)."""
        rows = self._db.execute(
            "SELECT model FROM responses GROUP BY model ORDER BY max(created) DESC LIMIT 50"
        ).fetchall()
        return [str(row["model"]) for row in rows]

    def delete(self, conversation_id: str) -> int:
        """The conversation, its messages, and the attachments nothing else uses.

        The unused ones are found and unlinked inside the transaction that deletes the
        rows: it holds the write lock, so no other run can add a reference in between
        (one that adds a reference stores the bytes under that lock too, see
        ``begin_turn``). A reference that is not a sha256 is never followed: the number
        of such damaged references that went with the conversation is returned.
        """
        damaged = 0
        with self._transaction():
            digests = [
                row[0]
                for row in self._db.execute(
                    "SELECT DISTINCT a.sha256 FROM attachments a JOIN messages m"
                    " ON m.id = a.message_id WHERE m.conversation_id = ? AND a.sha256 IS NOT NULL",
                    (conversation_id,),
                )
            ]
            self._db.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,))
            for digest in digests:
                blob = self._blob(digest)
                if blob is None:
                    damaged += 1
                elif not self._db.execute(
                    "SELECT 1 FROM attachments WHERE sha256 = ? LIMIT 1", (digest,)
                ).fetchone():
                    with contextlib.suppress(OSError):  # left behind, it only takes space
                        blob.unlink(missing_ok=True)
        return damaged

    @property
    def _blobs(self) -> Path:
        return self.path.parent / "attachments"

    def _blob(self, digest: object) -> Path | None:
        """Where the bytes of ``digest`` are stored; None unless it is a sha256, so that
        a damaged or crafted row can never name another file."""
        if not isinstance(digest, str) or not _SHA256.fullmatch(digest):
            return None
        return self._blobs / digest

    def _store(self, attachment: Attachment) -> None:
        """An attachment's bytes, once per content, private, written whole or not at all."""
        target = self._blob(attachment.sha256)
        if attachment.data is None or target is None or target.exists():
            return
        self._blobs.mkdir(parents=True, exist_ok=True, mode=0o700)
        temporary = target.with_name(f".{target.name}.{secrets.token_hex(4)}")
        try:
            temporary.write_bytes(attachment.data)
            temporary.chmod(0o600)
            temporary.replace(target)
        except OSError as exc:
            temporary.unlink(missing_ok=True)
            raise ConfigError(f"cannot store an attachment in {self._blobs}: {exc}") from None

    def _attachments(self, message_id: int) -> tuple[Attachment, ...]:
        """What a message has attached, as saved (the bytes stay in the store)."""
        return tuple(
            Attachment(row["kind"], row["name"], row["mime"], row["size"], row["sha256"], None)
            for row in self._db.execute(
                "SELECT * FROM attachments WHERE message_id = ? ORDER BY position", (message_id,)
            )
        )

    def _loaded(self, conversation_id: str, attachment: Attachment) -> Attachment:
        """``attachment`` with its bytes read back from the store and checked against its
        sha256. A damaged reference or missing bytes is a ConfigError (exit 3): the message
        would otherwise go without what it had attached."""
        if attachment.kind == "url":
            return attachment
        blob = self._blob(attachment.sha256)

        def damaged(what: str) -> ConfigError:
            return ConfigError(
                f"the history is damaged: the attachment {attachment.name!r} of conversation"
                f" {conversation_id} {what}",
                f"delete the conversation (t360 history delete {conversation_id})"
                " or start a new one",
            )

        if blob is None or attachment.kind not in _STORED_KINDS:
            raise damaged("is not a stored attachment (no sha256 or an unknown kind)")
        try:
            data = blob.read_bytes()
        except FileNotFoundError:
            raise damaged(f"is missing from {self._blobs}") from None
        except OSError as exc:
            raise ConfigError(f"cannot read {blob}: {exc.strerror or exc}") from None
        import hashlib

        if hashlib.sha256(data).hexdigest() != attachment.sha256:
            raise damaged("does not match its sha256")
        return attachment._replace(data=data)

    def set_system(self, conversation_id: str, system: str | None) -> None:
        with self._transaction():
            self._db.execute(
                "UPDATE conversations SET system = ? WHERE id = ?", (system, conversation_id)
            )

    # -- messages ----------------------------------------------------------------------

    def messages(self, conversation_id: str) -> list[Message]:
        """The conversation's messages as saved, an answer's last one with its metrics."""
        rows = self._db.execute(
            "SELECT m.*, r.model, r.served_model, r.provider, r.ttft_ms, r.latency_ms,"
            " r.attempt_ttft_ms, r.attempt_latency_ms, r.retries, r.prompt_tokens,"
            " r.completion_tokens, r.total_tokens, r.cost, r.usage IS NULL AS unreported,"
            " r.finish_reason, r.error, r.comparison, r.ran, r.ran_status, r.partial"
            " FROM messages m LEFT JOIN responses r ON r.message_id = m.id"
            " WHERE m.conversation_id = ? ORDER BY m.id",
            (conversation_id,),
        ).fetchall()
        return [
            Message(
                row["id"],
                row["role"],
                row["content"],
                row["reasoning"],
                row["created"],
                bool(row["partial"]),
                self._attachments(row["id"]) if row["role"] == "user" else (),
                _calls(row["tool_calls"]),
                row["tool_call_id"],
                _tool_run(row["tool_run"]),
                row["typed"],
                row["role_name"],
                row["provider"],
                _metrics(row),
            )
            for row in rows
        ]

    def exchanges(self, conversation_id: str) -> list[Exchange]:
        """The conversation as its exchanges, attachments as saved (without their bytes:
        ``context`` reads them back to send them)."""
        return _exchanges(self.messages(conversation_id))

    def context(self, conversation_id: str) -> list[Exchange]:
        """The exchanges to continue the conversation with, attachments included, their
        bytes read back from the store."""
        return [
            e._replace(attached=tuple(self._loaded(conversation_id, a) for a in e.attached))
            for e in self.exchanges(conversation_id)
        ]

    def drop_last(self, conversation_id: str) -> int:
        """Delete the last user message and all that answered it (/undo, /retry)."""
        with self._transaction():
            row = self._db.execute(
                "SELECT max(id) FROM messages WHERE conversation_id = ? AND role = 'user'",
                (conversation_id,),
            ).fetchone()
            if row is None or row[0] is None:
                return 0
            cursor = self._db.execute(
                "DELETE FROM messages WHERE conversation_id = ? AND id >= ?",
                (conversation_id, row[0]),
            )
            return cursor.rowcount

    def begin_turn(
        self,
        conversation_id: str,
        user: str | None,
        model: str,
        attached: Sequence[Attachment] = (),
        *,
        typed: str | None = None,
        role: str | None = None,
    ) -> int:
        """Write the user message (if any, with what is attached to it) and an empty
        partial answer; returns its id. ``model`` is the id asked for; ``typed``, what
        the user typed when ``role`` (its name) or -f texts shaped ``user``.

        The attachments' bytes are stored under the write lock, with the rows that refer
        to them: a ``delete`` that found them unused cannot unlink them in between.
        """
        now = time.time()
        with self._transaction():
            for attachment in attached:
                self._store(attachment)
            if user is not None:
                cursor = self._db.execute(
                    "INSERT INTO messages (conversation_id, role, content, typed, role_name,"
                    " created) VALUES (?, 'user', ?, ?, ?, ?)",
                    (conversation_id, user, typed, role, now),
                )
                for position, a in enumerate(attached):
                    self._db.execute(
                        "INSERT INTO attachments (message_id, position, kind, name, mime, size,"
                        " sha256) VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (cursor.lastrowid, position, a.kind, a.name, a.mime, a.size, a.sha256),
                    )
            cursor = self._db.execute(
                "INSERT INTO messages (conversation_id, role, content, created)"
                " VALUES (?, 'assistant', '', ?)",
                (conversation_id, now),
            )
            message_id = int(cursor.lastrowid or 0)
            self._db.execute(
                "INSERT INTO responses (message_id, conversation_id, model, partial, created,"
                " kind, comparison) SELECT ?, ?, ?, 1, ?, kind, ? FROM conversations WHERE id = ?",
                (message_id, conversation_id, model, now, self.comparison, conversation_id),
            )
            self._db.execute(
                "UPDATE conversations SET updated = ?, model = ? WHERE id = ?",
                (now, model, conversation_id),
            )
        return message_id

    def checkpoint(self, message_id: int, content: str, reasoning: str | None) -> None:
        with self._transaction():
            self._db.execute(
                "UPDATE messages SET content = ?, reasoning = ? WHERE id = ?",
                (content, reasoning, message_id),
            )

    def finish_turn(self, message_id: int, turn: Turn) -> None:
        """The answer's text and its metrics (its tool calls, once they are answered:
        ``add_tool_results``)."""
        with self._transaction():
            self._db.execute(
                "UPDATE messages SET content = ?, reasoning = ? WHERE id = ?",
                (turn.content, turn.reasoning, message_id),
            )
            self._metrics(turn, "message_id", message_id)

    def record_answer(self, message_id: int, turn: Turn) -> None:
        """The metrics of a whole answer (several requests when tools ran) on its row."""
        with self._transaction():
            self._metrics(turn, "message_id", message_id)

    def record_failure(self, conversation_id: str | None, kind: str, turn: Turn) -> None:
        """The metrics of a request that ended before any answer text: no turn of a
        conversation (``conversation_id``, the one it continued, or None), but its error
        (status, retries) counts in ``t360 stats``."""
        with self._transaction():
            cursor = self._db.execute(
                "INSERT INTO responses (conversation_id, model, kind, created, comparison)"
                " VALUES (?, ?, ?, ?, ?)",
                (conversation_id, turn.requested_model, kind, time.time(), self.comparison),
            )
            self._metrics(turn, "id", int(cursor.lastrowid or 0))

    def _metrics(self, turn: Turn, key: Literal["message_id", "id"], value: int) -> None:
        """``turn``'s metrics on the responses row whose ``key`` is ``value``."""
        figures = turn.metrics()
        self._db.execute(
            "UPDATE responses SET model = ?, served_model = ?, provider = ?, ttft_ms = ?,"
            " latency_ms = ?, prompt_tokens = ?, completion_tokens = ?, total_tokens = ?,"
            " cost = ?, finish_reason = ?, error = ?, partial = ?, usage = ?, generation_ms = ?,"
            " attempt_ttft_ms = ?, attempt_latency_ms = ?, retries = ?, status = ?"
            f" WHERE {key} = ?",
            (
                figures.model,
                figures.served,
                turn.provider,
                figures.ttft_ms,
                figures.latency_ms,
                figures.prompt_tokens,
                figures.completion_tokens,
                figures.total_tokens,
                figures.cost,
                figures.finish_reason,
                figures.error,
                int(turn.partial),
                dumps(turn.usage) if turn.usage is not None else None,
                milliseconds(turn.generating),
                figures.attempt_ttft_ms,
                figures.attempt_latency_ms,
                figures.retries,
                turn.error.status if isinstance(turn.error, APIError) else None,
                value,
            ),
        )

    def add_tool_results(self, conversation_id: str, message_id: int, done: ToolRound) -> int:
        """The tool calls of the answer ``message_id`` (its text is saved already), their
        results, then the empty answer that continues it, which the answer's metrics row
        moves to (one row per answer, whatever its number of requests). Returns the new
        answer's id."""
        now = time.time()
        with self._transaction():
            self._db.execute(
                "UPDATE messages SET tool_calls = ? WHERE id = ?",
                (json.dumps([call.as_json() for call in done.calls]), message_id),
            )
            for result in done.results:
                run = None if result.run is None else dumps(result.run._asdict())
                self._db.execute(
                    "INSERT INTO messages (conversation_id, role, content, tool_call_id,"
                    " tool_run, created) VALUES (?, 'tool', ?, ?, ?, ?)",
                    (conversation_id, result.content, result.call_id, run, now),
                )
            cursor = self._db.execute(
                "INSERT INTO messages (conversation_id, role, content, created)"
                " VALUES (?, 'assistant', '', ?)",
                (conversation_id, now),
            )
            answer = int(cursor.lastrowid or 0)
            self._db.execute(
                "UPDATE responses SET message_id = ? WHERE message_id = ?", (answer, message_id)
            )
        return answer

    def merge(self, source: str, target: str) -> None:
        """Move the messages of conversation ``source`` (the answer the REPL's /keep
        chose, with its prompt) to the end of ``target``, and delete ``source``."""
        now = time.time()
        with self._transaction():
            for table in ("messages", "responses"):
                self._db.execute(
                    f"UPDATE {table} SET conversation_id = ? WHERE conversation_id = ?",
                    (target, source),
                )
            self._db.execute(
                "UPDATE conversations SET updated = ?,"
                " model = (SELECT model FROM conversations WHERE id = ?) WHERE id = ?",
                (now, source, target),
            )
            self._db.execute("DELETE FROM conversations WHERE id = ?", (source,))

    def compared(self, conversation_id: str) -> dict[str, list[Compared]]:
        """For each comparison an answer of the conversation was part of (by its id): its
        other answers, by model."""
        rows = self._db.execute(
            "SELECT mine.comparison, other.model, other.conversation_id, other.error"
            " FROM responses mine JOIN responses other ON other.comparison = mine.comparison"
            " AND other.id != mine.id WHERE mine.conversation_id = ?"
            " AND mine.comparison IS NOT NULL ORDER BY other.model, other.id",
            (conversation_id,),
        ).fetchall()
        found: dict[str, list[Compared]] = {}
        for row in rows:
            other = Compared(row["model"], row["conversation_id"], row["error"])
            found.setdefault(row["comparison"], []).append(other)
        return found

    def spend(self, since: float) -> float:
        """USD spent on every answer since ``since`` (unix time): chat, cmd and bench."""
        rows = self._db.execute(
            "SELECT COALESCE(SUM(cost), 0) FROM responses WHERE created >= ?", (since,)
        ).fetchone()
        return float(rows[0])

    def record_run(self, message_id: int, command: str, status: int) -> None:
        """The command ``t360 cmd`` ran from this answer, and how it exited."""
        with self._transaction():
            self._db.execute(
                "UPDATE responses SET ran = ?, ran_status = ? WHERE message_id = ?",
                (command, status, message_id),
            )

    # -- export ------------------------------------------------------------------------

    def export_json(self, conversation_id: str) -> dict[str, Any]:
        """The conversation and its messages, each answer's last one with its metrics."""
        conversation = self.get(conversation_id)
        return {
            "id": conversation.id,
            "title": conversation.title,
            "model": conversation.model,
            "system": conversation.system,
            "created": conversation.created,
            "updated": conversation.updated,
            "messages": [m for e in self.exchanges(conversation_id) for m in _exported(e)],
        }

    def export_markdown(self, conversation_id: str) -> str:
        conversation = self.get(conversation_id)
        compared = {
            comparison: "compared with " + ", ".join(other.label() for other in others)
            for comparison, others in self.compared(conversation_id).items()
        }
        return to_markdown(
            conversation.title,
            f"`{conversation.id}` · {conversation.model} · "
            + time.strftime("%Y-%m-%d %H:%M", time.localtime(conversation.created)),
            conversation.system,
            transcript(self.exchanges(conversation_id), compared),
        )


@dataclass(frozen=True)
class Compared:
    """Another answer of a comparison: the model asked, its conversation (None when it
    failed before any text) and its error."""

    model: str
    conversation_id: str | None
    error: str | None

    def label(self) -> str:
        if self.conversation_id is None:
            return f"{self.model} (no answer: {self.error or 'failed'})"
        return f"{self.model} (`{self.conversation_id}`)"


def _exported(exchange: Exchange) -> list[dict[str, Any]]:
    """The messages of an exchange as ``history export --format json`` gives them."""
    user: dict[str, Any] = {"role": "user", "content": exchange.sent}
    if exchange.attached:  # references: the bytes stay in the store
        user["attachments"] = [
            {"kind": a.kind, "name": a.name, "mime": a.mime, "size": a.size, "sha256": a.sha256}
            for a in exchange.attached
        ]
    items = [user]
    for each in exchange.rounds:
        called: dict[str, Any] = {"role": "assistant", "content": each.text}
        if each.reasoning:
            called["reasoning"] = each.reasoning
        called["tool_calls"] = [call.as_json() for call in each.calls]
        items.append(called)
        items += [
            {
                "role": "tool",
                "content": result.content,
                "tool_call_id": result.call_id,
                "tool_run": None if result.run is None else result.run._asdict(),
            }
            for result in each.results
        ]
    answer = exchange.answer
    said: dict[str, Any] = {"role": "assistant", "content": answer.content}
    if answer.reasoning:
        said["reasoning"] = answer.reasoning
    figures = answer.metrics
    if figures is not None:
        said["metrics"] = {
            "model": figures.model,
            "served_model": figures.served,
            "provider": answer.provider,
            "ttft_ms": figures.ttft_ms,
            "latency_ms": figures.latency_ms,
            "attempt_ttft_ms": figures.attempt_ttft_ms,
            "attempt_latency_ms": figures.attempt_latency_ms,
            "retries": figures.retries,
            "prompt_tokens": figures.prompt_tokens,
            "completion_tokens": figures.completion_tokens,
            "total_tokens": figures.total_tokens,
            "cost": figures.cost,
            "finish_reason": figures.finish_reason,
            "error": figures.error,
            "ran": figures.ran,
            "ran_status": figures.ran_status,
            "comparison": figures.comparison,
            "partial": answer.partial,
        }
    return [*items, said]


def _exchanges(messages: Sequence[Message]) -> list[Exchange]:
    """Saved messages as the exchanges they were saved from: each user message, the
    requests of its answer that called tools (each with the results saved after it), and
    the answer's last message, which carries the answer's metrics. Nothing saved before
    the first user message answers anything: it is left out."""
    found: list[Exchange] = []
    for m in messages:
        if m.role == "user":
            typed = m.content if m.typed is None else m.typed
            found.append(Exchange(typed, m.content, role=m.role_name, attached=m.attached))
        elif not found:
            continue
        elif m.role == "tool" and found[-1].rounds:
            *before, last = found[-1].rounds
            result = ToolResult(m.tool_call_id or "", m.content, m.tool_run)
            last = last._replace(results=(*last.results, result))
            found[-1] = found[-1]._replace(rounds=(*before, last))
        elif m.tool_calls:
            called = ToolRound(m.content, m.tool_calls, (), m.reasoning)
            found[-1] = found[-1]._replace(rounds=(*found[-1].rounds, called))
        elif m.role == "assistant":
            found[-1] = found[-1]._replace(answer=_answer(m))
    return found


def _answer(message: Message) -> Answer:
    """The answer whose last message is ``message``."""
    figures = message.metrics
    if figures is None:
        return Answer(message.content, reasoning=message.reasoning)
    model = figures.served or figures.model
    interrupted = figures.error == "interrupted"
    return Answer(
        message.content,
        model,
        message.provider,
        message.partial,
        interrupted,
        message.reasoning,
        figures,
    )


def _metrics(row: sqlite3.Row) -> Metrics | None:
    """The metrics of the answer a message row ends (joined from ``responses``), or None."""
    if row["model"] is None:
        return None
    return Metrics(
        row["model"],
        row["served_model"],
        row["ttft_ms"],
        row["latency_ms"],
        row["attempt_ttft_ms"],
        row["attempt_latency_ms"],
        row["retries"],
        row["prompt_tokens"],
        row["completion_tokens"],
        row["total_tokens"],
        row["cost"],
        bool(row["unreported"]),
        row["finish_reason"],
        row["error"],
        row["comparison"],
        row["ran"],
        row["ran_status"],
    )


def _calls(text: str | None) -> tuple[ToolCall, ...]:
    """The saved tool calls of a message (none when the record is unreadable)."""
    calls = _json(text)
    if not isinstance(calls, list):
        return ()
    return tuple(ToolCall.of(call) for call in calls if isinstance(call, dict))


def _tool_run(text: str | None) -> ToolRun | None:
    """How a saved tool call ran, or None when its record is unreadable."""
    run = _json(text)
    if not isinstance(run, dict) or set(run) != set(ToolRun._fields):
        return None
    return ToolRun(**run)


def _called(calls: Sequence[ToolCall]) -> str:
    """The note under an answer that called tools: ``called name(arguments), ...``."""
    return "called " + ", ".join(f"{call.name}({call.arguments})" for call in calls)


def transcript(
    exchanges: Sequence[Exchange], notes: Mapping[str, str] | None = None
) -> list[Entry]:
    """A conversation as a markdown transcript shows it (``history show/export`` and the
    REPL's /save): texts, the tools each answer called and their results, each answer
    under its own model and state. ``notes``: more to say under the answers that were
    part of a comparison, by its id."""
    found = []
    for exchange in exchanges:
        answer, figures = exchange.answer, exchange.answer.metrics
        note = " ".join(a.label() for a in exchange.attached) or None
        found.append(Entry("user", exchange.sent, note=note))
        for each in exchange.rounds:
            found.append(Entry("assistant", each.text, answer.model, note=_called(each.calls)))
            found += [Entry("tool", result.content, note=result.name) for result in each.results]
        said = []
        if figures is not None and figures.ran is not None:
            said.append(f"ran `{figures.ran}`, exit status {figures.ran_status}")
        if figures is not None and figures.comparison is not None and notes:
            said.append(notes.get(figures.comparison, ""))
        note = "; ".join(n for n in said if n) or None
        if answer.content or answer.partial or note or not exchange.rounds:
            # (an answer that ended on its tool round, whole, has nothing more to show)
            found.append(Entry("assistant", answer.content, answer.model, answer.partial, note))
    return found


def _json(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


@dataclass(frozen=True)
class Entry:
    """One message as it is written out in a markdown transcript."""

    role: str
    content: str
    model: str | None = None
    partial: bool = False
    note: str | None = None


def to_markdown(title: str, subtitle: str, system: str | None, messages: list[Entry]) -> str:
    """A conversation as a markdown document (``history export`` and the REPL's /save)."""
    parts = [f"# {title}", "", subtitle, ""]
    if system:
        parts += ["**System:**", "", system, ""]
    for message in messages:
        if message.role == "user":
            parts += ["## You", "", message.content, ""]
            if message.note:
                parts += [message.note, ""]
        elif message.role == "assistant":
            if message.content or not message.note:
                note = " (partial)" if message.partial else ""
                parts += [f"## {message.model or 'Assistant'}{note}", "", message.content, ""]
            if message.note:
                parts += [f"*{message.note}*", ""]
        elif message.role == "tool":
            fence = "`" * max(3, 1 + max((len(run) for run in _ticks(message.content)), default=0))
            parts += [f"**Result of {message.note}:**", "", fence, message.content, fence, ""]
    return "\n".join(parts).rstrip() + "\n"


def _ticks(text: str) -> list[str]:
    import re

    return re.findall(r"`+", text)


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on error (the connection is autocommit).

    A signal (Ctrl-C, SIGTERM, SIGHUP) can land just after BEGIN, before the ``with``
    block is entered, so that nothing ends that transaction; the next one rolls it back
    first, or the answer's last write would fail and keep only its last checkpoint."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> None:
        if self.db.in_transaction:  # left open by an interrupted write: it never happened
            self.db.execute("ROLLBACK")
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: object, value: object, traceback: object) -> None:
        self.db.execute("COMMIT" if kind is None else "ROLLBACK")


def _migrate(db: sqlite3.Connection) -> None:
    version = int(db.execute("PRAGMA user_version").fetchone()[0])
    if version > len(MIGRATIONS):
        raise ConfigError(
            f"the history database is from a newer t360 (schema {version})",
            "upgrade t360",
        )
    for number in range(version, len(MIGRATIONS)):
        db.execute("BEGIN IMMEDIATE")
        try:
            # Re-read inside the lock: another process may have migrated meanwhile.
            if int(db.execute("PRAGMA user_version").fetchone()[0]) > number:
                db.execute("COMMIT")
                continue
            for statement in MIGRATIONS[number].split(";"):
                if statement.strip():
                    db.execute(statement)
            db.execute(f"PRAGMA user_version = {number + 1}")
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise


def _conversation(row: sqlite3.Row) -> Conversation:
    """A conversation row, checked: a damaged page can read back as NULLs or bytes where
    the schema promises text and numbers, which is damage like any sqlite3 error."""
    found = Conversation(
        row["id"],
        row["title"],
        row["model"],
        row["system"],
        row["created"],
        row["updated"],
        row["turns"],
    )
    texts = (found.id, found.title, found.model)
    numbers = (found.created, found.updated, found.turns)
    if not (
        all(isinstance(value, str) for value in texts)
        and isinstance(found.system, (str, type(None)))
        and all(isinstance(value, (int, float)) for value in numbers)
    ):
        raise sqlite3.DatabaseError("a conversation row reads back damaged")
    return found
