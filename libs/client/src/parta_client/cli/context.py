"""The run of one command: global options, output (tables, --json), expected failures as exit codes."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC
from typing import Any

import grpc
import typer
from google.protobuf import timestamp_pb2
from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message
from rich.console import Console
from rich.table import Table

from parta_client.client import Parta
from parta_client.config import Endpoints, parta_home
from parta_client.errors import CallError, NotSignedIn, Refused, describe
from parta_client.resolve import UsageError
from parta_client.session import SessionStore


@dataclass(frozen=True)
class Cli:
    """What the global options chose for one run of `parta`.

    The root callback builds it into the click context; every command takes it from there
    (`Cli.of(ctx)`) and passes it on to the helpers that need it, so no module holds mutable state.
    """

    profile: str = "default"
    school: str = ""
    json: bool = False
    trace_id: str = ""

    @staticmethod
    def of(ctx: typer.Context) -> Cli:
        found = ctx.find_object(Cli)
        return found if found is not None else Cli()

    def store(self) -> SessionStore:
        return SessionStore(parta_home(), self.profile)

    def run(self, action: Callable[[Parta], Awaitable[None]]) -> None:
        """Runs one command's calls and turns expected failures into a message and an exit code."""

        async def main() -> None:
            if self.trace_id:
                # On stderr first, so it is there even when the command fails.
                err().print(f"trace {self.trace_id}", markup=False)
            async with Parta(Endpoints.from_env(), self.store(), trace_id=self.trace_id) as parta:
                await action(parta)

        try:
            asyncio.run(main())
        except grpc.aio.AioRpcError as error:
            report(describe(error))
            raise typer.Exit(1) from None
        except Refused as error:
            report(error.failure)
            raise typer.Exit(1) from None
        except NotSignedIn as error:
            err().print(f"error: {error} — run `parta login PHONE` (profile {self.profile})", markup=False)
            raise typer.Exit(1) from None
        except UsageError as error:
            err().print(f"error: {error}", markup=False)
            raise typer.Exit(2) from None
        except TimeoutError as error:
            err().print(f"error: {error}", markup=False)
            raise typer.Exit(1) from None
        except KeyboardInterrupt:
            raise typer.Exit(130) from None

    def emit(self, data: Any, human: Callable[[], None]) -> None:
        """--json prints the data (protobuf messages as their JSON mapping); otherwise the human view."""
        if self.json:
            typer.echo(json.dumps(to_plain(data), ensure_ascii=False, indent=2))
        else:
            human()


def out() -> Console:
    # Built per use so in-process runners (tests) that swap sys.stdout are honoured.
    return Console(file=sys.stdout, soft_wrap=True, highlight=False)


def err() -> Console:
    return Console(file=sys.stderr, soft_wrap=True, highlight=False)


def report(failure: CallError) -> None:
    console = err()
    console.print(f"[bold red]error[/]: {failure.line()}", markup=True)
    for field, description in failure.violations:
        console.print(f"  {field}: {description}", markup=False)
    if failure.retry_after_seconds:
        console.print(f"  retry after {failure.retry_after_seconds:.0f} s", markup=False)
    if failure.code == "UNAVAILABLE":
        console.print("  is the service running? (`make run`, or PARTA_<SERVICE>_ADDR)", markup=False)


def to_plain(data: Any) -> Any:
    if isinstance(data, Message):
        return MessageToDict(data, preserving_proto_field_name=True)
    if isinstance(data, dict):
        return {k: to_plain(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [to_plain(v) for v in data]
    return data


def grid(*headers: str) -> Table:
    """A table whose id columns are never cut short ("01a2227d-…" cannot be copied into a command)."""
    table = Table()
    for header in headers:
        if header.endswith("id"):
            table.add_column(header, overflow="fold", min_width=36)
        else:
            table.add_column(header)
    return table


def when(ts: timestamp_pb2.Timestamp) -> str:
    if not ts.seconds:
        return ""
    return ts.ToDatetime(UTC).astimezone().strftime("%Y-%m-%d %H:%M")
