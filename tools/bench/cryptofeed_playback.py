#!/usr/bin/env python3
"""Measure cryptofeed's own feed handler on a captured exchange session.

    python3 tools/bench/cryptofeed_playback.py --venue V --file PATH [--symbol SYM] [--repeat N] [--json]

Modelled on cryptofeed's playback (cryptofeed/raw_data_collection.py, `_playback`): the real
feed class `EXCHANGE_MAP[venue]` is built, `subscribe(ws)` is called for every entry of
`feed.connect()` with a stand-in connection whose writes go nowhere, and every received
WebSocket frame of the capture is handed to `await handler(frame, ws, timestamp)`. REST
answers recorded in the capture (Binance depth snapshots) are served to `HTTPAsyncConn.read`,
which cryptofeed calls from inside the handler. No socket is opened: connecting or resolving a
name raises instead.

All frames are read and decoded from the file format before timing; only the handler loop is
timed (time.perf_counter), once per repetition, each repetition on a freshly built feed.
msgs/s and ns/msg count the WebSocket frames plus the REST bodies cryptofeed read in the loop.
A frame on which the handler raises is counted as an error and playback goes on (a live
cryptofeed connection would reconnect instead).

Capture formats, chosen from the file name:
  *.jsonl.zst  cryptofeed v3: JSON lines {"t": "recv"|"http"|..., "ts", "data": raw text}
  *.gz         hftbacktest: gzip lines "<local_ts_ns> <raw json>"; the one line without a
               "stream" key is the REST depth snapshot
  *.data       received lines: one raw frame per line, no timestamps (Bybit's own published
               order-book history); every frame gets receipt time 0
  otherwise    cryptofeed raw log: "<ts>: <frame>" received, "wss://... <-> ts" connect,
               "wss://... <- ts: msg" sent, "configuration: {...}" header; REST answers come
               from sibling "<EXCHANGE>.http.*" files, lines "https://... -> <ts>: <body>"
Each capture used here holds one WebSocket connection, so one stand-in connection receives
every frame.
"""
import argparse
import ast
import asyncio
import gzip
import importlib.metadata
import io
import json
import logging
import socket
import statistics
import sys
import time
import traceback
from collections import Counter, deque
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from cryptofeed.connection import HTTPAsyncConn, HTTPSync
from cryptofeed.defines import L2_BOOK, TRADES
from cryptofeed.exchanges import EXCHANGE_MAP


# --------------------------------------------------------------------------- no network

def _no_network(*_args, **_kwargs):
    raise RuntimeError('network access attempted during playback')


socket.socket.connect = _no_network
socket.socket.connect_ex = _no_network
socket.create_connection = _no_network
socket.getaddrinfo = _no_network


# --------------------------------------------------------------------------- captures

class Capture:
    """Received frames as (receipt timestamp in seconds, raw frame) plus recorded REST bodies."""

    def __init__(self):
        self.frames = []
        self.rest = {}  # url -> list of bodies, in recorded order

    def add_rest(self, url, body):
        self.rest.setdefault(url, []).append(body)


def read_capture(path, venue):
    name = path.name
    if name.endswith('.jsonl.zst'):
        return read_v3(path)
    if name.endswith('.gz'):
        return read_hftbacktest(path, venue)
    if name.endswith('.data'):
        return read_lines(path)
    return read_cryptofeed_raw(path)


def read_lines(path):
    """One received frame per line, no timestamps (as src/capture's "received lines" reader)."""
    cap = Capture()
    with open(path, encoding='utf-8') as fh:
        for line in fh:
            line = line.rstrip('\n')
            if line:
                cap.frames.append((0.0, line))
    return cap


def read_v3(path):
    import zstandard

    cap = Capture()
    with open(path, 'rb') as fh, zstandard.ZstdDecompressor().stream_reader(fh) as raw:
        for line in io.TextIOWrapper(raw, encoding='utf-8'):
            rec = json.loads(line)
            if rec['t'] == 'recv':
                cap.frames.append((float(rec['ts']), rec['data']))
            elif rec['t'] == 'http':
                cap.add_rest(rec['url'], rec['data'])
    return cap


