"""Fault and restart scenarios for soraflow on the local stack, shared by the e2e tests and the reliability report.

A `Stack` is Azurite, the Sora emulator and the app on the local Functions host, each of which a scenario may
break: a scripted emulator fault, Azurite stopped and started again on its data folder and ports, the host killed
with SIGKILL and restarted on its state file. Every scenario drives runs through the app's HTTP API, then reads
the truth from the emulator's request log and Azurite's blobs (never from the app's own word) into an `Outcome`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from azure.core.exceptions import ResourceNotFoundError
from azure.storage.blob import BlobServiceClient, ContainerClient

from emulators import processes

FUNCTION_KEY = "reliability-function-key"
EMULATOR_KEY = "reliability-emulator-key"
CONTAINER = "videos"
# Renders take (20 s + 5 s per video second) x scale: 0.4 s for a 4 s video at 0.01.
TIME_SCALE = 0.01
FINAL = frozenset({"completed", "failed", "cancelled"})
PROMPT = "A lighthouse keeper painting the sea at dawn"
# Waits before a refused create is tried again: short, so a 429 or 503 costs a second, not half a minute.
CREATE_RETRY_SECONDS = "1,1,2,2,4"


@dataclass
class Stack:
    """Azurite (own or shared), the Sora emulator and soraflow on the local host, each restartable."""

    work: Path
    connection_string: str
    sora: processes.Server
    host: processes.Server
    host_env: dict[str, str]
    azurite: processes.Server | None = None
    http: httpx.Client = field(
        default_factory=lambda: httpx.Client(timeout=30, headers={"x-functions-key": FUNCTION_KEY})
    )

    @classmethod
    def start(cls, work: Path, *, connection_string: str | None = None, app_env: dict | None = None) -> Stack:
        """Start the stack under `work`; with no connection string it runs an Azurite of its own (to stop at will)."""
        work.mkdir(parents=True, exist_ok=True)
        azurite = None
        if connection_string is None:
            azurite = processes.start_azurite(work / "azurite", log_path=work / "azurite.log")
            connection_string = azurite.extra["connection_string"]
        sora = processes.start_sora_emulator(
            args=["--time-scale", str(TIME_SCALE), "--api-key", EMULATOR_KEY, "--media-cache", str(work / "media")],
            log_path=work / "sora.log",
        )
        scenario_settings = {
            "TASKHUB_NAME": "soraflowreliability",
            "VIDEO_OUTPUT_CONTAINER": CONTAINER,
            "VIDEO_REQUEST_CONTAINER": "reliability-requests",
            "CREATE_RETRY_SECONDS": CREATE_RETRY_SECONDS,
            "FUNCTIONS_DEFAULT_KEY": FUNCTION_KEY,
            "FUNCTIONS_MASTER_KEY": FUNCTION_KEY + "-master",
        }
        env = processes.soraflow_settings(
            connection_string, sora.url, EMULATOR_KEY, **{**scenario_settings, **(app_env or {})}
        )
        try:
            host = processes.start_soraflow_host(work, env)
        except Exception:
            sora.stop()
            if azurite is not None:
                azurite.stop()
            raise
        return cls(work, connection_string, sora, host, env, azurite)

    def stop(self) -> None:
        """Stop everything this stack started."""
        self.http.close()
        self.host.stop()
        self.sora.stop()
        if self.azurite is not None:
            self.azurite.stop(timeout=2)  # see stop_azurite

    # ---- breaking it ---------------------------------------------------------------------------------------

    def kill_host(self) -> None:
        """SIGKILL the Functions host and everything it started: a crash, not a shutdown."""
        self.host.kill()

    def start_host(self) -> None:
        """Start the host again on the same port, state file and keys: it resumes every run it had."""
        self.host = processes.start_soraflow_host(self.work, self.host_env, port=self.host.port)

    def stop_azurite(self) -> None:
        """Stop this stack's own Azurite (its data stays in its folder)."""
        if self.azurite is None:
            raise RuntimeError("this stack shares an Azurite it must not stop")
        # Azurite saves its metadata and closes its listeners at once on SIGTERM, then lingers while clients keep
        # their keep-alive connections busy: after a moment it is killed, its data already on disk.
        self.azurite.stop(timeout=2)

    def start_azurite(self) -> None:
        """Start Azurite again with the same data folder and ports, so every client finds it where it was."""
        old = self.azurite
        if old is None:
            raise RuntimeError("this stack shares an Azurite it did not start")
        server = processes.spawn("azurite", old.process.args, port=old.port, log_path=old.log_path)
        for port in (old.extra["queue_port"], old.extra["table_port"]):
            processes.wait_for_port(port, process=server.process)
        server.extra.update(old.extra)
        self.azurite = server

    def revive(self) -> None:
        """Start again whatever of this stack is down (the host, its own Azurite)."""
        if self.azurite is not None and self.azurite.process.poll() is not None:
            self.start_azurite()
        if self.host.process.poll() is not None:
            self.start_host()

    # ---- the app's HTTP API --------------------------------------------------------------------------------

    def start_run(self, *, image: bytes | None = None, **body) -> str:
        """POST /api/videos (multipart with `image` as the reference, JSON otherwise); returns the run id."""
        fields = {"prompt": PROMPT, "seconds": "4", **body}
        if image is not None:
            form = {name: str(value) for name, value in fields.items()}
            files = {"input_reference": ("reference.png", image, "image/png")}
            response = self.http.post(f"{self.host.url}/api/videos", data=form, files=files)
        else:
            response = self.http.post(f"{self.host.url}/api/videos", json=fields)
        if response.status_code != 202:
            raise AssertionError(f"the app refused the run ({response.status_code}): {response.text}")
        return response.json()["id"]

    def run(self, run_id: str) -> dict | None:
        """The run resource, or None while the host does not answer."""
        try:
            response = self.http.get(f"{self.host.url}/api/videos/{run_id}")
        except httpx.TransportError:
            return None
        return response.json() if response.status_code == 200 else None

    def wait(self, run_id: str, statuses=FINAL, *, timeout: float = 60, check: Callable[[dict], bool] = bool) -> dict:
        """Poll the run resource until its status is one of `statuses` (and `check` holds)."""
        deadline = time.monotonic() + timeout
        run = None
        while time.monotonic() < deadline:
            run = self.run(run_id)
            if run is not None and run["status"] in statuses and check(run):
                return run
            if run is not None and run["status"] in FINAL and not set(statuses) & FINAL:
                break
            time.sleep(0.05)
        raise AssertionError(f"run {run_id} never reached {sorted(statuses)}; last {run}\n{self.host.log_tail(40)}")

    # ---- the Sora emulator ---------------------------------------------------------------------------------

    def emulator(self, method: str, path: str, body: object = None) -> dict:
        """Call the emulator's admin API (`/_emulator/{path}`)."""
        response = httpx.request(method, f"{self.sora.url}/_emulator/{path}", json=body, timeout=30)
        response.raise_for_status()
        return response.json()

    def reset_emulator(self, **overrides) -> None:
        """Drop every job, fault and log entry (optionally another time scale or concurrency limit)."""
        self.emulator("POST", "reset", {"time_scale": TIME_SCALE, **overrides})

    def add_fault(self, **fault) -> None:
        """Script what the next matching provider calls suffer."""
        self.emulator("POST", "faults", fault)

    def requests(self, **filters) -> list[dict]:
        """The emulator's request log (every provider call, faulted or not), oldest first."""
        return self.emulator("GET", "requests?" + "&".join(f"{k}={v}" for k, v in filters.items()))["requests"]

    # ---- Azurite -------------------------------------------------------------------------------------------

    def container(self) -> ContainerClient:
        return BlobServiceClient.from_connection_string(self.connection_string).get_container_client(CONTAINER)

    def run_blobs(self, run_id: str) -> dict[str, int]:
        """Every committed blob in the run's folder, by name relative to it, with its size."""
        prefix = f"runs/{run_id}/"
        return {b.name[len(prefix) :]: b.size for b in self.container().list_blobs(name_starts_with=prefix)}

    @contextlib.contextmanager
    def watching_blobs(self, run_ids: list[str]) -> Iterator[list[tuple[str, str, int]]]:
        """Record every (run, blob, size) seen in the runs' folders while the block runs, listing every 20 ms."""
        seen: list[tuple[str, str, int]] = []
        stop = threading.Event()

        def watch() -> None:
            while not stop.is_set():
                for run_id in run_ids:
                    with contextlib.suppress(Exception):  # Azurite may be down on purpose
                        seen.extend((run_id, name, size) for name, size in self.run_blobs(run_id).items())
                stop.wait(0.02)

        thread = threading.Thread(target=watch, daemon=True)
        thread.start()
        try:
            yield seen
        finally:
            stop.set()
            thread.join(5)


