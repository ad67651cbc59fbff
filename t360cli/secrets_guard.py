"""The secrets guard: what is about to be sent, scanned for secrets before it leaves.

A curated rule set in the style of gitleaks, not ``detect-secrets``: that library takes
about 90 ms to import (with requests and PyYAML) where the whole guard may cost 15 ms for
a short prompt. Each rule has a cheap literal that must be present before its pattern
runs, so ordinary text costs a few substring searches; 2 MB costs one pass per rule whose
literal it holds.

Found: private key blocks; AWS access key ids and secret keys; GCP service-account JSON;
GitHub, GitLab, Slack, Stripe, Google API, OpenAI/Anthropic/OpenRouter-style ``sk-`` keys;
JWTs; high-entropy values assigned to names such as ``password``, ``secret``, ``token``,
``api_key`` (``.env``, YAML, JSON and code lines); and always the user's own t360 keys.
Left alone on purpose: commit hashes, UUIDs, base64 images, lockfile integrity hashes,
placeholders (``${TOKEN}``, ``<password>``, ``changeme``) and code that names a secret
without holding one (``password = os.environ["PASSWORD"]``).

Pure functions: no I/O. Findings name where and what, never the secret itself.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Sequence
from typing import NamedTuple

from .errors import GuardError


class Finding(NamedTuple):
    source: str  # "prompt", "stdin", a -f path, "clipboard", "tool NAME"
    line: int  # 1-based
    kind: str
    start: int  # offsets in the scanned text
    end: int

    def describe(self) -> str:
        return f"{self.source} line {self.line}: {self.kind}"


class Refused(GuardError):
    """What was to be sent held secrets, and the mode is ``refuse``: the findings."""

    def __init__(self, message: str, hint: str, findings: Sequence[Finding]) -> None:
        super().__init__(message, hint)
        self.findings = tuple(findings)


class _Rule(NamedTuple):
    kind: str
    literals: tuple[str, ...]  # where a match can start: each is found by a substring search
    #: Matched from a literal's place (lookbehind sees before it); compiled the first time
    #: a literal is found (``re`` keeps it), so a prompt without one compiles nothing.
    pattern: str


_RULES = (
    _Rule(
        "private key",
        ("-----BEGIN",),
        r"-----BEGIN[ A-Z0-9]*PRIVATE KEY( BLOCK)?-----[\s\S]*?(-----END[ A-Z0-9]*PRIVATE KEY"
        r"( BLOCK)?-----|\Z)",
    ),
    _Rule(
        "AWS access key id",
        ("AKIA", "ASIA", "ABIA", "ACCA"),
        r"(?<![A-Z0-9])(AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}(?![0-9A-Z])",
    ),
    _Rule(
        "GCP service-account key",
        ('"service_account"',),
        r'"service_account"[\s\S]{0,4000}?"private_key"\s*:\s*"[^"]+"',
    ),
    _Rule(
        "GitHub token",
        ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
        r"(?<![A-Za-z0-9_])(gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})",
    ),
    _Rule(
        "GitLab token",
        ("glpat-", "gldt-", "glrt-"),
        r"(?<![A-Za-z0-9_-])gl(pat|dt|rt)-[A-Za-z0-9_-]{20,}",
    ),
    _Rule("Slack token", ("xox",), r"(?<![A-Za-z0-9_-])xox[abposr]-[A-Za-z0-9-]{10,}"),
    _Rule(
        "Slack webhook",
        ("https://hooks.slack.com/",),
        r"https://hooks\.slack\.com/(services|workflows)/[A-Za-z0-9/_-]{20,}",
    ),
    _Rule(
        "Stripe key",
        ("sk_live_", "rk_live_", "sk_test_", "rk_test_"),
        r"(?<![A-Za-z0-9_])[rs]k_(live|test)_[A-Za-z0-9]{16,}",
    ),
    _Rule("Google API key", ("AIza",), r"(?<![A-Za-z0-9_-])AIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])"),
    _Rule(
        "sk- API key",
        ("sk-",),
        r"(?<![A-Za-z0-9_-])sk-(proj-|ant-(api\d\d-)?|or-v1-|svcacct-)?[A-Za-z0-9_-]{20,}",
    ),
    _Rule(
        "JWT",
        ("eyJ",),
        r"(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}",
    ),
)

#: Words in a name that say its value is secret (found in the lowered text), each with the
#: kind it reports; after the word: the rest of the name, ``=`` or ``:``, then the value.
_NAMES = (
    ("aws_secret", "AWS secret access key"),
    ("password", "password"),
    ("passwd", "password"),
    ("pwd", "password"),
    ("secret", "secret"),
    ("token", "token"),
    ("api_key", "API key"),
    ("api-key", "API key"),
    ("apikey", "API key"),
    ("access_key", "access key"),
    ("private_key", "private key"),
    ("credential", "credential"),
)
_ASSIGNED = r"[\w.-]*['\"]?[ \t]*(:=|=|:)[ \t]*(['\"]?)([^\s'\"`,;(){}\[\]<>]{12,})\2"
#: Values that only stand in for a secret.
_PLACEHOLDER = (
    r"(?i)^(\$\{?\w+\}?|%\w+%|\{\{.*\}\}|<.*>|x{6,}|\*{6,}|(change|replace)_?me\w*"
    r"|your[_-].*|example.*|dummy.*|placeholder.*|redacted.*|\[REDACTED:.*|null|none|true|false)$"
)
#: Bits per character from which an assigned value looks random rather than a word.
_ENTROPY = 3.5


def _entropy(text: str) -> float:
    counts: dict[str, int] = {}
    for char in text:
        counts[char] = counts.get(char, 0) + 1
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


def _looks_random(value: str) -> bool:
    """A value with letters and digits, spread enough to be a key: not a word or an
    identifier (``MaxTokensOption``), a number, a placeholder, or a hash of one kind
    (hex) or a dotted name in code."""
    if re.match(_PLACEHOLDER, value) or not (
        re.search(r"\d", value) and re.search("[A-Za-z]", value)
    ):
        return False
    if re.fullmatch(r"[0-9a-f]+|[0-9A-F]+", value):  # a hash or an id, not a secret
        return False
    return _entropy(value) >= _ENTROPY


def _spans(text: str, literals: Iterable[str], match: Callable[[int, str], None]) -> None:
    """Call ``match(place, literal)`` at every place a literal occurs in ``text``."""
    for literal in literals:
        at = text.find(literal)
        while at >= 0:
            match(at, literal)
            at = text.find(literal, at + len(literal))


def scan(text: str, source: str, known: Iterable[str] = ()) -> list[Finding]:
    """The secrets in ``text``, in order, none overlapping; ``known`` are keys that are
    secret whatever they look like (the user's own). Every rule starts where a plain
    substring search found its literal, so the cost is a few passes at C speed."""
    spans: list[tuple[int, int, str]] = []
    for key in known:
        if len(key) >= 8:
            _spans(
                text, [key], lambda at, key: spans.append((at, at + len(key), "your t360 API key"))
            )
    for rule in _RULES:

        def matched(at: int, literal: str, rule: _Rule = rule) -> None:
            found = re.compile(rule.pattern).match(text, at)
            if found is not None:
                spans.append((found.start(), found.end(), rule.kind))

        _spans(text, rule.literals, matched)
    lowered = text.lower()
    if len(lowered) != len(text):  # a letter whose lower case is longer: keep the offsets
        lowered = "".join(c.lower() if len(c.lower()) == 1 else c for c in text)
    for name, kind in _NAMES:

        def assigned(at: int, name: str, kind: str = kind) -> None:
            found = re.compile(_ASSIGNED).match(text, at + len(name))
            if found is not None and _looks_random(found[3]):
                spans.append((found.start(3), found.end(3), kind))

        _spans(lowered, [name], assigned)
    found: list[Finding] = []
    end = counted = 0
    line = 1
    for start, stop, kind in sorted(spans, key=lambda s: (s[0], -s[1])):
        if start >= end:  # the first and longest at a place wins
            line += text.count("\n", counted, start)  # lines counted once, in order
            counted = start
            found.append(Finding(source, line, kind, start, stop))
            end = stop
    return found


def redact(text: str, findings: Sequence[Finding]) -> str:
    """``text`` with each finding replaced by ``[REDACTED:KIND]``."""
    parts: list[str] = []
    at = 0
    for finding in sorted(findings, key=lambda f: f.start):
        parts += [text[at : finding.start], f"[REDACTED:{finding.kind}]"]
        at = finding.end
    return "".join([*parts, text[at:]])


def _redact_words(words: Sequence[str], findings: Sequence[Finding]) -> list[str]:
    """Prompt words redacted where the findings (offsets in the words joined by spaces)
    fall, each word on its own, so ``-`` and the words' count stay as they were."""
    redacted: list[str] = []
    at = 0
    for word in words:
        inside = [
            f._replace(start=max(f.start, at) - at, end=min(f.end, at + len(word)) - at)
            for f in findings
            if f.start < at + len(word) and f.end > at
        ]
        redacted.append(redact(word, inside))
        at += len(word) + 1
    return redacted


class Check:
    """The secrets guard of one run, by the ``secrets`` setting: ``refuse`` (GuardError,
    exit 6: nothing sent or saved), ``redact``, ``warn`` or ``off``. Each finding is said
    on its own line through ``warn``, never the secret itself."""

    def __init__(self, mode: str, known: Iterable[str | None], warn: Callable[[str], None]) -> None:
        self.mode = mode
        self.known = [key for key in known if key]
        self.warn = warn

    def prompt(
        self, words: Sequence[str], texts: Sequence[tuple[str, str]]
    ) -> tuple[list[str], list[str]]:
        """The prompt words and ``texts`` ((source, text): stdin, each ``-f`` text) as they
        may be sent."""
        if self.mode == "off":
            return list(words), [text for _, text in texts]
        joined = " ".join(words)
        in_words = scan(joined, "prompt", self.known)
        found = [scan(text, source, self.known) for source, text in texts]
        self._judge([*in_words, *(f for part in found for f in part)])
        if self.mode != "redact":
            return list(words), [text for _, text in texts]
        return _redact_words(words, in_words), [
            redact(text, part) for (_, text), part in zip(texts, found, strict=True)
        ]

    def text(self, source: str, text: str) -> str:
        """One text (REPL input, a tool's result) as it may be sent."""
        if self.mode == "off":
            return text
        found = scan(text, source, self.known)
        self._judge(found)
        return redact(text, found) if self.mode == "redact" else text

    def _judge(self, findings: Sequence[Finding]) -> None:
        if not findings:
            return
        for finding in findings:
            self.warn(f"secret found: {finding.describe()}")
        count = f"{len(findings)} secret{'s' * (len(findings) != 1)}"
        if self.mode == "refuse":
            raise Refused(
                f"the secrets guard found {count} in what was to be sent: nothing was sent",
                "remove them; or send anyway with --allow-secrets, or redact them with "
                "t360 config set secrets redact",
                findings,
            )
        if self.mode == "redact":
            self.warn(f"{count} redacted before sending ([REDACTED:KIND])")
        else:
            self.warn(f"{count} sent as they are (secrets = warn)")
