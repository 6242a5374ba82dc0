"""Failed tasks grouped by cause, with what kind of cause it is and what to do, in plain words.

Pure (no I/O, no Textual) so the failures view, `status` and the tests share one answer.

Why not group on the message text: providers put request ids, hex trace ids, uuids, task ids,
timestamps and URLs in their messages, so 30 "internal error. Request id: 2f9a…" failures made 30
groups of one. `normalise` replaces those with placeholders first.

The group key, precisely:
1. A failure with a code is grouped by its code (the provider's own name for the cause; the
   messages under one code differ in their details).
2. A failure without a code whose message starts with a code-shaped word and a colon
   (`InvalidParameter: img_url must be set`, as some relays pass it on) has that code.
3. A failure still without a code joins the code group whose failures carry the same
   normalised message (compared case-insensitively, with end punctuation and a
   `Request id: <id>` clause ignored): the same cause reported by a provider that sends codes
   and one that does not is one group. When several codes carry that message, the one with the
   most failures wins (then the first by name).
4. Otherwise it is grouped by its normalised message; a failure with neither code nor message
   is in the group `unknown failure`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from tui.core.model import Failure, Key, Task

TRANSIENT = "transient"
CONTENT_POLICY = "content-policy"
INVALID_PARAMETER = "invalid-parameter"
OTHER = "other"
UNKNOWN_FAILURE = "unknown failure"

# One pass, most specific first. Placeholders: <url> <id> <time> <n>.
_ID = r"[A-Za-z0-9_.-]+"  # ASCII only: a Chinese message runs on without spaces
# Every placeholder starts where a word starts: the common lookbehind rejects the other
# positions with one test instead of trying every alternative there (5x faster).
_MASKS = re.compile(
    r"(?<![0-9A-Za-z_-])(?:(?P<url>\b(?:https?|s3|oss|ftp)://[^\s\"'<>，。）)]+)"
    r"|(?P<rid>(?i:request|req|trace|log|x-request)[ _-]?(?i:id)[\"']?\s*[:=：]\s*[\"']?)"
    + _ID
    + r"|(?P<cnrid>(?:请求|任务)\s*(?i:id|编号)\s*[:：]?\s*)"
    + _ID
    + r"|(?P<uuid>(?<![0-9A-Za-z])[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
    r"[0-9a-fA-F]{12}(?![0-9A-Za-z]))"
    r"|(?P<time>\d{4}[-/]\d{1,2}[-/]\d{1,2}(?:[T ]\d{1,2}:\d{2}(?::\d{2})?(?:[.,]\d+)?)?"
    r"(?:\s?(?:Z|UTC|[+-]\d{2}:?\d{2}))?"
    r"|\d{4}年\d{1,2}月\d{1,2}日(?:\s*\d{1,2}[:时]\d{2}(?:[:分]\d{2}秒?)?)?"
    r"|(?<!\d)\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?(?!\d))"
    r"|(?P<num>(?<![0-9A-Za-z.])\d{5,}(?:\.\d+)?(?![0-9A-Za-z_-]))"
    # a run of 12+ letters, digits, _ and - with at least 4 digits and a letter: an id
    # (`seedance_2_0_fast_pro`, 2 digits, stays)
    r"|(?P<token>(?<![0-9A-Za-z_-])(?=(?:[A-Za-z_-]*\d){4})(?=[0-9_-]*[A-Za-z])"
    r"[A-Za-z0-9][A-Za-z0-9_-]{11,}(?![0-9A-Za-z_-]))"
    r"|(?P<hex>(?<![0-9A-Za-z])(?=[0-9a-fA-F]*\d)[0-9a-fA-F]{8,}(?![0-9A-Za-z])))"
)
# Every placeholder needs a digit, a URL scheme, or a request-id word before a digitless id.
_MAYBE_MASKED = re.compile(r"\d|://|(?i:id)\W|请求|任务")
_PLACEHOLDER = {"url": "<url>", "uuid": "<id>", "time": "<time>", "token": "<id>", "hex": "<id>"}
_CODE_PREFIX = re.compile(r"([A-Z][a-z0-9]+(?:[A-Z][A-Za-z0-9]*)+(?:\.[A-Za-z0-9]+)*)\s*:\s+(.+)")
_END_PUNCTUATION = " .。!！…"


def _mask(match: re.Match[str]) -> str:
    kind = match.lastgroup or ""
    if kind in ("rid", "cnrid"):
        return match.group(kind) + "<id>"
    if kind == "num":
        return "<n>"
    return _PLACEHOLDER[kind]


def normalise(message: str | None) -> str:
    """The message with its varying parts replaced: URLs by `<url>`, request/trace ids, uuids,
    hex runs and long mixed letter-digit tokens by `<id>`, dates and times by `<time>`, numbers
    of five digits or more by `<n>`; whitespace collapsed. Short numbers stay (`HTTP 502`,
    `15 seconds` say what went wrong)."""
    if not message:
        return ""
    if _MAYBE_MASKED.search(message) is None:  # most messages: nothing to mask, 10x faster
        return " ".join(message.split())
    return " ".join(_MASKS.sub(_mask, message).split())


def split_code(failure: Failure) -> tuple[str | None, str]:
    """(code, message): the failure's code, else one the message starts with (`Code: text`)."""
    message = failure.message or ""
    if failure.code:
        return failure.code, message
    match = _CODE_PREFIX.fullmatch(message.strip())
    if match:
        return match.group(1), match.group(2)
    return None, message