# ---- what happened, read from the emulator and Azurite -------------------------------------------------------


@dataclass
class Outcome:
    """One scenario's result as the emulator and Azurite tell it."""

    runs: list[dict]
    requests: list[dict]
    blobs: dict[str, dict[str, int]]
    videos: dict[str, VideoCheck]
    seconds: float
    notes: list[str] = field(default_factory=list)

    @property
    def statuses(self) -> list[str]:
        return [run["status"] for run in self.runs]

    @property
    def status(self) -> str:
        """The terminal state (with the error code when the run did not complete)."""
        shown = []
        for run in self.runs:
            error = (run.get("error") or {}).get("code")
            shown.append(run["status"] + (f" ({error})" if error and run["status"] != "completed" else ""))
        return ", ".join(sorted(set(shown)))

    @property
    def jobs_created(self) -> list[str]:
        """Every job the provider really created (answered or not): creates and remixes with a job id."""
        return [r["job_id"] for r in self.requests if r["operation"] in ("create", "remix") and r["job_id"]]

    def calls(self, operation: str) -> list[dict]:
        return [r for r in self.requests if r["operation"] == operation]

    @property
    def bytes_stored(self) -> int:
        """Bytes of every output blob (video, thumbnail, spritesheet) in the runs' folders."""
        return sum(size for blobs in self.blobs.values() for name, size in blobs.items() if is_output(name))

    @property
    def videos_intact(self) -> bool:
        return bool(self.videos) and all(check.intact for check in self.videos.values())