def read_hftbacktest(path, venue):
    cap = Capture()
    snapshots = []
    streams = set()
    with gzip.open(path, 'rt', encoding='utf-8') as fh:
        for line in fh:
            ts_ns, frame = line.rstrip('\n').split(' ', 1)
            msg = json.loads(frame)
            if 'stream' in msg:
                streams.add(msg['stream'].split('@', 1)[0].upper())
                cap.frames.append((int(ts_ns) / 1e9, frame))
            else:
                snapshots.append(frame)
    if snapshots:
        if len(streams) != 1:
            raise ValueError(f'{path}: REST snapshot lines without a URL need a one-symbol capture, found {sorted(streams)}')
        # The line carries no URL. hftbacktest's collector fetched it as depth?limit=1000 (the
        # snapshot holds 1000 levels a side), which is also the URL cryptofeed asks for.
        url = EXCHANGE_MAP[venue].rest_endpoints[0].route('l2book').format(streams.pop(), 1000)
        for body in snapshots:
            cap.add_rest(url, body)
    return cap


def read_cryptofeed_raw(path):
    cap = Capture()
    with open(path, encoding='utf-8') as fh:
        for line in fh:
            line = line.rstrip('\n')
            if not line or line.startswith(('wss:', 'ws:', 'configuration:')):
                continue  # connects, sent frames, header
            ts, frame = line.split(': ', 1)
            if frame.startswith(("b'", 'b"')):
                frame = ast.literal_eval(frame)  # frames recorded as bytes, as `_playback` decodes them
            cap.frames.append((float(ts), frame))
    exchange = path.name.split('.', 1)[0].removeprefix('cryptofeed_')
    # REST answers: `*.http.*` files (Binance), or the `<EXCHANGE>.0` file cryptofeed wrote
    # beside some captures (BitMEX's instrument list).
    rest_files = sorted(path.parent.glob(f'*{exchange}.http.*'))
    rest_files += sorted(p for p in path.parent.glob(f'*{exchange}.0') if p != path)
    for rest_file in rest_files:
        with open(rest_file, encoding='utf-8') as fh:
            for line in fh:
                if line.startswith('http'):
                    url, rest = line.rstrip('\n').split(' -> ', 1)
                    cap.add_rest(url, rest.split(': ', 1)[1])
    return cap


# --------------------------------------------------------------------------- symbols
#
# cryptofeed reads each venue's instrument list over HTTPS when a feed is built. These captures
# do not carry it, so `HTTPSync.read` is replaced by a function returning a document WRITTEN BY
# US: it only names the symbols found in the capture, in the fields each venue's
# `_parse_symbol_data` reads (tick sizes are unknown and left None: cryptofeed only stores
# them). The message handling measured is entirely cryptofeed's own.

QUOTES = ('FDUSD', 'USDT', 'USDC', 'BUSD', 'TUSD', 'USD', 'EUR', 'GBP', 'SGD', 'JPY', 'TRY',
          'BTC', 'ETH', 'BNB', 'LTC', 'BCH', 'DAI')


def split_pair(symbol):
    """BTCUSDT -> (BTC, USDT): the longest known quote currency that ends the name."""
    for quote in sorted(QUOTES, key=len, reverse=True):
        if symbol.endswith(quote) and len(symbol) > len(quote):
            return symbol[:-len(quote)], quote
    raise ValueError(f'cannot split {symbol!r} into base and quote; add its quote currency to QUOTES')


def binance_symbols(msg):
    return [msg['stream'].split('@', 1)[0].upper()] if 'stream' in msg else []


def binance_info(perpetual):
    def info(_address, symbols):
        entries = []
        for sym in symbols:
            base, quote = split_pair(sym)
            entry = {'symbol': sym, 'baseAsset': base, 'quoteAsset': quote, 'status': 'TRADING',
                     'filters': [{'tickSize': None}]}
            if perpetual:
                entry['contractType'] = 'PERPETUAL'
            entries.append(entry)
        return {'symbols': entries}
    return info


def kraken_symbols(msg):
    if isinstance(msg, list):
        return [msg[-1]]
    return [msg['pair']] if 'pair' in msg else []


def kraken_info(_address, symbols):
    return {'result': {sym.replace('/', ''): {'wsname': sym} for sym in symbols}}


def okx_symbols(msg):
    return [msg['arg']['instId']] if 'instId' in msg.get('arg', {}) else []


