// The draft as tracks: photo and clip thumbnails with durations and transitions, titles, and the
// music with its waveform. Pure DOM from the draft JSON (api-contract.md, "The draft").

import { t } from "./i18n.js";

const PX_PER_SECOND = 56;
const TRACK_KIND = { 0: "video", 1: "audio", 7: "text" };

export function formatTime(seconds) {
  const s = Math.max(0, seconds);
  const m = Math.floor(s / 60);
  return `${m}:${(s - m * 60).toFixed(1).padStart(4, "0")}`;
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function mediaFor(src, infos) {
  return infos.find((f) => f.cdn_url === src || f.media_id === src) || null;
}

function drawWaveform(canvas, peaks) {
  const ratio = window.devicePixelRatio || 1;
  const width = Math.max(1, Math.round(canvas.clientWidth * ratio));
  const height = Math.max(1, Math.round(canvas.clientHeight * ratio));
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = "rgba(255, 214, 102, 0.9)";
  const bar = width / peaks.length;
  peaks.forEach((peak, i) => {
    const h = Math.max(1, peak * height * 0.9);
    ctx.fillRect(i * bar, (height - h) / 2, Math.max(1, bar - ratio * 0.5), h);
  });
}

// Renders `draft` into `root`. `thumb(media_id)` resolves to an object URL; `waveforms` maps a
// segment id to its peaks; `onSeek(seconds)` is called when a segment or the ruler is clicked.
export function renderTimeline(root, { draft, infos, thumb, waveforms, onSeek }) {
  root.replaceChildren();
  if (!draft || !draft.t || !draft.t.length || !draft.d) {
    root.append(el("p", "muted", t("timelineEmpty")));
    return null;
  }
  const seconds = draft.d / 1000;
  const width = Math.max(seconds * PX_PER_SECOND, 320);
  const scroller = el("div", "tl-scroll");
  const inner = el("div", "tl-inner");
  inner.style.width = `${width}px`;

  const rulerRow = el("div", "tl-row tl-ruler-row");
  const ruler = el("div", "tl-ruler");
  rulerRow.append(el("span", "tl-name"), ruler);
  const step = seconds > 60 ? 10 : seconds > 20 ? 5 : 1;
  for (let s = 0; s <= seconds; s += step) {
    const tick = el("span", "tl-tick", `${s}s`);
    tick.style.left = `${(s / seconds) * 100}%`;
    ruler.append(tick);
  }
  ruler.addEventListener("click", (e) => {
    const box = ruler.getBoundingClientRect();
    onSeek(((e.clientX - box.left) / box.width) * seconds);
  });
  inner.append(rulerRow);

  for (const track of draft.t) {
    const kind = TRACK_KIND[track.tt] || "video";
    const row = el("div", `tl-row tl-${kind}`);
    const lane = el("div", "tl-track");
    row.setAttribute("role", "group");
    const label = track.m?.name || t(kind === "video" ? "trackVideo" : kind === "audio" ? "trackAudio" : "trackText");
    row.setAttribute("aria-label", label);
    row.append(el("span", "tl-name", label), lane);
    const segments = [...(track.sg || [])].sort((a, b) => a.st - b.st);
    segments.forEach((seg, i) => {
      const box = el("button", `tl-seg tl-seg-${kind}`);
      box.type = "button";
      // A transition overlaps the segment before; the box stops where the next one starts, so
      // every box keeps its labels in sight (the ◆ marks the overlap).
      const next = segments[i + 1];
      const end = Math.min(seg.st + seg.d, draft.d, next && next.st > seg.st ? next.st : Infinity);
      box.style.left = `${(seg.st / draft.d) * 100}%`;
      box.style.width = `${((end - seg.st) / draft.d) * 100}%`;
      box.dataset.segId = seg.id;
      const dur = `${(seg.d / 1000).toFixed(1)}s`;
      box.addEventListener("click", () => onSeek(seg.st / 1000 + Math.min(seg.d / 2000, 0.5)));
      if (kind === "video") {
        const info = mediaFor(seg.src, infos);
        const title = seg.m?.name || info?.filename || seg.id;
        box.setAttribute("aria-label", `${title}, ${dur}`);
        box.title = `${title} · ${dur}`;
        if (info && info.file_type !== "audio") {
          const img = el("img", "tl-thumb");
          img.alt = "";
          img.decoding = "async";
          thumb(info.media_id).then((src) => {
            if (src) img.src = src;
          });
          box.append(img);
        }
        box.append(el("span", "tl-dur", dur));
        const tr = seg.m?.tr;
        if (tr && tr.type && tr.type !== "none") {
          const mark = el("span", "tl-tr", "◆");
          mark.title = `${tr.type} ${(tr.d / 1000).toFixed(1)}s`;
          mark.setAttribute("aria-label", mark.title);
          box.append(mark);
        }
        if (seg.m?.motion && seg.m.motion !== "none") box.append(el("span", "tl-motion", seg.m.motion.replace("_", " ")));
      } else if (kind === "audio") {
        const title = seg.m?.name || String(seg.src || "").replace("builtin:", "");
        box.setAttribute("aria-label", `${title}, ${dur}`);
        box.title = `${title} · ${dur}`;
        const canvas = el("canvas", "tl-wave");
        box.append(canvas, el("span", "tl-label", `♪ ${title}`));
        const peaks = waveforms.get(seg.id);
        if (peaks) requestAnimationFrame(() => drawWaveform(canvas, peaks));
      } else {
        const text = seg.m?.text || "";
        box.setAttribute("aria-label", `${text}, ${dur}`);
        box.title = `${text} · ${dur}`;
        box.append(el("span", "tl-label", `T ${text}`));
      }
      lane.append(box);
    });
    inner.append(row);
  }
  const overlay = el("div", "tl-overlay");
  const head = el("div", "tl-playhead");
  overlay.setAttribute("aria-hidden", "true");
  overlay.append(head);
  inner.append(overlay);
  scroller.append(inner);
  root.append(scroller);
  return {
    setTime(s) {
      head.style.left = `${Math.min(100, (s / seconds) * 100)}%`;
    },
  };
}

export function summary(draft) {
  if (!draft || !draft.t) return "";
  return t("tracks", { n: draft.t.length, d: formatTime(draft.d / 1000) });
}
