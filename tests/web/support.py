"""Browser tests of the web app: real services as processes (tests/e2e/harness.py), the web gateway
in front of them serving the built app, and the system Chromium driven by Playwright.

A school is seeded through the gRPC APIs (as the CLI and the demo do); the people then use the app
in their own browser contexts, signing in with codes read from the dev SMS file."""

from __future__ import annotations

import asyncio
import io
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import grpc
from parta.chat.v1 import chat_pb2, chat_pb2_grpc
from parta.identity.v1 import guardians_pb2, guardians_pb2_grpc, profiles_pb2, profiles_pb2_grpc
from playwright.async_api import Browser, BrowserContext, Page, expect

from tests.e2e import school_client as sc
from tests.e2e.harness import ROOT, Stack
from tests.e2e.identity_client import auth, create_profile, random_phone, read_code, sign_in
from tests.e2e.web_support import GatewayProcess

APP_DIR = ROOT / "services" / "web" / "app"
AXE = APP_DIR / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = ROOT / "tests" / "web" / "artifacts"
# Playwright waits on conditions; on a busy 2-core machine provisioning over Kafka takes seconds.
WAIT_MS = 45_000
expect.set_options(timeout=WAIT_MS)


@dataclass
class Person:
    phone: str
    user_id: str
    token: str
    first: str
    last: str

    @property
    def md(self) -> list[tuple[str, str]]:
        return auth(self.token)

    @property
    def name(self) -> str:
        return f"{self.first} {self.last}"


@dataclass
class School:
    school_id: str
    class_id: str
    class_title: str
    admin: Person
    teacher: Person
    student: Person
    parent: Person
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def class_chat(self) -> str:
        return f"cls-{self.class_id}"

    @property
    def parents_chat(self) -> str:
        return f"par-{self.class_id}"


@dataclass
class WebStack:
    stack: Stack
    gateway: GatewayProcess
    base_url: str
    operator_phone: str
    clock_file: Path

    @property
    def identity(self) -> str:
        return self.stack.services["identity"].address

    @property
    def school(self) -> str:
        return self.stack.services["school"].address

    @property
    def chat(self) -> str:
        return self.stack.services["chat"].address


async def eventually(check: Any, what: str, timeout: float = WAIT_MS / 1000) -> Any:
    """Polls an async check until it gives a truthy value (another service learns over Kafka)."""
    deadline = asyncio.get_running_loop().time() + timeout
    last: Any = None
    while True:
        try:
            last = await check()
            if last:
                return last
        except grpc.aio.AioRpcError as error:
            last = error
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s; last: {last!r}")
        await asyncio.sleep(0.2)


async def person(web: WebStack, first: str, last: str, birth: str) -> Person:
    phone = random_phone()
    signed = await sign_in(web.identity, phone, web.stack.sms_file)
    await create_profile(web.identity, signed.access_token, first, last, birth)
    return Person(phone, signed.user_id, signed.access_token, first, last)


async def chats_of(web: WebStack, who: Person) -> set[str]:
    async with grpc.aio.insecure_channel(web.chat) as channel:
        reply = await chat_pb2_grpc.ChatServiceStub(channel).ListChats(chat_pb2.ListChatsRequest(), metadata=who.md)
    return {view.chat.chat_id for view in reply.chats}


async def seed_school(web: WebStack, *, link_parent: bool = False, student_birth: str = "2010-02-01") -> School:
    """A school with class 5А: admin, a verified class head, a student (by default past the consent
    age) and the student's parent; chat has provisioned the class chats for them when this returns."""
    operator = await sign_in(web.identity, web.operator_phone, web.stack.sms_file)
    admin_phone = random_phone()
    school = await sc.register_school(web.school, operator.access_token, admin_phone=admin_phone)
    admin_signed = await sign_in(web.identity, admin_phone, web.stack.sms_file)
    await create_profile(web.identity, admin_signed.access_token, "Ирина", "Петрова", "1979-03-14")
    await sc.claim(web.school, admin_signed.access_token)
    admin = Person(admin_phone, admin_signed.user_id, admin_signed.access_token, "Ирина", "Петрова")
    klass = await sc.create_class(web.school, admin.token, school.school_id, 5, "А")
    teacher = await person(web, "Ольга", "Смирнова", "1986-09-01")
    student = await person(web, "Лена", "Кузнецова", student_birth)
    parent = await person(web, "Сергей", "Кузнецов", "1984-01-11")
    await sc.join_school(web.school, admin.token, school.school_id, teacher.token, sc.TEACHER)
    await sc.set_class_head(web.school, admin.token, klass.class_id, teacher.user_id)
    await sc.verify_staff(web.school, admin.token, school.school_id, teacher.user_id)
    await sc.join_school(web.school, admin.token, school.school_id, student.token, sc.STUDENT, class_id=klass.class_id)
    await sc.join_school(
        web.school,
        admin.token,
        school.school_id,
        parent.token,
        sc.PARENT,
        class_id=klass.class_id,
        child_user_id=student.user_id,
    )
    seeded = School(school.school_id, klass.class_id, klass.title, admin, teacher, student, parent)
    await eventually(
        lambda: _both_in(web, seeded, teacher, parent), "chat provisions the parents' chat for teacher and parent"
    )
    if link_parent:
        await link_guardian(web, parent, student)
    return seeded


