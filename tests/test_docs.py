"""The hook reference stays true: every hook documented, typed, and nothing documented twice
or invented."""

from __future__ import annotations

import inspect
import re
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import pytest

from community365 import hookspecs

HOOKS_MD = Path(__file__).resolve().parents[1] / "docs" / "hooks.md"
HOOK_NAME = re.compile(rf"\b{hookspecs.HOOK_PREFIX}[a-z][a-z0-9_]*\b")


def hooks() -> dict[str, Callable[..., Any]]:
    return {
        name: fn
        for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
        if name.startswith(hookspecs.HOOK_PREFIX)
    }


@pytest.fixture(scope="module")
def reference() -> str:
    assert HOOKS_MD.is_file(), f"{HOOKS_MD} is missing: the hook reference must exist"
    return HOOKS_MD.read_text(encoding="utf-8")


def headings(markdown: str) -> list[str]:
    return [line for line in markdown.splitlines() if re.match(r"#{1,6} ", line)]


def test_hooks_are_found() -> None:
    found = hooks()
    assert len(found) >= 13
    assert "c365_services" in found and "c365_daily_tasks" in found


@pytest.mark.parametrize("name", sorted(hooks()))
def test_every_hook_has_a_heading_in_the_reference(reference: str, name: str) -> None:
    titled = [h for h in headings(reference) if name in HOOK_NAME.findall(h)]
    assert len(titled) == 1, f"docs/hooks.md needs exactly one heading naming {name}"


def test_the_reference_mentions_no_hook_that_does_not_exist(reference: str) -> None:
    invented = sorted(set(HOOK_NAME.findall(reference)) - set(hooks()))
    assert not invented, f"docs/hooks.md mentions hooks that do not exist: {invented}"


@pytest.mark.parametrize("name", sorted(hooks()))
def test_every_hook_has_a_docstring(name: str) -> None:
    doc = inspect.getdoc(hooks()[name]) or ""
    assert len(doc.split()) >= 10, f"{name} needs a docstring saying when it is called"
    assert "Called" in doc, f"{name}: say when the hook is called"


@pytest.mark.parametrize("name", sorted(hooks()))
def test_every_hook_is_fully_annotated(name: str) -> None:
    fn = hooks()[name]
    annotations = inspect.get_annotations(fn)
    params = list(inspect.signature(fn).parameters)
    assert set(annotations) == {*params, "return"}, f"{name}: annotate every parameter and return"
    namespace = {**vars(hookspecs), "click": click}
    hints = typing.get_type_hints(fn, globalns=namespace)  # every annotation resolves
    assert set(hints) == set(annotations)


@pytest.mark.parametrize("name", sorted(hooks()))
def test_firstresult_is_documented_where_it_holds(name: str) -> None:
    firstresult = getattr(hooks()[name], f"{hookspecs.PROJECT}_spec", {}).get("firstresult")
    says_so = "Stops at the first non-None result" in (inspect.getdoc(hooks()[name]) or "")
    assert bool(firstresult) == says_so, name
