#!/usr/bin/env python3
"""A Python subscriber to a ladderfeed stream over Zenoh: decodes the wire schema
(schema/ladderfeed_wire_v1.h) and prints every BBO with exact decimal prices.

    pip install eclipse-zenoh
    ladderfeed replay --publish zenoh:tcp/127.0.0.1:7447 --pace recorded &
    python3 examples/subscriber.py tcp/127.0.0.1:7447

Only the standard library and the `eclipse-zenoh` package. A late joiner asks the publisher
for its snapshot (instrument definitions, last BBOs) first, as `ladderfeed subscribe` does.
"""

import argparse
import json
import struct
import sys
import time
from decimal import Decimal

import zenoh

HEADER = struct.Struct("<4sHHHHIQQ")  # magic, version, header_len, record_len, flags, count, stream_id, first_seq
RECORD = struct.Struct("<QQIIIHBB4Q")  # exch_ts, local_ts, seq, parsed_dns, published_dns, instrument, kind, state, payload
FLAG_SNAPSHOT, FLAG_END = 1, 2
BBO, TRADE, STATE, HEAD, TEXT = 1, 2, 3, 4, 5
STATES = {1: "synced", 2: "resyncing", 3: "stale"}
VENUES = [
    "coinbase", "coinbase-exchange", "binance", "binance-futures", "bitfinex", "kraken",
    "kraken-v1", "okx", "gemini", "gemini-v1", "bybit", "bybit-linear", "bybit-inverse",
    "binance-coinm", "deribit", "hyperliquid", "kraken-futures", "bitmex",
]


def signed(word):
    return word - (1 << 64) if word >= 1 << 63 else word


class Stream:
    """The instrument table and the sequence numbers of one stream."""

    def __init__(self, out, limit):
        self.instruments = {}  # id -> dict(venue, symbol, tick, lot, parts, length)
        self.next_seq = None
        self.stream_id = None
        self.lost = 0
        self.bbos = 0
        self.limit = limit
        self.ended = False
        self.out = out

    def sample(self, data, from_snapshot=False):
        magic, version, header_len, record_len, flags, count, stream_id, first_seq = HEADER.unpack_from(data)
        if magic != b"LFW1" or version != 1 or header_len != 32 or record_len != 64:
            raise ValueError("not a ladderfeed wire v1 sample")
        if len(data) != 32 + 64 * count:
            raise ValueError("sample length does not match its record count")
        if flags & FLAG_SNAPSHOT and not from_snapshot:
            return
        if from_snapshot or self.next_seq is None or stream_id != self.stream_id:
            self.stream_id = stream_id
            self.next_seq = first_seq
        if not from_snapshot:
            if first_seq > self.next_seq:
                self.lost += first_seq - self.next_seq
                self.next_seq = first_seq
            skip = self.next_seq - first_seq
        else:
            skip = 0
        for i in range(skip, count):
            self.record(RECORD.unpack_from(data, 32 + 64 * i))
            if not from_snapshot:
                self.next_seq += 1
        if flags & FLAG_END:
            self.ended = True

    def record(self, rec):
        exch_ts, local_ts, _seq, _p, _q, inst, kind, state, payload = rec[0], rec[1], rec[2], rec[3], rec[4], rec[5], rec[6], rec[7], rec[8:]
        if kind == HEAD:
            tick_m, lot_m, packed, first = payload
            tick_scale, lot_scale = packed & 0xFF, (packed >> 8) & 0xFF
            venue, length = (packed >> 16) & 0xFF, (packed >> 32) & 0xFF
            symbol = first.to_bytes(8, "little")[: min(length, 8)]
            self.instruments[inst] = {
                "venue": VENUES[venue - 1] if 0 < venue <= len(VENUES) else f"venue{venue}",
                "symbol": symbol,
                "length": length,
                "tick": Decimal(tick_m).scaleb(-tick_scale),
                "lot": Decimal(lot_m).scaleb(-lot_scale),
            }
        elif kind == TEXT and inst in self.instruments:
            d = self.instruments[inst]
            raw = b"".join(w.to_bytes(8, "little") for w in payload)
            d["symbol"] = (d["symbol"] + raw[1:32])[: d["length"]]
        elif kind == BBO and inst in self.instruments:
            d = self.instruments[inst]
            bid_t, bid_l, ask_t, ask_l = (signed(w) for w in payload)
            bid = f"{bid_t * d['tick']} x {bid_l * d['lot']}" if bid_l > 0 else "- x -"
            ask = f"{ask_t * d['tick']} x {ask_l * d['lot']}" if ask_l > 0 else "- x -"
            symbol = d["symbol"].decode(errors="replace")
            state = STATES.get(state, "stale")
            print(f"{local_ts} {d['venue']} {symbol} bid {bid} ask {ask} {state}", file=self.out)
            self.bbos += 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("endpoint", help="the publisher's Zenoh endpoint, e.g. tcp/127.0.0.1:7447")
    ap.add_argument("--key", default="ladderfeed", help="the key prefix (the #KEY of --publish)")
    ap.add_argument("--count", type=int, default=0, help="stop after this many BBOs (0: at the end of the stream)")
    ap.add_argument("--timeout", type=float, default=60.0, help="give up after this many seconds")
    args = ap.parse_args()

    conf = zenoh.Config()
    for key, value in [
        ("mode", '"peer"'),
        ("scouting/multicast/enabled", "false"),
        ("scouting/gossip/enabled", "false"),
        ("listen/endpoints", "[]"),
        ("connect/endpoints", json.dumps([args.endpoint])),
        ("connect/timeout_ms", "-1"),
        ("connect/exit_on_failure", "false"),
        ("connect/retry", "{period_init_ms: 100, period_max_ms: 1000, period_increase_factor: 2}"),
    ]:
        conf.insert_json5(key, value)
    stream = Stream(sys.stdout, args.count)
    deadline = time.monotonic() + args.timeout
    with zenoh.open(conf) as session:
        sub = session.declare_subscriber(f"{args.key}/stream")
        print(f"subscribed to {args.endpoint} ({args.key}/stream)", file=sys.stderr)
        asked = False
        while time.monotonic() < deadline:
            sample = sub.try_recv()
            if sample is None:
                time.sleep(0.001)
                continue
            data = sample.payload.to_bytes()
            _m, _v, _h, _r, flags, _c, stream_id, first_seq = HEADER.unpack_from(data)
            if stream.next_seq is None and first_seq > 0 and not asked:
                # Joined mid-stream: the last values first.
                asked = True
                for reply in session.get(f"{args.key}/snapshot"):
                    if reply.ok is not None:
                        stream.sample(reply.ok.payload.to_bytes(), from_snapshot=True)
            stream.sample(data)
            if stream.ended or (args.count and stream.bbos >= args.count):
                break
    print(f"{stream.bbos} BBOs, {stream.lost} records lost, {len(stream.instruments)} instruments", file=sys.stderr)
    return 0 if stream.bbos > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
