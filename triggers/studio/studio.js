// soraflow studio: the gallery, the new-run form and the run page, on the app's own HTTP API.
// Every value from the API is shown with textContent (prompts are user text); the key lives in sessionStorage only.
"use strict";

const API = location.pathname.replace(/\/studio\/?$/, "");
const KEY_STORAGE = "soraflow-key";
const FINAL = new Set(["completed", "failed", "cancelled"]);
const PAGE_SIZE = 12;
const RUN_POLL_MS = 1000;
const GALLERY_POLL_MS = 2000;

const $ = (id) => document.getElementById(id);
let models = null; // GET /api/models
let continuation = null; // the next gallery page's token
let runTimer = null;
let galleryTimer = null;

// --- the key: from ?code= once (then removed from the address bar), or typed in ---

function takeKeyFromAddress() {
  const params = new URLSearchParams(location.search);
  if (!params.has("code")) return;
  sessionStorage.setItem(KEY_STORAGE, params.get("code"));
  params.delete("code");
  const query = params.toString();
  history.replaceState(null, "", location.pathname + (query ? "?" + query : "") + location.hash);
}

function key() {
  return sessionStorage.getItem(KEY_STORAGE) || "";
}

// --- the API ---

class ApiError extends Error {
  constructor(status, detail, errors) {
    super(detail);
    this.status = status;
    this.errors = errors || [];
  }
}

async function api(method, path, { json, form, idempotent } = {}) {
  const headers = {};
  if (key()) headers["x-functions-key"] = key();
  if (idempotent) headers["Idempotency-Key"] = newIdempotencyKey();
  let body;
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  } else if (form !== undefined) {
    body = form; // the browser sets the multipart boundary
  }
  let response;
  try {
    response = await fetch(API + path, { method, headers, body, cache: "no-store" });
  } catch (error) {
    throw new ApiError(0, "Cannot reach the app: " + error.message);
  }
  if (response.status === 204) return null;
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch (_) {
    data = null;
  }
  if (!response.ok) {
    if (data && data.detail) throw new ApiError(response.status, data.detail, data.errors);
    if (response.status === 401) {
      throw new ApiError(401, "The app refused the key: type the function key at the top (or open the page with ?code=KEY).");
    }
    throw new ApiError(response.status, `The app answered ${response.status} ${response.statusText}.`);
  }
  return data;
}

function newIdempotencyKey() {
  // crypto.getRandomValues works outside secure contexts too (randomUUID does not).
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return "studio-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function contentUrl(runId, output) {
  const params = new URLSearchParams({ variant: output.kind, index: String(output.index || 0), source: output.source });
  // A video or image element cannot send a header: the key goes as ?code=, as Azure accepts it.
  if (key()) params.set("code", key());
  return `${API}/videos/${encodeURIComponent(runId)}/content?${params}`;
}

function showError(error) {
  const alert = $("alert");
  alert.textContent = error instanceof ApiError || error instanceof Error ? error.message : String(error);
  alert.hidden = false;
}

function clearError() {
  $("alert").hidden = true;
  $("alert").textContent = "";
}

// --- shared bits of a run ---

function costText(run) {
  const usd = run.cost && run.cost.estimated_usd;
  return usd === undefined || usd === null ? "cost unknown" : `est. $${Number(usd).toFixed(2)}`;
}

function detailText(run) {
  const parts = [];
  const provider = run.provider || {};
  if (provider.status) parts.push(`provider ${provider.status}` + (provider.progress != null ? ` ${provider.progress}%` : ""));
  if (run.queue_position != null) parts.push(`queue position ${run.queue_position}`);
  if (run.note) parts.push(run.note);
  return parts.join(", ");
}

function outputOf(run, kind, source = "generation") {
  return (run.outputs || []).find((o) => o.kind === kind && o.source === source && (o.index || 0) === 0);
}

function lastOutput(run, kind) {
  return outputOf(run, kind, "remix") || outputOf(run, kind, "generation");
}

function setStatus(element, status) {
  element.textContent = status.replaceAll("_", " ");
  element.className = `status status-${status}`;
}

// --- gallery ---

function card(run) {
  const link = document.createElement("a");
  link.className = "card";
  link.href = `#run/${encodeURIComponent(run.id)}`;
  link.dataset.id = run.id;
  const thumb = document.createElement("img");
  thumb.className = "thumb";
  thumb.alt = "";
  link.append(thumb);
  const body = document.createElement("div");
  body.className = "body";
  const prompt = document.createElement("p");
  prompt.className = "prompt";
  const status = document.createElement("span");
  const progress = document.createElement("progress");
  progress.max = 100;
  const meta = document.createElement("span");
  meta.className = "muted";
  body.append(prompt, status, progress, meta);
  link.append(body);
  fillCard(link, run);
  return link;
}

