/*
 * ladderfeed wire schema, version 1: the event stream as `ladderfeed --publish` sends it over
 * iceoryx2 (service SERVICE, byte-slice samples; snapshots from the request-response service
 * SERVICE/snapshot) and Zenoh (key KEY/stream; snapshots from the queryable KEY/snapshot).
 *
 * One transport message is one sample: a 32-byte header, then `count` records of 64 bytes.
 * Everything is little-endian, naturally aligned, with no padding. A reader on a little-endian
 * host may cast (after copying into aligned memory); others read the fields at these offsets.
 * The Rust side is `ladderfeed::fanout::wire` (its docs say the same); tests/fanout.rs checks
 * this header against it with a C compiler.
 *
 * Stream sequence numbers: every record a publisher sends is numbered from 0 without gaps;
 * record i of a sample is first_seq + i. A sample that starts beyond the number expected
 * means the records in between were lost (a slow subscriber's queue was overwritten: the
 * publisher never waits). A sample with count == 0 is a heartbeat (after 1 s without records;
 * first_seq is then the number of the next record). A new stream_id means the publisher
 * restarted.
 *
 * Late join: a subscriber whose first sample has first_seq > 0 asks for a snapshot (any
 * request payload; iceoryx2 requests are one u64). The answer is one sample with
 * LFW_FLAG_SNAPSHOT: every instrument definition, then per book its last BBO, its last book
 * state change (if newer than the BBO) and its top N (depth levels then a depth end). Its
 * records are not numbered (seq field 0); its first_seq is the first stream record NOT in it:
 * apply the snapshot, then stream records from first_seq on, dropping older ones.
 */
#ifndef LADDERFEED_WIRE_V1_H
#define LADDERFEED_WIRE_V1_H

#include <stdint.h>

#define LFW_MAGIC "LFW1"
#define LFW_VERSION 1
#define LFW_HEADER_BYTES 32
#define LFW_RECORD_BYTES 64
#define LFW_FLAG_SNAPSHOT 1 /* a snapshot answer, not stream records */
#define LFW_FLAG_END 2      /* the publisher's last sample: the stream ended */
#define LFW_MAX_STREAM_RECORDS 64

typedef struct lfw_header {
    char magic[4];       /* "LFW1" */
    uint16_t version;    /* 1 */
    uint16_t header_len; /* 32: records start here */
    uint16_t record_len; /* 64 */
    uint16_t flags;      /* LFW_FLAG_* */
    uint32_t count;      /* records in this sample */
    uint64_t stream_id;  /* random per publisher run */
    uint64_t first_seq;  /* stream sequence number of the first record (see above) */
} lfw_header;

/* Record kinds (byte 30). */
enum lfw_kind {
    LFW_BBO = 1,              /* payload: bid_tick, bid_lots, ask_tick, ask_lots (int64) */
    LFW_TRADE = 2,            /* payload: price_tick, size_lots (int64), trade_id, aggressor (0 unknown, 1 buy, 2 sell) */
    LFW_BOOK_STATE = 3,       /* payload[0]: the previous state; the record's state is the new one */
    LFW_INSTRUMENT_HEAD = 4,  /* payload: see lfw_instrument_head */
    LFW_INSTRUMENT_TEXT = 5,  /* payload bytes: [0] part (1..3), [1..32] up to 31 more symbol bytes */
    LFW_DEPTH_LEVEL = 6,      /* payload: price_tick, size_lots (0: left the top N) (int64), side (1 bids, 2 asks) */
    LFW_DEPTH_END = 7,        /* payload[0]: levels per side; the book's top N is complete again */
    LFW_DEPTH_CLEAR = 8,      /* the book's top N is void until it is synced again */
    /* Derivatives. A "scaled" value is units x step / 10^scale: step is the instrument's tick
     * (prices), its lot (sizes) or 1 (rates); scale 0 means whole ticks or lots. */
    LFW_FUNDING = 9,          /* payload: rate units (int64), next funding time (epoch ns, 0 unknown), rate scale (low byte) */
    LFW_MARK_INDEX = 10,      /* payload: mark units, index units (int64), mark scale | index scale << 8 | 1 << 16 (mark present) | 1 << 17 (index present) */
    LFW_OPEN_INTEREST = 11,   /* payload: units (int64, lots), scale */
    LFW_LIQUIDATION = 12      /* payload: price units, size units (int64), price scale | size scale << 8 | order side << 16 (1 buy, 2 sell: closes a long) */
};

/* Book states (byte 31). Only LFW_SYNCED prices may be acted on; a crossed or locked BBO is
 * never sent as synced. */
enum lfw_state { LFW_SYNCED = 1, LFW_RESYNCING = 2, LFW_STALE = 3 };

typedef struct lfw_record {
    uint64_t exch_ts;       /* the venue's timestamp, epoch ns (0: none) */
    uint64_t local_ts;      /* receive time, epoch ns (a replay: the capture's recorded time) */
    uint32_t seq;           /* low 32 bits of the stream sequence number (0 in a snapshot) */
    uint32_t parsed_dns;    /* parse finished, ns after local_ts */
    uint32_t published_dns; /* pushed onto the feed's ring, ns after local_ts */
    uint16_t instrument;    /* instrument id: index into the table the definitions build */
    uint8_t kind;           /* enum lfw_kind */
    uint8_t state;          /* enum lfw_state */
    uint64_t payload[4];    /* by kind */
} lfw_record;

/* An instrument head's payload: tick = tick_mantissa * 10^-tick_scale, lot likewise.
 * Prices on the wire are ticks (price = price_tick * tick), sizes lots (size = lots * lot).
 * The symbol is symbol_len bytes: the first 8 here, the rest in the text records that follow
 * (part 1, 2, 3: 31 bytes each). A new head for an id replaces its definition. */
typedef struct lfw_instrument_head {
    uint64_t tick_mantissa;
    uint64_t lot_mantissa;
    uint8_t tick_scale;
    uint8_t lot_scale;
    uint8_t venue;      /* LFW_VENUES[venue - 1] */
    uint8_t source;     /* 1 configured, 2 built in, 3 learned, 4 the venue's reference data */
    uint8_t symbol_len;
    uint8_t trade_scale; /* 0: trade prices count ticks; k + 1: they count 10^-k (Bitfinex) */
    uint8_t reserved[2];
    char symbol[8];
} lfw_instrument_head;

/* Venue codes, from 1. */
#define LFW_VENUES                                                                            \
    { "coinbase", "coinbase-exchange", "binance", "binance-futures", "bitfinex", "kraken",    \
      "kraken-v1", "okx", "gemini", "gemini-v1", "bybit", "bybit-linear", "bybit-inverse",    \
      "binance-coinm", "deribit", "hyperliquid", "kraken-futures", "bitmex" }

_Static_assert(sizeof(lfw_header) == LFW_HEADER_BYTES, "header is 32 bytes");
_Static_assert(sizeof(lfw_record) == LFW_RECORD_BYTES, "record is 64 bytes");
_Static_assert(sizeof(lfw_instrument_head) == 32, "instrument head payload is 32 bytes");

#endif
