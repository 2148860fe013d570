"""Logs never carry phone numbers, one-time codes or tokens in clear."""

from __future__ import annotations

import structlog
from parta_common.logging import mask_phone, scrub_text
from parta_common.testing.fakes import LogCapture, TokenMint


def test_phone_numbers_codes_and_tokens_are_masked_in_every_field():
    logs = LogCapture()
    token = TokenMint().token("u1")
    log = structlog.get_logger("t")
    log.info(
        "code_sent to +7 916 123-45-67",
        phone="+79161234567",
        code="123456",
        access_token=token,
        note=f"user typed 654321 with Bearer {token}",
        nested={"refresh_token": "abc", "who": "+79991112233"},
    )
    text = logs.text
    for secret in ("9161234567", "916 123-45-67", "123456", "654321", token, "abc", "9991112233"):
        assert secret not in text
    event = logs.events[-1]
    assert event["phone"] == "+7***67"
    assert event["access_token"] == "[redacted]"


def test_ids_and_counts_are_left_alone():
    logs = LogCapture()
    structlog.get_logger().info("sent", user_id="0193a5b2-7c1d-7e0f-9a1b-2c3d4e5f6a7b", attempts=3, grpc_code="OK")
    event = logs.events[-1]
    assert event["user_id"] == "0193a5b2-7c1d-7e0f-9a1b-2c3d4e5f6a7b"
    assert event["attempts"] == 3 and event["grpc_code"] == "OK"


def test_scrub_text_and_mask_phone():
    assert mask_phone("+79161234567") == "+7***67"
    assert "[code]" in scrub_text("your code is 482913.")
    assert scrub_text("order 12345") == "order 12345"