function fillCard(link, run) {
  const [thumb] = link.getElementsByClassName("thumb");
  const prompt = link.querySelector(".prompt");
  const status = link.querySelector("span");
  const progress = link.querySelector("progress");
  const meta = link.querySelector(".muted");
  prompt.textContent = (run.request && run.request.prompt) || "";
  setStatus(status, run.status);
  progress.value = run.progress || 0;
  meta.textContent = `${costText(run)} · ${(run.request && run.request.model) || ""}`;
  link.dataset.status = run.status;
  const thumbnail = lastOutput(run, "thumbnail");
  if (thumbnail && !thumb.getAttribute("src")) thumb.src = contentUrl(run.id, thumbnail);
}

async function loadGallery(more = false) {
  const params = new URLSearchParams({ limit: String(PAGE_SIZE) });
  if (more && continuation) params.set("continuation", continuation);
  const page = await api("GET", `/videos?${params}`);
  const runs = $("runs");
  if (!more) runs.replaceChildren();
  for (const run of page.data || []) {
    const existing = runs.querySelector(`[data-id="${CSS.escape(run.id)}"]`);
    if (existing) fillCard(existing, run);
    else runs.append(card(run));
  }
  continuation = page.has_more ? page.continuation : null;
  $("more").hidden = !continuation;
  $("no-runs").hidden = runs.children.length > 0;
  // How many times the gallery was (re)loaded: tests wait on it instead of guessing when a reload is done.
  runs.dataset.loads = String(Number(runs.dataset.loads || 0) + 1);
}

async function refreshLiveCards() {
  const live = [...$("runs").querySelectorAll(".card")].filter((c) => !FINAL.has(c.dataset.status));
  for (const link of live) {
    try {
      fillCard(link, await api("GET", `/videos/${encodeURIComponent(link.dataset.id)}`));
    } catch (error) {
      if (error.status === 404) link.remove();
    }
  }
}

// --- the new-run form, limited to what the chosen model supports ---

async function loadModels() {
  models = await api("GET", "/models");
  const select = $("model");
  select.replaceChildren();
  for (const model of models.data || []) {
    const option = document.createElement("option");
    option.value = model.model;
    option.textContent = `${model.model} (${model.provider})`;
    option.selected = model.model === models.default_model;
    select.append(option);
  }
  fitFormToModel();
}

function chosenModel() {
  return (models && models.data || []).find((m) => m.model === $("model").value);
}

function fillChoices(select, values, preferred) {
  select.replaceChildren();
  for (const value of values) {
    const option = document.createElement("option");
    option.value = option.textContent = value;
    option.selected = value === preferred;
    select.append(option);
  }
}

function fitFormToModel() {
  const model = chosenModel();
  if (!model) return;
  // "any": the model takes any value within bounds; offer its default (the API names the bounds if refused).
  fillChoices($("size"), Array.isArray(model.sizes) ? model.sizes : [model.default_size], model.default_size);
  fillChoices($("seconds"), Array.isArray(model.seconds) ? model.seconds : [model.default_seconds], model.default_seconds);
  $("image").disabled = !model.reference_image;
  if (!model.reference_image) $("image").value = "";
  $("remix").disabled = !model.remix;
  if (!model.remix) $("remix").value = "";
  const notes = [];
  if (!model.reference_image) notes.push("no reference image");
  if (!model.remix) notes.push("no remix");
  if (model.audio) notes.push("with audio");
  $("model-note").textContent = notes.length ? `${model.model}: ${notes.join(", ")}` : "";
}

async function submitNewRun(event) {
  event.preventDefault();
  clearError();
  const button = $("generate");
  button.disabled = true; // one click, one run
  try {
    const fields = { prompt: $("prompt").value, model: $("model").value, size: $("size").value, seconds: $("seconds").value };
    const remix = $("remix").value.trim();
    if (remix) fields.remix = { prompt: remix };
    const file = $("image").files[0];
    let run;
    if (file) {
      const form = new FormData();
      for (const [name, value] of Object.entries(fields)) form.append(name, typeof value === "string" ? value : JSON.stringify(value));
      form.append("input_reference", file, file.name);
      run = await api("POST", "/videos", { form, idempotent: true });
    } else {
      run = await api("POST", "/videos", { json: fields, idempotent: true });
    }
    $("new-run").reset();
    fitFormToModel();
    location.hash = `#run/${encodeURIComponent(run.id)}`;
  } catch (error) {
    showError(error);
  } finally {
    button.disabled = false;
  }
}

// --- the run page ---

let shownRun = null;

async function showRun(runId) {
  clearTimeout(runTimer);
  let run;
  try {
    run = await api("GET", `/videos/${encodeURIComponent(runId)}`);
  } catch (error) {
    showError(error);
    return;
  }
  if (currentRunId() !== runId) return; // the person moved on meanwhile
  renderRun(run);
  if (!FINAL.has(run.status)) runTimer = setTimeout(() => showRun(runId), RUN_POLL_MS);
}

