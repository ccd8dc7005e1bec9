// Shared helpers for the facegate pages: translated texts, API calls, webcam snapshots.
// Plain JavaScript on purpose: no build step, nothing to install.
"use strict";

const T = JSON.parse(document.getElementById("i18n").textContent);

function t(key, values) {
  let text = T[key] || key;
  for (const [name, value] of Object.entries(values || {})) {
    text = text.replace("{" + name + "}", String(value));
  }
  return text;
}

// An enrolment warning from the API (facegate.enrol_checks), translated by its code.
function warningText(w) {
  return t("warning." + w.code, {
    name: w.person_name || "",
    id: w.person_id || "",
    ids: (w.person_ids || []).join(", "),
    score: w.score === undefined ? "" : Number(w.score).toFixed(3),
  });
}
// A photo's quality reason from the API ("blurry: sharpness 12, need 40", engine/quality.py)
// in the page's language by its code, with its numbers; null for a reason that only repeats
// the photo's outcome in English ("no face found", "photo already enrolled": the translated
// outcome says it).
function reasonText(reason) {
  const code = String(reason).split(":")[0].trim();
  const key = "reason." + code;
  if (!(key in T)) return null;
  const numbers = String(reason).match(/-?\d+(?:\.\d+)?/g) || [];
  return t(key, { value: numbers[0] || "?", need: numbers[1] || "?" });
}

// The phone menu: the button shows and hides the navigation (CSS hides it below 760 px).
(function () {
  const toggle = document.getElementById("menu-toggle");
  if (!toggle) return;
  toggle.addEventListener("click", () => {
    const header = toggle.closest("header");
    const open = header.classList.toggle("open");
    toggle.setAttribute("aria-expanded", String(open));
  });
})();

// Calls the same /api/v1 an integrator uses. The session cookie authenticates; the extra
// header proves the call comes from our own page (a cross-site form cannot add it).
async function api(path, options) {
  const opts = Object.assign({ credentials: "same-origin" }, options || {});
  opts.headers = Object.assign({ "X-Facegate-Page": "1" }, opts.headers || {});
  let response;
  try {
    response = await fetch(path, opts);
  } catch (e) {
    throw Object.assign(new Error(errorText("network", String(e))), { code: "network", status: 0 });
  }
  if (response.status === 204) return null;
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    const error = (body && body.error) || { code: "http_" + response.status, message: response.statusText };
    throw Object.assign(new Error(errorText(error.code, error.message)),
      { code: error.code, status: response.status, serverMessage: error.message });
  }
  return body;
}

// What the page says for a server error: the text of its stable code in the page's language
// ("err.<code>"), the server's own message when the page has none. For the codes that only
// say "something in the request", the server's detail follows in brackets.
const DETAILED = new Set(["invalid_input", "invalid_request", "bad_request", "conflict"]);
function errorText(code, serverMessage) {
  const key = "err." + code;
  if (!(key in T)) return serverMessage || code;
  return DETAILED.has(code) && serverMessage ? T[key] + " (" + serverMessage + ")" : T[key];
}

// Times in the viewer's own zone and the page's language: the server sends ISO 8601 with an
// offset; <time datetime="..." data-local="datetime|time|date"> elements are rewritten here.
const PAGE_LOCALE = document.documentElement.lang || undefined;
function localTime(iso, style) {
  const when = new Date(iso);
  if (isNaN(when.getTime())) return iso;
  const opts = { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false };
  if (style === "date") return when.toLocaleDateString(PAGE_LOCALE);
  if (style === "time") return when.toLocaleTimeString(PAGE_LOCALE, opts);
  return when.toLocaleString(PAGE_LOCALE, Object.assign({ year: "numeric", month: "2-digit", day: "2-digit" }, opts));
}
function localiseTimes(root) {
  for (const el of (root || document).querySelectorAll("time[data-local]")) {
    el.textContent = localTime(el.getAttribute("datetime"), el.dataset.local);
  }
}
localiseTimes();

// A webcam widget: start, snapshot (JPEG Blob handed to onSnapshot), stop.
function setupCamera(root, onSnapshot) {
  if (!root) return;
  const video = root.querySelector("video");
  const start = root.querySelector("[data-camera-start]");
  const snap = root.querySelector("[data-camera-snap]");
  const stop = root.querySelector("[data-camera-stop]");
  const error = root.querySelector("[data-camera-error]");
  let stream = null;
  const show = (on) => {
    video.hidden = !on; snap.hidden = !on; stop.hidden = !on; start.hidden = on;
  };
  start.addEventListener("click", async () => {
    error.hidden = true;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: { width: 1280, height: 720 } });
      video.srcObject = stream;
      await video.play();
      show(true);
    } catch (e) {
      error.hidden = false;
    }
  });
  snap.addEventListener("click", () => {
    const canvas = document.createElement("canvas");
    canvas.width = video.videoWidth; canvas.height = video.videoHeight;
    canvas.getContext("2d").drawImage(video, 0, 0);
    canvas.toBlob((blob) => blob && onSnapshot(blob), "image/jpeg", 0.92);
  });
  stop.addEventListener("click", () => {
    if (stream) stream.getTracks().forEach((track) => track.stop());
    stream = null;
    show(false);
  });
}

function setStatus(text, isError) {
  const status = document.getElementById("status");
  if (!status) return;
  status.textContent = text;
  status.classList.toggle("error", !!isError);
}

// A camera's live picture, shared by /live and a door's page. Switching cameras makes a new
// <img> (an old one would keep showing the previous camera's last frame until the new one
// sends a frame, which a broken camera never does); it is shown once its first frame arrived.
function streamPicture(name, id) {
  const img = document.createElement("img");
  if (id) img.id = id;
  img.alt = "";
  img.hidden = true;
  img.dataset.stream = name;
  const shown = () => { if (img.naturalWidth > 0) img.hidden = false; };
  img.addEventListener("load", shown);
  const timer = setInterval(() => {
    if (!img.isConnected) clearInterval(timer);
    else shown();
  }, 250);
  img.src = "/streams/" + encodeURIComponent(name) + "/mjpeg";
  return img;
}

function stopStreamPicture(img) {
  if (!img) return;
  img.removeAttribute("src");  // closes the MJPEG connection: one viewer fewer
  img.remove();
}

// A live stream's trouble (an entry of /api/v1/live/streams), translated, or null when fine.
function streamTrouble(s) {
  if (!s || !s.error) return null;
  const key = "live.error." + s.error;
  return key in T ? t(key) : (s.error_detail || s.error);
}
