// The studio: sign-in, projects, uploads, chat, timeline, preview, export.

import * as api from "./api.js";
import { chooseLanguage, errorText, language, setLanguage, t, toolName } from "./i18n.js";
import { formatTime, renderTimeline, summary } from "./timeline.js";

const $ = (id) => document.getElementById(id);
const POLL_MS = 1000;
const SCRUB_DEBOUNCE_MS = 120;
const STILL_RESOLUTION = "540p"; // scrubbing: small stills come back fastest

const state = {
  auth: null,
  sessionId: null,
  snapshot: null, // the latest state answer's `state`
  time: 0,
  timeline: null,
  thumbs: new Map(), // media_id -> Promise<object URL | null>
  waveforms: new Map(), // segment id -> peaks
  still: { controller: null, timer: 0, url: null, seq: 0 },
  busyTurn: false,
  job: null,
};

// ---- little helpers --------------------------------------------------------------------------

function toast(message, bad = false) {
  const box = $("toast");
  box.textContent = message;
  box.classList.toggle("bad", bad);
  box.setAttribute("role", bad ? "alert" : "status");
  box.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => (box.hidden = true), 6000);
}

function showError(err) {
  toast(errorText(err), true);
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

const sessionPath = (tail) => `/api/state/nemo_agent/me/${state.sessionId}${tail}`;

function thumb(mediaId) {
  if (!state.thumbs.has(mediaId)) {
    const path = `/api/upload-video/nemo_agent/me/${state.sessionId}/${encodeURIComponent(mediaId)}/thumbnail`;
    state.thumbs.set(mediaId, api.pictureUrl(path).catch(() => null));
  }
  return state.thumbs.get(mediaId);
}

// ---- credits and projects --------------------------------------------------------------------

async function loadCredits() {
  try {
    const credits = await api.get("/api/credits/balance/simple");
    $("credits").textContent = t("credits", { n: credits.available });
  } catch (err) {
    showError(err);
  }
}

async function loadProjects(selected) {
  const { projects } = await api.get("/api/tasks/me/nemo_agent");
  const select = $("project-select");
  select.replaceChildren();
  for (const p of projects) {
    const option = el("option", "", t("projectOption", {
      title: p.title || (p.task_name !== "project" ? p.task_name : t("untitled")),
      when: new Date(p.updated_at).toLocaleDateString(language() === "zh" ? "zh-CN" : "en"),
    }));
    option.value = p.session_id;
    select.append(option);
  }
  if (selected) select.value = selected;
  return projects;
}

async function newProject() {
  const made = await api.post("/api/tasks/me/with-session/nemo_agent", {
    task_name: t("newProjectName"),
    language: language() === "zh" ? "zh-CN" : "en",
  });
  await loadProjects(made.data.session_id);
  await openProject(made.data.session_id);
}

async function openProject(sessionId) {
  state.sessionId = sessionId;
  state.snapshot = null;
  state.job = null; // a render of the project left behind is no longer followed
  state.time = 0;
  state.thumbs.clear();
  state.waveforms.clear();
  api.rememberProject(sessionId);
  $("project-select").value = sessionId;
  $("messages").replaceChildren();
  $("uploads").replaceChildren();
  hideResult();
  await Promise.all([loadState(), loadConversation()]);
}

// The chat so far (a project opened again, or from a claim link): messages with their tool chips.
async function loadConversation() {
  const sessionId = state.sessionId;
  const { messages } = await api.get(`/api/tasks/me/nemo_agent/${sessionId}/conversation`);
  if (sessionId !== state.sessionId) return;
  for (const message of messages) {
    const shown = bubble(message.role === "user" ? "user" : "model", message.text);
    if (message.role === "error") shown.item.classList.add("bad");
    for (const name of message.tools) {
      const chip = el("span", "chip done", toolName(name));
      chip.title = name;
      shown.item.insertBefore(chip, shown.body);
    }
  }
}

// ---- state: library, timeline, preview ---------------------------------------------------------

async function loadState() {
  let answer;
  try {
    answer = await api.get(sessionPath("/latest"));
  } catch (err) {
    if (err.code === 1002) {
      api.rememberProject(null);
      await newProject();
      return;
    }
    throw err;
  }
  state.snapshot = answer.state;
  renderLibrary();
  const draft = answer.state.draft;
  const hasDraft = Boolean(draft && draft.d > 0 && draft.t && draft.t.some((tr) => tr.sg && tr.sg.length));
  for (const id of ["preview-render", "export"]) $(id).disabled = !hasDraft;
  const scrub = $("scrub");
  scrub.disabled = !hasDraft;
  scrub.max = hasDraft ? String(Math.max(0, draft.d / 1000 - 0.05).toFixed(2)) : "0";
  state.time = Math.min(state.time, Number(scrub.max));
  scrub.value = String(state.time);
  $("timeline-meta").textContent = hasDraft ? summary(draft) : "";
  if (hasDraft && draft.t.some((tr) => tr.tt === 1)) {
    try {
      const { segments } = await api.get(sessionPath("/preview/waveform"));
      for (const seg of segments) state.waveforms.set(seg.seg_id, seg.peaks);
    } catch (err) {
      showError(err);
    }
  }
  state.timeline = renderTimeline($("timeline"), {
    draft: hasDraft ? draft : null,
    infos: answer.state.video_infos || [],
    thumb,
    waveforms: state.waveforms,
    onSeek: seek,
  });
  updateTimeLabel();
  $("stage-empty").hidden = hasDraft;
  if (hasDraft) {
    if ($("player").hidden) $("still").hidden = false;
    loadStill(0);
  } else {
    $("still").hidden = true;
  }
}

function renderLibrary() {
  const list = $("library");
  list.replaceChildren();
  for (const file of state.snapshot.video_infos || []) {
    const item = el("li", "lib-item");
    item.title = file.filename;
    if (file.file_type === "audio") {
      item.append(el("span", "lib-audio", "♪"));
    } else {
      const img = el("img", "lib-thumb");
      img.alt = file.filename;
      img.width = 72;
      img.height = 72;
      thumb(file.media_id).then((src) => {
        if (src) img.src = src;
      });
      item.append(img);
    }
    const meta = file.duration ? `${file.duration.toFixed(1)}s` : `${file.width}×${file.height}`;
    item.append(el("span", "lib-name", file.filename), el("span", "lib-meta", meta));
    list.append(item);
  }
}

function draftSeconds() {
  const draft = state.snapshot?.draft;
  return draft ? draft.d / 1000 : 0;
}

function updateTimeLabel() {
  $("scrub-time").textContent = `${formatTime(state.time)} / ${formatTime(draftSeconds())}`;
  state.timeline?.setTime(state.time);
}

function seek(seconds) {
  state.time = Math.max(0, Math.min(Number($("scrub").max), seconds));
  $("scrub").value = String(state.time);
  updateTimeLabel();
  showStill();
  loadStill(SCRUB_DEBOUNCE_MS);
}

function loadStill(delay) {
  clearTimeout(state.still.timer);
  state.still.timer = setTimeout(async () => {
    state.still.controller?.abort();
    const controller = new AbortController();
    state.still.controller = controller;
    const seq = ++state.still.seq;
    const at = state.time.toFixed(3);
    $("stage-busy").hidden = false;
    const query = `?t=${at}&resolution=${STILL_RESOLUTION}`;
    try {
      const src = await api.pictureUrl(sessionPath(`/preview/frame${query}`), controller.signal);
      if (seq !== state.still.seq) {
        URL.revokeObjectURL(src); // a later request owns the picture now
        return;
      }
      const img = $("still");
      img.dataset.t = at;
      const old = state.still.url;
      img.onload = () => {
        if (old) URL.revokeObjectURL(old);
      };
      img.src = src;
      img.alt = `${t("preview")} ${formatTime(state.time)}`;
      state.still.url = src;
    } catch (err) {
      if (err.name !== "AbortError") showError(err);
    } finally {
      if (state.still.controller === controller) $("stage-busy").hidden = true;
    }
  }, delay);
}

function showStill() {
  const player = $("player");
  if (!player.hidden) {
    player.pause();
    player.hidden = true;
  }
  if (state.snapshot?.draft) $("still").hidden = false;
}

// ---- uploads -----------------------------------------------------------------------------------

async function ensureProject() {
  if (!state.sessionId) await newProject();
}

async function uploadAll(files) {
  if (!files.length) return;
  await ensureProject();
  const queue = [...files].map((file) => ({ file, row: uploadRow(file) }));
  const worker = async () => {
    for (let job = queue.shift(); job; job = queue.shift()) await uploadOne(job.file, job.row);
  };
  await Promise.all([worker(), worker()]); // two at a time: each keeps its own progress
  await loadState();
}

function uploadRow(file) {
  const row = el("li", "upload");
  const name = el("span", "up-name", file.name);
  const bar = el("progress", "up-bar");
  bar.max = 100;
  bar.value = 0;
  bar.setAttribute("aria-label", file.name);
  const status = el("span", "up-status", t("uploading", { pct: 0 }));
  row.append(name, bar, status);
  $("uploads").append(row);
  return { row, bar, status };
}

async function uploadOne(file, { row, bar, status }) {
  try {
    const answer = await api.uploadFile(state.sessionId, file, (fraction) => {
      const pct = Math.round(fraction * 100);
      bar.value = pct;
      status.textContent = pct < 100 ? t("uploading", { pct }) : t("processing");
    });
    if (!answer.files.length && answer.errors.length) throw new api.ApiError(answer.errors[0].code, answer.errors[0].message);
    bar.value = 100;
    status.textContent = t("uploaded");
    row.classList.add("ok");
    setTimeout(() => row.remove(), 4000);
  } catch (err) {
    row.classList.add("bad");
    status.textContent = errorText(err);
    status.setAttribute("role", "alert");
  }
}

function wireDropzone() {
  const zone = $("dropzone");
  for (const type of ["dragenter", "dragover"]) {
    zone.addEventListener(type, (e) => {
      e.preventDefault();
      zone.classList.add("over");
    });
  }
  for (const type of ["dragleave", "drop"]) {
    zone.addEventListener(type, () => zone.classList.remove("over"));
  }
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    uploadAll(e.dataTransfer?.files || []).catch(showError);
  });
  $("file-input").addEventListener("change", (e) => {
    uploadAll(e.target.files).catch(showError);
    e.target.value = "";
  });
  // A file dropped outside the zone must not navigate away from the studio.
  window.addEventListener("dragover", (e) => e.preventDefault());
  window.addEventListener("drop", (e) => e.preventDefault());
}

