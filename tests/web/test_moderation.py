"""Moderation and quiet hours in the browser, as one story: a parent reports another parent's
message in the class parents' chat; the class head opens the moderation queue, sees the message as
it was, who reported it and why, and deletes it with a reason; the reporter reads the outcome in
"Мои жалобы". The parent blocks the other parent's direct messages (whose sends are then refused),
and, blocked in turn, sees the refusal in Russian. At night the parent's urgent message to the
class head reaches the teacher's open chat at once, its reason shown; an ordinary one is held, and
the school admin delivers it from the held-messages list."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import grpc
import pytest
from parta.chat.v1 import chat_pb2, chat_pb2_grpc
from playwright.async_api import Browser, Page, expect

from tests.e2e import school_client as sc
from tests.web.support import (
    Person,
    WebStack,
    browser_sign_in,
    chats_of,
    check_accessibility,
    eventually,
    new_page,
    person,
    screenshot,
    seed_school,
)


def message(page: Page, text: str):  # type: ignore[no-untyped-def]
    return page.locator("li.message").filter(has=page.locator("p.text", has_text=text))


async def _send(chat: chat_pb2_grpc.ChatServiceStub, who: Person, chat_id: str, text: str) -> None:
    await chat.SendMessage(
        chat_pb2.SendMessageRequest(chat_id=chat_id, client_message_id=uuid.uuid4().hex, text=text), metadata=who.md
    )


async def test_report_block_and_urgent_in_the_browser(browser: Browser, web: WebStack) -> None:
    school = await seed_school(web)
    # A second parent of the same child (Мария), who writes what gets reported.
    other = await person(web, "Мария", "Кузнецова", "1987-05-20")
    await sc.join_school(
        web.school,
        school.admin.token,
        school.school_id,
        other.token,
        sc.PARENT,
        class_id=school.class_id,
        child_user_id=school.student.user_id,
    )
    await eventually(lambda: _in(web, other, school.parents_chat), "chat provisions the parents' chat for Мария")
    async with grpc.aio.insecure_channel(web.chat) as channel:
        chat = chat_pb2_grpc.ChatServiceStub(channel)
        rude = "Учительница опять ничего не объяснила, позор"
        await _send(chat, other, school.parents_chat, rude)
        dm_parents = (
            await chat.OpenDirectChat(
                chat_pb2.OpenDirectChatRequest(school_id=school.school_id, user_id=school.parent.user_id),
                metadata=other.md,
            )
        ).chat.chat.chat_id
        await _send(chat, other, dm_parents, "Сергей, ответьте немедленно!")
        dm_teacher = (
            await chat.OpenDirectChat(
                chat_pb2.OpenDirectChatRequest(school_id=school.school_id, user_id=school.parent.user_id),
                metadata=school.teacher.md,
            )
        ).chat.chat.chat_id
        await _send(chat, school.teacher, dm_teacher, "Добрый день! Жду вас на собрании в четверг.")

        parent_ctx, parent = await new_page(browser, web)
        teacher_ctx, teacher = await new_page(browser, web)
        admin_ctx = None
        try:
            await browser_sign_in(parent, web, school.parent.phone)
            await browser_sign_in(teacher, web, school.teacher.phone)

            # The parent reports Мария's message from its actions, with a reason.
            await parent.locator(f'a[data-chat-id="{school.parents_chat}"]').click()
            reported = message(parent, rude)
            await reported.get_by_role("button", name="Пожаловаться").click()
            await reported.get_by_label("Причина жалобы").fill("Оскорбляет учителя")
            await reported.get_by_role("button", name="Отправить жалобу").click()
            await expect(reported.get_by_role("status")).to_contain_text("Жалоба отправлена")

            # The class head's queue: the message as it was, who reported it, why.
            await teacher.get_by_role("navigation").get_by_role("link", name="Модерация").click()
            report = teacher.get_by_role("article").filter(has_text=rude)
            await expect(report).to_contain_text("Мария Кузнецова")
            await expect(report).to_contain_text("Автор жалобы")
            await expect(report).to_contain_text("Сергей Кузнецов")
            await expect(report).to_contain_text("Оскорбляет учителя")
            await expect(report).to_contain_text("На рассмотрении")
            await screenshot(teacher, "moderation")
            await check_accessibility(teacher, "moderation")
            await report.get_by_label("Удалить сообщение").check()
            await report.get_by_label("Причина решения").fill("Грубость в родительском чате")
            await report.get_by_role("button", name="Применить").click()
            await expect(teacher.get_by_text("Открытых жалоб нет.")).to_be_visible()
            await expect(message(parent, rude)).to_have_count(0)  # gone live from the parents' chat
            # Decided reports stay readable, with who decided and why.
            await teacher.get_by_label("Показать и решённые").check()
            await expect(report).to_contain_text("сообщение удалено — «Грубость в родительском чате»")
            # The teacher's own switch: urgent messages from parents reach them at night (on by default).
            await teacher.get_by_role("navigation").get_by_role("link", name="Настройки").click()
            switch = teacher.get_by_label("Сообщать мне о срочных сообщениях")
            await expect(switch).to_be_checked()
            await switch.uncheck()
            await eventually(lambda: _urgent_setting(chat, school.teacher, False), "urgent notifications off")
            await expect(switch).to_be_enabled()
            await switch.check()
            await eventually(lambda: _urgent_setting(chat, school.teacher, True), "urgent notifications on")

            # The reporter learns the outcome (not who decided nor their note).
            await parent.get_by_role("navigation").get_by_role("link", name="Настройки").click()
            mine = parent.get_by_role("region", name="Мои жалобы")
            await expect(mine.locator("li.my-report")).to_contain_text("Приняты меры: сообщение удалено")
            await expect(mine).not_to_contain_text("Грубость")
            await screenshot(parent, "settings")
            await check_accessibility(parent, "settings")

            # Blocking Мария's direct messages: her next send is refused by chat.
            await parent.get_by_role("navigation").get_by_role("link", name="Чаты").click()
            await parent.locator(f'a[data-chat-id="{dm_parents}"]').click()
            await expect(message(parent, "ответьте немедленно")).to_be_visible()
            await parent.get_by_role("button", name="Заблокировать").click()
            await expect(parent.get_by_role("status").filter(has_text="Вы заблокировали")).to_contain_text(
                "Мария Кузнецова"
            )
            await expect(parent.get_by_role("button", name="Разблокировать")).to_be_visible()
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await _send(chat, other, dm_parents, "Почему вы молчите?")
            assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
            # Мария blocks him too: his send is refused, said in Russian.
            await chat.BlockUser(chat_pb2.BlockUserRequest(user_id=school.parent.user_id), metadata=other.md)
            await parent.get_by_label("Сообщение").fill("Давайте обсудим спокойно")
            await parent.get_by_role("button", name="Отправить").click()
            await expect(parent.get_by_role("alert")).to_have_text("Этот человек не принимает от вас личные сообщения.")
            await expect(message(parent, "Давайте обсудим спокойно")).to_have_count(0)

            # The block list in settings: Мария is on it, and is taken off it there.
            await parent.get_by_role("navigation").get_by_role("link", name="Настройки").click()
            blocked = parent.get_by_role("region", name="Заблокированные")
            await expect(blocked.locator("li")).to_contain_text("Мария Кузнецова")
            await blocked.get_by_role("button", name="Разблокировать").click()
            await expect(blocked).to_contain_text("Вы никого не блокировали.")
            await _send(chat, other, dm_parents, "Хорошо, поговорим в четверг")

            # Night in Moscow. The teacher has their direct chat with the parent open.
            web.clock_file.write_text(datetime(2026, 9, 1, 20, 0, tzinfo=UTC).isoformat())
            await teacher.get_by_role("navigation").get_by_role("link", name="Чаты").click()
            await teacher.locator(f'a[data-chat-id="{dm_teacher}"]').click()
            await expect(teacher.locator("#chat-title")).to_have_text("Сергей Кузнецов")
            await parent.get_by_role("navigation").get_by_role("link", name="Чаты").click()
            await parent.locator(f'a[data-chat-id="{dm_teacher}"]').click()
            await expect(parent.locator("#chat-title")).to_have_text("Ольга Смирнова")
            await parent.get_by_label("Срочно: доставить сразу").check()
            await parent.get_by_label("Почему это не может подождать").fill("Лена заболела, завтра её не будет")
            await parent.get_by_label("Сообщение").fill("Лена завтра не придёт в школу")
            await parent.get_by_role("button", name="Отправить").click()
            urgent = message(teacher, "Лена завтра не придёт")
            await expect(urgent).to_be_visible()  # at once, live, at 23:00
            await expect(urgent.locator(".urgent")).to_have_text("Срочно: Лена заболела, завтра её не будет")
            await expect(parent.get_by_label("Срочно: доставить сразу")).not_to_be_checked()
            await expect(parent.locator("p.held[role=status]")).to_have_count(0)
            # An ordinary message is held until the morning.
            await parent.get_by_label("Сообщение").fill("И ещё: где взять расписание?")
            await parent.get_by_role("button", name="Отправить").click()
            await expect(parent.get_by_role("status").filter(has_text="тихие часы")).to_contain_text("08:00")

            # The school admin delivers the held message now; it reaches the teacher's open chat.
            admin_ctx, admin = await new_page(browser, web)
            await browser_sign_in(admin, web, school.admin.phone, "/moderation")
            held = admin.get_by_role("region", name="Задержанные сообщения")
            row = held.locator("li").filter(has_text="От Сергей Кузнецов для Ольга Смирнова")
            await expect(row).to_be_visible()
            await check_accessibility(admin, "moderation (admin)")
            await row.get_by_role("button", name="Доставить сейчас").click()
            await expect(held.get_by_role("status")).to_have_text("Сообщение от Сергей Кузнецов доставлено.")
            await expect(held.get_by_text("Задержанных сообщений нет.")).to_be_visible()
            await expect(message(teacher, "где взять расписание")).to_be_visible()

            for page in (parent, teacher, admin):
                assert page.csp_violations == []  # type: ignore[attr-defined]
        finally:
            await parent_ctx.close()
            await teacher_ctx.close()
            if admin_ctx is not None:
                await admin_ctx.close()


async def _in(web: WebStack, who: Person, chat_id: str) -> bool:
    return chat_id in await chats_of(web, who)


async def _urgent_setting(chat: chat_pb2_grpc.ChatServiceStub, who: Person, enabled: bool) -> bool:
    reply = await chat.GetMyChatSettings(chat_pb2.GetMyChatSettingsRequest(), metadata=who.md)
    return reply.urgent_notifications == enabled
