"""What a request will cost, estimated from one price table that the SORA_PRICING setting (or an argument) overrides.

Figures (USD, list prices; estimates, not invoices):
- sora-2: $0.10 per second, any size (seeds: LemonGrab guide, "Sora 2 Pricing Model: $0.10 per second per variant").
- sora-2-pro: $0.30 per second at 720p, $0.50 at the larger sizes (research/anchors.md A1, cometapi.com, 3rd-party).
- Sora 1 (jobs API): $0.05 per second per variant at 1280x720, scaling linearly with pixel count (seeds: LemonGrab
  guide, "basePrice = 0.05; basePixels = 1280 * 720"; 1080p for 12 s is $1.35).
A remix is another generation of the same length, so it costs the same again.

SORA_PRICING is JSON: `{"videos": {"<model>": <usd per second> | {"<WxH>" | "*": <usd per second>}}, "jobs":
<usd per second per variant at 1280x720>}`; each model given replaces that model's built-in entry. A model with
no price (one allowed by SORA_EXTRA_MODELS, say) gets an estimate of null with the reason, never an exception.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from soraflow.errors import ConfigurationError
from soraflow.model_table import MODEL_NAME, SIZE, parse_size
from soraflow.video_request import VideoRequest

SETTING = "SORA_PRICING"
SORA1_REFERENCE_PIXELS = 1280 * 720
ANY_SIZE = "*"


@dataclass(frozen=True)
class PriceTable:
    """USD per second: per videos-API model and size ("*" for any size); per variant at 1280x720 for the jobs API."""

    videos: Mapping[str, Mapping[str, float]] = field(hash=False)
    jobs_usd_per_second_at_720p: float | None

    def videos_rate(self, model: str, family: str | None, size: str) -> tuple[float | None, str]:
        """The per-second rate for a videos-API request and how it was found (or why there is none)."""
        for name in (model, family):
            if name is None or name not in self.videos:
                continue
            sizes = self.videos[name]
            rate = sizes.get(size, sizes.get(ANY_SIZE))
            label = name if name == model else f"{model} priced as {name}"
            if rate is None:
                return None, f"no price for size {size} of {label} in the price table"
            return rate, f"{label} at ${rate:g}/s"
        return None, f"no price for model {model} in the price table (the {SETTING} setting can add one)"


DEFAULT_PRICES = PriceTable(
    videos={
        "sora-2": {ANY_SIZE: 0.10},
        "sora-2-pro": {"720x1280": 0.30, "1280x720": 0.30, ANY_SIZE: 0.50},
    },
    jobs_usd_per_second_at_720p=0.05,
)


@dataclass(frozen=True)
class CostItem:
    """One billed generation: the first video (with its variants) or the remix."""

    kind: str  # generation | remix
    seconds: int
    variants: int
    usd_per_second: float | None
    usd: float | None

    def to_dict(self) -> dict:
        return {
            "kind": self.kind,
            "seconds": self.seconds,
            "variants": self.variants,
            "usd_per_second": self.usd_per_second,
            "usd": self.usd,
        }


@dataclass(frozen=True)
class Cost:
    """An estimate: total USD (None when no price is known, with the reason) and the billed seconds."""

    estimated_usd: float | None
    seconds: int  # generated seconds billed: seconds x variants, and again for a remix
    basis: str
    items: tuple[CostItem, ...] = ()
    reason: str | None = None
    currency: str = "USD"

    def to_dict(self) -> dict:
        return {
            "estimated_usd": self.estimated_usd,
            "seconds": self.seconds,
            "currency": self.currency,
            "basis": self.basis,
            "reason": self.reason,
            "items": [item.to_dict() for item in self.items],
        }


def estimate_cost(request: VideoRequest, prices: PriceTable | Mapping | str | None = None) -> Cost:
    """Estimate what `request` costs from `prices` (a table, the SORA_PRICING JSON or its parsed form)."""
    table = prices if isinstance(prices, PriceTable) else load_price_table(prices)
    if request.api == "jobs":
        rate, basis = jobs_rate(table, request.size)
    else:
        rate, basis = table.videos_rate(request.model, request.model_family, request.size)
    runs = [("generation", request.variants)]
    if request.remix_prompt is not None:
        runs.append(("remix", 1))
    items = tuple(
        CostItem(
            kind, request.seconds, variants, rate, None if rate is None else round(rate * request.seconds * variants, 4)
        )
        for kind, variants in runs
    )
    seconds = sum(item.seconds * item.variants for item in items)
    if rate is None:
        return Cost(None, seconds, "no estimate", items, reason=basis)
    total = round(sum(rate * item.seconds * item.variants for item in items), 4)
    parts = f"{request.seconds} s x {request.variants} variant(s)" if request.api == "jobs" else f"{request.seconds} s"
    remix = " + a remix of the same length" if request.remix_prompt is not None else ""
    return Cost(total, seconds, f"{basis}; {parts}{remix}", items)


def jobs_rate(table: PriceTable, size: str) -> tuple[float | None, str]:
    """The jobs API's per-second rate per variant at `size` ("WxH") and how it was found (or why there is none)."""
    base = table.jobs_usd_per_second_at_720p
    if base is None:
        return None, f"no price for the jobs API in the price table (the {SETTING} setting can add one)"
    width, height = parse_size(size)
    scale = width * height / SORA1_REFERENCE_PIXELS
    # Rounded so that 1080p (2.25x) and friends give the seed's figures exactly rather than 1.3500000000000003.
    rate = round(base * scale, 6)
    return rate, f"Sora 1 at ${base:g}/s per variant at 1280x720, x{scale:.4g} for {size}"


