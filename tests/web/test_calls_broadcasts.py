"""Calls and broadcasts in the browser, over the same media code as lessons (media/Room.tsx).

- A call: the parent opens the direct chat with the class head and calls; the teacher joins from
  the same chat; the call is peer-to-peer (media-signal relays offers, answers and candidates by
  participant id) and each side decodes the other's fake camera.
- A broadcast with a waiting room in the parents' chat: the teacher schedules it, then starts the
  scheduled one, the parent waits
  until the teacher lets them in, watches the teacher (decoded frames), is brought on stage,
  publishes, and the teacher then decodes the parent's video.
media-signal grants, Janus and coturn are real."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import grpc
from parta.chat.v1 import chat_pb2, chat_pb2_grpc
from playwright.async_api import Browser, expect

from tests.web.support import (
    WebStack,
    browser_sign_in,
    check_accessibility,
    new_page,
    screenshot,
    seed_school,
)
from tests.web.test_lesson import decoded_frames


async def test_a_call_from_a_direct_chat_both_sides_decode_video(browser: Browser, web_media: WebStack) -> None:
    web = web_media
    school = await seed_school(web)
    async with grpc.aio.insecure_channel(web.chat) as channel:
        opened = await chat_pb2_grpc.ChatServiceStub(channel).OpenDirectChat(
            chat_pb2.OpenDirectChatRequest(school_id=school.school_id, user_id=school.teacher.user_id),
            metadata=school.parent.md,
        )
    direct = opened.chat.chat.chat_id
    contexts = []
    try:
        parent_ctx, parent = await new_page(browser, web)
        contexts.append(parent_ctx)
        await browser_sign_in(parent, web, school.parent.phone, f"/chat/{direct}")
        await parent.get_by_role("button", name="Позвонить").click()
        await expect(parent.get_by_role("status").filter(has_text="Идёт звонок")).to_be_visible()

        teacher_ctx, teacher = await new_page(browser, web)
        contexts.append(teacher_ctx)
        await browser_sign_in(teacher, web, school.teacher.phone, f"/chat/{direct}")
        await teacher.get_by_role("link", name="Присоединиться к звонку").click()
        await expect(teacher.get_by_role("status").filter(has_text="Идёт звонок")).to_be_visible()

        assert await decoded_frames(teacher, "Сергей Кузнецов") > 0
        assert await decoded_frames(parent, "Ольга Смирнова") > 0
        await screenshot(parent, "call")
        await check_accessibility(parent, "call")
        for page in (parent, teacher):
            assert page.csp_violations == []  # type: ignore[attr-defined]
    finally:
        for context in contexts:
            await context.close()


async def test_a_broadcast_viewer_is_admitted_brought_on_stage_and_seen(browser: Browser, web_media: WebStack) -> None:
    web = web_media
    school = await seed_school(web)
    contexts = []
    try:
        teacher_ctx, teacher = await new_page(browser, web)
        contexts.append(teacher_ctx)
        await browser_sign_in(teacher, web, school.teacher.phone, f"/chat/{school.parents_chat}")
        await expect(teacher.get_by_role("button", name="Начать урок")).to_have_count(0)  # parents' chat
        await teacher.get_by_label("С залом ожидания").check()
        when = datetime.now(ZoneInfo("Europe/Moscow")) + timedelta(hours=2)  # the page's time zone
        await teacher.get_by_label("Время трансляции").fill(when.strftime("%Y-%m-%dT%H:%M"))
        await teacher.get_by_role("button", name="Запланировать трансляцию").click()
        await expect(teacher.get_by_text("запланирована")).to_contain_text(when.strftime("%H:%M"))
        await teacher.get_by_role("button", name="Начать сейчас").click()
        await expect(teacher.get_by_role("status").filter(has_text="Идёт трансляция")).to_be_visible()

        parent_ctx, parent = await new_page(browser, web)
        contexts.append(parent_ctx)
        await browser_sign_in(parent, web, school.parent.phone, f"/chat/{school.parents_chat}")
        await parent.get_by_role("link", name="Присоединиться к трансляции").click()
        await expect(parent.get_by_role("status")).to_have_text("Вы в зале ожидания: ведущий скоро впустит вас.")

        # The waiting room: the teacher lets the parent in.
        row = teacher.locator(f'li[data-user-id="{school.parent.user_id}"]')
        await expect(row).to_contain_text("в зале ожидания")
        await screenshot(teacher, "broadcast-waiting-room")
        await row.get_by_role("button", name="Впустить").click()
        await expect(parent.get_by_role("status").filter(has_text="Идёт трансляция")).to_be_visible()
        assert await decoded_frames(parent, "Ольга Смирнова") > 0
        # A viewer does not publish: no camera of their own yet.
        await expect(parent.locator("figure.video", has_text="Вы")).to_have_count(0)
        await check_accessibility(parent, "broadcast")

        # On stage: the parent publishes and the teacher receives the parent's video.
        await row.get_by_role("button", name="Вывести на сцену: Сергей Кузнецов").click()
        assert await decoded_frames(parent, "Вы") > 0
        assert await decoded_frames(teacher, "Сергей Кузнецов") > 0
        await expect(row.get_by_role("button", name="Вывести на сцену: Сергей Кузнецов")).to_have_count(0)
        await screenshot(teacher, "broadcast-stage")
        await check_accessibility(teacher, "broadcast-host")
        for page in (parent, teacher):
            assert page.csp_violations == []  # type: ignore[attr-defined]
    finally:
        for context in contexts:
            await context.close()