def okx_inst_type(inst_id):
    parts = inst_id.split('-')
    if parts[-1] == 'SWAP':
        return 'SWAP'
    if len(parts) == 3 and parts[2].isdigit():
        return 'FUTURES'
    return 'SPOT'


def okx_info(address, symbols):
    # one request per instrument type: ...instruments?instType=SPOT|SWAP|FUTURES|OPTION
    inst_type = address.split('instType=', 1)[1].split('&', 1)[0]
    entries = []
    for sym in symbols:
        if okx_inst_type(sym) == inst_type:
            base, quote = sym.split('-')[:2]
            entries.append({'instId': sym, 'instType': inst_type, 'baseCcy': base, 'quoteCcy': quote, 'tickSz': None})
    return {'data': entries}


def gemini_symbols(msg):
    return [msg['symbol']] if 'symbol' in msg else []


def gemini_info(address, symbols):
    # first /v1/symbols (the list of names), then /v1/symbols/details/<name> for each
    if address.endswith('/v1/symbols'):
        return [sym.lower() for sym in symbols]
    sym = address.rsplit('/', 1)[1].upper()
    base, quote = split_pair(sym)
    return {'symbol': sym, 'base_currency': base, 'quote_currency': quote, 'tick_size': None, 'status': 'open'}


def bitfinex_symbols(msg):
    return [msg['symbol']] if isinstance(msg, dict) and msg.get('event') == 'subscribed' else []


def bitfinex_info(address, symbols):
    # three lists, each wrapped in a list: exchange pairs, currencies, perpetual futures
    if address.endswith('pair:exchange'):
        return [[sym[1:] for sym in symbols if sym.startswith('t')]]
    return [[]]


def coinbase_symbols(msg):
    if msg.get('channel') not in ('l2_data', 'market_trades'):
        return []
    found = []
    for event in msg['events']:
        if 'product_id' in event:
            found.append(event['product_id'])
        found.extend(trade['product_id'] for trade in event.get('trades', ()))
    return found


def coinbase_info(_address, symbols):
    products = []
    for sym in symbols:
        base, quote = sym.split('-')
        products.append({'product_id': sym, 'base_currency_id': base, 'quote_currency_id': quote, 'quote_increment': None})
    return {'products': products}


def bitmex_symbols(msg):
    if msg.get('table') != 'orderBookL2':
        return []
    return [row['symbol'] for row in msg.get('data', ())]


def bitmex_info(address, symbols, rest):
    # Not written by us: BitMEX's own `instrument/active` answer, recorded beside the capture
    # (cryptofeed_BITMEX.0), cut to the capture's symbols.
    bodies = rest.get(address)
    if not bodies:
        raise LookupError(f'no recorded instrument list for {address}')
    entries = [entry for entry in json.loads(bodies[0]) if entry['symbol'] in symbols]
    # cryptofeed 2.4.1's Symbol cannot parse BitMEX's own expiry text (2021-09-24T12:00:00.000Z):
    # building the symbol map raises on any dated future. A datetime it does take.
    for entry in entries:
        if entry.get('expiry'):
            entry['expiry'] = datetime.fromisoformat(entry['expiry'].replace('Z', '+00:00'))
    return entries


def recorded_bodies(rest, address):
    bodies = rest.get(address)
    if not bodies:
        raise LookupError(f'no recorded instrument list for {address}')
    return bodies


def kraken_futures_symbols(msg):
    # product ids arrive upper case; the REST instrument list (and cryptofeed's map) has them lower
    return [msg['product_id'].lower()] if isinstance(msg, dict) and 'product_id' in msg else []


def kraken_futures_info(address, symbols, rest):
    # Not written by us: Kraken Futures' own `derivatives/api/v3/instruments` answer, recorded
    # beside the capture (cryptofeed_KRAKEN_FUTURES.0), cut to the capture's symbols.
    doc = json.loads(recorded_bodies(rest, address)[0])
    doc['instruments'] = [entry for entry in doc['instruments'] if entry['symbol'] in symbols]
    return doc


def deribit_symbols(msg):
    data = msg.get('params', {}).get('data') if isinstance(msg, dict) else None
    if isinstance(data, dict) and 'instrument_name' in data:
        return [data['instrument_name']]
    if isinstance(data, list):
        return [row['instrument_name'] for row in data if 'instrument_name' in row]
    return []


