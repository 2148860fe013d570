"""The seed's onboarding end to end, identity and school as real processes: an operator registers the
school → the admin signs in and fills in the info → classes, and the staff room exists → a teacher invite
(link + QR decoded back to the link) → the teacher joins → the admin verifies → the teacher invites a
student and a parent → the class head approves → memberships and events are as expected."""

from __future__ import annotations

import asyncio
import io
import uuid

import grpc
import pytest
import zxingcpp
from google.protobuf import field_mask_pb2
from parta.identity.v1 import account_pb2, account_pb2_grpc
from parta.school.v1 import events_pb2 as ev
from parta.school.v1 import school_pb2 as pb
from parta.school.v1 import school_pb2_grpc as rpc
from parta_common.events.topics import SCHOOL_CLASS, SCHOOL_MEMBERSHIP, SCHOOL_SCHOOL
from PIL import Image

from tests.e2e import school_client as sc
from tests.e2e.harness import Stack
from tests.e2e.identity_client import auth, create_profile, random_phone, sign_in
from tests.school.support import payloads, read_events

OPERATOR = random_phone()


@pytest.fixture
async def stack(mongo_uri: str, kafka_bootstrap: str):
    s = Stack(mongo_uri, kafka_bootstrap, uuid.uuid4().hex[:8])
    try:
        yield s
    finally:
        s.stop_all()


