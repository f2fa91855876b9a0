"""The emulator's content policy: reserved prompt tokens and a flagged reference-image colour.

Real moderation is opaque; tests need a rule they can trigger on purpose. Tokens are matched
case-insensitively anywhere in the prompt:

- `[input-moderation]`: the request is refused. Videos API: 400 `moderation_blocked` at create.
  Jobs API: the job fails in `preprocessing` with `failure_reason: "input_moderation"`.
- `[moderation]`: the render fails late (output moderation). Videos API: `failed` with
  `error.code = "moderation_blocked"`. Jobs API: `failed` with `failure_reason: "output_moderation"`.
- `[internal-error]`: the render fails late with `error.code` / `failure_reason` `internal_error`.

A reference image is flagged (like a photo of a real person would be) when its average colour is
within 16 of pure magenta (#FF00FF) in every channel: a solid magenta JPEG, PNG or WebP of any size.
"""

from __future__ import annotations

from dataclasses import dataclass

from PIL import Image, ImageStat

INPUT_MODERATION_TOKEN = "[input-moderation]"
OUTPUT_MODERATION_TOKEN = "[moderation]"
INTERNAL_ERROR_TOKEN = "[internal-error]"

FLAGGED_COLOUR = (255, 0, 255)
FLAGGED_TOLERANCE = 16

MODERATION_MESSAGE = "Your request was blocked by our moderation system."
INTERNAL_ERROR_MESSAGE = "The video could not be generated because of an internal error. Please try again."


@dataclass(frozen=True)
class PromptVerdict:
    """What the content policy decides about a prompt."""

    input_blocked: bool = False
    output_blocked: bool = False
    internal_error: bool = False


def screen_prompt(prompt: str) -> PromptVerdict:
    """Apply the reserved-token rule to a prompt."""
    text = prompt.lower()
    return PromptVerdict(
        input_blocked=INPUT_MODERATION_TOKEN in text,
        output_blocked=OUTPUT_MODERATION_TOKEN in text,
        internal_error=INTERNAL_ERROR_TOKEN in text,
    )


def image_is_flagged(image: Image.Image) -> bool:
    """Whether a (decoded) reference image trips the flagged-colour rule."""
    sample = image.convert("RGB").resize((16, 16))
    mean = ImageStat.Stat(sample).mean
    return all(abs(channel - target) <= FLAGGED_TOLERANCE for channel, target in zip(mean, FLAGGED_COLOUR, strict=True))
