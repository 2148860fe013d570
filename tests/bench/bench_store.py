#!/usr/bin/env python3
"""Store micro-benchmark: the chat-history hot paths against one MongoDB-wire server.

    python tests/bench/bench_store.py --uri mongodb://127.0.0.1:27017 [--messages 100000] [--seconds 5]

Measures the store alone (no services), so a slow local store is visible:

1. sequence allocation + message insert per second, 1 client and 16 concurrent tasks
   (find_one_and_update $inc on a counter, then insert_one into messages);
2. time to load N messages (default 100,000) into one chat with insert_many batches;
3. p50/p99 latency of a 50-message "latest before cursor" page at random cursors and
   of a 50-message "after cursor" page (200 samples each).

Bounded in time: --seconds per throughput phase, --messages (or env
PARTA_BENCH_MESSAGES) scales the load. Uses a random database, dropped at the end.
Needs pymongo>=4.10 (AsyncMongoClient).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import time
import uuid

from pymongo import ASCENDING, DESCENDING, AsyncMongoClient, ReturnDocument
from pymongo.errors import DuplicateKeyError

PAGE = 50
TEXT = "Hello class, tomorrow's lesson starts at 9:00 - bring your workbook. " * 2  # ~140 bytes


def pct(samples: list[float], p: float) -> float:
    s = sorted(samples)
    k = min(len(s) - 1, max(0, round(p / 100 * (len(s) - 1))))
    return s[k]


async def alloc_and_insert(db, chat_id: str) -> int:
    doc = await db.counters.find_one_and_update(
        {"_id": chat_id}, {"$inc": {"seq": 1}}, upsert=True, return_document=ReturnDocument.AFTER
    )
    seq = doc["seq"]
    await db.messages.insert_one({"chat_id": chat_id, "seq": seq, "sender": "u1", "text": TEXT, "ts": time.time()})
    return seq


async def throughput(db, chat_id: str, tasks: int, seconds: float) -> tuple[float, int, int, float]:
    # create the counter first (see tests/store: concurrent first-upserts are unsafe on some servers)
    await db.counters.update_one({"_id": chat_id}, {"$setOnInsert": {"seq": 0}}, upsert=True)
    deadline = time.perf_counter() + seconds
    done = 0
    errors = 0
    seen: list[int] = []

    async def worker() -> None:
        nonlocal done, errors
        while time.perf_counter() < deadline:
            try:
                seen.append(await alloc_and_insert(db, chat_id))
                done += 1
            except DuplicateKeyError:
                errors += 1

    t0 = time.perf_counter()
    cpu0 = time.process_time()
    await asyncio.gather(*(worker() for _ in range(tasks)))
    elapsed = time.perf_counter() - t0
    # The driver's own CPU per command (this process does nothing else): the floor under any service
    # RPC that issues these commands through PyMongo, whatever the store (docs/chat.md).
    cpu_per_command = (time.process_time() - cpu0) / max(1, 2 * (done + errors))
    dup_seqs = len(seen) - len(set(seen))
    return done / elapsed, errors, dup_seqs, cpu_per_command


async def load(db, chat_id: str, n: int, batch: int) -> float:
    t0 = time.perf_counter()
    seq = 0
    while seq < n:
        docs = []
        for _ in range(min(batch, n - seq)):
            seq += 1
            docs.append({"chat_id": chat_id, "seq": seq, "sender": f"u{seq % 30}", "text": TEXT, "ts": 1.7e9 + seq})
        await db.messages.insert_many(docs, ordered=False)
    await db.counters.update_one({"_id": chat_id}, {"$set": {"seq": n}}, upsert=True)
    return time.perf_counter() - t0


async def page_latency(
    db, chat_id: str, n: int, samples: int, before: bool, bounded: bool = False
) -> tuple[float, float, float]:
    lat: list[float] = []
    rng = random.Random(42 if before else 43)
    for _ in range(samples):
        # bounded=True adds the other end of the seq window (seqs are dense, so a
        # window of PAGE numbers holds the page): servers that materialise every
        # index match before sort+limit (SecantusDB) then touch PAGE docs, not the
        # whole tail of the chat. Same results on any server.
        if before:
            cursor = rng.randint(PAGE + 1, n + 1)
            rng_q = {"$lt": cursor, "$gte": cursor - PAGE} if bounded else {"$lt": cursor}
            q = db.messages.find({"chat_id": chat_id, "seq": rng_q}).sort("seq", DESCENDING).limit(PAGE)
        else:
            cursor = rng.randint(0, max(0, n - PAGE))
            rng_q = {"$gt": cursor, "$lte": cursor + PAGE} if bounded else {"$gt": cursor}
            q = db.messages.find({"chat_id": chat_id, "seq": rng_q}).sort("seq", ASCENDING).limit(PAGE)
        t0 = time.perf_counter()
        docs = await q.to_list()
        lat.append((time.perf_counter() - t0) * 1000)
        if len(docs) != PAGE:
            raise AssertionError(f"page at cursor {cursor} returned {len(docs)} docs, expected {PAGE}")
        seqs = [d["seq"] for d in docs]
        exp = list(range(cursor - 1, cursor - 1 - PAGE, -1)) if before else list(range(cursor + 1, cursor + 1 + PAGE))
        if seqs != exp:
            raise AssertionError(f"wrong page at cursor {cursor}: {seqs[:3]}...")
    return statistics.median(lat), pct(lat, 99), statistics.fmean(lat)


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--uri", default=os.environ.get("PARTA_TEST_MONGODB_URI") or os.environ.get("MONGODB_URI"))
    ap.add_argument("--messages", type=int, default=int(os.environ.get("PARTA_BENCH_MESSAGES", "100000")))
    ap.add_argument("--seconds", type=float, default=float(os.environ.get("PARTA_BENCH_SECONDS", "5")))
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--samples", type=int, default=200)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument(
        "--skip-unbounded",
        action="store_true",
        help="only measure the bounded-window pages (open-ended ones take minutes on SecantusDB)",
    )
    args = ap.parse_args()
    if not args.uri:
        ap.error("--uri (or PARTA_TEST_MONGODB_URI / MONGODB_URI) is required")
    if args.messages < PAGE * 2:
        ap.error(f"--messages must be at least {PAGE * 2}")

    client = AsyncMongoClient(args.uri, serverSelectionTimeoutMS=5000, maxPoolSize=max(32, args.concurrency * 2))
    db = client[f"parta_bench_{uuid.uuid4().hex[:10]}"]
    try:
        hello = await client.admin.command("hello")
        build = await client.admin.command("buildInfo")
        print(f"server: {args.uri}  version={build.get('version')}  maxWireVersion={hello.get('maxWireVersion')}")
        await db.messages.create_index([("chat_id", ASCENDING), ("seq", ASCENDING)], unique=True)

        rate1, err1, dup1, cpu1 = await throughput(db, "tp-1", 1, args.seconds)
        print(
            f"alloc+insert, 1 client:        {rate1:8.1f} ops/s   (dup-key errors {err1}, duplicate seqs {dup1})"
            f"   PyMongo CPU {cpu1 * 1e6:.0f} µs/command"
        )
        rateN, errN, dupN, cpuN = await throughput(db, f"tp-{args.concurrency}", args.concurrency, args.seconds)
        print(
            f"alloc+insert, {args.concurrency:2d} tasks:        {rateN:8.1f} ops/s"
            f"   (dup-key errors {errN}, duplicate seqs {dupN})   PyMongo CPU {cpuN * 1e6:.0f} µs/command"
        )

        t = await load(db, "big", args.messages, args.batch)
        print(f"load {args.messages} msgs (batch {args.batch}): {t:8.2f} s  ({args.messages / t:.0f} msgs/s)")
        count = await db.messages.count_documents({"chat_id": "big"})
        if count != args.messages:
            raise AssertionError(f"loaded {count} messages, expected {args.messages}")

        if not args.skip_unbounded:
            p50, p99, mean = await page_latency(db, "big", args.messages, args.samples, before=True)
            print(
                f"latest-before-cursor page({PAGE}): p50 {p50:7.2f} ms  p99 {p99:7.2f} ms"
                f"  mean {mean:7.2f} ms  ({args.samples} samples)"
            )
            p50, p99, mean = await page_latency(db, "big", args.messages, args.samples, before=False)
            print(
                f"after-cursor page({PAGE}):         p50 {p50:7.2f} ms  p99 {p99:7.2f} ms"
                f"  mean {mean:7.2f} ms  ({args.samples} samples)"
            )
        p50, p99, mean = await page_latency(db, "big", args.messages, args.samples, before=True, bounded=True)
        print(f"  bounded window, before cursor:  p50 {p50:7.2f} ms  p99 {p99:7.2f} ms  mean {mean:7.2f} ms")
        p50, p99, mean = await page_latency(db, "big", args.messages, args.samples, before=False, bounded=True)
        print(f"  bounded window, after cursor:   p50 {p50:7.2f} ms  p99 {p99:7.2f} ms  mean {mean:7.2f} ms")
    finally:
        t0 = time.perf_counter()
        await client.drop_database(db.name)
        await client.close()
        print(f"(dropped bench database in {time.perf_counter() - t0:.1f} s)")


if __name__ == "__main__":
    asyncio.run(main())
