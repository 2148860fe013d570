"""A teacher and a parent in two browser contexts: they sign in with phone and code, the teacher
posts in the class parents' chat and the parent sees it live (no reload), with the unread count on
the chat list first; reply, reaction, edit, read count and delete travel live too; a file and an
image uploaded by the teacher are downloaded intact and previewed by the parent, and a file the
teacher takes off the message shows as removed and no longer downloads; the parent gives
consent for the child on the Children screen; at night the parent's message to the class head shows
the quiet-hours notice."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from playwright.async_api import Browser, Page, expect

from tests.web.support import (
    WAIT_MS,
    WebStack,
    browser_sign_in,
    check_accessibility,
    new_page,
    png_bytes,
    screenshot,
    seed_school,
)


def message(page: Page, text: str):  # type: ignore[no-untyped-def]
    return page.locator("li.message").filter(has=page.locator("p.text", has_text=text))


async def test_teacher_and_parent_exchange_messages_live(browser: Browser, web: WebStack) -> None:
    # Лена is 11: below the consent age, she waits for her father's consent.
    school = await seed_school(web, link_parent=True, student_birth="2015-02-03")
    teacher_ctx, teacher = await new_page(browser, web)
    parent_ctx, parent = await new_page(browser, web)
    try:
        await browser_sign_in(teacher, web, school.teacher.phone)
        await browser_sign_in(parent, web, school.parent.phone)
        parents_chat_teacher = teacher.locator(f'a[data-chat-id="{school.parents_chat}"]')
        parents_chat_parent = parent.locator(f'a[data-chat-id="{school.parents_chat}"]')
        await expect(parents_chat_teacher).to_be_visible()
        await expect(parents_chat_parent).to_be_visible()
        await screenshot(parent, "chat-list")
        await check_accessibility(parent, "chat list")

        # The teacher posts; the parent, on the chat list, sees the unread count go up live (the chat
        # already holds system messages about who joined).
        badge = parents_chat_parent.locator(".badge")
        unread = int(await badge.text_content() or 0) if await badge.count() else 0
        await parents_chat_teacher.click()
        await expect(teacher.locator("#chat-title")).not_to_have_text("…")
        await teacher.get_by_label("Сообщение").fill("Завтра экскурсия в музей, сбор в 9:00")
        await teacher.get_by_role("button", name="Отправить").click()
        await expect(badge).to_have_text(str(unread + 1))

        # The parent opens the chat (marks it read) and answers with a reply.
        await parents_chat_parent.click()
        first = message(parent, "Завтра экскурсия в музей")
        await expect(first).to_be_visible()
        # System messages speak the reader's language (Russian here): who joined, by name.
        joined = parent.locator("li.message.system p.text", has_text="В чате новый участник: Ольга Смирнова")
        await expect(joined).to_be_visible()
        await first.get_by_role("button", name="Ответить").click()
        await parent.get_by_label("Сообщение").fill("Спасибо, Лена будет")
        await parent.get_by_label("Сообщение").press("Enter")
        answer = message(teacher, "Спасибо, Лена будет")
        await expect(answer).to_be_visible()  # live on the teacher's side, no reload
        await expect(answer.locator("blockquote")).to_have_text(re.compile("Завтра экскурсия"))

        # The author sees how many have read the message (the parent has).
        own = message(teacher, "Завтра экскурсия в музей")
        await own.locator("button.read-count").click()
        await expect(own.locator("button.read-count")).to_have_text(re.compile(r"Прочитали 1 из \d+"))
        # The teacher's own read position moves (a new message from the parent, read on arrival):
        # the count on show is fetched again, never blanked back to the button's label.
        async with teacher.expect_response(lambda r: r.url.endswith("/GetReadCount"), timeout=WAIT_MS):
            await parent.get_by_label("Сообщение").fill("И ещё: нужна ли сменная обувь?")
            await parent.get_by_label("Сообщение").press("Enter")
            await expect(message(teacher, "нужна ли сменная обувь")).to_be_visible()
        await expect(own.locator("button.read-count")).to_have_text(re.compile(r"Прочитали 1 из \d+"))

        # A reaction and an edit arrive live.
        await answer.get_by_role("button", name="Реакция 👍").click()
        await expect(message(parent, "Спасибо, Лена будет").get_by_role("button", name="Реакция 👍")).to_have_text(
            re.compile("1")
        )
        await own.get_by_role("button", name="Изменить").click()
        await teacher.get_by_label("Сообщение").fill("Завтра экскурсия в музей, сбор в 8:30")
        await teacher.get_by_role("button", name="Сохранить").click()
        edited = message(parent, "сбор в 8:30")
        await expect(edited).to_be_visible()
        await expect(edited.locator(".meta")).to_contain_text("изменено")

        # Files: a text file downloaded intact, an image previewed.
        plan = "План экскурсии\n1. Сбор\n2. Музей\n".encode()
        await teacher.locator("#attach").set_input_files(
            [
                {"name": "plan.txt", "mimeType": "text/plain", "buffer": plan},
                {"name": "map.png", "mimeType": "image/png", "buffer": png_bytes()},
            ]
        )
        await expect(teacher.get_by_text("Прикреплено: map.png")).to_be_visible()
        await expect(teacher.get_by_text("Прикреплено: plan.txt")).to_be_visible()
        await teacher.get_by_label("Сообщение").fill("Материалы")
        await teacher.get_by_role("button", name="Отправить").click()
        with_files = message(parent, "Материалы")
        await expect(with_files.get_by_role("link", name="Скачать plan.txt")).to_be_visible()
        async with parent.expect_download() as download_info:
            await with_files.get_by_role("link", name="Скачать plan.txt").click()
        download = await download_info.value
        assert download.suggested_filename == "plan.txt"
        assert open(await download.path(), "rb").read() == plan
        image = with_files.get_by_role("img", name="Изображение map.png")
        await expect(image).to_be_visible()
        await parent.wait_for_function(
            "img => img.complete && img.naturalWidth === 48", arg=await image.element_handle(), timeout=WAIT_MS
        )
        await screenshot(parent, "chat")
        await check_accessibility(parent, "chat")

        # The teacher takes plan.txt off the message: the parent sees "Файл удалён" in its place,
        # live, and the file no longer downloads; the image stays.
        href = await with_files.get_by_role("link", name="Скачать plan.txt").get_attribute("href")
        assert href
        teacher.once("dialog", lambda dialog: dialog.accept())
        await message(teacher, "Материалы").get_by_role("button", name="Убрать plan.txt").click()
        await expect(with_files.get_by_text("Файл удалён")).to_be_visible()
        await expect(with_files.get_by_role("link", name="Скачать plan.txt")).to_have_count(0)
        assert (await parent.request.get(web.base_url + href)).status == 404
        await expect(with_files.get_by_role("img", name="Изображение map.png")).to_be_visible()
        await expect(message(parent, "Материалы").get_by_role("button", name="Убрать map.png")).to_have_count(0)

        # Delete: the parent sees it go.
        teacher.once("dialog", lambda dialog: dialog.accept())
        await message(teacher, "Материалы").get_by_role("button", name="Удалить").click()
        await expect(message(parent, "Материалы")).to_have_count(0)
        await expect(parent.get_by_text("Сообщение удалено").first).to_be_visible()

        # Night in Moscow: the parent writes to the class head from the children screen; quiet hours hold it.
        web.clock_file.write_text(datetime(2026, 9, 1, 20, 0, tzinfo=UTC).isoformat())
        await parent.get_by_role("navigation").get_by_role("link", name="Дети").click()
        child = parent.get_by_role("article", name="Лена Кузнецова")
        await expect(child).to_contain_text("Согласие: ожидает вашего согласия")
        await child.get_by_role("button", name="Дать согласие").click()
        await expect(child).to_contain_text("Согласие: дано")
        await expect(child.get_by_role("button", name="Отозвать согласие")).to_be_visible()
        await screenshot(parent, "children")
        await check_accessibility(parent, "children")
        teacher_row = parent.locator("li", has_text="Ольга Смирнова")
        await teacher_row.get_by_role("button", name="Написать").click()
        await expect(parent.locator("#chat-title")).to_have_text("Ольга Смирнова")
        await parent.get_by_label("Сообщение").fill("Есть ли домашнее задание на понедельник?")
        await parent.get_by_role("button", name="Отправить").click()
        await expect(parent.get_by_role("status").filter(has_text="тихие часы")).to_contain_text("08:00")

        assert teacher.csp_violations == [] and parent.csp_violations == []  # type: ignore[attr-defined]
    finally:
        await teacher_ctx.close()
        await parent_ctx.close()