@dataclass(frozen=True)
class VideoCheck:
    """A stored MP4 read back from Azurite: its size, its Content-MD5, whether it is the provider's file byte for byte,
    and whether ffmpeg decodes every frame of it."""

    bytes: int
    md5_matches: bool
    same_as_provider: bool
    duration: float | None
    decode_errors: str

    @property
    def intact(self) -> bool:
        return self.md5_matches and self.same_as_provider and self.duration is not None and not self.decode_errors


def is_output(name: str) -> bool:
    return name.rsplit("/", 1)[-1].split(".")[0].split("-")[0] in ("video", "thumbnail", "spritesheet")


def check_video(stack: Stack, blob: str, job_id: str | None) -> VideoCheck:
    """Download the MP4 from Azurite, compare it with its Content-MD5 and the provider's copy, and decode it all."""
    import imageio_ffmpeg

    downloader = stack.container().download_blob(blob)
    data = downloader.readall()
    stored_md5 = downloader.properties.content_settings.content_md5
    provider = provider_video(stack, job_id, blob) if job_id is not None else b""
    checks = stack.work / "checks"
    checks.mkdir(exist_ok=True)
    path = checks / (hashlib.sha256(blob.encode()).hexdigest()[:16] + ".mp4")
    path.write_bytes(data)
    ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    decoded = subprocess.run(
        [ffmpeg, "-hide_banner", "-v", "error", "-i", str(path), "-f", "null", "-"], capture_output=True, text=True
    )
    info = subprocess.run([ffmpeg, "-hide_banner", "-i", str(path)], capture_output=True, text=True).stderr
    path.unlink()
    found = re.search(r"Duration: (\d+):(\d+):(\d+(?:\.\d+)?)", info)
    return VideoCheck(
        bytes=len(data),
        md5_matches=stored_md5 is not None and bytes(stored_md5) == hashlib.md5(data, usedforsecurity=False).digest(),
        same_as_provider=bool(provider) and hashlib.sha256(provider).digest() == hashlib.sha256(data).digest(),
        duration=int(found[1]) * 3600 + int(found[2]) * 60 + float(found[3]) if found else None,
        decode_errors=decoded.stderr.strip() or ("" if decoded.returncode == 0 else f"exit {decoded.returncode}"),
    )