def deribit_info(address, symbols, rest):
    # Not written by us: Deribit's own `public/get_instruments?currency=C&expired=false` answers,
    # recorded beside the capture (cryptofeed_DERIBIT.0), cut to the capture's instruments.
    # cryptofeed 2.4.1 asks for `?currency=C` without `&expired=false`: the recorded answer for
    # the same currency is served (an empty list for a currency the recording has no answer for).
    currency = address.split('currency=', 1)[1].split('&', 1)[0]
    for url, bodies in rest.items():
        if 'get_instruments' in url and url.split('currency=', 1)[1].split('&', 1)[0] == currency:
            doc = json.loads(bodies[0])
            doc['result'] = [entry for entry in doc['result'] if entry['instrument_name'] in symbols]
            return doc
    return {'result': []}


def bybit_symbols(msg):
    topic = msg.get('topic', '') if isinstance(msg, dict) else ''
    if topic.startswith(('orderbook.', 'publicTrade.')):
        return [topic.rsplit('.', 1)[1]]
    return []


def bybit_info(price_decimals):
    def info(address, symbols):
        # Bybit v5 `instruments-info`, one request per category (linear, spot). The frames do not
        # name the category; like ladderfeed's reader (src/capture: bybit-linear assumed) every
        # symbol is a linear perpetual. cryptofeed parses tickSize with Decimal() (None raises): the
        # step the capture's own prices are written in stands for it; cryptofeed only stores it.
        if 'category=linear' not in address:
            return {'result': {'list': []}}
        entries = []
        for sym in symbols:
            base, quote = split_pair(sym)
            entries.append({'symbol': sym, 'baseCoin': base, 'quoteCoin': quote, 'contractType': 'LinearPerpetual',
                            'priceFilter': {'tickSize': str(Decimal(1).scaleb(-price_decimals.get(sym, 0)))}})
        return {'result': {'list': entries}}
    return info


def bybit_price_decimals(capture):
    """The most decimals a price of each symbol is written with in the capture's book messages."""
    decimals = {}
    for _, frame in capture.frames:
        msg = json.loads(frame)
        data = msg.get('data')
        if not isinstance(data, dict) or 's' not in data:
            continue
        for side in ('b', 'a'):
            for price, _size in data.get(side, ()):
                d = len(price.split('.', 1)[1]) if '.' in price else 0
                decimals[data['s']] = max(decimals.get(data['s'], 0), d)
    return decimals


def binance_delivery_info(_address, symbols):
    # Binance COIN-M `dapi/v1/exchangeInfo`: names such as BTCUSD_PERP (perpetual) or
    # BTCUSD_240927 (dated); base and quote from the pair before the underscore.
    entries = []
    for sym in symbols:
        pair, kind = sym.split('_', 1)
        base, quote = split_pair(pair)
        contract = 'PERPETUAL' if kind == 'PERP' else 'CURRENT_QUARTER'
        entries.append({'symbol': sym, 'baseAsset': base, 'quoteAsset': quote, 'contractType': contract,
                        'contractStatus': 'TRADING', 'filters': [{'tickSize': None}]})
    return {'symbols': entries}


# venue -> (exchange symbols named by one decoded frame, instrument document for a URL)
VENUES = {
    'BINANCE': (binance_symbols, binance_info(perpetual=False)),
    'BINANCE_FUTURES': (binance_symbols, binance_info(perpetual=True)),
    'KRAKEN': (kraken_symbols, kraken_info),
    'OKX': (okx_symbols, okx_info),
    'GEMINI': (gemini_symbols, gemini_info),
    'BITFINEX': (bitfinex_symbols, bitfinex_info),
    'COINBASE': (coinbase_symbols, coinbase_info),
    'BITMEX': (bitmex_symbols, bitmex_info),
    'KRAKEN_FUTURES': (kraken_futures_symbols, kraken_futures_info),
    'DERIBIT': (deribit_symbols, deribit_info),
    'BYBIT': (bybit_symbols, None),  # bybit_info, built per capture in install_symbol_info
    'BINANCE_DELIVERY': (binance_symbols, binance_delivery_info),
}

