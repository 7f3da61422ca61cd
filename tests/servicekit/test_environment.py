"""servicekit.environment.PrefixedEnvironment: prefixed variables and on/off flags."""

from __future__ import annotations

import pytest

from servicekit.environment import PrefixedEnvironment


class _Refused(ValueError):
    pass


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1", True), ("TRUE", True), (" yes ", True), ("On", True), ("0", False), ("no", False)],
)
def test_flags_read_the_usual_spellings(text: str, expected: bool) -> None:
    env = PrefixedEnvironment("SVC_", {"SVC_FEATURE": text})
    assert env.flag("FEATURE", error=_Refused) is expected


def test_an_unset_or_empty_flag_is_none() -> None:
    assert PrefixedEnvironment("SVC_", {}).flag("FEATURE", error=_Refused) is None
    assert PrefixedEnvironment("SVC_", {"SVC_FEATURE": ""}).flag("FEATURE", error=_Refused) is None


@pytest.mark.parametrize("text", ["2", "enabled", "y e s"])
def test_anything_else_is_refused_naming_the_variable(text: str) -> None:
    env = PrefixedEnvironment("SVC_", {"SVC_FEATURE": text})
    with pytest.raises(_Refused, match=r"^SVC_FEATURE must be 1 or 0$"):
        env.flag("FEATURE", error=_Refused)
