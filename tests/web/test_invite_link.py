"""An invite link opened in a fresh browser context: the invite's preview, sign-in with phone and
code (by keyboard alone), the educational profile, then the class: the app accepts the invite and
opens the class chat. A fresh visitor's console stays clean (no 401 from the session probe, no
missing favicon); a wrong phone and a chat the student is not in are told in Russian; the School
screen tells a student it is for staff."""

from __future__ import annotations

from playwright.async_api import Browser, expect

from tests.e2e import school_client as sc
from tests.e2e.identity_client import random_phone
from tests.web.support import WebStack, browser_sign_in, check_accessibility, new_page, screenshot, seed_school


async def test_invite_link_leads_through_sign_in_and_profile_into_the_class(browser: Browser, web: WebStack) -> None:
    school = await seed_school(web)
    invite = await sc.create_invite(
        web.school, school.teacher.token, school.school_id, sc.STUDENT, class_id=school.class_id
    )
    context, page = await new_page(browser, web)
    console_errors: list[str] = []
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    try:
        await page.goto(f"/join/{invite.token}")
        await expect(page.get_by_role("heading", name="Приглашение")).to_be_visible()
        assert (await page.request.get("/favicon.svg")).ok
        assert console_errors == []  # signed out: no 401 from the session probe, no favicon 404
        await expect(page.locator("dl.facts")).to_contain_text(school.class_title)
        await expect(page.locator("dl.facts")).to_contain_text("ученик")
        await screenshot(page, "invite")
        await check_accessibility(page, "invite preview")
        # Keyboard only from here to the profile: Tab reaches the skip link first, then the button.
        await page.keyboard.press("Tab")
        await expect(page.get_by_role("link", name="Парта: ↓")).to_be_focused()
        join = page.get_by_role("button", name="Войдите, чтобы присоединиться")
        for _ in range(10):
            if await join.evaluate("b => b === document.activeElement"):
                break
            await page.keyboard.press("Tab")
        await expect(join).to_be_focused()
        await page.keyboard.press("Enter")

        await expect(page.get_by_role("heading", name="Вход")).to_be_visible()
        await screenshot(page, "sign-in")
        await check_accessibility(page, "sign-in")
        # A wrong number: identity's field violation, told in Russian and once.
        await page.get_by_label("Номер телефона").fill("12345")
        await page.get_by_role("button", name="Получить код").click()
        alert = page.get_by_role("alert")
        await expect(alert).to_contain_text("Неверный номер телефона")
        assert "phone" not in (await alert.inner_text())
        await page.get_by_label("Номер телефона").fill("")
        await browser_sign_in(page, web, random_phone(), path="", keyboard=True)

        await expect(page.get_by_role("heading", name="Учебный профиль")).to_be_visible()
        await screenshot(page, "profile")
        await check_accessibility(page, "profile")
        await page.get_by_label("Имя", exact=True).fill("Миша")
        await page.get_by_label("Фамилия").fill("Иванов")
        await page.get_by_label("Дата рождения").fill("2011-02-03")
        await page.get_by_role("button", name="Продолжить").click()

        # Back at the invite, now signed in with a profile: join, and the class chat opens.
        await page.get_by_role("button", name="Присоединиться").click()
        await expect(page).to_have_url(f"{web.base_url}/chat/{school.class_chat}", timeout=45_000)
        await expect(page.locator("#chat-title")).not_to_have_text("…")
        await page.get_by_role("navigation").get_by_role("link", name="Чаты").click()
        await expect(page.locator(f'a[data-chat-id="{school.class_chat}"]')).to_be_visible()

        # A chat the student is not in: a "no access" state, nothing to type into.
        await page.goto("/chat/cls-not-mine")
        await expect(page.get_by_role("alert")).to_contain_text("Нет доступа к этому чату")
        await expect(page.get_by_label("Сообщение")).to_have_count(0)
        # The School screen is for staff.
        await page.goto("/school")
        await expect(page.get_by_text("для администраторов и учителей")).to_be_visible()
        assert page.csp_violations == []  # type: ignore[attr-defined]
    finally:
        await context.close()
