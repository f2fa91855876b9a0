"""The fal model endpoints the emulator serves: each one's input schema, defaults and the video it renders.

Allowed values and defaults are fal's own (research/providers-2026.md §7.3). Invalid input answers
fal's pydantic-style `detail` list; fields a schema does not define are ignored, as fal's models do.
"""

from __future__ import annotations

from dataclasses import dataclass

ERRORS_URL = "https://errors.pydantic.dev/2.10/v/"
FAL_ERRORS_URL = "https://docs.fal.ai/errors#"
# fal's own model-error types (the rest of the `detail` types are pydantic's).
FAL_ERROR_TYPES = {"content_policy_violation", "file_download_error", "image_too_large", "image_load_error"}
UNSET = object()

# The short side of a frame for each resolution label (MiniMax spells them with a capital P).
SHORT_SIDES = {"512P": 512, "720p": 720, "768P": 768, "1080p": 1080, "4k": 2160}


def detail(loc: str, msg: str, type: str, *, input: object = UNSET, ctx: dict | None = None) -> dict:
    """One entry of fal's 422 `detail` list; `loc` is a body field (or "" for the body itself)."""
    entry: dict = {"loc": ["body", loc] if loc else ["body"], "msg": msg, "type": type}
    if input is not UNSET:
        entry["input"] = input
    if ctx:
        entry["ctx"] = ctx
    entry["url"] = (FAL_ERRORS_URL if type in FAL_ERROR_TYPES else ERRORS_URL) + type
    return entry


class InputError(Exception):
    """Input a model refuses, as fal's `detail` list."""

    def __init__(self, details: list[dict]):
        super().__init__("; ".join(f"{'.'.join(d['loc'])}: {d['msg']}" for d in details))
        self.details = details


def _quoted(values: tuple[str, ...]) -> str:
    quoted = [f"'{v}'" for v in values]
    return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"


@dataclass(frozen=True)
class Choice:
    """A string enum (fal's enums are strings: "8s", "5", "768P")."""

    values: tuple[str, ...]
    default: str | None = None

    def check(self, name: str, value: object) -> list[dict]:
        if value in self.values and isinstance(value, str):
            return []
        expected = _quoted(self.values)
        return [detail(name, f"Input should be {expected}", "literal_error", input=value, ctx={"expected": expected})]


@dataclass(frozen=True)
class Text:
    """A string; a required one may not be empty."""

    required: bool = False
    default: str | None = None

    def check(self, name: str, value: object) -> list[dict]:
        if not isinstance(value, str):
            return [detail(name, "Input should be a valid string", "string_type", input=value)]
        if self.required and not value:
            msg = "String should have at least 1 character"
            return [detail(name, msg, "string_too_short", input=value, ctx={"min_length": 1})]
        return []


@dataclass(frozen=True)
class Flag:
    """A JSON boolean."""

    default: bool

    def check(self, name: str, value: object) -> list[dict]:
        return (
            []
            if isinstance(value, bool)
            else [detail(name, "Input should be a valid boolean", "bool_type", input=value)]
        )


@dataclass(frozen=True)
class Integer:
    """A JSON integer (a seed)."""

    default: int | None = None

    def check(self, name: str, value: object) -> list[dict]:
        if isinstance(value, bool) or not isinstance(value, int):
            return [detail(name, "Input should be a valid integer", "int_type", input=value)]
        return []


@dataclass(frozen=True)
class Number:
    """A JSON number within [minimum, maximum]."""

    minimum: float
    maximum: float
    default: float | None = None

    def check(self, name: str, value: object) -> list[dict]:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return [detail(name, "Input should be a valid number", "float_type", input=value)]
        if value < self.minimum:
            msg = f"Input should be greater than or equal to {self.minimum:g}"
            return [detail(name, msg, "greater_than_equal", input=value, ctx={"ge": self.minimum})]
        if value > self.maximum:
            msg = f"Input should be less than or equal to {self.maximum:g}"
            return [detail(name, msg, "less_than_equal", input=value, ctx={"le": self.maximum})]
        return []