async def test_school_onboarding_from_registration_to_parents(stack: Stack, kafka_bootstrap: str):
    identity = await stack.start("identity")
    school_svc = await stack.start("school", {"SCHOOL_OPERATOR_PHONES": OPERATOR})
    address = school_svc.address

    async def person(birth_date: str = "1988-05-05"):  # type: ignore[no-untyped-def]
        # School participation needs an educational profile (PROFILE_MISSING otherwise).
        signed = await sign_in(identity.address, random_phone(), stack.sms_file)
        await create_profile(identity.address, signed.access_token, "Имя", "Фамилия", birth_date)
        return signed

    operator = await sign_in(identity.address, OPERATOR, stack.sms_file)
    irina_phone = random_phone()
    school = await sc.register_school(address, operator.access_token, admin_phone=irina_phone)

    # Ирина signs in with the registered phone and is the admin.
    irina = await sign_in(identity.address, irina_phone, stack.sms_file)
    mine = await sc.list_my_schools(address, irina.access_token)
    assert [(s.school.school_id, list(s.roles)) for s in mine] == [(school.school_id, [sc.ADMIN])]

    async with grpc.aio.insecure_channel(address) as channel:
        schools = rpc.SchoolServiceStub(channel)
        classes = rpc.ClassServiceStub(channel)
        updated = await schools.UpdateSchool(
            pb.UpdateSchoolRequest(
                school=pb.School(school_id=school.school_id, short_name="Школа 17", timezone="Asia/Yekaterinburg"),
                update_mask=field_mask_pb2.FieldMask(paths=["short_name", "timezone"]),
            ),
            metadata=auth(irina.access_token),
        )
        assert updated.school.timezone == "Asia/Yekaterinburg"
        c5a = await sc.create_class(address, irina.access_token, school.school_id, 5, "А")
        await sc.create_class(address, irina.access_token, school.school_id, 5, "Б")
        await sc.create_class(address, irina.access_token, school.school_id, 9, "А")
        listed = await classes.ListClasses(
            pb.ListClassesRequest(school_id=school.school_id), metadata=auth(irina.access_token)
        )
        titles = sorted(c.title for c in listed.classes)
        assert titles == sorted(["5А", "5Б", "9А", "Учительская"])

    # A teacher invite: link and QR code, decoded by a real reader back to the same link.
    invite = await sc.create_invite(address, irina.access_token, school.school_id, sc.TEACHER, max_uses=50)
    qr = await sc.invite_qr(address, irina.access_token, invite.token)
    assert qr.content_type == "image/png"
    decoded = [r.text for r in zxingcpp.read_barcodes(Image.open(io.BytesIO(qr.image)))]
    assert decoded == [invite.link] and invite.link.endswith(invite.token)
    svg = await sc.invite_qr(address, irina.access_token, invite.token, svg=True)
    assert svg.content_type == "image/svg+xml" and b"<svg" in svg.image

    olga = await person()
    preview = await sc.preview_invite(address, decoded[0].rsplit("/", 1)[1])
    assert preview.school_name == school.name and preview.role == sc.TEACHER
    joined = await sc.accept_invite(address, olga.access_token, invite.token)
    assert school.staff_room_class_id in {m.class_id for m in joined.memberships}

    # Unverified, Ольга cannot invite students yet; after verification she can.
    await sc.set_class_head(address, irina.access_token, c5a.class_id, olga.user_id)
    with pytest.raises(grpc.aio.AioRpcError) as denied:
        await sc.create_invite(address, olga.access_token, school.school_id, sc.STUDENT, class_id=c5a.class_id)
    assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
    await sc.verify_staff(address, irina.access_token, school.school_id, olga.user_id)
    student_invite = await sc.create_invite(
        address, olga.access_token, school.school_id, sc.STUDENT, class_id=c5a.class_id, requires_approval=True
    )

    misha = await person("2010-09-01")
    pending = await sc.accept_invite(address, misha.access_token, student_invite.token)
    assert pending.join_request.state == ev.JOIN_REQUEST_STATE_PENDING
    requests = await sc.list_join_requests(address, olga.access_token, school.school_id, c5a.class_id)
    assert [r.user_id for r in requests] == [misha.user_id]
    approved = await sc.approve(address, olga.access_token, requests[0].join_request_id)
    assert approved.state == ev.JOIN_REQUEST_STATE_APPROVED

    parent_invite = await sc.create_invite(
        address, olga.access_token, school.school_id, sc.PARENT, class_id=c5a.class_id, child_user_id=misha.user_id
    )
    anna = await person()
    await sc.accept_invite(address, anna.access_token, parent_invite.token)

    members = await sc.list_members(address, olga.access_token, school.school_id, c5a.class_id)
    assert {(m.user_id, m.class_role, m.child_user_id) for m in members} == {
        (olga.user_id, ev.CLASS_ROLE_CLASS_HEAD, ""),
        (misha.user_id, ev.CLASS_ROLE_STUDENT, ""),
        (anna.user_id, ev.CLASS_ROLE_PARENT, misha.user_id),
    }
    assert await sc.check_permission(
        address, olga.access_token, olga.user_id, school.school_id, pb.ACTION_DECIDE_JOIN_REQUESTS, c5a.class_id
    )

    prefix = school_svc.env["SCHOOL_KAFKA_TOPIC_PREFIX"]
    topics = [prefix + t for t in (SCHOOL_SCHOOL, SCHOOL_CLASS, SCHOOL_MEMBERSHIP)]

    def done(seen):  # type: ignore[no-untyped-def]
        return (
            payloads(seen, ev.JoinRequestDecided)
            and len(payloads(seen, ev.MemberJoined)) >= 8
            and len(payloads(seen, ev.SchoolUpdated)) >= 1
        )

    seen = await read_events(kafka_bootstrap, topics, until=done)
    joined_events = payloads(seen, ev.MemberJoined)
    roles = {(j.membership.user_id, j.membership.class_id, j.membership.class_role) for j in joined_events}
    assert (irina.user_id, school.staff_room_class_id, ev.CLASS_ROLE_STAFF) in roles
    assert (olga.user_id, school.staff_room_class_id, ev.CLASS_ROLE_STAFF) in roles
    assert (misha.user_id, c5a.class_id, ev.CLASS_ROLE_STUDENT) in roles
    assert (anna.user_id, c5a.class_id, ev.CLASS_ROLE_PARENT) in roles
    assert payloads(seen, ev.SchoolUpdated)[-1].school.timezone == "Asia/Yekaterinburg"
    assert [v.user_id for v in payloads(seen, ev.StaffVerified)] == [olga.user_id]
    assert {getattr(c, "class").title for c in payloads(seen, ev.ClassCreated)} == {"Учительская", "5А", "5Б", "9А"}
    # No phone number ever reaches Kafka, and no phone, access token or invite token reaches the log.
    assert not any(p.encode() in e.SerializeToString() for e in seen for p in (irina_phone, olga.phone, OPERATOR))

    # Housekeeping: Миша's account is deleted at identity; school learns it from identity.user.v1.
    async with grpc.aio.insecure_channel(identity.address) as channel:
        await account_pb2_grpc.AccountServiceStub(channel).DeleteAccount(
            account_pb2.DeleteAccountRequest(confirm=True), metadata=auth(misha.access_token)
        )
    deadline = asyncio.get_running_loop().time() + 30
    while misha.user_id in {
        m.user_id for m in await sc.list_members(address, olga.access_token, school.school_id, c5a.class_id)
    }:
        assert asyncio.get_running_loop().time() < deadline, "school never ended the deleted account's seats"
        await asyncio.sleep(0.3)

    log = school_svc.log_tail(10**7)
    assert "rpc_rejected" in log  # the log is really there (the unverified teacher's refusal)
    for secret in (irina_phone, OPERATOR, olga.phone, irina.access_token, invite.token, student_invite.token):
        assert secret not in log
