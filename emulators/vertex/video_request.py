"""The Veo models the emulator serves and the validation of a `:predictLongRunning` body into a `VideoRequest`.

Allowed values follow Google's Veo 3.1 parameter table (see docs/vertex-emulator.md): aspect 16:9 / 9:16,
720p / 1080p (1080p and reference images need 8 s), 4 / 6 / 8 seconds, 1-4 samples, audio on by default.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from dataclasses import dataclass

from emulators.sora import images, policy
from emulators.sora.errors import ApiError
from emulators.vertex.errors import GoogleError, invalid_argument, unknown_field


@dataclass(frozen=True)
class VeoModel:
    """One model: how long its renders take, `(base + per_second x durationSeconds) x time_scale`."""

    base_render_seconds: float
    render_seconds_per_second: float


MODELS = {
    "veo-3.1-generate-001": VeoModel(base_render_seconds=30.0, render_seconds_per_second=10.0),
    "veo-3.1-fast-generate-001": VeoModel(base_render_seconds=15.0, render_seconds_per_second=5.0),
}
# (aspectRatio, resolution) -> the rendered frame size.
FRAME_SIZES = {
    ("16:9", "720p"): (1280, 720),
    ("9:16", "720p"): (720, 1280),
    ("16:9", "1080p"): (1920, 1080),
    ("9:16", "1080p"): (1080, 1920),
}
ASPECT_RATIOS = ("16:9", "9:16")
RESOLUTIONS = ("720p", "1080p")
DURATIONS = (4, 6, 8)
FULL_LENGTH_SECONDS = 8
MAX_SAMPLES = 4
MAX_SEED = 4_294_967_295
# Veo reads at most 1,024 prompt tokens; the emulator counts one token per 4 characters.
MAX_PROMPT_TOKENS = 1024
CHARS_PER_TOKEN = 4
MAX_REFERENCE_IMAGES = 3
FRAME_RATE = 24
IMAGE_MIME_TYPES = ("image/jpeg", "image/png")
PERSON_GENERATION = ("allow_all", "allow_adult", "dont_allow")
COMPRESSION_QUALITIES = ("optimized", "lossless")
RESIZE_MODES = ("pad", "crop")

BODY_FIELDS = ("instances", "parameters", "labels")
INSTANCE_FIELDS = ("prompt", "image", "lastFrame", "video", "referenceImages", "mask")
PARAMETER_FIELDS = (
    *("aspectRatio", "resolution", "durationSeconds", "sampleCount", "generateAudio", "negativePrompt", "seed"),
    *("storageUri", "personGeneration", "enhancePrompt", "fps", "compressionQuality", "resizeMode", "pubsubTopic"),
    *("addWatermark", "includeRaiReason"),
)
GCS_URI = re.compile(r"^gs://([a-z0-9][a-z0-9._-]{1,61}[a-z0-9])(?:/(.*))?$")


@dataclass(frozen=True)
class VideoRequest:
    """A valid Veo request: what to render and where the result goes."""

    prompt: str
    aspect_ratio: str
    resolution: str
    duration_seconds: int
    sample_count: int
    generate_audio: bool
    seed: int | None
    storage_uri: str | None
    flagged_image: bool

    @property
    def frame_size(self) -> tuple[int, int]:
        """Width and height of the rendered videos."""
        return FRAME_SIZES[(self.aspect_ratio, self.resolution)]


def _listed(values: tuple) -> str:
    return ", ".join(f'"{v}"' if isinstance(v, str) else str(v) for v in values)


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "a list" if isinstance(value, list) else "an object"


def _reject_unknown(value: dict, allowed: tuple[str, ...], parent: str) -> None:
    unknown = sorted(set(value) - set(allowed))
    if unknown:
        raise unknown_field(f"{parent}.{unknown[0]}" if parent else unknown[0])


def _object(value: object, field: str) -> dict:
    if not isinstance(value, dict):
        raise invalid_argument(field, f"'{field}' must be a JSON object, got {_json_type(value)}.")
    return value


def _string(value: object, field: str) -> str:
    if not isinstance(value, str):
        raise invalid_argument(field, f"'{field}' must be a string, got {_json_type(value)}.")
    return value


def _boolean(value: object, field: str) -> bool:
    if not isinstance(value, bool):
        raise invalid_argument(field, f"'{field}' must be true or false, got {_json_type(value)}.")
    return value


def _integer(value: object, field: str) -> int:
    # Protobuf's JSON mapping accepts an integer as a number or as a string of digits.
    if isinstance(value, str) and re.fullmatch(r"-?[0-9]+", value):
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise invalid_argument(field, f"'{field}' must be an integer, got {_json_type(value)}.")
    return int(value)


def _choice(value: object, field: str, allowed: tuple, *, fold_case: bool = False) -> str:
    text = _string(value, field)
    if (text.lower() if fold_case else text) not in allowed:
        raise invalid_argument(field, f"'{field}' must be one of {_listed(allowed)}, got \"{text[:100]}\".")
    return text


def parse_gcs_uri(value: object, field: str) -> tuple[str, str]:
    """`gs://bucket/path` as (bucket, path); a 400 naming the field otherwise."""
    match = GCS_URI.match(_string(value, field))
    if match is None:
        raise invalid_argument(
            field, f"'{field}' must be a Cloud Storage URI like gs://my-bucket/path, got \"{str(value)[:200]}\"."
        )
    return match.group(1), match.group(2) or ""


def _parse_prompt(instance: dict, *, has_image: bool) -> str:
    field = "instances[0].prompt"
    if "prompt" not in instance:
        if has_image:
            return ""
        raise invalid_argument(field, f"'{field}' is required for text-to-video (send a prompt, or an image).")
    prompt = _string(instance["prompt"], field)
    if not prompt.strip() and not has_image:
        raise invalid_argument(field, f"'{field}' is empty: describe the video to generate.")
    tokens = math.ceil(len(prompt) / CHARS_PER_TOKEN)
    if tokens > MAX_PROMPT_TOKENS:
        raise invalid_argument(
            field,
            f"'{field}' is about {tokens} tokens; Veo accepts at most {MAX_PROMPT_TOKENS} "
            f"(the emulator counts {CHARS_PER_TOKEN} characters per token).",
        )
    return prompt


def _parse_image(value: object, field: str) -> bool:
    """Validate an image (`bytesBase64Encoded` or `gcsUri`, with `mimeType`); True when the content policy flags it."""
    image = _object(value, field)
    _reject_unknown(image, ("bytesBase64Encoded", "gcsUri", "mimeType"), field)
    sources = [key for key in ("bytesBase64Encoded", "gcsUri") if key in image]
    if len(sources) != 1:
        raise invalid_argument(field, f"'{field}' needs exactly one of 'bytesBase64Encoded' or 'gcsUri'.")
    if "mimeType" not in image:
        raise invalid_argument(f"{field}.mimeType", f"'{field}.mimeType' is required: {_listed(IMAGE_MIME_TYPES)}.")
    _choice(image["mimeType"], f"{field}.mimeType", IMAGE_MIME_TYPES)
    if sources == ["gcsUri"]:
        parse_gcs_uri(image["gcsUri"], f"{field}.gcsUri")
        return False  # the emulator never reads a bucket it does not serve, so it cannot screen the image
    data_field = f"{field}.bytesBase64Encoded"
    encoded = _string(image["bytesBase64Encoded"], data_field)
    try:
        data = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise invalid_argument(data_field, f"'{data_field}' is not valid base64.") from exc
    try:
        opened = images.open_image(data, param=data_field)
        return policy.image_is_flagged(images.decode_pixels(opened, param=data_field))
    except ApiError as exc:
        raise invalid_argument(data_field, exc.message) from exc


def _parse_reference_images(value: object) -> bool:
    field = "instances[0].referenceImages"
    if not isinstance(value, list) or not value:
        raise invalid_argument(field, f"'{field}' must be a non-empty list of {{image, referenceType}} objects.")
    if len(value) > MAX_REFERENCE_IMAGES:
        raise invalid_argument(
            field, f"'{field}' holds {len(value)} images; at most {MAX_REFERENCE_IMAGES} are allowed."
        )
    flagged = False
    for index, item in enumerate(value):
        item_field = f"{field}[{index}]"
        reference = _object(item, item_field)
        _reject_unknown(reference, ("image", "referenceType"), item_field)
        if "image" not in reference:
            raise invalid_argument(f"{item_field}.image", f"'{item_field}.image' is required.")
        if "referenceType" not in reference:
            raise invalid_argument(
                f"{item_field}.referenceType", f"'{item_field}.referenceType' is required: \"asset\"."
            )
        kind = _string(reference["referenceType"], f"{item_field}.referenceType")
        if kind.lower() != "asset":
            raise invalid_argument(
                f"{item_field}.referenceType",
                f'\'{item_field}.referenceType\' must be "asset": Veo 3.1 takes no style images, got "{kind[:50]}".',
            )
        flagged = _parse_image(reference["image"], f"{item_field}.image") or flagged
    return flagged


def _parse_instances(body: dict) -> tuple[str, bool, bool]:
    """The prompt, whether any input image is flagged, and whether reference images were sent."""
    if "instances" not in body:
        raise invalid_argument("instances", '\'instances\' is required: [{"prompt": "..."}].')
    instances = body["instances"]
    if not isinstance(instances, list) or len(instances) != 1:
        count = len(instances) if isinstance(instances, list) else _json_type(instances)
        raise invalid_argument("instances", f"'instances' must be a list of exactly one instance, got {count}.")
    instance = _object(instances[0], "instances[0]")
    _reject_unknown(instance, INSTANCE_FIELDS, "instances[0]")
    for unsupported in ("video", "mask"):
        if unsupported in instance:
            what = "Video extension" if unsupported == "video" else "Masked editing"
            raise invalid_argument(
                f"instances[0].{unsupported}", f"{what} ('instances[0].{unsupported}') is not served by the emulator."
            )
    if "lastFrame" in instance and "image" not in instance:
        raise invalid_argument(
            "instances[0].lastFrame", "'instances[0].lastFrame' needs 'instances[0].image' (the first frame) too."
        )
    flagged = False
    for key in ("image", "lastFrame"):
        if key in instance:
            flagged = _parse_image(instance[key], f"instances[0].{key}") or flagged
    has_references = "referenceImages" in instance
    if has_references:
        flagged = _parse_reference_images(instance["referenceImages"]) or flagged
    prompt = _parse_prompt(instance, has_image="image" in instance)
    return prompt, flagged, has_references


def _parse_labels(body: dict) -> None:
    if "labels" not in body:
        return
    labels = _object(body["labels"], "labels")
    for key, value in labels.items():
        _string(value, f"labels.{key}")


def parse_video_request(body: object) -> VideoRequest:
    """Validate a `:predictLongRunning` body as strictly as Veo does; every 400 names the field."""
    if not isinstance(body, dict):
        raise GoogleError(400, f"Invalid JSON payload received. Expected an object, got {_json_type(body)}.")
    _reject_unknown(body, BODY_FIELDS, "")
    prompt, flagged, has_references = _parse_instances(body)
    _parse_labels(body)
    parameters = _object(body.get("parameters", {}), "parameters")
    _reject_unknown(parameters, PARAMETER_FIELDS, "parameters")

    def given(key: str) -> bool:
        return parameters.get(key) is not None

    aspect = (
        _choice(parameters["aspectRatio"], "parameters.aspectRatio", ASPECT_RATIOS) if given("aspectRatio") else "16:9"
    )
    resolution = (
        _choice(parameters["resolution"], "parameters.resolution", RESOLUTIONS) if given("resolution") else "720p"
    )
    duration = FULL_LENGTH_SECONDS
    if given("durationSeconds"):
        duration = _integer(parameters["durationSeconds"], "parameters.durationSeconds")
        if duration not in DURATIONS:
            raise invalid_argument(
                "parameters.durationSeconds",
                f"'parameters.durationSeconds' must be one of {_listed(DURATIONS)}, got {duration}.",
            )
    if duration != FULL_LENGTH_SECONDS and (resolution == "1080p" or has_references):
        why = "1080p" if resolution == "1080p" else "reference images"
        raise invalid_argument(
            "parameters.durationSeconds",
            f"'parameters.durationSeconds' must be {FULL_LENGTH_SECONDS} with {why}, got {duration}.",
        )
    samples = 1
    if given("sampleCount"):
        samples = _integer(parameters["sampleCount"], "parameters.sampleCount")
        if not 1 <= samples <= MAX_SAMPLES:
            raise invalid_argument(
                "parameters.sampleCount", f"'parameters.sampleCount' must be from 1 to {MAX_SAMPLES}, got {samples}."
            )
    audio = _boolean(parameters["generateAudio"], "parameters.generateAudio") if given("generateAudio") else True
    seed = None
    if given("seed"):
        seed = _integer(parameters["seed"], "parameters.seed")
        if not 0 <= seed <= MAX_SEED:
            raise invalid_argument("parameters.seed", f"'parameters.seed' must be from 0 to {MAX_SEED}, got {seed}.")
    storage_uri = None
    if given("storageUri"):
        storage_uri = _string(parameters["storageUri"], "parameters.storageUri")
        parse_gcs_uri(storage_uri, "parameters.storageUri")
    _check_other_parameters(parameters, given)
    return VideoRequest(
        prompt=prompt,
        aspect_ratio=aspect,
        resolution=resolution,
        duration_seconds=duration,
        sample_count=samples,
        generate_audio=audio,
        seed=seed,
        storage_uri=storage_uri,
        flagged_image=flagged,
    )


def _check_other_parameters(parameters: dict, given) -> None:
    """Parameters that change nothing the emulator renders, checked so that a client's typo still fails."""
    if given("negativePrompt"):
        _string(parameters["negativePrompt"], "parameters.negativePrompt")
    if given("personGeneration"):
        _choice(parameters["personGeneration"], "parameters.personGeneration", PERSON_GENERATION)
    for flag in ("enhancePrompt", "addWatermark", "includeRaiReason"):
        if given(flag):
            _boolean(parameters[flag], f"parameters.{flag}")
    if given("fps") and _integer(parameters["fps"], "parameters.fps") != FRAME_RATE:
        raise invalid_argument(
            "parameters.fps", f"'parameters.fps' must be {FRAME_RATE}: Veo renders 24 frames a second."
        )
    if given("compressionQuality"):
        _choice(
            parameters["compressionQuality"], "parameters.compressionQuality", COMPRESSION_QUALITIES, fold_case=True
        )
    if given("resizeMode"):
        _choice(parameters["resizeMode"], "parameters.resizeMode", RESIZE_MODES, fold_case=True)
    if given("pubsubTopic"):
        topic = _string(parameters["pubsubTopic"], "parameters.pubsubTopic")
        if not re.fullmatch(r"projects/[^/]+/topics/[^/]+", topic):
            raise invalid_argument(
                "parameters.pubsubTopic", "'parameters.pubsubTopic' must look like projects/PROJECT/topics/TOPIC."
            )
