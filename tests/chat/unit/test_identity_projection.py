"""The identity consumer's profile projection (awaiting guardian, display name) under a birthday's
events in every arrival order: the newest aggregate version wins, whatever came before."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

from chat.api.consumers import ProvisioningHandler
from chat.app.provisioning import Provisioning
from chat.domain.provisioning import Profile
from google.protobuf.message import Message
from parta.identity.v1 import events_pb2 as identity_pb
from parta_common.events.envelope import make_envelope
from parta_common.safety import PolicyBook
from parta_common.testing.fakes import FakeClock

from tests.chat.unit.fakes import Fakes

CHILD = "u-child"
AWAITING, NOT_REQUIRED = identity_pb.CONSENT_STATE_AWAITING_GUARDIAN, identity_pb.CONSENT_STATE_NOT_REQUIRED
BELOW, MINOR = identity_pb.AGE_BAND_BELOW_CONSENT_AGE, identity_pb.AGE_BAND_MINOR


class Profiles:
    """In-memory stand-in for the store's profile projection: applies only newer versions."""

    def __init__(self) -> None:
        self.rows: dict[str, tuple[int, Profile]] = {}

    async def profile(self, user_id: str) -> Profile | None:
        row = self.rows.get(user_id)
        return row[1] if row else None

    async def put_profile(self, profile: Profile, version: int) -> bool:
        row = self.rows.get(profile.user_id)
        if row is not None and row[0] >= version:
            return False
        self.rows[profile.user_id] = (version, profile)
        return True


def _snapshot(last: str, consent: int, band: int) -> identity_pb.ProfileSnapshot:
    return identity_pb.ProfileSnapshot(
        user_id=CHILD, first_name="Ann", last_name=last, is_minor=True, consent_state=consent, age_band=band
    )


def _envelope(payload: Message, version: int):  # type: ignore[no-untyped-def]
    return make_envelope(
        payload,
        aggregate_type="user",
        aggregate_id=CHILD,
        aggregate_version=version,
        producer="identity",
        occurred_at=datetime(2026, 5, 1, tzinfo=UTC),
    )


# What identity publishes for a child who turns the consent age (users.refresh_age_band).
HISTORY = [
    _envelope(identity_pb.ProfileCreated(profile=_snapshot("Lee", AWAITING, BELOW)), 2),
    _envelope(identity_pb.ConsentChanged(user_id=CHILD, consent_state=NOT_REQUIRED), 3),
    _envelope(
        identity_pb.ProfileAgeBandChanged(
            user_id=CHILD,
            age_band=MINOR,
            previous_age_band=BELOW,
            consent_state=NOT_REQUIRED,
        ),
        4,
    ),
    _envelope(identity_pb.ProfileUpdated(profile=_snapshot("Lee", NOT_REQUIRED, MINOR)), 5),
]


def _handler() -> tuple[ProvisioningHandler, Profiles]:
    profiles, fakes = Profiles(), Fakes()
    provisioning = Provisioning(
        fakes.chats,
        fakes.members,
        fakes.messages,
        profiles,  # type: ignore[arg-type]
        profiles,  # type: ignore[arg-type]
        FakeClock(datetime(2026, 5, 1, tzinfo=UTC)),
        lambda: None,
        PolicyBook(),
    )
    return ProvisioningHandler(provisioning), profiles


async def test_the_birthday_unblocks_the_child_in_every_arrival_order_and_on_replay() -> None:
    for order in itertools.permutations(HISTORY):
        handler, profiles = _handler()
        for envelope in (*order, *HISTORY):  # … then the whole topic again (a replay)
            await handler.handle(envelope)
        assert profiles.rows[CHILD] == (5, Profile(CHILD, "Ann Lee", awaiting_guardian=False)), order


async def test_the_consent_change_alone_unblocks_and_keeps_the_name() -> None:
    handler, profiles = _handler()
    await handler.handle(HISTORY[0])
    assert profiles.rows[CHILD][1].awaiting_guardian
    await handler.handle(HISTORY[1])
    assert profiles.rows[CHILD] == (3, Profile(CHILD, "Ann Lee", awaiting_guardian=False))


async def test_the_band_change_alone_changes_nothing_in_chat() -> None:
    # Chat has no age rule of its own (its minors' rules follow school roles); the band event is
    # always preceded by ConsentChanged when consent follows, so it carries nothing chat needs.
    handler, profiles = _handler()
    await handler.handle(HISTORY[0])
    await handler.handle(HISTORY[2])
    assert profiles.rows[CHILD] == (2, Profile(CHILD, "Ann Lee", awaiting_guardian=True))
