"""Fixtures of the browser tests: the system Chromium (installed by deploy/local/chromium.py when
missing) and a stack of identity, school and chat with the web gateway in front."""

from __future__ import annotations

import importlib.util
import secrets
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from playwright.async_api import Browser, async_playwright

from tests.e2e.harness import ROOT, Stack
from tests.e2e.identity_client import random_phone
from tests.e2e.web_support import start_gateway
from tests.web.support import APP_DIR, PAGES, WebStack, journals


def _chromium_path() -> str:
    spec = importlib.util.spec_from_file_location("chromium_setup", ROOT / "deploy" / "local" / "chromium.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return str(module.ensure_chromium())


@pytest.fixture(autouse=True)
def _pages_of_this_test() -> Iterator[None]:
    PAGES.clear()
    yield
    PAGES.clear()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """A failed browser test reports what each of its pages did (PageJournal in support.py)."""
    outcome = yield
    report = outcome.get_result()
    if report.failed and PAGES:
        report.sections.append(("what the pages did (newest last)", journals()))


@pytest.fixture(scope="session")
def built_app() -> None:
    """The app's dist/ as `make setup` builds it (the stamp target; a no-op when up to date)."""
    subprocess.run(["make", "--no-print-directory", "webapp"], cwd=ROOT, check=True)
    assert (APP_DIR / "dist" / "index.html").exists()


@pytest.fixture(scope="session")
async def browser(built_app: None) -> AsyncIterator[Browser]:
    executable = _chromium_path()
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=executable,
            args=[
                "--no-sandbox",  # tests run as root in CI
                "--use-fake-device-for-media-stream",
                "--use-fake-ui-for-media-stream",
                "--autoplay-policy=no-user-gesture-required",
            ],
        )
        try:
            yield chromium
        finally:
            await chromium.close()


async def _web_stack(mongo_uri: str, kafka_bootstrap: str, *, media: bool) -> AsyncIterator[WebStack]:
    stack = Stack(mongo_uri, kafka_bootstrap, uuid.uuid4().hex[:8])
    operator = random_phone()
    clock_file = ROOT / ".cache" / "e2e" / f"chat-clock-{stack.run_id}.txt"
    clock_file.parent.mkdir(parents=True, exist_ok=True)
    clock_file.unlink(missing_ok=True)  # no file: real time
    gateway = None
    try:
        await stack.start("identity")
        await stack.start("school", {"SCHOOL_OPERATOR_PHONES": operator})
        await stack.start("chat", {"CHAT_DEV_CLOCK_FILE": str(clock_file), "CHAT_QUIET_RELEASE_POLL_SECONDS": "0.2"})
        if media:
            await stack.start("media_signal", _media_env())
        gateway = await start_gateway(stack, extra={"WEB_STATIC_DIR": str(APP_DIR / "dist")})
        yield WebStack(stack, gateway, gateway.url, operator, clock_file)
    finally:
        if gateway is not None:
            gateway.stop()
        stack.stop_all()
        clock_file.unlink(missing_ok=True)


def _media_env() -> dict[str, str]:
    """media-signal wired to the local Janus and coturn (deploy/local/media.py starts them if needed)."""
    if str(ROOT / "deploy" / "local") not in sys.path:
        sys.path.insert(0, str(ROOT / "deploy" / "local"))
    import media  # deploy/local/media.py (it imports infra.py beside it)

    for component in media.COMPONENTS.values():
        component.up()  # idempotent: Janus and coturn are usually running already
    env = media.env()
    return {
        "MEDIA_SIGNAL_JANUS_URL": env["janus_url"],
        "MEDIA_SIGNAL_TURN_URIS": env["turn_uri"],
        "MEDIA_SIGNAL_TURN_SECRET": env["turn_secret"],
        "MEDIA_SIGNAL_JOIN_TOKEN_SECRET": secrets.token_urlsafe(32),
    }


@pytest.fixture
async def web(mongo_uri: str, kafka_bootstrap: str) -> AsyncIterator[WebStack]:
    async for stack in _web_stack(mongo_uri, kafka_bootstrap, media=False):
        yield stack


@pytest.fixture
async def web_media(mongo_uri: str, kafka_bootstrap: str) -> AsyncIterator[WebStack]:
    """The same with media-signal (and Janus, coturn) for lessons."""
    async for stack in _web_stack(mongo_uri, kafka_bootstrap, media=True):
        yield stack