async def _both_in(web: WebStack, school: School, *people: Person) -> bool:
    for who in people:
        if school.parents_chat not in await chats_of(web, who):
            return False
    return True


async def link_guardian(web: WebStack, parent: Person, child: Person) -> None:
    """The parent links to the child by the child's phone; the school vouches (the parent seat is
    bound to that child), once identity has learnt the memberships."""
    async with grpc.aio.insecure_channel(web.identity) as channel:
        names = profiles_pb2_grpc.ProfileServiceStub(channel)
        guardians = guardians_pb2_grpc.GuardianServiceStub(channel)

        async def sees_child() -> bool:
            reply = await names.BatchGetDisplayNames(
                profiles_pb2.BatchGetDisplayNamesRequest(user_ids=[child.user_id]), metadata=parent.md
            )
            return bool(reply.names)

        await eventually(sees_child, "identity learns the parent seat")
        await guardians.LinkGuardian(guardians_pb2.LinkGuardianRequest(child_phone=child.phone), metadata=parent.md)

        async def linked() -> bool:
            reply = await guardians.ListMyChildren(guardians_pb2.ListMyChildrenRequest(), metadata=parent.md)
            return any(
                link.child_user_id == child.user_id and link.state == guardians_pb2.GUARDIAN_LINK_STATE_LINKED
                for link in reply.links
            )

        await eventually(linked, "the guardian link is confirmed")


async def new_page(browser: Browser, web: WebStack) -> tuple[BrowserContext, Page]:
    context = await browser.new_context(
        base_url=web.base_url, locale="ru-RU", timezone_id="Europe/Moscow", viewport={"width": 1100, "height": 900}
    )
    page = await context.new_page()
    csp_violations: list[str] = []
    page.on(
        "console",
        lambda message: csp_violations.append(message.text) if "Content Security Policy" in message.text else None,
    )
    page.csp_violations = csp_violations  # type: ignore[attr-defined]
    page.journal = PageJournal.attach(page)  # type: ignore[attr-defined]
    PAGES.append(page)
    return context, page


# The pages of the running test, for its failure report (tests/web/conftest.py).
PAGES: list[Page] = []


def journals() -> str:
    return "\n\n".join(f"page {n} at {page.url}:\n{page.journal}" for n, page in enumerate(PAGES, 1))  # type: ignore[attr-defined]


