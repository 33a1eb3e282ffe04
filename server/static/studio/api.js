// The backend's API as the studio uses it. The token lives in localStorage and travels only in the
// Authorization header: pictures that need it are fetched and shown as object URLs, never by a
// URL carrying the token.

const ROOT = document.querySelector('meta[name="nemo-root"]')?.content || "";
const KEYS = { client: "nemo.client_id", auth: "nemo.auth", project: "nemo.session_id" };
// Attribution the contract records on every call: the studio is a client like the skills.
const ATTRIBUTION = { "X-Skill-Source": "nemo-studio", "X-Skill-Version": "0.1.0", "X-Skill-Platform": "web" };

export class ApiError extends Error {
  constructor(code, message, status, data) {
    super(message);
    this.code = code;
    this.status = status;
    this.data = data || {};
  }
}

export function url(path) {
  return ROOT + path;
}

function clientId() {
  let id = localStorage.getItem(KEYS.client);
  if (!id) {
    id = "studio-" + crypto.randomUUID();
    localStorage.setItem(KEYS.client, id);
  }
  return id;
}

function storedAuth() {
  try {
    const auth = JSON.parse(localStorage.getItem(KEYS.auth) || "null");
    if (auth && auth.token && Date.parse(auth.expires_at) > Date.now() + 60_000) return auth;
  } catch {
    /* a damaged entry: sign in again */
  }
  return null;
}

export function rememberProject(sessionId) {
  if (sessionId) localStorage.setItem(KEYS.project, sessionId);
  else localStorage.removeItem(KEYS.project);
}

export function rememberedProject() {
  return localStorage.getItem(KEYS.project);
}

async function envelope(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    throw new ApiError(5000, `HTTP ${response.status}`, response.status);
  }
  if (body && typeof body.code === "number" && body.code !== 0) {
    throw new ApiError(body.code, body.message || "", response.status, body.data);
  }
  if (!response.ok) throw new ApiError(response.status, body?.message || "", response.status);
  return body;
}

export async function signIn() {
  const found = storedAuth();
  if (found) return found;
  const response = await fetch(url("/api/auth/anonymous-token"), {
    method: "POST",
    headers: { "X-Client-Id": clientId(), ...ATTRIBUTION },
  });
  const auth = (await envelope(response)).data;
  localStorage.setItem(KEYS.auth, JSON.stringify(auth));
  return auth;
}

export async function signInWithClaim(claimToken) {
  const response = await fetch(url("/api/auth/claim"), {
    method: "POST",
    headers: { "Content-Type": "application/json", ...ATTRIBUTION },
    body: JSON.stringify({ claim_token: claimToken }),
  });
  const data = (await envelope(response)).data;
  localStorage.setItem(KEYS.auth, JSON.stringify(data));
  rememberProject(data.session_id);
  return data;
}

function authHeaders(extra = {}) {
  const auth = storedAuth();
  return { ...ATTRIBUTION, ...(auth ? { Authorization: `Bearer ${auth.token}` } : {}), ...extra };
}

// One retry with a fresh token when the stored one was refused (1001: expired or unknown).
async function authed(path, init = {}) {
  await signIn();
  let response = await fetch(url(path), { ...init, headers: authHeaders(init.headers) });
  if (response.status === 401) {
    localStorage.removeItem(KEYS.auth);
    await signIn();
    response = await fetch(url(path), { ...init, headers: authHeaders(init.headers) });
  }
  return response;
}

export async function get(path) {
  return (await envelope(await authed(path))).data;
}

export async function post(path, body) {
  const init = { method: "POST", headers: { "Content-Type": "application/json" } };
  if (body !== undefined) init.body = JSON.stringify(body);
  return envelope(await authed(path, init));
}

// A picture the API serves behind the token, as an object URL for <img>/<video poster>.
export async function pictureUrl(path, signal) {
  const response = await authed(path, { signal });
  if (!response.ok) await envelope(response);
  return URL.createObjectURL(await response.blob());
}

// One file per request, so each has its own progress and its own error in words.
export function uploadFile(sessionId, file, onProgress) {
  return new Promise((resolve, reject) => {
    const auth = storedAuth();
    const xhr = new XMLHttpRequest();
    xhr.open("POST", url(`/api/upload-video/nemo_agent/me/${sessionId}`));
    for (const [name, value] of Object.entries(authHeaders())) xhr.setRequestHeader(name, value);
    if (!auth) {
      reject(new ApiError(1001, "not signed in", 401));
      return;
    }
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) onProgress(e.loaded / e.total);
    };
    xhr.onload = () => {
      let body = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        reject(new ApiError(xhr.status === 413 ? 4002 : 5000, `HTTP ${xhr.status}`, xhr.status));
        return;
      }
      if (body.code !== 0) reject(new ApiError(body.code, body.message, xhr.status, body.data));
      else resolve(body.data);
    };
    xhr.onerror = () => reject(new ApiError(0, "network", 0));
    const form = new FormData();
    form.append("files", file, file.name);
    xhr.send(form);
  });
}

// One chat turn over /run_sse: ADK events as they arrive, heartbeat comments as `onHeartbeat`.
export async function runTurn({ userId, sessionId, text, onEvent, onHeartbeat, signal }) {
  const response = await authed("/run_sse", {
    method: "POST",
    signal,
    headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
    body: JSON.stringify({
      app_name: "nemo_agent",
      user_id: userId,
      session_id: sessionId,
      new_message: { role: "user", parts: [{ text }] },
      streaming: true,
    }),
  });
  if (!response.ok || !(response.headers.get("content-type") || "").includes("text/event-stream")) {
    await envelope(response);
    throw new ApiError(response.status, `HTTP ${response.status}`, response.status);
  }
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, cut).replace(/\r$/, "");
      buffer = buffer.slice(cut + 1);
      if (line.startsWith("data:")) {
        try {
          onEvent(JSON.parse(line.slice(5).trim()));
        } catch (err) {
          if (!(err instanceof SyntaxError)) throw err;
        }
      } else if (line.startsWith(":")) {
        onHeartbeat(line.slice(1).trim());
      }
    }
  }
}