def provider_video(stack: Stack, job_id: str, blob: str) -> bytes:
    """The provider's own copy of the video stored as `blob` (a jobs-API variant by its `-{index}` suffix)."""
    headers = {"api-key": EMULATOR_KEY}
    if stack.host_env["SORA_API"] == "jobs":
        jobs = f"{stack.sora.url}/openai/v1/video/generations"
        preview = {"api-version": "preview"}
        job = httpx.get(f"{jobs}/jobs/{job_id}", params=preview, headers=headers, timeout=30).json()
        suffix = blob.rsplit("/", 1)[-1].removesuffix(".mp4").partition("-")[2]
        generation = job["generations"][int(suffix or 0)]["id"]
        response = httpx.get(f"{jobs}/{generation}/content/video", params=preview, headers=headers, timeout=60)
    else:
        url = f"{stack.sora.url}/v1/videos/{job_id}/content"
        response = httpx.get(url, params={"variant": "video"}, headers=headers, timeout=60)
    return response.content if response.status_code == 200 else b""


def recorded_job(stack: Stack, run_id: str, record: str) -> dict:
    """A run's provider-job record from Azurite (`provider-job.json`, `provider-remix-job.json`), or {}."""
    try:
        return json.loads(stack.container().download_blob(f"runs/{run_id}/{record}").readall())
    except ResourceNotFoundError:
        return {}


def observe(stack: Stack, run_ids: list[str], started: float) -> Outcome:
    """Read every run's final resource, the emulator's log and the runs' blobs (checking each stored MP4)."""
    runs = [stack.wait(run_id, timeout=5) for run_id in run_ids]
    seconds = time.monotonic() - started
    requests = stack.requests()  # before the checks below download the provider's copies
    blobs = {run_id: stack.run_blobs(run_id) for run_id in run_ids}
    videos = {}
    for run_id, names in blobs.items():
        jobs = {
            "": recorded_job(stack, run_id, "provider-job.json").get("job_id"),
            "remix/": recorded_job(stack, run_id, "provider-remix-job.json").get("job_id"),
        }
        for name in names:
            if name.endswith(".mp4") and is_output(name):
                # A run started by POST /videos/{id}/remix stores its remix at the top of its folder.
                job_id = jobs["remix/" if name.startswith("remix/") else ""] or jobs["remix/"]
                videos[f"{run_id}/{name}"] = check_video(stack, f"runs/{run_id}/{name}", job_id)
    return Outcome(runs, requests, blobs, videos, seconds)


# ---- scenarios ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    """A way to break runs, the stack it needs, and what must come of it (read from the emulator and Azurite)."""

    name: str
    stack: str  # "shared" (any Azurite), "own" (its own Azurite, to stop), "short-timeout" (RUN_TIMEOUT_MINUTES)
    injected: str
    case: str
    expect_status: str
    expect_jobs: int
    play: Callable[[Stack], Outcome]


SHORT_TIMEOUT_MINUTES = "0.05"  # 3 s: a stalled job reaches the deadline quickly
STACK_ENV = {
    "shared": {},
    "own": {"STORE_RETRY_SECONDS": "1,2"},
    "short-timeout": {"RUN_TIMEOUT_MINUTES": SHORT_TIMEOUT_MINUTES},
    "jobs": {"SORA_API": "jobs", "SORA_MODEL": "sora"},
}
REMIX = {"remix": {"prompt": "The same lighthouse in a storm at night"}}


def play(
    stack: Stack,
    *,
    faults: tuple[dict, ...] = (),
    bodies: tuple[dict, ...] = ({},),
    during: Callable[[Stack, list[str]], None] | None = None,
    time_scale: float = TIME_SCALE,
    timeout: float = 90,
) -> Outcome:
    """Reset the emulator, script its faults, start the runs, let `during` break something, and observe the end."""
    stack.reset_emulator(time_scale=time_scale)
    for fault in faults:
        stack.add_fault(**fault)
    started = time.monotonic()
    run_ids = [stack.start_run(**body) for body in bodies]
    with stack.watching_blobs(run_ids) as seen:
        try:
            if during is not None:
                during(stack, run_ids)
        finally:
            stack.revive()  # whatever `during` broke runs again, even if it failed half-way
        for run_id in run_ids:
            stack.wait(run_id, timeout=timeout)
    outcome = observe(stack, run_ids, started)
    outcome.notes.extend(partial_blobs(outcome, seen))
    return outcome


