"""The four service images, run as hardened containers on the host network with the Kubernetes dev
overlay's configuration: each passes its gRPC health probes (readiness, liveness and the image's own
HEALTHCHECK), cannot write its root filesystem, runs as uid 10001 with no capabilities, and together
they carry a school day's first message: sign in with the dev SMS file → profile → school and class
→ the class chat appears → a message sent by the teacher reaches the student's live subscription;
stopped by id, each drains and exits 0.

Needs `make images` first; run with `make test-containers` (or `make run-containers`, which builds).
"""

from __future__ import annotations

import json
import uuid

import grpc
import pytest
from grpc_health.v1 import health_pb2
from parta.chat.v1 import chat_pb2

from tests.chat.support import Collector, Person, Stubs, eventually
from tests.containers.podman_stack import ContainerStack, health, images, podman
from tests.e2e import school_client as sc
from tests.e2e.harness import ROOT
from tests.e2e.identity_client import create_profile, random_phone, sign_in

SERVING = health_pb2.HealthCheckResponse.SERVING


@pytest.fixture
async def stack(mongo_uri: str, kafka_bootstrap: str):  # type: ignore[no-untyped-def]
    missing = [s.image for s in images.SERVICES if not images.image_exists(s.image)]
    assert missing == [], f"build the images first (make images): {missing}"
    run_id = uuid.uuid4().hex[:8]
    s = ContainerStack(mongo_uri, kafka_bootstrap, run_id, ROOT / ".cache" / "containers" / run_id)
    try:
        yield s
    finally:
        s.stop_all()


async def test_images_run_hardened_pass_probes_and_carry_a_message(stack: ContainerStack) -> None:
    operator_phone = images.manifest_config(images.SERVICES[1])["SCHOOL_OPERATOR_PHONES"]  # dev overlay
    identity = await stack.start("identity")
    school_svc = await stack.start("school")
    chat = await stack.start("chat")
    media = await stack.start("media-signal")

    for container in (identity, school_svc, chat, media):
        name = container.service.name
        assert await health(container.address) == SERVING, name
        assert await health(container.address, "parta.liveness") == SERVING, name
        probe = podman("healthcheck", "run", container.container_id, check=False)
        assert probe.returncode == 0, f"{name}: image HEALTHCHECK failed: {probe.stdout}{probe.stderr}"
        (info,) = json.loads(podman("inspect", container.container_id).stdout)
        assert info["Config"]["User"] == "10001:10001", name
        assert info["HostConfig"]["ReadonlyRootfs"] is True, name
        whoami = podman("exec", container.container_id, "/bin/sh", "-c", "id -u; touch /app/x", check=False)
        assert whoami.stdout.split()[0] == "10001", name
        assert whoami.returncode != 0 and "Read-only file system" in whoami.stderr, (name, whoami.stderr)
        caps = podman("exec", container.container_id, "/bin/sh", "-c", "grep CapEff /proc/self/status").stdout
        assert caps.split()[-1] == "0000000000000000", (name, caps)

    # The smoke flow, through the containers only.
    async def person(birth_date: str = "1985-03-14") -> Person:
        signed = await sign_in(identity.address, random_phone(), stack.sms_file)
        await create_profile(identity.address, signed.access_token, "Анна", "Иванова", birth_date)
        return Person(signed.user_id, signed.access_token)

    operator = await sign_in(identity.address, operator_phone, stack.sms_file)
    admin_phone = random_phone()
    school = await sc.register_school(school_svc.address, operator.access_token, admin_phone=admin_phone)
    admin = await sign_in(identity.address, admin_phone, stack.sms_file)
    await sc.claim(school_svc.address, admin.access_token)
    klass = await sc.create_class(school_svc.address, admin.access_token, school.school_id, 5, "А")
    teacher, student = await person(), await person("2010-02-01")
    await sc.join_school(school_svc.address, admin.access_token, school.school_id, teacher.token, sc.TEACHER)
    await sc.set_class_head(school_svc.address, admin.access_token, klass.class_id, teacher.user_id)
    await sc.join_school(
        school_svc.address, admin.access_token, school.school_id, student.token, sc.STUDENT, class_id=klass.class_id
    )

    stubs = Stubs(grpc.aio.insecure_channel(chat.address))
    class_chat = f"cls-{klass.class_id}"

    async def provisioned() -> bool:
        for who in (teacher, student):
            reply = await stubs.chat.ListChats(chat_pb2.ListChatsRequest(school_id=school.school_id), metadata=who.md)
            if class_chat not in {c.chat.chat_id for c in reply.chats}:
                return False
        return True

    await eventually(provisioned, timeout=60)
    live = await Collector(stubs, student).ready()
    await stubs.chat.SendMessage(
        chat_pb2.SendMessageRequest(chat_id=class_chat, client_message_id="c1", text="Hello from a container"),
        metadata=teacher.md,
    )

    async def received() -> bool:
        return [m.text for m in live.messages(class_chat)] == ["Hello from a container"]

    await eventually(received)
    await live.close()
    await stubs.channel.close()

    # Stopped by id with SIGTERM, each service drains and exits cleanly.
    assert stack.stop_all() == {"media-signal": 0, "chat": 0, "school": 0, "identity": 0}