@functools.lru_cache(maxsize=8)
def _load_price_text(setting: str) -> PriceTable:
    try:
        raw = json.loads(setting)
    except (ValueError, RecursionError) as error:
        raise ConfigurationError(SETTING, f"is not valid JSON ({error})") from None
    return _price_table(raw)


def load_price_table(setting: Mapping | str | None) -> PriceTable:
    """The built-in prices with SORA_PRICING (JSON text or its parsed form) applied; ConfigurationError if malformed."""
    if setting is None or (isinstance(setting, str) and not setting.strip()):
        return DEFAULT_PRICES
    if isinstance(setting, str):
        return _load_price_text(setting)
    return _price_table(setting)


def _price_table(raw: object) -> PriceTable:
    if not isinstance(raw, Mapping):
        raise ConfigurationError(SETTING, 'must be a JSON object like {"videos": {"sora-2": 0.10}, "jobs": 0.05}')
    unknown = sorted(str(key) for key in raw if key not in ("videos", "jobs"))
    if unknown:
        raise ConfigurationError(SETTING, f"has unknown keys {unknown}; allowed: videos, jobs")
    videos = dict(DEFAULT_PRICES.videos)
    models = raw.get("videos", {})
    if not isinstance(models, Mapping):
        raise ConfigurationError(
            SETTING, "videos must be an object of model name to a price or an object of size to price"
        )
    for model, entry in models.items():
        if not isinstance(model, str) or not MODEL_NAME.fullmatch(model):
            raise ConfigurationError(SETTING, f"videos has an invalid model name {str(model)[:80]!r}")
        if isinstance(entry, Mapping):
            sizes = {}
            for size, rate in entry.items():
                if not isinstance(size, str) or (size != ANY_SIZE and not SIZE.fullmatch(size)):
                    raise ConfigurationError(
                        SETTING, f'videos.{model} has an invalid size {str(size)[:40]!r}; use "WxH" or "*"'
                    )
                sizes[size] = _rate(f"videos.{model}.{size}", rate)
            if not sizes:
                raise ConfigurationError(SETTING, f"videos.{model} must name at least one size")
            videos[model] = sizes
        else:
            videos[model] = {ANY_SIZE: _rate(f"videos.{model}", entry)}
    jobs = DEFAULT_PRICES.jobs_usd_per_second_at_720p
    if "jobs" in raw:
        jobs = _rate("jobs", raw["jobs"])
    return PriceTable(videos=videos, jobs_usd_per_second_at_720p=jobs)


def _rate(where: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise ConfigurationError(SETTING, f"{where} must be a non-negative number of USD per second, got {value!r}")
    return float(value)