@dataclass(frozen=True)
class FileUrl:
    """An image given as an http(s) URL or a `data:` URI."""

    required: bool = False
    default: None = None

    def check(self, name: str, value: object) -> list[dict]:
        if not isinstance(value, str):
            return [detail(name, "Input should be a valid string", "string_type", input=value)]
        if not value.startswith(("http://", "https://", "data:")):
            msg = "Input should be a valid URL, relative URL without a base"
            return [detail(name, msg, "url_parsing", input=value, ctx={"error": "relative URL without a base"})]
        return []


FieldSpec = Choice | Text | Flag | Integer | Number | FileUrl


@dataclass(frozen=True)
class Generation:
    """The video a request renders."""

    width: int
    height: int
    seconds: int
    audio: bool


def frame_size(short_side: int, aspect: str) -> tuple[int, int]:
    """Width and height (both even, as H.264 wants) of a frame of this short side and aspect ratio."""
    if aspect == "1:1":
        return short_side, short_side
    long_side = round(short_side * 16 / 9 / 2) * 2
    return (long_side, short_side) if aspect == "16:9" else (short_side, long_side)


def aspect_of(width: int, height: int, allowed: tuple[str, ...]) -> str:
    """The allowed aspect ratio closest to an image's (a model with `auto` follows its input image)."""
    if width == height and "1:1" in allowed:
        return "1:1"
    return "9:16" if height > width and "9:16" in allowed else "16:9"


@dataclass(frozen=True)
class Model:
    """One endpoint: its input fields and how they pick the frame, duration and audio of the video."""

    endpoint_id: str
    fields: dict[str, FieldSpec]
    resolution: str  # a field name, or a fixed label of SHORT_SIDES
    aspect: str  # a field name, or a fixed ratio
    duration: str  # a field name, or a fixed number of seconds
    audio_field: str | None = None  # the flag that turns audio on; None: the model makes silent videos
    image_aspects: tuple[str, ...] = ("16:9", "9:16")  # what `auto` can follow

    @property
    def image_fields(self) -> tuple[str, ...]:
        """The fields that carry an image URL, the frame-giving one first."""
        return tuple(name for name, spec in self.fields.items() if isinstance(spec, FileUrl))

    def parse(self, body: object) -> dict:
        """The request's inputs with defaults filled in, or InputError with every problem found."""
        if not isinstance(body, dict):
            msg = "Input should be a valid dictionary or object to extract fields from"
            raise InputError([detail("", msg, "model_attributes_type", input=body)])
        inputs: dict = {}
        problems: list[dict] = []
        for name, spec in self.fields.items():
            if name not in body or (body[name] is None and not getattr(spec, "required", False)):
                if getattr(spec, "required", False):
                    problems.append(detail(name, "Field required", "missing", input=body))
                elif spec.default is not None:
                    inputs[name] = spec.default
                continue
            found = spec.check(name, body[name])
            problems += found
            if not found:
                inputs[name] = body[name]
        if problems:
            raise InputError(problems)
        return inputs

    def default_seconds(self) -> int:
        """The duration a request gets when it names none (also the render time of refused input)."""
        spec = self.fields.get(self.duration)
        return _seconds(spec.default) if isinstance(spec, Choice) and spec.default else _seconds(self.duration)

    def generation(self, inputs: dict, image_size: tuple[int, int] | None) -> Generation:
        """The video these (parsed) inputs ask for; `image_size` is the first input image's, if any."""
        label, aspect, duration = (
            inputs[f] if f in self.fields else f for f in (self.resolution, self.aspect, self.duration)
        )
        if aspect == "auto":
            aspect = aspect_of(*image_size, self.image_aspects) if image_size else self.image_aspects[0]
        width, height = frame_size(SHORT_SIDES[label], aspect)
        seconds = _seconds(duration)
        audio = bool(inputs.get(self.audio_field)) if self.audio_field else False
        return Generation(width, height, seconds, audio)


def _seconds(value: str) -> int:
    return int(value.removesuffix("s"))


