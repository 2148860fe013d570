"""The school's voice in the browser: the class head posts an announcement in 5А's parents' chat
(two families) asking for confirmation; a parent confirms once ("Ознакомлен(а)") and the card says
so; the teacher's card counts "1 из 2" live and lists the family still to confirm, reminds it, and a
second reminder the same day is refused with a readable note. Then a named poll: the parent votes
and sees the results, the teacher's card shows the vote live (with the voter's name), the teacher
closes it and the parent's card says so. axe-core on both screens."""

from __future__ import annotations

import re

from playwright.async_api import Browser, Page, expect

from tests.e2e import school_client as sc
from tests.web.support import (
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


def card(page: Page, kind: str, text: str):  # type: ignore[no-untyped-def]
    return page.locator(f"section.voice-card.{kind}").filter(has_text=text)


async def test_announcement_confirmed_live_and_a_poll_voted_live(browser: Browser, web: WebStack) -> None:
    school = await seed_school(web)
    # A second family in 5А: Миша and his mother, who will not confirm.
    misha = await person(web, "Миша", "Иванов", "2014-05-06")
    anna = await person(web, "Анна", "Иванова", "1985-07-08")
    await sc.join_school(
        web.school, school.admin.token, school.school_id, misha.token, sc.STUDENT, class_id=school.class_id
    )
    await sc.join_school(
        web.school,
        school.admin.token,
        school.school_id,
        anna.token,
        sc.PARENT,
        class_id=school.class_id,
        child_user_id=misha.user_id,
    )

    async def anna_in_parents_chat() -> bool:
        return school.parents_chat in await chats_of(web, anna)

    await eventually(anna_in_parents_chat, "chat provisions the parents' chat for the second family")

    teacher_ctx, teacher = await new_page(browser, web)
    parent_ctx, parent = await new_page(browser, web)
    try:
        await browser_sign_in(teacher, web, school.teacher.phone)
        await browser_sign_in(parent, web, school.parent.phone)
        await teacher.locator(f'a[data-chat-id="{school.parents_chat}"]').click()
        await parent.locator(f'a[data-chat-id="{school.parents_chat}"]').click()
        await expect(parent.locator("#chat-title")).not_to_have_text("…")
        # Parents post nothing of the sort: no staff bar for them.
        await expect(parent.get_by_role("button", name="Новое объявление")).to_have_count(0)

        # The class head posts an announcement with a deadline (the form's labels drive it).
        await teacher.get_by_role("button", name="Новое объявление").click()
        await expect(teacher.get_by_label("Текст объявления")).to_be_focused()
        await teacher.get_by_label("Текст объявления").fill("Родительское собрание в пятницу в 18:00")
        await teacher.get_by_label("Подтвердить до (необязательно)").fill("2099-12-01T18:00")
        await teacher.get_by_role("button", name="Опубликовать").click()
        mine = card(teacher, "announcement", "Родительское собрание в пятницу")
        await expect(mine.get_by_text("0 из 2 семей подтвердили")).to_be_visible()
        unconfirmed = mine.locator(".ann-unconfirmed li")
        await expect(unconfirmed).to_have_count(2)
        await expect(mine.get_by_role("heading", name="Не подтвердили: 2")).to_be_visible()

        # The parent sees the card live and confirms once for the family.
        theirs = card(parent, "announcement", "Родительское собрание в пятницу")
        await expect(theirs.get_by_text(re.compile(r"^Подтвердить до \d+ дек"))).to_be_visible()
        await expect(theirs.locator(".ann-watch")).to_have_count(0)  # who confirmed is not theirs to see
        await theirs.get_by_role("button", name="Ознакомлен(а)").click()
        await expect(theirs.get_by_text("Вы подтвердили ✓")).to_be_visible()
        await expect(theirs.get_by_text("1 из 2 семей подтвердили")).to_be_visible()
        await expect(theirs.get_by_role("button", name="Ознакомлен(а)")).to_have_count(0)

        # The teacher's card moves live (the stream's announcement_progress): 1 of 2, and the family
        # left is Миша's, named with his mother.
        await expect(mine.get_by_text("1 из 2 семей подтвердили")).to_be_visible()
        await expect(unconfirmed).to_have_count(1)
        await expect(unconfirmed).to_have_text(re.compile(r"Миша Иванов \(родители: Анна Иванова\)"))
        await mine.get_by_role("button", name="Напомнить").click()
        await expect(mine.get_by_role("status").filter(has_text="Напоминание отправлено семьям: 1")).to_be_visible()
        await expect(unconfirmed).to_contain_text("напомнили")
        # One reminder per family per day: the second press is refused, and the page says when.
        await mine.get_by_role("button", name="Напомнить").click()
        await expect(mine.get_by_role("alert")).to_have_text(
            re.compile(r"Сегодня всем, кто не подтвердил, уже напомнили\. .* через \d+")
        )
        await check_accessibility(teacher, "announcement (the author)")
        await check_accessibility(parent, "announcement (a parent)")

        # A named poll, results after voting.
        await teacher.get_by_role("button", name="Новый опрос").click()
        await teacher.get_by_label("Вопрос").fill("Во сколько удобно собрание?")
        await teacher.get_by_role("textbox", name="Вариант 1", exact=True).fill("18:00")
        await teacher.get_by_role("textbox", name="Вариант 2", exact=True).fill("19:00")
        await teacher.get_by_role("button", name="Добавить вариант").click()
        await teacher.get_by_role("textbox", name="Вариант 3", exact=True).fill("20:00")
        await teacher.get_by_role("button", name="Создать опрос").click()
        poll_t = card(teacher, "poll", "Во сколько удобно собрание?")
        await expect(poll_t.get_by_text("Проголосовали: 0")).to_be_visible()

        poll_p = card(parent, "poll", "Во сколько удобно собрание?")
        await expect(poll_p.get_by_role("group", name="Выберите один вариант")).to_be_visible()
        await expect(poll_p.locator(".poll-results")).to_have_count(0)  # no results before voting
        await poll_p.get_by_label("19:00").check()
        await poll_p.get_by_role("button", name="Голосовать").click()
        await expect(poll_p.get_by_text("Ваш голос: 19:00")).to_be_visible()
        await expect(poll_p.get_by_text("Проголосовали: 1")).to_be_visible()
        await expect(poll_p.locator('.poll-result[data-option="1"] .poll-votes')).to_have_text("голосов: 1")

        # Live on the teacher's side (poll_progress on the author's stream, then GetPoll).
        await expect(poll_t.get_by_text("Проголосовали: 1")).to_be_visible()
        await expect(poll_t.locator('.poll-result[data-option="1"]')).to_contain_text("Сергей Кузнецов")
        await screenshot(teacher, "announcement-poll-teacher")
        await screenshot(parent, "announcement-poll-parent")
        await check_accessibility(teacher, "poll (the author)")
        await check_accessibility(parent, "poll (a voter)")

        # The author closes it; the voter's open card reads it again and says so.
        teacher.once("dialog", lambda dialog: dialog.accept())
        await poll_t.get_by_role("button", name="Закрыть опрос").click()
        await expect(poll_t.get_by_text("Опрос закрыт")).to_be_visible()
        await expect(poll_p.get_by_text("Опрос закрыт")).to_be_visible()
        for page in (teacher, parent):
            assert not page.csp_violations  # type: ignore[attr-defined]
    finally:
        await teacher_ctx.close()
        await parent_ctx.close()
