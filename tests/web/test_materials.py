"""School materials in the browser: the class head publishes a document for 5А on "Материалы" (a
resumable upload with progress, whose first request is cut off half-way: the page goes on from
the offset chat stored) and a link; a parent of 5А sees «Опубликован материал: «…»» in the
parents' chat, follows the note to the materials screen and downloads the document byte for byte;
the link opens in a new tab with rel=noopener; the teacher removes the link; axe-core on the screen."""

from __future__ import annotations

import asyncio
import os
import re

import grpc
from parta.chat.v1 import chat_pb2, chat_pb2_grpc
from playwright.async_api import Browser, Route, expect

from tests.web.support import (
    Person,
    WebStack,
    browser_sign_in,
    check_accessibility,
    eventually,
    new_page,
    screenshot,
    seed_school,
)


async def _cut_off_once(route: Route, web: WebStack, owner: Person, data: bytes, kept: list[int]) -> None:
    """The first upload: the same request (its headers, cookies and request id) goes to the gateway
    with 600 of its 700 KiB, the connection drops once chat has stored some of it, and the page
    sees a network error. Later uploads pass."""
    if kept:
        await route.continue_()
        return
    headers = await route.request.all_headers()
    request_id = headers["x-parta-request-id"]
    host, port = web.gateway.host.split(":")
    forwarded = {k: v for k, v in headers.items() if not k.startswith(":") and k not in ("content-length", "host")}
    head = (
        f"POST /api/upload HTTP/1.1\r\nHost: {web.gateway.host}\r\n"
        + "".join(f"{k}: {v}\r\n" for k, v in forwarded.items())
        + f"Content-Length: {len(data)}\r\n\r\n"
    ).encode()
    _reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(head + data[: 600 * 1024])  # 2 whole GridFS blocks (255 KiB) and a part
    await writer.drain()
    async with grpc.aio.insecure_channel(web.chat) as channel:
        files = chat_pb2_grpc.FileServiceStub(channel)

        async def stored() -> int:
            reply = await files.GetUploadStatus(
                chat_pb2.GetUploadStatusRequest(request_id=request_id), metadata=owner.md
            )
            return reply.received_bytes if reply.received_bytes >= 2 * 255 * 1024 else 0

        kept.append(await eventually(stored, "chat stores the first blocks of the upload"))
    writer.transport.abort()
    await route.abort("connectionreset")


async def test_a_teacher_publishes_a_document_and_a_parent_follows_the_chat_note_to_it(
    browser: Browser, web: WebStack
) -> None:
    school = await seed_school(web)
    teacher_ctx, teacher = await new_page(browser, web)
    parent_ctx, parent = await new_page(browser, web)
    try:
        # --- the class head publishes a document for 5А, and a link ---------------------------------
        await browser_sign_in(teacher, web, school.teacher.phone)
        await teacher.get_by_role("navigation").get_by_role("link", name="Материалы").click()
        await expect(teacher.get_by_role("heading", name="Материалы", exact=True)).to_be_visible()
        form = teacher.locator("form.publish-material")
        await expect(form.get_by_label("Для кого")).to_have_value(school.class_id)  # their class first
        # Only the class they teach: school-wide materials are the admins'.
        await expect(form.get_by_label("Для кого").locator("option")).to_have_count(1)
        document = os.urandom(700 * 1024) + "\nДиктант: текст для проверки\n".encode()
        await form.get_by_label("Название").fill("Диктант к среде")
        await form.get_by_label("Описание (необязательно)").fill("Распечатать и принести")
        await form.get_by_label("Файл (документ или видео, до 256 МБ)").set_input_files(
            {"name": "Диктант.pdf", "mimeType": "application/pdf", "buffer": document}
        )
        # The page's first upload request is cut off after chat stored part of it; the page asks
        # GetUploadStatus and sends the rest from there (X-Parta-Upload-Offset, same request id).
        kept: list[int] = []
        await teacher.route("**/api/upload", lambda route: _cut_off_once(route, web, school.teacher, document, kept))
        offsets: list[str] = []
        teacher.on(
            "request",
            lambda r: (
                offsets.append(r.headers.get("x-parta-upload-offset", "0")) if r.url.endswith("/api/upload") else None
            ),
        )
        await form.get_by_role("button", name="Опубликовать").click()
        await expect(form.get_by_role("status")).to_have_text("Материал «Диктант к среде» опубликован.")
        assert kept and kept[0] >= 2 * 255 * 1024, kept
        assert offsets[-1] == str(kept[0]), (offsets, kept)  # it went on where chat stopped
        await teacher.unroute("**/api/upload")
        class_list = teacher.get_by_role("region", name=school.class_title, exact=True)
        await expect(class_list.get_by_role("heading", name="Диктант к среде")).to_be_visible()

        await form.get_by_label("Ссылка", exact=True).check()
        await form.get_by_label("Название").fill("Словарь")
        await form.get_by_label("Ссылка (http:// или https://)").fill("https://slovari.example.ru/orfo")
        await form.get_by_role("button", name="Опубликовать").click()
        await expect(class_list.get_by_role("heading", name="Словарь")).to_be_visible()

        # --- a parent of 5А: the note in the parents' chat leads to the materials screen ------------
        await browser_sign_in(parent, web, school.parent.phone, f"/chat/{school.parents_chat}")
        note = parent.locator("li.message.system", has_text="Опубликован материал: «Диктант к среде»")
        await expect(note).to_have_count(1)
        await expect(parent.locator("li.message.system", has_text="Опубликован материал: «Словарь»")).to_be_visible()
        await note.get_by_role("link", name="Открыть материалы").click()
        await expect(parent).to_have_url(re.compile("/materials$"))
        listed = parent.get_by_role("region", name=school.class_title, exact=True).locator(
            "li.material", has_text="Диктант к среде"
        )
        await expect(listed.get_by_text("Распечатать и принести")).to_be_visible()
        await expect(parent.locator("form.publish-material")).to_have_count(0)  # parents read only
        await expect(listed.get_by_role("button", name=re.compile("^Удалить"))).to_have_count(0)
        async with parent.expect_download() as download_info:
            await listed.get_by_role("link", name="Скачать «Диктант.pdf»").click()
        download = await download_info.value
        assert download.suggested_filename == "Диктант.pdf"
        with open(await download.path(), "rb") as handle:
            assert handle.read() == document
        link = parent.get_by_role("link", name="Открыть «Словарь»")
        await expect(link).to_have_attribute("href", "https://slovari.example.ru/orfo")
        await expect(link).to_have_attribute("target", "_blank")
        await expect(link).to_have_attribute("rel", re.compile(r"\bnoopener\b"))
        await screenshot(parent, "materials")
        await check_accessibility(parent, "materials (parent)")

        # --- the teacher removes the link ------------------------------------------------------------
        await class_list.get_by_role("button", name="Удалить «Словарь»").click()
        await expect(class_list.get_by_role("heading", name="Словарь")).to_have_count(0)
        await expect(class_list.get_by_role("heading", name="Диктант к среде")).to_be_visible()
        await screenshot(teacher, "materials-teacher")
        await check_accessibility(teacher, "materials (teacher)")
    finally:
        await teacher_ctx.close()
        await parent_ctx.close()