def _veo(endpoint_id: str, images: tuple[str, ...]) -> Model:
    fields: dict[str, FieldSpec] = {"prompt": Text(required=True)}
    fields |= {name: FileUrl(required=True) for name in images}
    fields |= {
        "aspect_ratio": Choice(("auto", "16:9", "9:16"), "auto") if images else Choice(("16:9", "9:16"), "16:9"),
        "duration": Choice(("4s", "6s", "8s"), "8s"),
        "resolution": Choice(("720p", "1080p", "4k"), "720p"),
        "generate_audio": Flag(True),
        "negative_prompt": Text(),
        "seed": Integer(),
        "auto_fix": Flag(not images),
        "safety_tolerance": Choice(("1", "2", "3", "4", "5", "6"), "4"),
    }
    return Model(endpoint_id, fields, "resolution", "aspect_ratio", "duration", audio_field="generate_audio")


def _kling_25(endpoint_id: str, *, image: bool) -> Model:
    fields: dict[str, FieldSpec] = {"prompt": Text(required=True)}
    if image:
        fields |= {"image_url": FileUrl(required=True), "tail_image_url": FileUrl()}
    else:
        fields["aspect_ratio"] = Choice(("16:9", "9:16", "1:1"), "16:9")
    fields |= {
        "duration": Choice(("5", "10"), "5"),
        "negative_prompt": Text(default="blur, distort, and low quality"),
        "cfg_scale": Number(0, 1, 0.5),
    }
    # Kling 2.5 Turbo Pro renders 1080p; the image-to-video endpoint takes its aspect from the image.
    aspect = "auto" if image else "aspect_ratio"
    return Model(endpoint_id, fields, "1080p", aspect, "duration", image_aspects=("16:9", "9:16", "1:1"))


def _hailuo_02(endpoint_id: str, *, pro: bool, image: bool) -> Model:
    fields: dict[str, FieldSpec] = {"prompt": Text(required=True)}
    if image:
        fields |= {"image_url": FileUrl(required=True), "end_image_url": FileUrl()}
    if not pro:
        fields["duration"] = Choice(("6", "10"), "6")
        if image:
            fields["resolution"] = Choice(("512P", "768P"), "768P")
    fields["prompt_optimizer"] = Flag(True)
    # Pro renders 6 s at 1080p only ("10 seconds videos are not supported for 1080p"); standard
    # text-to-video 768P; image-to-video follows the image's aspect.
    resolution = "1080p" if pro else ("resolution" if image else "768P")
    aspect = "auto" if image else "16:9"
    return Model(
        endpoint_id, fields, resolution, aspect, "6" if pro else "duration", image_aspects=("16:9", "9:16", "1:1")
    )


MODELS: dict[str, Model] = {
    model.endpoint_id: model
    for model in (
        _veo("fal-ai/veo3.1", ()),
        _veo("fal-ai/veo3.1/image-to-video", ("image_url",)),
        _veo("fal-ai/veo3.1/first-last-frame-to-video", ("first_frame_url", "last_frame_url")),
        _veo("fal-ai/veo3.1/fast", ()),
        _veo("fal-ai/veo3.1/fast/image-to-video", ("image_url",)),
        _veo("fal-ai/veo3.1/fast/first-last-frame-to-video", ("first_frame_url", "last_frame_url")),
        _kling_25("fal-ai/kling-video/v2.5-turbo/pro/text-to-video", image=False),
        _kling_25("fal-ai/kling-video/v2.5-turbo/pro/image-to-video", image=True),
        _hailuo_02("fal-ai/minimax/hailuo-02/standard/text-to-video", pro=False, image=False),
        _hailuo_02("fal-ai/minimax/hailuo-02/standard/image-to-video", pro=False, image=True),
        _hailuo_02("fal-ai/minimax/hailuo-02/pro/text-to-video", pro=True, image=False),
        _hailuo_02("fal-ai/minimax/hailuo-02/pro/image-to-video", pro=True, image=True),
    )
}


def app_of(endpoint_id: str) -> str:
    """The `owner/app` part of an endpoint id, which fal's status, result and cancel URLs use."""
    return "/".join(endpoint_id.split("/")[:2])
