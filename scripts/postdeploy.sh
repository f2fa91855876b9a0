#!/bin/sh
# azd postdeploy hook: subscribe the blob trigger to BlobCreated events in the request container.
# On Flex Consumption the blob trigger has only the Event Grid source, and its webhook key (the blobs_extension
# system key) exists only once the code is deployed, so this cannot be done in the Bicep. Safe to re-run: an
# existing subscription that already matches is left alone; one that differs is replaced in place.
# azd passes its environment's values (the Bicep outputs) to hooks as environment variables.
set -eu

subscription_name=start-run-from-blob
function_name=Host.Functions.start_run_from_blob
event_type=Microsoft.Storage.BlobCreated
key_attempts=${POSTDEPLOY_KEY_ATTEMPTS:-12}
key_wait_seconds=${POSTDEPLOY_KEY_WAIT_SECONDS:-10}

fail() {
  echo "postdeploy: $*" >&2
  exit 1
}

missing=""
for name in AZURE_RESOURCE_GROUP AZURE_FUNCTION_APP_NAME AZURE_STORAGE_ACCOUNT_NAME \
  EVENT_GRID_SYSTEM_TOPIC_NAME VIDEO_REQUEST_CONTAINER; do
  eval "value=\${$name:-}"
  # shellcheck disable=SC2154 # assigned by the eval above
  [ -n "$value" ] || missing="$missing $name"
done
[ -z "$missing" ] || fail "missing azd environment value(s):$missing. They are outputs of infra/main.bicep:" \
  "run 'azd provision' first, or set one with 'azd env set NAME VALUE'."

container=$VIDEO_REQUEST_CONTAINER
if [ ${#container} -lt 3 ] || [ ${#container} -gt 63 ] ||
  ! printf '%s' "$container" | grep -Eq '^[a-z0-9]+(-[a-z0-9]+)*$'; then
  fail "VIDEO_REQUEST_CONTAINER must be a valid container name (3-63 lowercase letters, digits and single" \
    "hyphens, starting and ending with a letter or digit), got '$container'."
fi
command -v az >/dev/null 2>&1 || fail "the Azure CLI (az) is not on PATH; install it and run 'az login'."

group=$AZURE_RESOURCE_GROUP
app=$AZURE_FUNCTION_APP_NAME
topic=$EVENT_GRID_SYSTEM_TOPIC_NAME
errors=$(mktemp)
trap 'rm -f "$errors"' EXIT

# Prints az's error output with any webhook key (code=...) masked: this script never shows the key.
show_az_errors() {
  sed 's/code=[^&[:space:]"]*/code=<hidden>/g' "$errors" >&2
}

account=$AZURE_STORAGE_ACCOUNT_NAME
topic_source=$(az eventgrid system-topic show --resource-group "$group" --name "$topic" --query source \
  --output tsv 2>"$errors") || { show_az_errors; fail "cannot read Event Grid system topic '$topic' in '$group'."; }
case "$topic_source" in
  */[Ss]torage[Aa]ccounts/"$account") ;;
  *) fail "Event Grid system topic '$topic' publishes events of '$topic_source', not of storage account '$account'." ;;
esac

host=$(az functionapp show --resource-group "$group" --name "$app" --query defaultHostName --output tsv 2>"$errors") ||
  { show_az_errors; fail "cannot read function app '$app' in resource group '$group'."; }
[ -n "$host" ] || fail "function app '$app' has no default host name yet; re-run 'azd deploy'."

# The host creates the blobs_extension key when it first indexes an Event Grid blob trigger, shortly after a deploy.
attempt=1
while :; do
  key=$(az functionapp keys list --resource-group "$group" --name "$app" \
    --query systemKeys.blobs_extension --output tsv 2>"$errors") || { show_az_errors; key=""; }
  [ -n "$key" ] && break
  [ "$attempt" -lt "$key_attempts" ] || fail "function app '$app' has no blobs_extension system key after" \
    "$key_attempts attempts: check that 'azd deploy' succeeded and that start_run_from_blob is indexed" \
    "(Functions page in the portal), then run this hook again with 'azd hooks run postdeploy'."
  echo "postdeploy: waiting for the blobs_extension key of '$app' (attempt $attempt of $key_attempts)..."
  attempt=$((attempt + 1))
  sleep "$key_wait_seconds"
done

# Keys are URL-safe base64 in practice; escape the characters that would change the query string if not.
encoded_key=$(printf '%s' "$key" | sed 's/%/%25/g; s/+/%2B/g; s/\//%2F/g; s/&/%26/g; s/#/%23/g')
endpoint="https://$host/runtime/webhooks/blobs?functionName=$function_name&code=$encoded_key"
subject_prefix="/blobServices/default/containers/$container/"
wanted=$(printf '%s\n%s\n%s' "$endpoint" "$subject_prefix" "$event_type")

if current=$(az eventgrid system-topic event-subscription show --resource-group "$group" \
  --system-topic-name "$topic" --name "$subscription_name" --include-full-endpoint-url true \
  --query "[destination.endpointUrl, filter.subjectBeginsWith, join(',', filter.includedEventTypes)]" \
  --output tsv 2>"$errors"); then
  if [ "$current" = "$wanted" ]; then
    echo "postdeploy: Event Grid subscription '$subscription_name' on '$topic' is already up to date; nothing changed."
    exit 0
  fi
  action="updated (its endpoint or filter had changed)"
elif grep -qi 'not *found' "$errors"; then
  action="created"
else
  show_az_errors
  fail "cannot read Event Grid subscription '$subscription_name' on system topic '$topic' in '$group'."
fi

# azure-cli's create is a PUT (create or replace), so it also brings a stale subscription up to date in place.
az eventgrid system-topic event-subscription create --resource-group "$group" --system-topic-name "$topic" \
  --name "$subscription_name" --endpoint-type webhook --endpoint "$endpoint" \
  --included-event-types "$event_type" --subject-begins-with "$subject_prefix" --output none 2>"$errors" ||
  { show_az_errors; fail "cannot create Event Grid subscription '$subscription_name' on system topic '$topic'."; }
echo "postdeploy: Event Grid subscription '$subscription_name' $action: BlobCreated in container '$container'" \
  "of storage account '$account' now starts runs on '$app'."
