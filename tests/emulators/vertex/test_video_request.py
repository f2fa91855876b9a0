"""Validation of a `:predictLongRunning` body: every bad field is a 400 INVALID_ARGUMENT naming it, and nothing runs."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from tests.emulators.vertex.conftest import Harness, error_of, field_of, inline_video, model_path, save
from tests.media import image_bytes, probe

PNG = base64.b64encode(image_bytes(64, 36)).decode()


def post(vertex: Harness, body: object):
    return vertex.http.post(model_path("predictLongRunning"), json=body)


def with_parameters(**parameters) -> dict:
    return {"instances": [{"prompt": "a kite over a beach"}], "parameters": parameters}


def inline(data: str = PNG, mime: str = "image/png") -> dict:
    return {"bytesBase64Encoded": data, "mimeType": mime}


def with_instance(**instance) -> dict:
    return {"instances": [instance], "parameters": {"durationSeconds": 8}}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "instances"),
        ({"instances": []}, "instances"),
        ({"instances": [{"prompt": "a"}, {"prompt": "b"}]}, "instances"),
        ({"instances": [{"prompt": "a"}], "extra": 1}, "extra"),
        ({"instances": ["a kite"]}, "instances[0]"),
        (with_instance(), "instances[0].prompt"),
        (with_instance(prompt=""), "instances[0].prompt"),
        (with_instance(prompt=42), "instances[0].prompt"),
        (with_instance(prompt="x" * 4097), "instances[0].prompt"),
        (with_instance(prompt="a", colour="red"), "instances[0].colour"),
        (with_parameters(aspectRatio="4:3"), "parameters.aspectRatio"),
        (with_parameters(resolution="4k"), "parameters.resolution"),
        (with_parameters(resolution="1080p", durationSeconds=4), "parameters.durationSeconds"),
        (with_parameters(durationSeconds=5), "parameters.durationSeconds"),
        (with_parameters(durationSeconds="eight"), "parameters.durationSeconds"),
        (with_parameters(durationSeconds=True), "parameters.durationSeconds"),
        (with_parameters(sampleCount=0), "parameters.sampleCount"),
        (with_parameters(sampleCount=5), "parameters.sampleCount"),
        (with_parameters(generateAudio="yes"), "parameters.generateAudio"),
        (with_parameters(seed=-1), "parameters.seed"),
        (with_parameters(seed=4_294_967_296), "parameters.seed"),
        (with_parameters(negativePrompt=["blur"]), "parameters.negativePrompt"),
        (with_parameters(storageUri="s3://bucket/out"), "parameters.storageUri"),
        (with_parameters(storageUri="gs://"), "parameters.storageUri"),
        (with_parameters(personGeneration="everyone"), "parameters.personGeneration"),
        (with_parameters(fps=30), "parameters.fps"),
        (with_parameters(compressionQuality="best"), "parameters.compressionQuality"),
        (with_parameters(pubsubTopic="my-topic"), "parameters.pubsubTopic"),
        (with_parameters(quality="high"), "parameters.quality"),
        ({"instances": [{"prompt": "a"}], "labels": {"team": 7}}, "labels.team"),
        (with_instance(prompt="a", image={"mimeType": "image/png"}), "instances[0].image"),
        (with_instance(prompt="a", image={"bytesBase64Encoded": PNG}), "instances[0].image.mimeType"),
        (with_instance(prompt="a", image=inline(mime="image/gif")), "instances[0].image.mimeType"),
        (with_instance(prompt="a", image=inline("%%%")), "instances[0].image.bytesBase64Encoded"),
        (with_instance(prompt="a", image=inline("aGVsbG8=")), "instances[0].image.bytesBase64Encoded"),
        (with_instance(prompt="a", image={"gcsUri": "https://x/y.png", "mimeType": "image/png"}),
         "instances[0].image.gcsUri"),
        (with_instance(prompt="a", lastFrame=inline()), "instances[0].lastFrame"),
        (with_instance(prompt="a", video={"gcsUri": "gs://b/v.mp4", "mimeType": "video/mp4"}), "instances[0].video"),
        (with_instance(prompt="a", referenceImages=[{"image": inline(), "referenceType": "style"}]),
         "instances[0].referenceImages[0].referenceType"),
        (with_instance(prompt="a", referenceImages=[{"referenceType": "asset"}] * 4), "instances[0].referenceImages"),
    ],
)  # fmt: skip
def test_a_bad_field_is_an_invalid_argument_that_names_it(vertex: Harness, body: object, field: str):
    error = error_of(post(vertex, body), 400)
    assert error["status"] == "INVALID_ARGUMENT"
    assert field_of(error) == field
    assert field in error["message"] or field.rsplit(".", 1)[-1] in error["message"]
    assert vertex.admin("GET", "status").json()["active_jobs"] == 0


def test_a_body_that_is_not_json_is_an_invalid_argument(vertex: Harness):
    response = vertex.http.post(model_path("predictLongRunning"), content=b"{not json")
    error = error_of(response, 400)
    assert error["status"] == "INVALID_ARGUMENT" and "Invalid JSON payload" in error["message"]


def test_reference_images_need_the_full_length(vertex: Harness):
    reference = {"image": {"bytesBase64Encoded": PNG, "mimeType": "image/png"}, "referenceType": "asset"}
    body = {"instances": [{"prompt": "a", "referenceImages": [reference]}], "parameters": {"durationSeconds": 6}}
    assert field_of(error_of(post(vertex, body), 400)) == "parameters.durationSeconds"
    body["parameters"]["durationSeconds"] = 8
    assert post(vertex, body).status_code == 200


def test_every_documented_parameter_is_accepted(vertex: Harness):
    body = {
        "instances": [
            {
                "prompt": "a kite over a beach",
                "image": {"bytesBase64Encoded": PNG, "mimeType": "image/png"},
                "lastFrame": {"gcsUri": "gs://frames/last.png", "mimeType": "image/png"},
            }
        ],
        "parameters": {
            "aspectRatio": "9:16",
            "resolution": "1080p",
            "durationSeconds": "8",
            "sampleCount": 4,
            "generateAudio": False,
            "negativePrompt": "blur",
            "seed": 4_294_967_295,
            "storageUri": "gs://my-bucket/out/",
            "personGeneration": "allow_adult",
            "enhancePrompt": True,
            "fps": 24,
            "compressionQuality": "OPTIMIZED",
            "resizeMode": "pad",
            "pubsubTopic": "projects/p/topics/t",
            "addWatermark": True,
            "includeRaiReason": True,
        },
        "labels": {"team": "video"},
    }
    assert post(vertex, body).status_code == 200, post(vertex, body).text


def test_an_image_alone_needs_no_prompt(vertex: Harness):
    body = {"instances": [{"image": {"bytesBase64Encoded": PNG, "mimeType": "image/png"}}]}
    assert post(vertex, body).status_code == 200


def test_defaults_are_one_eight_second_720p_landscape_video_with_audio(vertex: Harness, tmp_path: Path):
    response = post(vertex, {"instances": [{"prompt": "a kite over a beach"}]})
    operation = vertex.finished(response.json()["name"])
    [_] = operation["response"]["videos"]
    info = probe(save(tmp_path, "v.mp4", inline_video(operation)))
    assert (info.width, info.height, round(info.duration)) == (1280, 720, 8)
    assert info.audio_codec == "aac"
