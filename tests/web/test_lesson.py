"""A lesson in the browser: the class head starts it from the class chat with Chromium's fake camera
and microphone, two students join from theirs and each decodes the teacher's video (frames counted
with requestVideoFrameCallback), a raised hand reaches the teacher, and the teacher mutes one
student, who is told so. media-signal grants, Janus and coturn are real."""

from __future__ import annotations

from playwright.async_api import Browser, Page, expect

from tests.e2e import school_client as sc
from tests.web.support import (
    WAIT_MS,
    WebStack,
    browser_sign_in,
    check_accessibility,
    new_page,
    person,
    screenshot,
    seed_school,
)

FRAMES = """async (video) => {
    let frames = 0;
    for (let i = 0; i < 5; i++) {
        frames = await new Promise((done) =>
            video.requestVideoFrameCallback((now, meta) => done(meta.presentedFrames)));
    }
    return frames;
}"""


async def decoded_frames(page: Page, name: str) -> int:
    """Waits until the video captioned `name` plays, then counts the frames it has presented."""
    video = page.locator("figure.video", has_text=name).locator("video")
    await expect(video).to_be_visible()
    await page.wait_for_function(
        "v => v.videoWidth > 0 && !v.paused", arg=await video.element_handle(), timeout=WAIT_MS
    )
    return int(await video.evaluate(FRAMES))


async def test_teacher_starts_a_lesson_two_students_see_and_one_is_muted(browser: Browser, web_media: WebStack) -> None:
    web = web_media
    school = await seed_school(web)
    second = await person(web, "Артём", "Соколов", "2010-05-09")
    await sc.join_school(
        web.school, school.admin.token, school.school_id, second.token, sc.STUDENT, class_id=school.class_id
    )
    pages = []
    try:
        teacher_ctx, teacher = await new_page(browser, web)
        pages.append(teacher_ctx)
        await browser_sign_in(teacher, web, school.teacher.phone)
        await teacher.locator(f'a[data-chat-id="{school.class_chat}"]').click()
        await teacher.get_by_role("button", name="Начать урок").click()
        await expect(teacher.get_by_role("status").filter(has_text="Идёт урок")).to_be_visible()
        await decoded_frames(teacher, "Вы")  # the fake camera runs

        students = []
        for who in (school.student, second):
            context, page = await new_page(browser, web)
            pages.append(context)
            await browser_sign_in(page, web, who.phone)
            await page.locator(f'a[data-chat-id="{school.class_chat}"]').click()
            await page.get_by_role("link", name="Присоединиться к уроку").click()
            await expect(page.get_by_role("status").filter(has_text="Идёт урок")).to_be_visible()
            students.append(page)

        for page in students:
            assert await decoded_frames(page, "Ольга Смирнова") > 0
        await screenshot(students[0], "lesson")
        await check_accessibility(students[0], "lesson")

        # A raised hand reaches the teacher; the teacher mutes the first student.
        await students[1].get_by_role("button", name="Поднять руку").click()
        await expect(teacher.locator(f'li[data-user-id="{second.user_id}"]')).to_contain_text("поднял(а) руку")
        first = teacher.locator(f'li[data-user-id="{school.student.user_id}"]')
        await first.get_by_role("button", name="Выключить микрофон").click()
        await expect(students[0].get_by_role("alert")).to_have_text("Ведущий выключил ваш микрофон.")
        await expect(students[0].get_by_role("button", name="Включить микрофон")).to_be_visible()
        await expect(first).to_contain_text("микрофон выключен")
        await expect(teacher.locator(f'li[data-user-id="{second.user_id}"]')).not_to_contain_text("микрофон выключен")
        await screenshot(teacher, "lesson-teacher")
        for page in (teacher, *students):
            assert page.csp_violations == []  # type: ignore[attr-defined]
    finally:
        for context in pages:
            await context.close()
