"""A stand-in for the Azure CLI (`az`) with the few commands the postdeploy hook uses, state kept in a folder.

It records every call (argv) to `calls.jsonl` and answers like azure-cli 2.x: `show` of a missing resource fails with
exit code 3 and a ResourceNotFound message, `create` of an event subscription is a PUT (create or replace), `--output
tsv` of a list prints one value per line. A query or command it does not know fails loudly, so a hook change that
needs a new answer shows up as a failing test rather than a silently wrong one.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

SUBSCRIPTION_QUERY = "[destination.endpointUrl, filter.subjectBeginsWith, join(',', filter.includedEventTypes)]"


def main(argv: list[str]) -> int:
    """Answer one az invocation from the state in $FAKE_AZ_DIR."""
    folder = Path(os.environ["FAKE_AZ_DIR"])
    with (folder / "calls.jsonl").open("a") as calls:
        calls.write(json.dumps(argv) + "\n")
    command, options = split_command(argv)
    state_path = folder / "state.json"
    state = json.loads(state_path.read_text()) if state_path.exists() else {"subscriptions": {}, "key_reads": 0}
    answer = ANSWERS.get(command)
    if answer is None:
        return refuse(f"fake az: unsupported command 'az {command}'")
    code = answer(options, state)
    state_path.write_text(json.dumps(state))
    return code


def split_command(argv: list[str]) -> tuple[str, dict[str, str]]:
    """('eventgrid system-topic show', {'--name': ...}): the words before the first option, then option pairs."""
    first_option = next((i for i, a in enumerate(argv) if a.startswith("--")), len(argv))
    words, rest = argv[:first_option], argv[first_option:]
    if len(rest) % 2:
        raise SystemExit(refuse(f"fake az: every option needs one value, got {rest}"))
    return " ".join(words), dict(zip(rest[::2], rest[1::2], strict=True))


def refuse(message: str, code: int = 2) -> int:
    print(message, file=sys.stderr)
    return code


def expect_query(options: dict[str, str], query: str) -> None:
    if options.get("--query") != query or options.get("--output") != "tsv":
        raise SystemExit(refuse(f"fake az: unsupported query {options.get('--query')!r} / {options.get('--output')}"))


def show_topic(options: dict[str, str], state: dict) -> int:
    expect_query(options, "source")
    print(os.environ["FAKE_AZ_TOPIC_SOURCE"])
    return 0


def show_function_app(options: dict[str, str], state: dict) -> int:
    expect_query(options, "defaultHostName")
    print(os.environ["FAKE_AZ_HOST"])
    return 0


def list_function_keys(options: dict[str, str], state: dict) -> int:
    expect_query(options, "systemKeys.blobs_extension")
    state["key_reads"] += 1
    # The host creates the key a while after a deploy: the first FAKE_AZ_KEY_MISSING_READS reads find none.
    if state["key_reads"] > int(os.environ.get("FAKE_AZ_KEY_MISSING_READS", "0")):
        print(os.environ["FAKE_AZ_KEY"])
    else:
        print("")
    return 0


def show_subscription(options: dict[str, str], state: dict) -> int:
    expect_query(options, SUBSCRIPTION_QUERY)
    found = state["subscriptions"].get(options["--name"])
    if found is None:
        return refuse(
            f"(ResourceNotFound) The Resource 'Microsoft.EventGrid/systemTopics/{options['--system-topic-name']}"
            f"/eventSubscriptions/{options['--name']}' under resource group '{options['--resource-group']}' was not"
            " found.\nCode: ResourceNotFound",
            code=3,
        )
    # Without --include-full-endpoint-url the service returns only the base URL; the full one is null.
    full = options.get("--include-full-endpoint-url") == "true"
    endpoint = found["destination"]["endpointUrl"] if full else None
    for value in (endpoint, found["filter"]["subjectBeginsWith"], ",".join(found["filter"]["includedEventTypes"])):
        print("None" if value is None else value)
    return 0


def create_subscription(options: dict[str, str], state: dict) -> int:
    if os.environ.get("FAKE_AZ_CREATE_FAILS"):
        # The service's own error echoes the endpoint it could not validate, key included.
        return refuse(f"(BadRequest) Webhook validation handshake failed for {options['--endpoint']}", code=1)
    endpoint = options["--endpoint"]
    state["subscriptions"][options["--name"]] = {
        "systemTopic": options["--system-topic-name"],
        "destination": {
            "endpointType": options["--endpoint-type"],
            "endpointUrl": endpoint,
            "endpointBaseUrl": urlunsplit(urlsplit(endpoint)._replace(query="")),
        },
        "filter": {
            "subjectBeginsWith": options["--subject-begins-with"],
            "includedEventTypes": options["--included-event-types"].split(),
        },
    }
    return 0


ANSWERS = {
    "eventgrid system-topic show": show_topic,
    "functionapp show": show_function_app,
    "functionapp keys list": list_function_keys,
    "eventgrid system-topic event-subscription show": show_subscription,
    "eventgrid system-topic event-subscription create": create_subscription,
}

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
