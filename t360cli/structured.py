"""Answers scripts can parse: ``--schema`` (JSON matching a JSON Schema) and ``-x`` (the
code in a fenced block). Pure functions; jsonschema loads only to validate.

``--schema`` takes JSON Schema text, a path to a file of it, or the concise form
``name, age int, score float, ok bool`` (the type defaults to ``str``; every field is
required), and is sent as ``response_format`` with ``strict: true``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from .errors import SchemaError, UsageError

#: A line that opens a fenced block, and one that may close it (CommonMark's rules).
_OPENING = re.compile(r" {0,3}(`{3,}|~{3,})")
_CLOSING = re.compile(r" {0,3}(`{3,}|~{3,})[ \t]*")
_TYPES = {
    "str": "string",
    "string": "string",
    "int": "integer",
    "integer": "integer",
    "float": "number",
    "number": "number",
    "bool": "boolean",
    "boolean": "boolean",
}
_FIELD = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(?:\s+([A-Za-z]+))?$")


def code_blocks(text: str) -> list[str]:
    """The content of every fenced code block (``` or ~~~), in order, without fences.

    One pass over the lines, so no answer costs more than linear time. As in CommonMark,
    a block ends at a line holding only a fence of the same character, at least as long;
    a backtick fence's info string has no backtick (that line is inline code); and a
    fence never closed runs to the end of the text.
    """
    blocks: list[str] = []
    fence = ""  # the open block's fence; "" outside a block
    begin = offset = 0  # where the open block's content starts; where this line starts
    for line in text.split("\n"):
        end = offset + len(line) + 1
        if not fence:
            opening = _OPENING.match(line)
            if opening and not (opening[1][0] == "`" and "`" in line[opening.end() :]):
                fence, begin = opening[1], end
        elif (closing := _CLOSING.fullmatch(line)) and closing[1].startswith(fence):
            blocks.append(text[begin:offset])  # the same character, at least as many
            fence = ""
        offset = end
    if fence and begin <= len(text):  # unclosed, after a line break
        blocks.append(text[begin:])
    return blocks


def _concise(text: str) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    for part in text.split(","):
        match = _FIELD.match(part.strip())
        if not match:
            raise UsageError(
                f"--schema: cannot read {part.strip()!r}",
                "write fields as 'name, age int, score float, ok bool'",
            )
        name, kind = match.group(1), (match.group(2) or "str").lower()
        if kind not in _TYPES:
            raise UsageError(
                f"--schema: unknown type {kind!r} for {name}", "use str, int, float or bool"
            )
        properties[name] = {"type": _TYPES[kind]}
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


def parse_schema(value: str) -> dict[str, Any]:
    """The JSON Schema ``--schema`` names; a usage error (exit 2) for a bad one."""
    text = value.strip()
    if not text.startswith("{"):
        path = Path(text).expanduser()
        if text.endswith(".json") or path.is_file():
            from .prompt import read_file

            text = read_file(path, "schema file").strip()
    # Parsing and checking recurse once per level: RecursionError is how depth shows.
    too_deep = UsageError("--schema is nested too deeply to be checked", "use fewer levels")
    if text.startswith("{"):
        try:
            schema = json.loads(text)
        except ValueError as exc:
            raise UsageError(f"--schema is not valid JSON: {exc}") from None
        except RecursionError:
            raise too_deep from None
    else:
        schema = _concise(text)
    if not isinstance(schema, dict):
        raise UsageError("--schema must be a JSON object")
    from jsonschema import exceptions, validators

    try:
        validators.validator_for(schema).check_schema(schema)
    except exceptions.SchemaError as exc:
        raise UsageError(f"--schema is not a valid JSON Schema: {exc.message}") from None
    except RecursionError:
        raise too_deep from None
    return schema


def response_format(schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "json_schema",
        "json_schema": {"name": "answer", "schema": schema, "strict": True},
    }


def validate(answer: str, schema: dict[str, Any]) -> Any:
    """The answer parsed as JSON and checked against ``schema``; a SchemaError (exit 7)
    naming the first failing path otherwise. A fenced block around it is tolerated."""
    text = answer.strip()
    blocks = code_blocks(text)
    if blocks and not text.startswith(("{", "[")):
        text = blocks[0].strip()
    printed = "the answer was printed as it came"
    # Parsing and validating recurse once per level: RecursionError is how depth shows.
    too_deep = SchemaError("the answer is nested too deeply to be checked", printed)
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SchemaError(
            f"the answer is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})",
            printed,
        ) from None
    except RecursionError:
        raise too_deep from None
    from jsonschema import validators

    validator = validators.validator_for(schema)(schema)
    try:
        found = list(validator.iter_errors(value))
    except RecursionError:
        raise too_deep from None
    errors = sorted(found, key=lambda error: list(error.absolute_path))
    if errors:
        first = errors[0]
        where = "$" + "".join(
            f"[{p}]" if isinstance(p, int) else f".{p}" for p in first.absolute_path
        )
        raise SchemaError(
            f"the answer does not match --schema at {where}: {first.message}",
            "the answer was printed as it came",
        )
    return value
