"""Browser tests of the console: one gateway stack and one chromium for the whole module."""

from __future__ import annotations

from collections.abc import Generator, Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page

from tests.fixtures.browser import Outside, browser, guard, screenshot_on_failure
from tests.fixtures.stack import Stack, running_stack

__all__ = ["browser"]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, object, None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.when == "call":
        item.rep_call = report  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def console_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("console")) as s:
        yield s


@pytest.fixture
def context(browser: Browser, console_stack: Stack) -> Iterator[tuple[BrowserContext, Outside]]:
    ctx = browser.new_context(base_url=console_stack.url, viewport={"width": 360, "height": 780})
    outside = guard(ctx, console_stack.url)
    try:
        yield ctx, outside
    finally:
        ctx.close()
    assert outside.seen == [], f"the page tried to reach other hosts: {outside.seen}"


@pytest.fixture
def page(request: pytest.FixtureRequest, context: tuple[BrowserContext, Outside],
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[Page]:
    p = context[0].new_page()
    p.set_default_timeout(20_000)
    yield p
    screenshot_on_failure(request, p, tmp_path_factory.getbasetemp() / "screenshots")