# The venues whose instrument document is the answer recorded with the capture (the info
# function also takes the capture's REST answers).
RECORDED_INFO = {'BITMEX', 'KRAKEN_FUTURES', 'DERIBIT'}

# cryptofeed's Coinbase.subscribe signs its subscribe messages with an API key, and cryptofeed
# 2.4.1 counts Deribit's `book` and `trades` as authenticated channels (it refuses to build the
# feed without keys, and subscribes to them with `private/subscribe`). Nothing is sent and no
# authentication is run, so placeholder keys are enough.
FEED_CONFIG = {
    'COINBASE': {'coinbase': {'key_id': 'placeholder', 'key_secret': 'placeholder'}},
    'DERIBIT': {'deribit': {'key_id': 'placeholder', 'key_secret': 'placeholder'}},
}


def install_symbol_info(venue, capture):
    """Patch HTTPSync.read and return cryptofeed's normalized -> exchange symbol map for the capture."""
    symbols_of, info = VENUES[venue]
    if venue == 'BYBIT':
        info = bybit_info(bybit_price_decimals(capture))
    found = sorted({sym for _, frame in capture.frames for sym in symbols_of(json.loads(frame))})
    if venue in RECORDED_INFO:
        HTTPSync.read = lambda _self, address, **_kwargs: info(address, found, capture.rest)
    else:
        HTTPSync.read = lambda _self, address, **_kwargs: info(address, found)
    mapping = EXCHANGE_MAP[venue].symbol_mapping(refresh=True)
    return {norm: exch for norm, exch in mapping.items() if exch in found}


# --------------------------------------------------------------------------- playback

class RecordedRest:
    """Serves recorded REST bodies, in order, per URL to HTTPAsyncConn.read."""

    def __init__(self, rest):
        self.queues = {url: deque(bodies) for url, bodies in rest.items()}
        self.served = 0

    async def read(self, address):
        queue = self.queues.get(address)
        if not queue:
            raise LookupError(f'no recorded REST answer left for {address}')
        self.served += 1
        return queue.popleft()


class PlaybackConnection:
    """Stands in for the WebSocket connection: cryptofeed reads `uuid`, `subscription` and (Bybit,
    to tell spot from linear) `address`; writes go nowhere."""

    def __init__(self, subscription, address):
        self.uuid = 'playback'
        self.id = self.uuid
        self.subscription = subscription
        self.address = address

    async def write(self, _msg):
        pass


class Tally:
    """Feed callbacks: count book updates and trades, and read the best bid/ask of every book.

    `index(0)` is the accessor cryptofeed itself uses (Feed.check_bid_ask_overlapping). order_book's
    SortedDict re-sorts a side that changed since it was last read, so on deep books this read
    is a large share of the measured time: it is what any consumer of the top of book pays.
    With `read_bbo=False` (diagnostic, `--no-bbo-read`) the top of book is read once, after the
    timed loop: the handler's own cost without a consumer of the BBO.
    """

    def __init__(self, read_bbo=True):
        self.books = 0
        self.trades = 0
        self.bbo = {}
        self.read_bbo = read_bbo
        self.last = {}

    @staticmethod
    def top(book):
        bids, asks = book.book.bids, book.book.asks
        return (bids.index(0)[0] if len(bids) else None, asks.index(0)[0] if len(asks) else None)

    async def book(self, book, _receipt_timestamp):
        self.books += 1
        if self.read_bbo:
            self.bbo[book.symbol] = self.top(book)
        else:
            self.last[book.symbol] = book

    def finish(self):
        for symbol, book in self.last.items():
            self.bbo[symbol] = self.top(book)

    async def trade(self, _trade, _receipt_timestamp):
        self.trades += 1