@dataclass
class PageJournal:
    """What a page did, for a failure to tell: its /api answers (with the error body), requests
    that got no answer, console errors and uncaught exceptions, newest last."""

    events: list[str] = field(default_factory=list)
    keep: int = 60

    @classmethod
    def attach(cls, page: Page) -> PageJournal:
        journal = cls()
        page.on("request", lambda r: journal.add(f"{r.method} {_path(r.url)} sent") if _api(r.url) else None)
        page.on("response", journal._on_response)
        page.on("requestfailed", lambda r: journal.add(f"{r.method} {_path(r.url)} failed: {r.failure}"))
        page.on("console", lambda m: journal.add(f"console.{m.type}: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda error: journal.add(f"page error: {error}"))
        page.on("framenavigated", lambda f: None if f.parent_frame else journal.add(f"navigated to {_path(f.url)}"))
        page.on("websocket", journal._on_websocket)
        return journal

    def _on_websocket(self, socket: Any) -> None:
        """Streams: opened and closed, and any frame that carries an error."""
        where = _path(socket.url)
        self.add(f"websocket {where} opened")
        socket.on("close", lambda _: self.add(f"websocket {where} closed"))
        socket.on(
            "framereceived",
            lambda frame: self.add(f"websocket {where} got {frame[:300]}") if '"error"' in str(frame) else None,
        )

    def add(self, event: str) -> None:
        self.events.append(f"{time.strftime('%H:%M:%S')} {event}")
        del self.events[: -self.keep]

    async def _on_response(self, response: Any) -> None:
        if not _api(response.url):
            return
        timing = response.request.timing
        took = f" after {timing['responseStart']:.0f} ms" if timing.get("responseStart", -1) >= 0 else ""
        line = f"{response.request.method} {_path(response.url)} → {response.status}{took}"
        if response.status >= 400:
            try:
                line += f" {(await response.text())[:300]}"
            except Exception as error:  # the page navigated away: the body is gone
                line += f" (body unreadable: {error})"
        self.add(line)

    def __str__(self) -> str:
        return "\n".join(self.events) or "(nothing)"


def _api(url: str) -> bool:
    return urlsplit(url).path.startswith("/api/")


def _path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


async def page_report(page: Page) -> str:
    """The page's state for a failure message: address, visible alerts, what it did lately."""
    try:
        alerts = await page.get_by_role("alert").all_inner_texts()
        heading = await page.locator("main").inner_text(timeout=2000)
    except Exception as error:
        alerts, heading = [], f"(unreadable: {error})"
    journal = getattr(page, "journal", None)
    return (
        f"page at {page.url}\nalerts: {alerts}\nmain says: {heading[:400]!r}\n"
        f"what the page did (newest last):\n{journal if journal is not None else '(no journal)'}"
    )


async def browser_sign_in(page: Page, web: WebStack, phone: str, path: str = "/", *, keyboard: bool = False) -> None:
    """Signs in from the sign-in screen with the code identity wrote to the dev SMS file. With
    `keyboard`, by keyboard alone: type, Enter submits, focus moves to the code field by itself.
    When no code comes, the failure tells what the page saw (its alerts and /api answers)."""
    if path:
        await page.goto(path)
    before = _lines(web.stack.sms_file)
    if keyboard:
        await page.get_by_label("Номер телефона").focus()
        await page.keyboard.type(phone)
        await page.keyboard.press("Enter")
        await expect(page.get_by_label("Код из СМС")).to_be_focused()
    else:
        await page.get_by_label("Номер телефона").fill(phone)
        await page.get_by_role("button", name="Получить код").click()
    # identity has written the code by the time the page asks for it; an error answer shows an alert.
    asks = page.get_by_label("Код из СМС")
    try:
        await expect(asks.or_(page.get_by_role("alert")).first).to_be_visible()
        answered = await asks.is_visible()
    except AssertionError as error:
        report = await page_report(page)
        raise AssertionError(f"the page neither asked for the code nor said why: {error}\n{report}") from None
    if not answered:
        raise AssertionError(f"the code request was refused\n{await page_report(page)}")
    try:
        code = await read_code(web.stack.sms_file, phone, after_line=before, timeout=WAIT_MS / 1000)
    except TimeoutError as error:
        raise AssertionError(
            f"{error} (the file had {before} lines before the request, {_lines(web.stack.sms_file)} now)\n"
            f"{await page_report(page)}"
        ) from None
    if keyboard:
        await page.keyboard.type(code)
        await page.keyboard.press("Enter")
    else:
        await page.get_by_label("Код из СМС").fill(code)
        await page.get_by_role("button", name="Войти").click()


def _lines(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


async def check_accessibility(page: Page, screen: str) -> None:
    """axe-core (from the app's node_modules) on the current screen: no serious or critical
    violations. Evaluated through the DevTools protocol, so the page's CSP stays as it is."""
    if not await page.evaluate("typeof window.axe !== 'undefined'"):
        await page.evaluate(AXE.read_text() + "\n;undefined")
    result = await page.evaluate(
        "axe.run(document, {resultTypes: ['violations'], runOnly: {type: 'tag', values: "
        "['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}})"
    )
    bad = [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert not bad, f"accessibility violations on {screen}:\n" + "\n".join(bad)


async def screenshot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def png_bytes(color: tuple[int, int, int] = (30, 120, 200)) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (48, 32), color).save(buffer, format="PNG")
    return buffer.getvalue()