// ---- chat --------------------------------------------------------------------------------------

function bubble(role, text) {
  const item = el("li", `msg msg-${role}`);
  item.append(el("span", "msg-who", role === "user" ? t("you") : t("editor")));
  const body = el("div", "msg-body", text);
  item.append(body);
  $("messages").append(item);
  item.scrollIntoView({ block: "end" });
  return { item, body };
}

async function sendMessage(text) {
  text = text.trim();
  if (!text || state.busyTurn) return;
  await ensureProject();
  state.busyTurn = true;
  $("send").disabled = true;
  bubble("user", text);
  const reply = bubble("model");
  const chips = new Map();
  let streamed = "";
  let started = Date.now();
  const working = $("working");
  working.hidden = false;
  $("working-text").textContent = t("thinking");
  const onEvent = (event) => {
    if (event.author === "system" && (event.errorCode || event.errorMessage)) {
      reply.item.classList.add("bad");
      reply.body.textContent = errorText({ code: Number(event.errorCode), message: event.errorMessage });
      return;
    }
    for (const part of event.content?.parts || []) {
      if (part.functionCall) {
        const chip = el("span", "chip busy", toolName(part.functionCall.name));
        chip.title = part.functionCall.name;
        chips.set(part.functionCall.id || part.functionCall.name, chip);
        reply.item.insertBefore(chip, reply.body);
      } else if (part.functionResponse) {
        const chip = chips.get(part.functionResponse.id || part.functionResponse.name);
        chip?.classList.replace("busy", "done");
      } else if (typeof part.text === "string") {
        // partial chunks come first, then the whole text once more as the final event
        streamed = event.partial ? streamed + part.text : part.text;
        reply.body.textContent = streamed;
        reply.item.scrollIntoView({ block: "end" });
      }
    }
    if (event.actions?.stateDelta?.draft && !event.partial) started = Date.now();
  };
  const onHeartbeat = () => {
    $("working-text").textContent = t("stillWorking", { s: Math.round((Date.now() - started) / 1000) });
  };
  try {
    await api.runTurn({ userId: state.auth.user_id, sessionId: state.sessionId, text, onEvent, onHeartbeat });
  } catch (err) {
    reply.item.classList.add("bad");
    reply.body.textContent = errorText(err);
  } finally {
    working.hidden = true;
    state.busyTurn = false;
    $("send").disabled = false;
  }
  await Promise.all([loadState(), loadCredits(), loadProjects(state.sessionId)]);
}