def partial_blobs(outcome: Outcome, seen: list[tuple[str, str, int]]) -> list[str]:
    """Every output blob that was ever visible with another size than it ended with (a partial video)."""
    partial = {
        (run_id, name, size)
        for run_id, name, size in seen
        if is_output(name) and outcome.blobs[run_id].get(name) != size
    }
    return [f"partial blob runs/{run_id}/{name} seen ({size} bytes)" for run_id, name, size in sorted(partial)]


def restart_host_when(stack: Stack, run_id: str, statuses: set[str], *, check=bool, after: float = 0.0) -> None:
    """Wait for the run to reach a stage (and `check`), wait `after` seconds more, SIGKILL the host, start it again."""
    stack.wait(run_id, statuses, check=check)
    time.sleep(after)
    stack.kill_host()
    stack.start_host()


def wait_for_log(stack: Stack, check: Callable[[list[dict]], bool], *, timeout: float = 30) -> None:
    """Wait until the emulator's request log satisfies `check`."""
    deadline = time.monotonic() + timeout
    while not check(stack.requests()):
        if time.monotonic() > deadline:
            raise AssertionError(f"the emulator never saw what was awaited; log {stack.requests()}")
        time.sleep(0.05)


def create_refused(stack: Stack) -> Outcome:
    """The create answers 429 (at capacity), then 503 (unavailable): waited out on timers, one job made."""
    return play(stack, faults=(
        {"operation": "create", "kind": "status", "status": 429, "retry_after": 1},
        {"operation": "create", "kind": "status", "status": 503},
    ))  # fmt: skip


def create_answer_503_after(stack: Stack) -> Outcome:
    """The job is made, then the create answers 503: the run adopts that job instead of paying for another."""
    return play(stack, faults=({"operation": "create", "kind": "status", "status": 503, "phase": "after"},))


def create_answer_dropped(stack: Stack) -> Outcome:
    """The job is made, then the connection closes without an answer: the run adopts that job."""
    return play(stack, faults=({"operation": "create", "kind": "drop", "phase": "after"},))


def remix_answer_dropped(stack: Stack) -> Outcome:
    """The remix job is made, then its answer is lost: the run adopts it (one create, one remix)."""
    return play(stack, faults=({"operation": "remix", "kind": "drop", "phase": "after"},), bodies=(REMIX,))


def polls_and_downloads_refused(stack: Stack) -> Outcome:
    """Status polls and downloads answer 429, then 503: retried, the run completes with every output."""
    return play(stack, faults=(
        {"operation": "retrieve", "kind": "status", "status": 429, "retry_after": 0.2},
        {"operation": "retrieve", "kind": "status", "status": 503},
        {"operation": "content", "kind": "status", "status": 429, "retry_after": 0.2},
        {"operation": "content", "kind": "status", "status": 503},
    ))  # fmt: skip


def downloads_cut(stack: Stack) -> Outcome:
    """Every first download is cut 8 KiB in (two connections reset, one body ended short): retried, none partial."""
    # 8 KiB is less than every output (the smallest, the thumbnail, is ~28 KB), so each cut lands mid-body whichever
    # of the three parallel downloads arrives first.
    return play(stack, faults=(
        {"operation": "content", "kind": "drop", "bytes": 8192, "count": 2},
        {"operation": "content", "kind": "truncate", "bytes": 8192},
    ))  # fmt: skip


def image_create_answer_503_after(stack: Stack) -> Outcome:
    """An image-to-video create (multipart) makes the job, then answers 503: the run adopts that job."""
    return play(
        stack,
        faults=({"operation": "create", "kind": "status", "status": 503, "phase": "after"},),
        bodies=({"image": reference_image()},),
    )


def jobs_create_answer_dropped(stack: Stack) -> Outcome:
    """Sora 1 (the jobs API), two variants: the job is made, its answer dropped; adopted, both variants stored."""
    fault = {"operation": "create", "kind": "drop", "phase": "after"}
    return play(stack, faults=(fault,), bodies=({"size": "480x480", "seconds": 2, "variants": 2},))


def reference_image() -> bytes:
    """A 1280x720 PNG (the app fits it to the video's 720x1280)."""
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (1280, 720), (40, 110, 170)).save(buffer, "PNG")
    return buffer.getvalue()


def job_stalls(stack: Stack) -> Outcome:
    """The provider job never gets past in_progress: the run ends `timeout` at its deadline and deletes the job."""
    return play(stack, faults=({"operation": "create", "kind": "stall"},))