_ID_CLAUSE = re.compile(
    r"[\s.,;:(\[]*(?:request|req|trace|log|x-request)[ _-]?id[\"']?\s*[:=：]\s*[\"']?<id>[\"')\]]*",
    re.IGNORECASE,
)


def _compare_form(normalised: str) -> str:
    """What two messages must share to be one cause: no request-id clause (one provider adds
    it, another not), no end punctuation, case folded."""
    return _ID_CLAUSE.sub("", normalised).rstrip(_END_PUNCTUATION).casefold()


# -- classification -------------------------------------------------------------------------
# (kind, words in a code, words in a message); checked in this order, code first.
_KINDS: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    (
        CONTENT_POLICY,
        ("sensitive", "contentpolicy", "risk", "moderation"),
        (
            "sensitive", "content policy", "policy violation", "real person", "copyright",
            "moderation", "not allowed content", "违规", "敏感", "审核", "真人", "版权",
        ),
    ),
    (
        INVALID_PARAMETER,
        ("invalidparameter", "missingparameter", "invalidargument", "badrequest", "invalid"),
        (
            "must be set", "invalid", "missing", "exceeds", "not supported", "unsupported",
            "must be", "too long", "too large", "参数", "不支持", "超过", "格式",
        ),
    ),
    (
        TRANSIENT,
        (
            "internal", "serveroverloaded", "overload", "timeout", "ratelimit", "unavailable",
            "toomanyrequests", "busy",
        ),
        (
            "internal error", "internal server", "server error", "unexpected internal",
            "timeout", "timed out", "try again", "retry", "overloaded", "unavailable", "busy",
            "temporarily", "upstream", "502", "503", "504", "内部错误", "超时", "稍后", "重试",
            "繁忙", "服务异常",
        ),
    ),
)  # fmt: skip

_PLAIN_WORDS: dict[str, str] = {
    CONTENT_POLICY: (
        "The provider's content check blocked it. The same request fails the same way: "
        "change the prompt or the media, then create a new task."
    ),
    INVALID_PARAMETER: (
        "The request itself was wrong (a missing, bad or too large parameter). Retrying will "
        "not help: fix the request and create a new task."
    ),
    TRANSIENT: (
        "The provider failed on its side (an internal error, overload or timeout): the same "
        "request may work if you create it again, later."
    ),
}
_QUOTA = re.compile(r"quota|insufficient|balance|余额|额度", re.IGNORECASE)


def classify(code: str | None, message: str | None) -> str:
    """transient, content-policy, invalid-parameter or other: by code words, then message."""
    folded_code = (code or "").casefold()
    for kind, code_words, _ in _KINDS:
        if folded_code and any(word in folded_code for word in code_words):
            return kind
    folded = (message or "").casefold()
    for kind, _, message_words in _KINDS:
        if any(word in folded for word in message_words):
            return kind
    return OTHER


def plain_words(kind: str, code: str | None = None, message: str | None = None) -> str | None:
    """What the failure means and what to do, for any provider (kyy sends no codes: its
    messages are classified the same way)."""
    text = _PLAIN_WORDS.get(kind)
    if text is not None:
        return text
    if _QUOTA.search(f"{code or ''} {message or ''}"):
        return "The account ran out of quota or balance: top up or wait, then create a new task."
    return None


# -- grouping -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FailureGroup:
    """One cause. `key` identifies the group (`code:<code>` or `message:<normalised>`);
    `title` is what a person reads (code and normalised message); `example` is one original
    message in full; `variants` counts the distinct normalised messages in the group."""

    key: str
    title: str
    code: str | None
    kind: str
    count: int
    providers: tuple[str, ...]
    batches: tuple[str, ...]
    example: str
    keys: tuple[Key, ...]
    variants: int
    plain_words: str | None


