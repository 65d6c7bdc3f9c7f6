"""Seeded generator of realistic OHLCV candle files (demo, tests, benchmarks)."""

from __future__ import annotations

import datetime as dt
import gzip
import math
import random
from pathlib import Path

SYMBOLS = ("EURUSD", "GBPUSD", "USDJPY", "AUDUSD", "USDCHF", "BTCUSD", "ETHUSD", "XAUUSD")
_START_PRICE = {"USDJPY": 150.0, "BTCUSD": 60000.0, "ETHUSD": 3000.0, "XAUUSD": 2300.0}


def ohlcv_text(rows: int, rng: random.Random, symbol: str, start: dt.datetime) -> str:
    """CSV text `Date,Open,High,Low,Close,Volume` of one-minute candles (geometric walk)."""
    price = _START_PRICE.get(symbol, 1.1) * math.exp(rng.gauss(0, 0.05))
    lines = ["Date,Open,High,Low,Close,Volume"]
    t = start
    step = dt.timedelta(minutes=1)
    for _ in range(rows):
        open_ = price
        close = open_ * math.exp(rng.gauss(0, 0.0008))
        high = max(open_, close) * (1 + abs(rng.gauss(0, 0.0003)))
        low = min(open_, close) * (1 - abs(rng.gauss(0, 0.0003)))
        volume = int(rng.lognormvariate(7, 1))
        lines.append(f"{t:%Y-%m-%d %H:%M:%S},{open_:.6f},{high:.6f},{low:.6f},{close:.6f},{volume}")
        price = close
        t += step
    return "\n".join(lines) + "\n"


def write_ohlcv_files(
    root: Path,
    count: int,
    rows: int,
    seed: int = 42,
    prefix: str = "ohlcv",
    gzip_every: int = 0,
) -> list[Path]:
    """Write `count` files under `root/prefix/<symbol>/<date>.csv` (every `gzip_every`-th
    file gzipped when > 0). Same seed, same bytes."""
    rng = random.Random(seed)
    paths = []
    day0 = dt.datetime(2024, 1, 1)
    for i in range(count):
        symbol = SYMBOLS[i % len(SYMBOLS)]
        day = day0 + dt.timedelta(days=i // len(SYMBOLS))
        text = ohlcv_text(rows, rng, symbol, day)
        gz = gzip_every > 0 and i % gzip_every == gzip_every - 1
        path = root / prefix / symbol / f"{day:%Y-%m-%d}.csv{'.gz' if gz else ''}"
        path.parent.mkdir(parents=True, exist_ok=True)
        data = text.encode()
        path.write_bytes(gzip.compress(data, mtime=0) if gz else data)
        paths.append(path)
    return paths
