"""`./dev.sh run`: soraflow's main job on the embedded defaults, end to end, on this machine.

Starts Azurite, the Sora emulator and the app (function_app.py on the local Functions host), submits a
generation over the HTTP API, shows its progress, and prints where the MP4, thumbnail and manifest landed
(and saves copies under .soraflow/out/). `--keep-running` leaves the stack up to explore.
"""

from __future__ import annotations

import argparse
import secrets
import signal
import sys
import time
from pathlib import Path

from azure.storage.blob import BlobServiceClient

from emulators import processes
from soraflow_client import ApiError, Client

DEFAULT_PROMPT = "A red panda making latte art in a cafe, soft morning light"
# Model ids of fal's queue and of Vertex AI Veo: asking for one starts that provider's emulator beside the Sora one.
FAL_MODEL_PREFIXES = ("fal-ai/",)
VERTEX_MODEL_PREFIXES = ("veo-",)
VERTEX_PROJECT = "soraflow-local"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="./dev.sh run", description=__doc__.splitlines()[0])
    parser.add_argument("--prompt", default=DEFAULT_PROMPT)
    parser.add_argument("--seconds", default="4", help='videos API: "4", "8" or "12"; jobs API: 1-20')
    parser.add_argument("--size", default="1280x720")
    parser.add_argument("--api", choices=("videos", "jobs"), default="videos", help="Sora 2 videos or Sora 1 jobs")
    fal_hint = "any model GET /api/models lists, e.g. fal-ai/veo3.1 or veo-3.1-generate-001 (starts its emulator too)"
    parser.add_argument("--model", default=None, help=fal_hint)
    parser.add_argument("--variants", type=int, default=None, help="jobs API: 1-4 variants")
    parser.add_argument("--image", type=Path, default=None, help="a JPEG/PNG/WebP reference (image-to-video)")
    parser.add_argument("--remix", default=None, help="remix the video with this prompt afterwards (videos API)")
    parser.add_argument("--time-scale", type=float, default=0.1, help="emulator render speed (1 = real time)")
    parser.add_argument("--port", type=int, default=7071, help="the app's port (a free one if taken)")
    parser.add_argument("--work", type=Path, default=processes.REPO_ROOT / ".soraflow", help="state, data and logs")
    parser.add_argument("--keep-running", action="store_true", help="leave the stack running until Ctrl-C")
    return parser.parse_args(argv)


def say(message: str) -> None:
    print(message, flush=True)


def port_or_free(port: int) -> int:
    try:
        processes.wait_for_port(port, timeout=0.2)
    except TimeoutError:
        return port
    return processes.free_port()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # SIGTERM (a service manager, `kill`) stops the stack as Ctrl-C does: through the `finally` below.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    servers: list[processes.Server] = []
    try:
        say("Starting Azurite (Blob Storage emulator)...")
        azurite = processes.start_azurite(work / "azurite", log_path=work / "azurite.log")
        servers.append(azurite)
        connection = azurite.extra["connection_string"]
        say(f"  blob endpoint http://127.0.0.1:{azurite.extra['blob_port']}/devstoreaccount1")
        create_containers(connection, ("videos", "video-requests"))
        say("Starting the Sora emulator (both provider APIs)...")
        emulator_key = secrets.token_urlsafe(16)
        sora = processes.start_sora_emulator(
            args=["--time-scale", str(args.time_scale), f"--api-key={emulator_key}", "--media-cache",
                  str(work / "media")],
            log_path=work / "sora.log",
        )  # fmt: skip
        servers.append(sora)
        say(f"  {sora.url} (renders at {args.time_scale}x real time)")
        port = port_or_free(args.port)
        provider_settings = {}
        if args.model and args.model.startswith(FAL_MODEL_PREFIXES):
            say("Starting the fal emulator (fal.ai's queue API, signed webhooks)...")
            fal_key = secrets.token_urlsafe(16)
            fal = processes.start_fal_emulator(
                args=["--time-scale", str(args.time_scale), f"--api-key={fal_key}", "--media-cache",
                      str(work / "fal-media"), "--webhook-key", str(work / "fal-webhook-key.pem")],
                log_path=work / "fal.log",
            )  # fmt: skip
            servers.append(fal)
            say(f"  {fal.extra['url']}")
            provider_settings = {
                "FAL_KEY": fal_key,
                "FAL_QUEUE_URL": fal.extra["url"],
                "FAL_JWKS_URL": f"{fal.extra['url']}/.well-known/jwks.json",
                "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",  # fal's webhooks wake the run
            }
        if args.model and args.model.startswith(VERTEX_MODEL_PREFIXES):
            say("Starting the Vertex AI emulator (Veo, with an OAuth token endpoint for its service account)...")
            vertex_token = secrets.token_urlsafe(16)
            key_file = work / "vertex-service-account.json"
            vertex = processes.start_vertex_emulator(
                args=["--time-scale", str(args.time_scale), f"--api-key={vertex_token}", "--project", VERTEX_PROJECT,
                      "--service-account-key", str(key_file), "--media-cache", str(work / "vertex-media")],
                log_path=work / "vertex.log",
            )  # fmt: skip
            servers.append(vertex)
            say(f"  {vertex.url} (service-account key {shown(key_file)})")
            provider_settings = {
                "VERTEX_PROJECT": VERTEX_PROJECT,
                "VERTEX_ENDPOINT": vertex.url,
                "VERTEX_CREDENTIALS": str(key_file),
            }
        say("Starting soraflow on the local Functions host...")
        function_key = secrets.token_urlsafe(24)
        settings = processes.soraflow_settings(
            connection,
            sora.url,
            emulator_key,
            SORA_API=args.api,
            SORA_MODEL="sora-2" if args.api == "videos" else "sora",
            FUNCTIONS_DEFAULT_KEY=function_key,
            **provider_settings,
        )
        host = processes.start_soraflow_host(work, settings, port=port, enable_auth=True)
        servers.append(host)
        say(f"  {host.url}/api  (function key: {function_key})")
        run = submit_and_follow(args, host.url, function_key)
        if run["status"] == "completed":
            report_outputs(run, connection, work / "out" / run["id"])
        else:
            say(f"The run ended {run['status']}: {run.get('error')}")
        if args.keep_running:
            say(f"\nThe stack keeps running. Try:\n  curl -H 'x-functions-key: {function_key}' {host.url}/api/videos")
            say("Press Ctrl-C to stop.")
            while all(server.process.poll() is None for server in servers):
                time.sleep(1)
        return 0 if run["status"] == "completed" else 1
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        say(f"error: {exc}")
        for server in servers:
            tail = server.log_tail(20)
            if tail:
                say(f"--- {server.name} log (last lines) ---\n{tail}")
        return 1
    finally:
        # A second Ctrl-C or SIGTERM must not cut the cleanup short and leave servers behind.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        # The app first, so that the work it finishes in its 5 s grace still has its storage and provider.
        for server in reversed(servers):
            server.stop(timeout=6)
        if servers:
            folder = shown(work)
            logs = ", ".join(f"{folder}/{server.log_path.name}" for server in servers if server.log_path)
            say(f"Stopped the stack. Logs: {logs}.")


