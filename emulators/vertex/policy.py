"""The emulator's content policy for Veo: reserved prompt tokens and the Sora emulator's flagged image colour.

Tokens are matched case-insensitively anywhere in the prompt (docs/vertex-emulator.md has the table):
`[input-moderation]` (and a flagged input image) fail the operation with INVALID_ARGUMENT early,
`[moderation]` filters every sample, `[moderation-one]` filters the last one (the operation still
succeeds, with `raiMediaFilteredCount` and `raiMediaFilteredReasons`), `[internal-error]` fails it late.
"""

from __future__ import annotations

from dataclasses import dataclass

from emulators.sora.store import INPUT_FAILURE_AT, OUTPUT_FAILURE_AT, Failure

INPUT_MODERATION_TOKEN = "[input-moderation]"
FILTER_ALL_TOKEN = "[moderation]"
FILTER_ONE_TOKEN = "[moderation-one]"
INTERNAL_ERROR_TOKEN = "[internal-error]"

PROMPT_BLOCKED_MESSAGE = (
    "The prompt could not be submitted. This prompt contains sensitive words that violate Google's Responsible AI "
    "practices. Try rephrasing the prompt. If you think this was an error, send feedback. Support codes: 29310472"
)
IMAGE_BLOCKED_MESSAGE = (
    "The input image contains content that has been blocked by your current safety settings for person/face "
    "generation. Try a different image. If you think this was an error, send feedback. Support codes: 17301594"
)
FILTERED_REASON = (
    "Unable to show generated videos. The generated video was filtered out because it violated Google's Responsible "
    "AI practices. You have not been charged for this attempt. Support codes: 90789179"
)
INTERNAL_ERROR_MESSAGE = "Internal error encountered."


@dataclass(frozen=True)
class Verdict:
    """What the policy decides: a failure of the whole operation, or how many samples are filtered."""

    failure: Failure | None = None
    filtered_samples: int = 0


def screen(prompt: str, *, sample_count: int, flagged_image: bool) -> Verdict:
    """Apply the reserved-token and flagged-image rules to a request."""
    text = prompt.lower()
    if INPUT_MODERATION_TOKEN in text:
        return Verdict(failure=Failure(INPUT_FAILURE_AT, "INVALID_ARGUMENT", PROMPT_BLOCKED_MESSAGE))
    if flagged_image:
        return Verdict(failure=Failure(INPUT_FAILURE_AT, "INVALID_ARGUMENT", IMAGE_BLOCKED_MESSAGE))
    if INTERNAL_ERROR_TOKEN in text:
        return Verdict(failure=Failure(OUTPUT_FAILURE_AT, "INTERNAL", INTERNAL_ERROR_MESSAGE))
    if FILTER_ALL_TOKEN in text:
        return Verdict(filtered_samples=sample_count)
    if FILTER_ONE_TOKEN in text:
        return Verdict(filtered_samples=1)
    return Verdict()