function renderRun(run) {
  const first = !shownRun || shownRun.id !== run.id;
  shownRun = run;
  const request = run.request || {};
  $("run-prompt").textContent = request.prompt || "";
  setStatus($("run-status"), run.status);
  $("run-progress").value = run.progress || 0;
  $("run-percent").textContent = `${run.progress || 0}%`;
  $("run-detail").textContent = detailText(run);
  $("run-id").textContent = run.id;
  $("run-cost").textContent = costText(run);
  $("run-created").textContent = run.created_at || "";
  $("run-request").textContent = JSON.stringify(request, null, 2);
  const error = run.error;
  $("run-error").hidden = !error;
  $("run-error").textContent = error ? `${run.status}: ${error.message} (${error.code})` : "";
  $("run-remix-error").hidden = !run.remix_error;
  $("run-remix-error").textContent = run.remix_error ? `The remix failed: ${run.remix_error.message}` : "";
  const video = lastOutput(run, "video");
  const element = $("video");
  element.hidden = !video;
  if (video) {
    const src = contentUrl(run.id, video);
    if (first || element.dataset.src !== src) {
      element.dataset.src = src;
      element.src = src;
    }
  } else {
    element.removeAttribute("src");
    delete element.dataset.src;
  }
  for (const kind of ["thumbnail", "spritesheet"]) {
    const output = lastOutput(run, kind);
    $(`${kind}-figure`).hidden = !output;
    const image = $(kind);
    if (output) {
      const src = contentUrl(run.id, output);
      if (image.dataset.src !== src) image.src = image.dataset.src = src;
    }
  }
  const final = FINAL.has(run.status);
  $("cancel").disabled = final;
  $("delete").disabled = !final;
  $("remix-button").disabled = run.status !== "completed";
}

function resetRunView() {
  shownRun = null;
  const video = $("video");
  video.pause();
  video.removeAttribute("src");
  delete video.dataset.src;
  video.load();
  for (const kind of ["thumbnail", "spritesheet"]) {
    $(kind).removeAttribute("src");
    delete $(kind).dataset.src;
  }
}

async function cancelRun() {
  clearError();
  try {
    await api("POST", `/videos/${encodeURIComponent(shownRun.id)}/cancel`);
    showRun(shownRun.id);
  } catch (error) {
    showError(error);
  }
}

async function deleteRun() {
  clearError();
  const id = shownRun.id;
  if (!confirm(`Delete run ${id}, its video and its history?`)) return;
  try {
    await api("DELETE", `/videos/${encodeURIComponent(id)}`);
    const gone = $("runs").querySelector(`[data-id="${CSS.escape(id)}"]`);
    if (gone) gone.remove();
    location.hash = "";
  } catch (error) {
    showError(error);
  }
}

async function remixRun(event) {
  event.preventDefault();
  clearError();
  $("remix-button").disabled = true;
  try {
    const run = await api("POST", `/videos/${encodeURIComponent(shownRun.id)}/remix`, {
      json: { prompt: $("remix-prompt").value },
      idempotent: true,
    });
    $("remix-form").reset();
    location.hash = `#run/${encodeURIComponent(run.id)}`;
  } catch (error) {
    showError(error);
    $("remix-button").disabled = false;
  }
}

// --- routing: #run/ID is a run page, anything else the gallery ---

function currentRunId() {
  const match = location.hash.match(/^#run\/(.+)$/);
  return match ? decodeURIComponent(match[1]) : null;
}

async function route() {
  clearTimeout(runTimer);
  clearInterval(galleryTimer);
  clearError();
  const runId = currentRunId();
  $("gallery-view").hidden = Boolean(runId);
  $("run-view").hidden = !runId;
  if (runId) {
    if (!shownRun || shownRun.id !== runId) resetRunView();
    await showRun(runId);
    return;
  }
  resetRunView();
  try {
    if (!models) await loadModels();
    await loadGallery();
  } catch (error) {
    showError(error);
  }
  galleryTimer = setInterval(() => refreshLiveCards().catch(showError), GALLERY_POLL_MS);
}

function start() {
  takeKeyFromAddress();
  $("key").value = key();
  $("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem(KEY_STORAGE, $("key").value.trim());
    models = null;
    route();
  });
  $("forget-key").addEventListener("click", () => {
    sessionStorage.removeItem(KEY_STORAGE);
    $("key").value = "";
  });
  $("model").addEventListener("change", fitFormToModel);
  $("new-run").addEventListener("submit", submitNewRun);
  $("more").addEventListener("click", () => loadGallery(true).catch(showError));
  $("cancel").addEventListener("click", cancelRun);
  $("delete").addEventListener("click", deleteRun);
  $("remix-form").addEventListener("submit", remixRun);
  window.addEventListener("hashchange", route);
  route();
}

start();