def submit_and_follow(args: argparse.Namespace, url: str, key: str) -> dict:
    """POST the generation with soraflow's own client and print each change of stage and progress until the run ends.

    The `soraflow` CLI uses the same client, so the demo and the CLI cannot drift apart.
    """
    # Closed when done, like the blob clients below, so no idle keep-alive connection outlives the run.
    with Client(url, key) as client:
        try:
            run = client.create(args.prompt, model=args.model, size=args.size, seconds=args.seconds,
                                variants=args.variants, image=args.image, remix=args.remix)  # fmt: skip
        except ApiError as error:
            raise RuntimeError(f"the app refused the request ({error.status}): {error.detail}") from None
        cost = (run.get("cost") or {}).get("estimated_usd")
        say(f"\nSubmitted run {run['id']}: {args.prompt!r} ({args.seconds} s, {args.size}, est. ${cost})")
        return client.wait(run["id"], on_progress=say_progress)


def say_progress(run: dict) -> None:
    provider = run.get("provider") or {}
    progress = provider.get("progress")
    detail = f" (provider {provider.get('status')}" + (f", {progress}%)" if progress is not None else ")")
    say(f"  {run['status']:<22} {run['progress']:>3}%{detail if provider else ''}")


def create_containers(connection: str, names: tuple[str, ...]) -> None:
    """The output and request containers, so a request file can be dropped in as soon as the app is up."""
    with BlobServiceClient.from_connection_string(connection) as service:
        for name in names:
            container = service.get_container_client(name)
            if not container.exists():
                container.create_container()


def shown(path: Path) -> Path:
    """A path relative to the repository when it is inside it (shorter to read), else as it is."""
    return path.relative_to(processes.REPO_ROOT) if path.is_relative_to(processes.REPO_ROOT) else path


def report_outputs(run: dict, connection: str, out: Path) -> None:
    """Print where every output landed in Blob Storage, and save local copies."""
    out.mkdir(parents=True, exist_ok=True)
    say(f"\nDone. Outputs in Blob Storage (container 'videos', folder runs/{run['id']}/):")
    manifest = f"runs/{run['id']}/run.json"
    # Closed when done: an idle keep-alive connection would hold Azurite up when the stack stops.
    with BlobServiceClient.from_connection_string(connection).get_container_client("videos") as container:
        for output in run["outputs"]:
            target = out / Path(output["blob"]).relative_to(f"runs/{run['id']}")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(container.download_blob(output["blob"]).readall())
            say(f"  {output['source']:<10} {output['kind']:<11} videos/{output['blob']}  ({output['bytes']:,} bytes)")
        (out / "run.json").write_bytes(container.download_blob(manifest).readall())
    say(f"  manifest              videos/{manifest}")
    say(f"Local copies: {shown(out)}/")


if __name__ == "__main__":
    sys.exit(main())
