"""Which task failures are worth sending the same request again (`retry`, the detail pane).

A transient failure is the provider's trouble, not the request's: an upstream internal or
server error, a timeout, a message asking to try again later. The same request may work next
time. Content-policy and invalid-parameter failures are the request's own: sending it again
costs money and fails the same way, so those are never transient, whatever else the message
says.
"""

from __future__ import annotations

from tui.core.model import Failure, State

# Words of a failure that is the request's own (checked first: they win).
_PERMANENT = (
    "sensitive",
    "policy",
    "invalidparameter",
    "invalid parameter",
    "invalid_parameter",
    "missingparameter",
    "missing parameter",
    "real person",
    "exceeds",
    "must be set",
    "not supported",
    "unsupported",
    "quota",
    "balance",
    "overdue",
    "unauthorized",
    "forbidden",
)
# Words of a failure that is the provider's trouble.
_TRANSIENT = (
    "internalserviceerror",
    "internal error",
    "internal server error",
    "internalerror",
    "service encountered an unexpected",
    "server error",
    "serveroverloaded",
    "overloaded",
    "serviceunavailable",
    "service unavailable",
    "temporarily",
    "timeout",
    "timed out",
    "time out",
    "retry later",
    "try again",
    "please retry",
    "ratelimit",
    "rate limit",
    "busy",
    "请稍后",
    "重试",
    "超时",
)


def is_transient(failure: Failure | None) -> bool:
    """True when retrying the same request may help (see the module doc)."""
    if failure is None:
        return False
    text = f"{failure.code or ''} {failure.message or ''}".casefold()
    if any(word in text for word in _PERMANENT):
        return False
    return any(word in text for word in _TRANSIENT)


def worth_retrying(state: State, failure: Failure | None) -> bool:
    """A finished task whose request may work if sent again: a transient failure, or a task
    that expired in the provider's queue (it timed out before it started)."""
    if state is State.EXPIRED:
        return True
    return state is State.FAILED and is_transient(failure)