def azurite_outage(stack: Stack) -> Outcome:
    """Azurite stops while the run downloads and starts again 3 s later: the run completes, nothing lost."""

    def outage(stack: Stack, run_ids: list[str]) -> None:
        stack.wait(run_ids[0], {"downloading"})
        stack.stop_azurite()
        time.sleep(3)
        stack.start_azurite()

    return play(stack, faults=({"operation": "content", "kind": "slow", "seconds": 1},), during=outage)


# The first download of each output (video, thumbnail, spritesheet) is held 5 s, so Azurite is down before any of
# them can be stored however loaded the machine is (a 1 s hold let a loaded run store everything first).
HELD_DOWNLOADS = {"operation": "content", "kind": "slow", "seconds": 5, "count": 3}


def storage_down_while_storing(stack: Stack) -> Outcome:
    """Azurite stops as the run starts downloading and stays down through several durable store attempts (each
    one opening the provider's download again), then comes back: the run completes with its one job."""

    def video_downloads(log: list[dict]) -> int:
        return len([r for r in log if is_video_download(r)])

    def outage(stack: Stack, run_ids: list[str]) -> None:
        stack.wait(run_ids[0], {"downloading"})
        stack.stop_azurite()
        before = video_downloads(stack.requests())
        # More attempts than any fixed retry count would allow (the old limit was 1 + 4): only a store retried until
        # the provider's expiry survives this.
        wait_for_log(stack, lambda log: video_downloads(log) >= before + STORE_ATTEMPTS_WHILE_DOWN, timeout=180)
        stack.start_azurite()

    return play(stack, faults=(HELD_DOWNLOADS,), during=outage, timeout=180)


STORE_ATTEMPTS_WHILE_DOWN = 6


def is_video_download(request: dict) -> bool:
    """A provider log entry that downloads a video (the default variant), not a thumbnail or spritesheet."""
    query = request.get("query") or ""
    return request["operation"] == "content" and ("variant=" not in query or "variant=video" in query)


# Outputs expire 24 h x time scale after creation: about 40 s here, so storage can stay down past the expiry.
SHORT_RETENTION_TIME_SCALE = 40 / 86_400


def storage_down_past_expiry(stack: Stack) -> Outcome:
    """Azurite stops as the run starts downloading and stays down until the provider's copy has expired: the run
    fails `expired` shortly before, and the provider's copy is never deleted early."""

    def outage(stack: Stack, run_ids: list[str]) -> None:
        stack.wait(run_ids[0], {"downloading"})
        stack.stop_azurite()
        created = next(r for r in stack.requests() if r["operation"] == "create")
        expires = created["time"] + 86_400 * SHORT_RETENTION_TIME_SCALE  # the emulator's clock is wall time here
        time.sleep(max(0.0, expires + 2 - time.time()))  # storage stays down until the provider's copy is gone
        stack.start_azurite()

    return play(stack, faults=(HELD_DOWNLOADS,), during=outage,
                time_scale=SHORT_RETENTION_TIME_SCALE, timeout=120)  # fmt: skip


def killed_during_create(stack: Stack) -> Outcome:
    """SIGKILL while the provider holds the create: the job is made, its answer dies with the host; one job."""

    def crash(stack: Stack, run_ids: list[str]) -> None:
        wait_for_log(stack, lambda log: any(r["operation"] == "create" for r in log))
        stack.kill_host()
        # The provider finishes the create it was holding: the job exists, and no one heard about it.
        wait_for_log(stack, lambda log: any(r["operation"] == "create" and r["job_id"] for r in log))
        stack.start_host()

    return play(stack, faults=({"operation": "create", "kind": "slow", "seconds": 1.5},), during=crash)


def killed_while_polling(stack: Stack) -> Outcome:
    """SIGKILL while the job renders and the run polls it: the restarted run polls the same job to the end."""

    def crash(stack: Stack, run_ids: list[str]) -> None:
        # The job is known, so the run is in its polling loop; a 4 s render (time scale 0.1) outlasts the restart.
        has_job = lambda run: bool((run.get("provider") or {}).get("job_id"))  # noqa: E731
        restart_host_when(stack, run_ids[0], {"submitting", "generating"}, check=has_job)

    return play(stack, during=crash, time_scale=0.1)


