"""The school's card in the browser: the admin fills it in on "О школе" (a logo included) and a
parent of the school reads it there, with no way to edit it; axe-core on both screens."""

from __future__ import annotations

import re

from playwright.async_api import Browser, expect

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


async def test_admin_fills_in_the_card_and_a_parent_reads_it(browser: Browser, web: WebStack) -> None:
    school = await seed_school(web)
    admin_ctx, admin = await new_page(browser, web)
    parent_ctx, parent = await new_page(browser, web)
    try:
        await browser_sign_in(admin, web, school.admin.phone)
        await admin.get_by_role("navigation").get_by_role("link", name="О школе").click()
        await expect(admin.get_by_role("heading", name="О школе", exact=True)).to_be_visible()
        await expect(admin.get_by_text("Школа ещё не заполнила информацию о себе.")).to_be_visible()
        await admin.get_by_role("button", name="Изменить информацию").click()
        await admin.get_by_label("Полное название").fill("МБОУ «Средняя школа № 5»")
        await admin.get_by_label("Директор").fill("Иванова Мария Петровна")
        await admin.get_by_label("Телефон").fill("+7 (495) 123-45-67")
        await admin.get_by_label("Сайт").fill("https://school5.example.ru")
        await admin.get_by_label("Эл. почта").fill("school5@example.ru")
        await admin.get_by_label("Описание").fill("Учим с 1961 года.")
        await admin.get_by_label("Логотип (PNG, JPEG или WebP, до 256 КБ)").set_input_files(
            {"name": "logo.png", "mimeType": "image/png", "buffer": png_bytes()}
        )
        await admin.get_by_role("button", name="Сохранить").click()
        card = admin.locator(".school-card")
        await expect(card.get_by_role("heading", name="МБОУ «Средняя школа № 5»")).to_be_visible()
        await expect(card.get_by_text("+74951234567")).to_be_visible()
        await expect(card.get_by_role("img", name=re.compile("^Логотип: "))).to_be_visible()
        await check_accessibility(admin, "school card (admin)")

        await browser_sign_in(parent, web, school.parent.phone)
        await parent.get_by_role("navigation").get_by_role("link", name="О школе").click()
        seen = parent.locator(".school-card")
        await expect(seen.get_by_role("heading", name="МБОУ «Средняя школа № 5»")).to_be_visible()
        await expect(seen.get_by_text("Иванова Мария Петровна")).to_be_visible()
        await expect(seen.get_by_role("link", name="https://school5.example.ru")).to_be_visible()
        logo = seen.get_by_role("img", name=re.compile("^Логотип: "))
        await expect(logo).to_be_visible()
        await parent.wait_for_function(
            "img => img.complete && img.naturalWidth === 48", arg=await logo.element_handle(), timeout=WAIT_MS
        )
        await expect(parent.get_by_role("button", name="Изменить информацию")).to_have_count(0)
        await screenshot(parent, "school-card")
        await check_accessibility(parent, "school card (parent)")
    finally:
        await admin_ctx.close()
        await parent_ctx.close()