function wireChat() {
  const input = $("chat-input");
  $("chat-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const text = input.value;
    input.value = "";
    sendMessage(text).catch(showError);
  });
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      $("chat-form").requestSubmit();
    }
  });
  for (const chip of $("suggestions").querySelectorAll("button")) {
    chip.addEventListener("click", () => sendMessage(chip.textContent).catch(showError));
  }
}

// ---- renders: quick preview and export ---------------------------------------------------------

function hideResult() {
  $("result").hidden = true;
  $("job").hidden = true;
  showStill();
}

async function followRender(status, kind) {
  const id = status.id;
  state.job = id;
  $("job").hidden = false;
  $("result").hidden = true;
  const cancel = $("job-cancel");
  cancel.hidden = false;
  cancel.onclick = () => api.post(`/api/render/proxy/lambda/${encodeURIComponent(id)}/cancel`).catch(showError);
  try {
    return await pollRender(status, kind);
  } finally {
    cancel.hidden = true;
  }
}

async function pollRender(status, kind) {
  const id = status.id;
  for (let current = status; state.job === id; ) {
    const pct = current.progress || 0;
    const label = current.status === "pending" ? t("queued") : t(kind, { pct, phase: t(`phase_${current.phase || "queued"}`) });
    $("job-label").textContent = label;
    $("job-progress").value = pct;
    $("job-eta").textContent = current.eta_seconds ? t("eta", { s: Math.ceil(current.eta_seconds) }) : "";
    if (current.status === "completed") return current;
    if (current.status === "failed" || current.status === "cancelled") {
      // a cancelled render reads failed with error.code "cancelled" (README, contract choices)
      throw new api.ApiError(-1, current.error?.message || current.status);
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    current = await api.get(`/api/render/proxy/lambda/${encodeURIComponent(id)}`);
  }
  return null;
}

async function playRender(done) {
  const player = $("player");
  try {
    player.poster = await api.pictureUrl(`/api/render/proxy/lambda/${encodeURIComponent(done.id)}/poster`);
  } catch {
    player.removeAttribute("poster");
  }
  player.src = done.outputUrl;
  $("still").hidden = true;
  player.hidden = false;
  $("job-label").textContent = t("done", { d: formatTime(done.output?.duration || 0) });
  $("job-eta").textContent = "";
  $("job-progress").value = 100;
}

async function quickPreview() {
  $("preview-render").disabled = true;
  try {
    const started = await api.post(sessionPath("/preview/render"), { resolution: "480p" });
    const done = await followRender(started, "previewing");
    if (done) await playRender(done);
  } catch (err) {
    $("job-label").textContent = t("failed", { msg: errorText(err) });
  } finally {
    $("preview-render").disabled = false;
  }
}

async function exportVideo() {
  const draft = state.snapshot?.draft;
  if (!draft) return;
  $("export").disabled = true;
  try {
    const started = await api.post("/api/render/proxy/lambda", {
      id: `studio_${Date.now()}`,
      sessionId: state.sessionId,
      draft,
      output: { format: "mp4", quality: "high", resolution: $("export-res").value },
    });
    const done = await followRender(started, "rendering");
    if (done) {
      await playRender(done);
      const link = $("download");
      link.href = done.outputUrl;
      link.setAttribute("download", `${(draft.m?.title || "video").replace(/[^\p{L}\p{N} _-]+/gu, "")}.mp4`);
      $("result").hidden = false;
      toast(t("exportDone"));
    }
  } catch (err) {
    $("job-label").textContent = t("failed", { msg: errorText(err) });
  } finally {
    $("export").disabled = false;
  }
}

// ---- start -------------------------------------------------------------------------------------

// Chinese on machines without a CJK system font: the renderer's own Noto Sans CJK (17 MB), named
// last in the stylesheet's font list and limited to CJK code points, so a browser fetches it only
// when no font before it has the characters. Added after the page's load event, so it never
// delays the load; until it arrives, the system's fallback shows.
const CJK_RANGES =
  "U+2E80-2FFF, U+3000-303F, U+3100-312F, U+31A0-31BF, U+3400-4DBF, U+4E00-9FFF, U+F900-FAFF, U+FE30-FE4F, U+FF00-FFEF";

function addCjkFallback() {
  const root = document.querySelector('meta[name="nemo-root"]').content;
  const face = new FontFace("Nemo CJK", `url(${root}/studio/cjk.otf)`, { unicodeRange: CJK_RANGES, display: "swap" });
  document.fonts.add(face);
  // Chromium keeps the "no glyph" boxes it drew for some text (a disabled button's, seen) until that
  // text changes: once the face has loaded, set the page's words again so every control redraws.
  document.fonts.addEventListener("loadingdone", (event) => {
    if (!event.fontfaces.includes(face)) return;
    setLanguage(language());
    document.documentElement.dataset.cjkFont = "ready";
  });
}

if (document.readyState === "complete") addCjkFallback();
else window.addEventListener("load", addCjkFallback, { once: true });

async function claimFromLink() {
  const params = new URLSearchParams(location.search);
  const ct = params.get("ct");
  if (!location.pathname.endsWith("/workspace/claim") || !ct) return null;
  // The link's secret leaves the address bar (and so the history) before anything else loads.
  history.replaceState(null, "", `${document.querySelector('meta[name="nemo-root"]').content}/`);
  try {
    return await api.signInWithClaim(ct);
  } catch (err) {
    toast(err.code === 1001 ? t("claimFailed") : errorText(err), true);
    return null;
  }
}

async function boot() {
  setLanguage(chooseLanguage(localStorage.getItem("nemo.lang")));
  $("lang-select").value = language();
  $("lang-select").addEventListener("change", async (e) => {
    localStorage.setItem("nemo.lang", e.target.value);
    setLanguage(e.target.value);
    await Promise.all([loadCredits(), loadProjects(state.sessionId)]);
    if (state.snapshot) await loadState();
  });
  wireDropzone();
  wireChat();
  $("scrub").addEventListener("input", (e) => seek(Number(e.target.value)));
  $("project-select").addEventListener("change", (e) => openProject(e.target.value).catch(showError));
  $("new-project").addEventListener("click", () => newProject().catch(showError));
  $("preview-render").addEventListener("click", () => quickPreview());
  $("export").addEventListener("click", () => exportVideo());
  $("show-still").addEventListener("click", () => hideResult());

  const claimed = await claimFromLink();
  if (claimed) $("claim-summary").hidden = true;
  else if (!$("claim-summary").textContent.trim()) $("claim-summary").hidden = true;
  state.auth = await api.signIn();
  $("studio").hidden = false;
  document.body.classList.add("ready");
  const [projects] = await Promise.all([loadProjects(), loadCredits()]);
  const wanted = claimed?.session_id || api.rememberedProject();
  const known = projects.find((p) => p.session_id === wanted) || projects[0];
  if (known) await openProject(known.session_id);
  else await newProject();
}

boot().catch(showError);
