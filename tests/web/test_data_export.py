"""Family-scoped export in the browser (issue 17): a parent exports the data of his child (16) from
"Дети", watches the archive being assembled and downloads it — a zip with her profile and the
message she wrote — then finds it again among her earlier exports and exports his own data from
"Настройки"; the child reads on "Настройки" that her parent exported her data; a stranger is
refused by the server (the export request, the export's page, the archive); axe-core on both
screens."""

from __future__ import annotations

import io
import json
import re
import uuid
import zipfile

import grpc
from parta.chat.v1 import chat_pb2, chat_pb2_grpc
from playwright.async_api import Browser, expect

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

MESSAGE = "Проект по биологии сдала, вот ссылка на черновик"
# identity, school, media-signal and chat each add a part before chat stores the archive.
DELIVERY_MS = 45_000

API_CALL = """async ([path, body]) => {
  const response = await fetch(path, {method: "POST", credentials: "same-origin",
    headers: {"Content-Type": "application/json", "X-Parta-CSRF": "1"}, body: JSON.stringify(body)});
  return {status: response.status, body: await response.json()};
}"""


async def test_a_parent_exports_his_childs_data_and_a_stranger_cannot(browser: Browser, web_media: WebStack) -> None:
    web = web_media
    school = await seed_school(web, link_parent=True)
    child = school.student
    async with grpc.aio.insecure_channel(web.chat) as channel:
        await chat_pb2_grpc.ChatServiceStub(channel).SendMessage(
            chat_pb2.SendMessageRequest(chat_id=school.class_chat, client_message_id=uuid.uuid4().hex, text=MESSAGE),
            metadata=child.md,
        )
    stranger = await person(web, "Пётр", "Орлов", "1980-05-05")

    parent_ctx, parent = await new_page(browser, web)
    child_ctx, child_page = await new_page(browser, web)
    stranger_ctx, stranger_page = await new_page(browser, web)
    try:
        await browser_sign_in(parent, web, school.parent.phone)
        await parent.get_by_role("navigation").get_by_role("link", name="Дети").click()
        card = parent.get_by_role("article", name=child.name)
        await card.get_by_role("button", name="Выгрузить данные").click()
        item = card.locator("li.export")
        await expect(item.get_by_role("progressbar", name="Сбор архива")).to_be_visible()
        await expect(item.get_by_role("status")).to_have_text(re.compile(r"Собрано частей: [0-4] из 4"))
        download_link = item.get_by_role("link", name=re.compile(r"^Скачать архив \("))
        await expect(download_link).to_be_visible(timeout=DELIVERY_MS)
        export_id = await item.get_attribute("data-export-id")
        href = await download_link.get_attribute("href")
        assert export_id and href and href.startswith("/api/files/")

        async with parent.expect_download() as download_info:
            await download_link.click()
        download = await download_info.value
        assert download.suggested_filename.startswith("parta-export-") and download.suggested_filename.endswith(".zip")
        with zipfile.ZipFile(io.BytesIO(open(await download.path(), "rb").read())) as archive:
            names = set(archive.namelist())
            assert {"export.json", "profile.json", "memberships.json", "messages.json", "attendance.json"} <= names
            assert MESSAGE in archive.read("messages.json").decode()
            profile = json.loads(archive.read("profile.json"))
            assert child.user_id in json.dumps(profile) and child.first in json.dumps(profile, ensure_ascii=False)
        await screenshot(parent, "data-export")
        await check_accessibility(parent, "children: data export")
        # Read again, the export is among the child's earlier ones (ListDataExports), still downloadable.
        await parent.reload()
        earlier = parent.get_by_role("article", name=child.name).locator(f'li.export[data-export-id="{export_id}"]')
        await expect(earlier.get_by_role("link", name=re.compile(r"^Скачать архив \("))).to_have_attribute("href", href)
        # His own data, from his settings: a second archive, listed there and not under the child.
        await parent.get_by_role("navigation").get_by_role("link", name="Настройки").click()
        my_data = parent.get_by_role("region", name="Мои данные")
        await my_data.get_by_role("button", name="Выгрузить мои данные").click()
        mine = my_data.locator("li.export")
        await expect(mine.get_by_role("link", name=re.compile(r"^Скачать архив \("))).to_be_visible(timeout=DELIVERY_MS)
        assert await mine.get_attribute("data-export-id") != export_id

        # The child (16) is told, on her settings screen.
        await browser_sign_in(child_page, web, child.phone)
        await child_page.get_by_role("navigation").get_by_role("link", name="Настройки").click()
        await expect(
            child_page.get_by_text(re.compile(rf"{school.parent.first} {school.parent.last} выгрузил\(а\) ваши данные"))
        ).to_be_visible()
        await check_accessibility(child_page, "settings: a guardian exported my data")

        # A stranger: the request is refused, the export's page and the archive are not found.
        await browser_sign_in(stranger_page, web, stranger.phone)
        await expect(stranger_page.get_by_role("navigation")).to_be_visible()
        refused = await stranger_page.evaluate(
            API_CALL,
            [
                "/api/parta.identity.v1.ExportService/RequestDataExport",
                {"subjectUserId": child.user_id, "requestId": uuid.uuid4().hex},
            ],
        )
        assert refused["status"] == 403 and refused["body"]["reason"] == "EXPORT_NOT_ALLOWED", refused
        await stranger_page.goto(f"/exports/{export_id}")
        not_found = stranger_page.get_by_role("alert")
        await expect(not_found).to_have_text("Такой выгрузки нет среди ваших.", timeout=WAIT_MS)
        await expect(stranger_page.get_by_role("link", name=re.compile("Скачать архив"))).to_have_count(0)
        archive_status = await stranger_page.evaluate("async (href) => (await fetch(href)).status", href)
        assert archive_status == 404
    finally:
        await parent_ctx.close()
        await child_ctx.close()
        await stranger_ctx.close()