@dataclass
class _Building:
    code: str | None
    normalised: str
    example: str
    keys: list[Key]
    providers: set[str]
    batches: set[str]
    messages: set[str]


@dataclass(frozen=True, slots=True)
class _Entry:
    """One failed task, read once: its regexes never run again until its failure changes."""

    failure: Failure
    provider: str
    batch: str | None
    code: str | None
    normalised: str
    compare: str


class FailureIndex:
    """Failed tasks kept by key, normalised once each; `groups()` regroups the cached entries
    (no regex) and caches the answer until something changes. The dashboard feeds it the
    tasks that changed, as it does `BatchStats`."""

    def __init__(self, tasks: Iterable[Task] = ()) -> None:
        self._entries: dict[Key, _Entry] = {}
        self._groups: list[FailureGroup] | None = None
        self.update(tasks)

    def update(self, tasks: Iterable[Task]) -> None:
        entries = self._entries
        for task in tasks:
            key = task.key
            failure = task.failure
            if failure is None:
                if entries.pop(key, None) is not None:
                    self._groups = None
                continue
            old = entries.get(key)
            if (
                old is not None
                and old.failure == failure
                and old.provider == task.provider
                and old.batch == task.batch
            ):
                continue
            code, message = split_code(failure)
            if old is not None and old.failure.message == failure.message:
                normalised = old.normalised
            else:
                normalised = normalise(message)
            entries[key] = _Entry(
                failure, task.provider, task.batch, code, normalised, _compare_form(normalised)
            )
            self._groups = None

    def remove(self, keys: Iterable[Key]) -> None:
        for key in keys:
            if self._entries.pop(key, None) is not None:
                self._groups = None

    def __len__(self) -> int:
        return len(self._entries)

    def groups(self) -> list[FailureGroup]:
        """Every failed task grouped as the module docstring defines; biggest group first,
        equal counts by key (stable between refreshes)."""
        if self._groups is None:
            self._groups = _group(self._entries)
        return self._groups


def group_failures(tasks: Iterable[Task]) -> list[FailureGroup]:
    """`FailureIndex(tasks).groups()`: one answer for a list of tasks."""
    return FailureIndex(tasks).groups()


def _group(entries: dict[Key, _Entry]) -> list[FailureGroup]:
    coded: dict[str, _Building] = {}
    uncoded: dict[str, _Building] = {}
    message_codes: dict[str, dict[str, int]] = {}  # compare form -> code -> failures
    for key, entry in entries.items():
        code, compare = entry.code, entry.compare
        if code:
            group = coded.get(code)
            if group is None:
                group = coded[code] = _Building(
                    code, entry.normalised, entry.failure.label, [], set(), set(), set()
                )
            counts = message_codes.setdefault(compare, {})
            counts[code] = counts.get(code, 0) + 1
        else:
            group = uncoded.get(compare)
            if group is None:
                example = entry.failure.message or UNKNOWN_FAILURE
                group = uncoded[compare] = _Building(
                    None, entry.normalised, example, [], set(), set(), set()
                )
        group.keys.append(key)
        group.providers.add(entry.provider)
        if entry.batch:
            group.batches.add(entry.batch)
        group.messages.add(compare)
    for compare, group in list(uncoded.items()):
        codes = message_codes.get(compare)
        if not codes or not compare:
            continue
        code = min(codes, key=lambda c: (-codes[c], c))
        target = coded[code]
        target.keys += group.keys
        target.providers |= group.providers
        target.batches |= group.batches
        del uncoded[compare]
    built = [_finish(f"code:{code}", group) for code, group in coded.items()]
    built += [_finish(f"message:{compare}", group) for compare, group in uncoded.items()]
    built.sort(key=lambda g: (-g.count, g.key))
    return built


def _finish(key: str, group: _Building) -> FailureGroup:
    message = group.normalised or ("" if group.code else UNKNOWN_FAILURE)
    title = f"{group.code}: {message}" if group.code and message else group.code or message
    kind = classify(group.code, group.normalised)
    return FailureGroup(
        key=key,
        title=title,
        code=group.code,
        kind=kind,
        count=len(group.keys),
        providers=tuple(sorted(group.providers)),
        batches=tuple(sorted(group.batches)),
        example=group.example,
        keys=tuple(group.keys),
        variants=len(group.messages),
        plain_words=plain_words(kind, group.code, group.normalised),
    )
