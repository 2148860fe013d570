"""Moderation that reaches a person and quiet hours that work, with identity, school, audit and two
chat replicas as real processes and the `parta` CLI: a parent's report reaches the admin's queue
(`parta reports list`), the admin deletes the message and mutes its author (`parta reports act`),
the parent reads the outcome (`parta reports mine`) and the audit trail records the decision; the
class head of another class sees nothing of it; a teacher blocks a parent (`parta block`) and the
parent's DM is refused on the other replica; at 22:40 school time (chat's clock through
CHAT_DEV_CLOCK_FILE) the parent's `parta send --urgent --reason` reaches the teacher's live stream
at once, the third urgent message of the day is RESOURCE_EXHAUSTED with a retry time; a held
message's edit and reaction stay held until the admin's `parta held release`."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from parta.audit.v1 import audit_pb2, audit_pb2_grpc
from parta.chat.v1 import chat_pb2
from parta_client import Session, SessionStore
from parta_client.cli import app
from typer.testing import CliRunner

from tests.chat.support import Collector, Person, Stubs, eventually
from tests.e2e import school_client as sc
from tests.e2e.harness import ROOT, Stack
from tests.e2e.identity_client import create_profile, random_phone, sign_in

OPERATOR = random_phone()
NIGHT = datetime(2026, 9, 1, 22, 40, tzinfo=ZoneInfo("Europe/Moscow"))


@pytest.fixture
async def stack(mongo_uri: str, kafka_bootstrap: str):  # type: ignore[no-untyped-def]
    s = Stack(mongo_uri, kafka_bootstrap, uuid.uuid4().hex[:8])
    try:
        yield s
    finally:
        s.stop_all()


class Cli:
    """`parta --profile NAME …` in-process (Typer's runner), one profile per person."""

    def __init__(self, home: Path, env: dict[str, str]):
        self.home = home
        self.env = {"PARTA_HOME": str(home), **env}

    def login(self, name: str, person: Any, school_id: str) -> None:
        SessionStore(self.home, name).save(
            Session(
                user_id=person.user_id,
                phone=person.phone,
                access_token=person.access_token,
                refresh_token=person.refresh_token,
                school_id=school_id,
            )
        )

    async def run(self, profile: str, *args: str, code: int = 0) -> Any:
        argv = ["--profile", profile, *args]
        result = await asyncio.to_thread(CliRunner().invoke, app, argv, env=self.env, catch_exceptions=False)
        assert result.exit_code == code, f"parta {' '.join(argv)} → {result.exit_code}\n{result.output}"
        return result

    async def json(self, profile: str, *args: str) -> Any:
        return json.loads((await self.run(profile, "--json", *args)).stdout)


def refusal(exc: grpc.aio.AioRpcError) -> tuple[grpc.StatusCode, str, float]:
    status = rpc_status.from_call(exc)  # type: ignore[arg-type]
    reason, delay = "", 0.0
    for detail in status.details if status is not None else []:
        info, retry = error_details_pb2.ErrorInfo(), error_details_pb2.RetryInfo()
        if detail.Unpack(info):
            reason = str(info.reason)
        elif detail.Unpack(retry):
            delay = retry.retry_delay.seconds + retry.retry_delay.nanos / 1e9
    return exc.code(), reason, delay


async def test_a_report_reaches_a_person_and_quiet_hours_work(stack: Stack, tmp_path: Path) -> None:
    clock_file = ROOT / ".cache" / "e2e" / f"chat-clock-{stack.run_id}.txt"
    clock_file.parent.mkdir(parents=True, exist_ok=True)
    clock_file.unlink(missing_ok=True)  # no file: real time
    identity = await stack.start("identity")
    school_svc = await stack.start("school", {"SCHOOL_OPERATOR_PHONES": OPERATOR})
    extra = {"CHAT_DEV_CLOCK_FILE": str(clock_file), "CHAT_QUIET_RELEASE_POLL_SECONDS": "0.2"}
    # The three that need only identity start together (the stack's start waits for each to serve).
    chat_a, chat_b, audit = await asyncio.gather(
        stack.start("chat", extra, name="chat-a"), stack.start("chat", extra, name="chat-b"), stack.start("audit")
    )
    address = school_svc.address
    cli = Cli(
        tmp_path,
        {
            "PARTA_IDENTITY_ADDR": identity.address,
            "PARTA_SCHOOL_ADDR": address,
            "PARTA_CHAT_ADDR": chat_a.address,
            "PARTA_AUDIT_ADDR": audit.address,
        },
    )

    async def person(first: str, birth_date: str = "1985-03-14") -> Any:
        signed = await sign_in(identity.address, random_phone(), stack.sms_file)
        await create_profile(identity.address, signed.access_token, first, "Иванова", birth_date)
        return signed

    operator = await sign_in(identity.address, OPERATOR, stack.sms_file)
    admin_phone = random_phone()
    school = await sc.register_school(address, operator.access_token, admin_phone=admin_phone)
    sid = school.school_id
    admin = await sign_in(identity.address, admin_phone, stack.sms_file)
    await create_profile(identity.address, admin.access_token, "Ирина", "Петрова", "1975-01-01")
    await sc.claim(address, admin.access_token)
    a_class = await sc.create_class(address, admin.access_token, sid, 5, "А")
    b_class = await sc.create_class(address, admin.access_token, sid, 5, "Б")
    olga, hal = await person("Ольга"), await person("Галина")
    misha, dima = await person("Миша", "2010-02-01"), await person("Дима", "2010-03-01")
    anna, roman = await person("Анна"), await person("Роман")
    for teacher, klass in ((olga, a_class), (hal, b_class)):
        await sc.join_school(address, admin.access_token, sid, teacher.access_token, sc.TEACHER)
        await sc.set_class_head(address, admin.access_token, klass.class_id, teacher.user_id)
    for child in (misha, dima):
        await sc.join_school(
            address, admin.access_token, sid, child.access_token, sc.STUDENT, class_id=a_class.class_id
        )
    for parent, child in ((anna, misha), (roman, dima)):
        await sc.join_school(
            address,
            admin.access_token,
            sid,
            parent.access_token,
            sc.PARENT,
            class_id=a_class.class_id,
            child_user_id=child.user_id,
        )
    for name, who in (("admin", admin), ("olga", olga), ("hal", hal), ("anna", anna)):
        cli.login(name, who, sid)
    md = {n: Person(p.user_id, p.access_token).md for n, p in (("admin", admin), ("olga", olga), ("anna", anna))}
    md["roman"] = Person(roman.user_id, roman.access_token).md
    a = Stubs(grpc.aio.insecure_channel(chat_a.address))
    b = Stubs(grpc.aio.insecure_channel(chat_b.address))
    parents_chat = f"par-{a_class.class_id}"

    async def provisioned() -> bool:
        for key in ("anna", "roman", "olga"):
            reply = await a.chat.ListChats(chat_pb2.ListChatsRequest(school_id=sid), metadata=md[key])
            if parents_chat not in {c.chat.chat_id for c in reply.chats}:
                return False
        return True

    await eventually(provisioned, timeout=60)

    # Роман insults a child in the parents' chat; Анна reports it.
    rude = await b.chat.SendMessage(
        chat_pb2.SendMessageRequest(chat_id=parents_chat, client_message_id="r1", text="Ваш сын вор"),
        metadata=md["roman"],
    )
    report = await b.chat.ReportMessage(
        chat_pb2.ReportMessageRequest(chat_id=parents_chat, seq=rude.message.seq, reason="оскорбление ребёнка"),
        metadata=md["anna"],
    )
    queue = await cli.json("admin", "reports", "list")
    [item] = [r for r in queue["reports"] if r["report_id"] == report.report_id]
    assert item["reporter_user_id"] == anna.user_id and item["message"]["text"] == "Ваш сын вор"
    assert (await cli.json("hal", "reports", "list")).get("reports", []) == []  # another class's head
    await cli.run("hal", "reports", "act", report.report_id, "--delete", "--note", "x", code=1)
    await cli.run(
        "admin", "reports", "act", report.report_id, "--delete", "--mute", "1d", "--note", "оскорбление в чате"
    )
    history = await a.chat.ListMessages(chat_pb2.ListMessagesRequest(chat_id=parents_chat), metadata=md["anna"])
    assert [m.deleted for m in history.messages if m.seq == rude.message.seq] == [True]
    with pytest.raises(grpc.aio.AioRpcError) as muted:
        await a.chat.SendMessage(
            chat_pb2.SendMessageRequest(chat_id=parents_chat, client_message_id="r2", text="!"), metadata=md["roman"]
        )
    assert refusal(muted.value)[:2] == (grpc.StatusCode.PERMISSION_DENIED, "MEMBER_MUTED")
    [mine] = (await cli.json("anna", "reports", "mine"))["reports"]
    assert mine["state"] == "REPORT_STATE_ACTIONED"
    assert mine["outcome"] == ["REPORT_ACTION_DELETE_MESSAGE", "REPORT_ACTION_MUTE_AUTHOR"]
    trail = audit_pb2_grpc.AuditServiceStub(grpc.aio.insecure_channel(audit.address))

    async def recorded() -> list[audit_pb2.AuditEntry]:
        reply = await trail.ListAuditEntries(
            audit_pb2.ListAuditEntriesRequest(school_id=sid, kind="chat.report_decided"), metadata=md["admin"]
        )
        return list(reply.entries)

    [entry] = await eventually(recorded, timeout=60, interval=0.3)
    assert entry.actor_user_id == admin.user_id and list(entry.subject_user_ids) == [roman.user_id, anna.user_id]
    assert entry.attributes["actions"] == "delete_message,mute_author"

    # Ольга blocks Роман's direct messages: refused on the other replica.
    dm_roman = (
        await a.chat.OpenDirectChat(
            chat_pb2.OpenDirectChatRequest(school_id=sid, user_id=olga.user_id), metadata=md["roman"]
        )
    ).chat.chat.chat_id
    await cli.run("olga", "block", roman.user_id)
    with pytest.raises(grpc.aio.AioRpcError) as blocked:
        await b.chat.SendMessage(
            chat_pb2.SendMessageRequest(chat_id=dm_roman, client_message_id="b1", text="?"), metadata=md["roman"]
        )
    assert refusal(blocked.value)[:2] == (grpc.StatusCode.PERMISSION_DENIED, "DIRECT_MESSAGES_NOT_ACCEPTED")

    # 22:40 in Moscow: Анна's urgent message reaches Ольга's live stream (on the other replica) at once.
    dm = (
        await a.chat.OpenDirectChat(
            chat_pb2.OpenDirectChatRequest(school_id=sid, user_id=olga.user_id), metadata=md["anna"]
        )
    ).chat.chat.chat_id
    olga_live = await Collector(b, Person(olga.user_id, olga.access_token), {dm: 0}).ready()
    clock_file.write_text(NIGHT.isoformat())
    try:
        sent = await cli.json(
            "anna", "send", dm, "Миша заболел, завтра не придёт", "--urgent", "--reason", "температура"
        )
        assert "deliver_at" not in sent and sent["message"]["urgent"]

        async def arrived() -> bool:
            return any(m.text.startswith("Миша заболел") for m in olga_live.messages(dm))

        await eventually(arrived, timeout=30)
        await cli.run("anna", "send", dm, "Температура 39", "--urgent", "--reason", "температура")
        with pytest.raises(grpc.aio.AioRpcError) as limited:
            await a.chat.SendMessage(
                chat_pb2.SendMessageRequest(
                    chat_id=dm, client_message_id="u3", text="?", urgent=True, urgent_reason="температура"
                ),
                metadata=md["anna"],
            )
        code, why, delay = refusal(limited.value)
        assert (code, why) == (grpc.StatusCode.RESOURCE_EXHAUSTED, "URGENT_LIMIT") and abs(delay - 80 * 60) < 5
        await cli.run("anna", "send", dm, "ещё раз", "--urgent", "--reason", "x", code=1)

        # Not urgent: held; its edit and reaction stay held until the admin releases it.
        held = await b.chat.SendMessage(
            chat_pb2.SendMessageRequest(chat_id=dm, client_message_id="h1", text="Спасибо"), metadata=md["anna"]
        )
        seq = held.message.seq
        await a.chat.EditMessage(chat_pb2.EditMessageRequest(chat_id=dm, seq=seq, text="Спасибо!"), metadata=md["anna"])
        await b.chat.ReactToMessage(
            chat_pb2.ReactToMessageRequest(chat_id=dm, seq=seq, emoji="🙏", add=True), metadata=md["anna"]
        )
        marker = await a.chat.SendMessage(
            chat_pb2.SendMessageRequest(chat_id=dm, client_message_id="o1", text="Выздоравливайте"),
            metadata=md["olga"],
        )

        async def marked() -> bool:
            return any(m.seq == marker.message.seq for m in olga_live.messages(dm))

        await eventually(marked, timeout=30)
        assert not [m for m in olga_live.messages(dm) if m.seq == seq]  # neither the message nor its changes
        listed = await cli.json("admin", "held", "list")
        assert [int(m["seq"]) for m in listed["messages"] if m["chat_id"] == dm] == [seq]
        assert "Спасибо" not in json.dumps(listed, ensure_ascii=False)  # the admin does not read it
        await cli.run("admin", "held", "release", dm, str(seq))

        async def released() -> list[chat_pb2.MessageSnapshot]:
            return [m for m in olga_live.messages(dm) if m.seq == seq]

        [got] = await eventually(released, timeout=30)
        assert got.text == "Спасибо!" and [r.emoji for r in got.reactions] == ["🙏"]
    finally:
        clock_file.unlink(missing_ok=True)
        await olga_live.close()
