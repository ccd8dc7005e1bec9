"use strict";
// A door's page: the chosen camera's MJPEG in an <img> with the door's decisions drawn over
// it (boxes from the events of the last few seconds, green granted, red denied), and the
// list of recent decisions with snapshots, refreshed from /api/v1/access/events.
// The picture is app.js's streamPicture, as on /live: a new <img> per camera switch (never the
// previous camera's last frame), and a camera in trouble (/api/v1/live/streams) shows its
// error instead of a picture.
(function () {
  const POLL_MS = 1500;
  const OVERLAY_S = 4;
  const MAX_ITEMS = 30;
  const root = document.getElementById("door");
  const door = root.dataset.door;
  const view = document.querySelector(".door-view");
  const videoError = document.getElementById("door-video-error");
  const overlay = document.getElementById("door-overlay");
  const list = document.getElementById("door-events");
  const empty = document.getElementById("door-empty");
  const buttons = Array.from(document.querySelectorAll(".door-cams .cam"));
  const SVG = "http://www.w3.org/2000/svg";
  let camera = buttons.length ? buttons[0].dataset.camera : null;
  let lastId = Math.max(0, ...Array.from(list.children).map((li) => Number(li.dataset.id)));
  let recent = [];
  let streams = [];
  let picked = false;  // the viewer clicked a camera: keep it, even a broken one

  function watch(name) {
    camera = name;
    for (const b of buttons) b.classList.toggle("on", b.dataset.camera === name);
    stopStreamPicture(document.getElementById("door-video"));
    view.prepend(streamPicture(name, "door-video"));
    showState();
    draw();
  }

  function showState() {
    const problem = streamTrouble(streams.find((s) => s.name === camera));
    videoError.hidden = !problem;
    videoError.textContent = problem ? t("live.camera_error", { error: problem }) : "";
    const img = document.getElementById("door-video");
    if (img) img.classList.toggle("broken", !!problem);
  }

  async function refreshStreams() {
    try {
      streams = (await api("/api/v1/live/streams")).streams;
    } catch (e) {
      return;
    }
    showState();
    avoidBroken();
  }

  // Never stay on a broken camera nobody picked: the first door camera that works instead.
  function avoidBroken() {
    if (picked || !streamTrouble(streams.find((s) => s.name === camera))) return;
    const fine = buttons.map((b) => b.dataset.camera).find((name) => {
      const s = streams.find((x) => x.name === name);
      return s && !streamTrouble(s);
    });
    if (fine) watch(fine);
  }

  function label(e) {
    const who = e.person ? e.person.name : t("acc.unknown");
    return who + " · " + t("acc." + e.decision) + " · " + t("acc.reason." + e.reason);
  }

  function draw() {
    overlay.replaceChildren();
    const now = Date.now();
    for (const e of recent) {
      if (e.camera !== camera || !e.box || now - Date.parse(e.at) > OVERLAY_S * 1000) continue;
      const [x, y, w, h, fw, fh] = e.box;
      overlay.setAttribute("viewBox", "0 0 " + fw + " " + fh);
      const g = document.createElementNS(SVG, "g");
      g.setAttribute("class", e.decision);
      const rect = document.createElementNS(SVG, "rect");
      rect.setAttribute("x", x); rect.setAttribute("y", y);
      rect.setAttribute("width", w); rect.setAttribute("height", h);
      const text = document.createElementNS(SVG, "text");
      text.setAttribute("x", x); text.setAttribute("y", Math.max(14, y - 6));
      text.textContent = label(e);
      g.append(rect, text);
      overlay.appendChild(g);
    }
  }

  function item(e) {
    const li = document.createElement("li");
    li.className = e.decision;
    li.dataset.id = e.id;
    const snap = document.createElement(e.snapshot_url ? "img" : "span");
    snap.className = "snap";
    if (e.snapshot_url) { snap.src = e.snapshot_url; snap.alt = ""; }
    const text = document.createElement("div");
    const who = document.createElement("strong");
    who.textContent = e.person ? e.person.name : t("acc.unknown");
    const decision = document.createElement("span");
    decision.className = "decision";
    decision.textContent = t("acc." + e.decision);
    const reason = document.createElement("span");
    reason.className = "reason";
    reason.textContent = t("acc.reason." + e.reason);
    const meta = document.createElement("span");
    meta.className = "meta";
    const parts = [localTime(e.at, "time"), e.camera, e.direction];
    if (e.score !== null) parts.push(e.score.toFixed(2));
    meta.textContent = parts.join(" · ");
    text.append(who, " ", decision, " · ", reason, document.createElement("br"), meta);
    li.append(snap, text);
    return li;
  }

  async function refresh() {
    let data;
    try {
      data = await api("/api/v1/access/events?limit=" + MAX_ITEMS + "&door=" + encodeURIComponent(door));
    } catch (e) {
      return;
    }
    recent = data.events;
    for (const e of recent.slice().reverse()) {
      if (e.id > lastId) {
        list.prepend(item(e));
        lastId = e.id;
      }
    }
    while (list.children.length > MAX_ITEMS) list.lastElementChild.remove();
    empty.hidden = list.children.length > 0;
    draw();
  }

  for (const b of buttons) {
    b.addEventListener("click", () => { picked = true; watch(b.dataset.camera); });
  }
  if (camera) watch(camera);
  refresh();
  refreshStreams();
  setInterval(refresh, POLL_MS);
  setInterval(refreshStreams, POLL_MS);
})();