class LogTally(logging.Handler):
    """Counts cryptofeed's log records (WARNING and up, its default level) by message template."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.counts = Counter()

    def emit(self, record):
        self.counts[f'{record.levelname} {record.msg}'] += 1


async def run_once(venue, capture, subscription, checksum, log_tally, read_bbo):
    """Build a fresh feed, subscribe, and time the handler over every frame."""
    tally = Tally(read_bbo)
    rest = RecordedRest(capture.rest)
    HTTPAsyncConn.read = lambda _conn, address, **_kwargs: rest.read(address)
    feed = EXCHANGE_MAP[venue](subscription=subscription, callbacks={L2_BOOK: tally.book, TRADES: tally.trade},
                               checksum_validation=checksum, config=FEED_CONFIG.get(venue))
    connections = feed.connect()
    # The WebSocket address cryptofeed built for the subscription (the first WebSocket connection's)
    address = next((conn.address for conn, *_ in connections
                    if isinstance(getattr(conn, 'address', None), str) and conn.address.startswith('ws')), None)
    ws = PlaybackConnection({chan: sorted(syms) for chan, syms in feed.subscription.items()}, address)
    for _conn, subscribe, _handler, _auth in connections:
        await subscribe(ws)
    handler = connections[0][2]  # every connection of a feed shares its message_handler
    log_tally.counts.clear()

    errors = []
    frames = capture.frames
    start = time.perf_counter()
    for ts, frame in frames:
        try:
            await handler(frame, ws, ts)
        except Exception as exc:
            errors.append(exc)
    elapsed = time.perf_counter() - start
    tally.finish()

    feed.stop()
    await feed.shutdown()
    return {'elapsed': elapsed, 'books': tally.books, 'trades': tally.trades, 'rest_served': rest.served,
            'errors': errors, 'bbo': tally.bbo, 'log': Counter(log_tally.counts)}


def measure(venue, path, symbols, repeat, checksum, read_bbo=True):
    capture = read_capture(path, venue)
    mapping = install_symbol_info(venue, capture)
    if symbols:
        missing = [s for s in symbols if s not in mapping]
        if missing:
            raise ValueError(f'{missing} not in the capture; it has {sorted(mapping)}')
        mapping = {s: mapping[s] for s in symbols}
    if not mapping:
        raise ValueError('no symbol found in the capture')
    subscription = {L2_BOOK: sorted(mapping), TRADES: sorted(mapping)}

    feed_log = logging.getLogger('feedhandler')
    log_tally = LogTally()
    feed_log.addHandler(log_tally)
    feed_log.setLevel(logging.WARNING)
    feed_log.propagate = False

    runs = [asyncio.run(run_once(venue, capture, subscription, checksum, log_tally, read_bbo)) for _ in range(repeat)]

    first = runs[0]
    if first['errors']:
        exc = first['errors'][0]
        print(f'cryptofeed {venue} {path}: first handler error: {type(exc).__name__}: {exc}', file=sys.stderr)
    for run in runs[1:]:
        if (run['books'], run['trades'], len(run['errors'])) != (first['books'], first['trades'], len(first['errors'])):
            print(f'cryptofeed {venue} {path}: repetitions disagree on counts', file=sys.stderr)
    times = [run['elapsed'] for run in runs]
    best, median = min(times), statistics.median(times)
    messages = len(capture.frames) + first['rest_served']
    return {
        'venue': venue,
        'file': str(path),
        'cryptofeed': importlib.metadata.version('cryptofeed'),
        'python': sys.version.split()[0],
        'symbols': mapping,
        'frames': len(capture.frames),
        'rest_bodies': first['rest_served'],
        'messages': messages,
        'book_callbacks': first['books'],
        'trades': first['trades'],
        'errors': len(first['errors']),
        'error_types': dict(Counter(f'{type(e).__name__}: {e}' for e in first['errors'])),
        'log_records': dict(first['log']),
        'final_bbo': {sym: [str(bid), str(ask)] for sym, (bid, ask) in sorted(first['bbo'].items())},
        'checksum_validation': checksum,
        'bbo_read_per_book_callback': read_bbo,
        'repeat': repeat,
        'best_s': best,
        'median_s': median,
        'msgs_per_s': messages / best,
        'msgs_per_s_median': messages / median,
        'ns_per_msg': best / messages * 1e9,
        'ns_per_msg_median': median / messages * 1e9,
    }


def check_bbo(result, csv_path):
    """Compare cryptofeed's final BBO per book with the last row per symbol of ladderfeed's
    `replay FILE --bbo-out CSV`. Prices are compared as decimals; an empty ladderfeed side (no
    BBO published: a side of the book is empty) must be an empty side in cryptofeed too."""
    import csv

    ours = {}
    with open(csv_path, newline='', encoding='utf-8') as fh:
        for row in csv.DictReader(fh):
            ours[row['symbol'].upper()] = (row['bid_px'] or None, row['ask_px'] or None)
    to_exchange = {norm: exch.upper() for norm, exch in result['symbols'].items()}
    dec = lambda v: None if v in (None, 'None', '') else Decimal(v)
    matched, mismatched, missing = [], {}, []
    for norm, (bid, ask) in result['final_bbo'].items():
        key = to_exchange.get(norm, norm.upper())
        if key not in ours:
            missing.append(key)
            continue
        theirs, mine = (dec(bid), dec(ask)), tuple(dec(v) for v in ours[key])
        if mine == (None, None) and None in theirs:
            matched.append(key)  # one side empty: ladderfeed publishes no BBO, cryptofeed has half of one
        elif theirs == mine:
            matched.append(key)
        else:
            mismatched[key] = {'cryptofeed': [bid, ask], 'ladderfeed': list(ours[key])}
    return {'ladderfeed_csv': str(csv_path), 'books_compared': len(matched) + len(mismatched),
            'matched': len(matched), 'mismatched': mismatched,
            'cryptofeed_books_not_in_ladderfeed': missing,
            'ladderfeed_books_not_in_cryptofeed': sorted(set(ours) - set(to_exchange.get(n, n.upper()) for n in result['final_bbo']))}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', 1)[0])
    parser.add_argument('--venue', required=True, choices=sorted(VENUES))
    parser.add_argument('--file', required=True, type=Path)
    parser.add_argument('--symbol', action='append', default=[],
                        help="cryptofeed symbol to subscribe, e.g. BTC-USDT (repeatable; default: every symbol in the capture)")
    parser.add_argument('--repeat', type=int, default=5)
    parser.add_argument('--checksum', action='store_true',
                        help="turn on cryptofeed's checksum_validation (off by default; used by its KRAKEN and OKX handlers)")
    parser.add_argument('--json', action='store_true', help='print one JSON object instead of a line')
    parser.add_argument('--json-out', type=Path,
                        help='also append the result as one JSON line to this file (for the pipeline benchmark)')
    parser.add_argument('--case', help='the capture\'s name in the pipeline benchmark (stored with --json-out)')
    parser.add_argument('--ladderfeed-bbo', type=Path,
                        help="ladderfeed's `replay FILE --bbo-out CSV` of the same capture: compare each book's final BBO")
    parser.add_argument('--no-bbo-read', action='store_true',
                        help='diagnostic: read the top of book once after the timed loop, not on every book callback')
    args = parser.parse_args()

    try:
        r = measure(args.venue, args.file, args.symbol, max(1, args.repeat), args.checksum, not args.no_bbo_read)
        if args.ladderfeed_bbo:
            r['bbo_check'] = check_bbo(r, args.ladderfeed_bbo)
    except Exception as exc:
        traceback.print_exc()
        print(f'cryptofeed {args.venue} {args.file}: cannot run: {type(exc).__name__}: {exc}')
        sys.exit(1)

    if args.json_out:
        with args.json_out.open('a', encoding='utf-8') as out:
            out.write(json.dumps({'case': args.case, **r}) + '\n')
    if args.json:
        print(json.dumps(r, indent=2))
        return
    rest = f" + {r['rest_bodies']} REST {'body' if r['rest_bodies'] == 1 else 'bodies'}" if r['rest_bodies'] else ''
    print(f"cryptofeed {r['venue']} {r['file']}: {r['frames']} frames{rest}, {r['book_callbacks']} book callbacks, "
          f"{r['trades']} trades, {r['errors']} errors, {r['msgs_per_s']:,.0f} msgs/s (best of {r['repeat']}; "
          f"median {r['msgs_per_s_median']:,.0f}), {r['ns_per_msg']:,.0f} ns/msg", flush=True)
    for record, count in sorted(r['log_records'].items(), key=lambda kv: -kv[1]):
        print(f"  cryptofeed {r['venue']} logged {count}x: {record}", file=sys.stderr)
    if 'bbo_check' in r:
        c = r['bbo_check']
        print(f"  final BBO against ladderfeed: {c['matched']} of {c['books_compared']} books match"
              f"{'; MISMATCH ' + json.dumps(c['mismatched']) if c['mismatched'] else ''}", file=sys.stderr)


if __name__ == '__main__':
    main()