def killed_mid_download(stack: Stack) -> Outcome:
    """SIGKILL while the provider holds a download: the restarted run downloads again and stores it whole."""
    crash = lambda stack, run_ids: restart_host_when(stack, run_ids[0], {"downloading"}, after=0.3)  # noqa: E731
    return play(stack, faults=({"operation": "content", "kind": "slow", "seconds": 2},), during=crash)


def killed_during_remix(stack: Stack) -> Outcome:
    """SIGKILL while remixing: one create, one remix, both videos stored."""
    crash = lambda stack, run_ids: restart_host_when(stack, run_ids[0], {"remixing"}, after=0.2)  # noqa: E731
    return play(stack, bodies=(REMIX,), during=crash, time_scale=0.05)


def killed_waiting_for_capacity(stack: Stack) -> Outcome:
    """Three runs for two provider slots; SIGKILL while the third waits in line: all three complete, one job each."""

    def crash(stack: Stack, run_ids: list[str]) -> None:
        deadline = time.monotonic() + 30
        while not any((stack.run(run_id) or {}).get("status") == "waiting_for_capacity" for run_id in run_ids):
            if time.monotonic() > deadline:
                raise AssertionError("no run ever waited for capacity")
            time.sleep(0.05)
        stack.kill_host()
        stack.start_host()

    # Three different prompts: identical requests can share one job when a lost create's lookup meets a new create
    # (docs/reliability.md, "Matching can mis-adopt"), which is not what this scenario is about.
    bodies = tuple({"prompt": f"{PROMPT} (run {n})"} for n in range(3))
    return play(stack, bodies=bodies, during=crash, time_scale=0.05)


FAULTS = (
    Scenario("create-refused", "shared", "create answers 429 (Retry-After 1 s), then 503", "text to video",
             "completed", 1, create_refused),
    Scenario("create-503-after", "shared", "create makes the job, then answers 503", "text to video",
             "completed", 1, create_answer_503_after),
    Scenario("create-dropped-after", "shared", "create makes the job, then drops the connection", "text to video",
             "completed", 1, create_answer_dropped),
    Scenario("remix-dropped-after", "shared", "remix makes the job, then drops the connection",
             "text to video + remix", "completed", 2, remix_answer_dropped),
    Scenario("polls-downloads-refused", "shared", "status and download answer 429, then 503", "text to video",
             "completed", 1, polls_and_downloads_refused),
    Scenario("downloads-cut", "shared", "downloads cut 8 KiB in: 2 connections reset, 1 body short",
             "text to video", "completed", 1, downloads_cut),
    Scenario("image-create-503-after", "shared", "create makes the job, then answers 503", "image to video",
             "completed", 1, image_create_answer_503_after),
    Scenario("jobs-create-dropped-after", "jobs", "create makes the job, then drops the connection",
             "Sora 1 jobs API, 2 variants", "completed", 1, jobs_create_answer_dropped),
    Scenario("job-stalls", "short-timeout", "job stays in_progress forever (deadline 3 s)", "text to video",
             "failed (timeout)", 1, job_stalls),
    Scenario("azurite-outage", "own", "Azurite stopped for 3 s during the download", "text to video",
             "completed", 1, azurite_outage),
    Scenario("storage-down-while-storing", "own", "Azurite down through several durable store attempts",
             "text to video", "completed", 1, storage_down_while_storing),
    Scenario("storage-down-past-expiry", "own", "Azurite down until the provider's copy expired (40 s)",
             "text to video", "failed (expired)", 1, storage_down_past_expiry),
)  # fmt: skip

RESTARTS = (
    Scenario("kill-during-create", "own", "host SIGKILLed while the provider holds the create", "text to video",
             "completed", 1, killed_during_create),
    Scenario("kill-while-polling", "own", "host SIGKILLed while polling", "text to video", "completed", 1,
             killed_while_polling),
    Scenario("kill-mid-download", "own", "host SIGKILLed during a held download", "text to video", "completed", 1,
             killed_mid_download),
    Scenario("kill-during-remix", "own", "host SIGKILLed while remixing", "text to video + remix", "completed", 2,
             killed_during_remix),
    Scenario("kill-waiting-for-capacity", "own", "host SIGKILLed while a run waits for capacity",
             "3 runs, 2 provider slots", "completed", 3, killed_waiting_for_capacity),
)  # fmt: skip
