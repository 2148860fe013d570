"""Invite QR codes with segno (a real QR encoder): PNG and SVG of the invite link."""

from __future__ import annotations

import io

import segno


class SegnoQrRenderer:
    def _code(self, text: str) -> segno.QRCode:
        # Error correction M: survives a crease or a smudge on a printed sheet, still a small symbol.
        return segno.make_qr(text, error="m")

    def png(self, text: str, scale: int) -> bytes:
        out = io.BytesIO()
        self._code(text).save(out, kind="png", scale=scale, border=4)
        return out.getvalue()

    def svg(self, text: str, scale: int) -> bytes:
        out = io.BytesIO()
        self._code(text).save(out, kind="svg", scale=scale, border=4, xmldecl=True)
        return out.getvalue()
