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

// Calls the same /api/v1 an integrator uses. The session cookie authenticates; the extra
// header proves the call comes from our own page (a cross-site form cannot add it).
async function api(path, options) {
  const opts = Object.assign({ credentials: "same-origin" }, options || {});
  opts.headers = Object.assign({ "X-Facegate-Page": "1" }, opts.headers || {});
  const response = await fetch(path, opts);
  if (response.status === 204) return null;
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    const error = (body && body.error) || { code: "http_" + response.status, message: response.statusText };
    throw Object.assign(new Error(error.message), { code: error.code, status: response.status });
  }
  return body;
}

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
