"use strict";
// Live view: the stream list (polled), one stream's MJPEG in an <img> or every stream's in a
// grid, and recognition events from the WebSocket as a running list. The <img>s and the
// WebSocket are same-origin, so the session cookie authenticates them; closing the page ends
// them, and the server then stops drawing (and, for a camera nobody else uses, capturing) a
// few seconds later.
//
// A camera in trouble shows its error (the live manager's code, translated: "file not
// found", "connection refused", ...) instead of a picture, and is never picked by default.
// Switching streams makes a new <img>: an old element would keep showing the previous
// stream's last frame until the new one sends a frame, which a broken camera never does.
(function () {
  const POLL_MS = 2000;
  const MAX_EVENTS = 50;
  const body = document.querySelector("#streams tbody");
  const box = document.getElementById("video-box");
  const watching = document.getElementById("watching");
  const videoError = document.getElementById("video-error");
  const videoWait = document.getElementById("video-wait");
  const grid = document.getElementById("grid");
  const single = document.getElementById("single");
  const list = document.getElementById("events");
  const status = document.getElementById("events-status");
  const params = new URLSearchParams(location.search);
  let selected = params.get("stream");
  let mode = params.get("view") === "grid" ? "grid" : "single";
  let streams = [];

  function cell(text) {
    const td = document.createElement("td");
    td.textContent = text;
    return td;
  }

  const trouble = streamTrouble;  // app.js: shared with a door's page
  const picture = streamPicture;
  const stopPicture = stopStreamPicture;

  function stateText(s) {
    if (trouble(s)) return t("live.state.error");
    return s.state ? t("live.state." + s.state) : t("live.state.running");
  }

  function watch(name) {
    selected = name;
    stopPicture(document.getElementById("video"));
    box.appendChild(picture(name, "video"));
    watching.textContent = t("live.watching") + ": " + name;
    showSingleState();
    for (const row of body.rows) row.classList.toggle("on", row.dataset.stream === name);
  }

  function showSingleState() {
    const s = streams.find((x) => x.name === selected);
    const img = document.getElementById("video");
    const problem = s ? trouble(s) : null;
    videoError.hidden = !problem;
    videoError.textContent = problem ? t("live.camera_error", { error: problem }) : "";
    if (img && problem) img.classList.add("broken");
    if (img && !problem) img.classList.remove("broken");
    videoWait.hidden = !!problem || !img || !img.hidden;
  }

  // The default stream: a running one first, then one that is only idle; never a broken one.
  function pickDefault() {
    const fine = streams.filter((s) => !trouble(s));
    const running = fine.find((s) => !s.state || s.state === "running");
    return (running || fine[0] || {}).name || null;
  }

  function renderTable() {
    body.replaceChildren();
    for (const s of streams) {
      const row = document.createElement("tr");
      row.dataset.stream = s.name;
      if (s.name === selected) row.className = "on";
      const state = cell(stateText(s));
      state.className = trouble(s) ? "state bad" : "state";
      if (trouble(s)) state.title = trouble(s);
      row.append(
        cell(s.name),
        cell(t("live.kind." + s.kind)),
        state,
        cell(s.fps.toFixed(1)),
        cell(s.latency_ms_p50.toFixed(0) + " / " + s.latency_ms_p95.toFixed(0)),
        cell(String(s.dropped_replaced + s.dropped_stale)),
        cell(String(s.viewers)),
      );
      const action = document.createElement("td");
      const button = document.createElement("button");
      button.type = "button";
      button.className = "secondary";
      button.textContent = t("live.watch");
      button.addEventListener("click", () => { setMode("single"); watch(s.name); });
      action.appendChild(button);
      row.appendChild(action);
      body.appendChild(row);
    }
    document.getElementById("no-streams").hidden = streams.length > 0;
  }

  function renderGrid() {
    const names = new Set(streams.map((s) => s.name));
    for (const tile of Array.from(grid.children)) {
      if (!names.has(tile.dataset.stream)) { stopPicture(tile.querySelector("img")); tile.remove(); }
    }
    for (const s of streams) {
      let tile = grid.querySelector('figure[data-stream="' + CSS.escape(s.name) + '"]');
      if (!tile) {
        tile = document.createElement("figure");
        tile.className = "tile";
        tile.dataset.stream = s.name;
        const caption = document.createElement("figcaption");
        const name = document.createElement("strong");
        name.className = "name";
        name.textContent = s.name;
        const state = document.createElement("span");
        state.className = "state";
        caption.append(name, " ", state);
        const error = document.createElement("p");
        error.className = "error tile-error";
        const frame = document.createElement("div");
        frame.className = "tile-frame";
        frame.appendChild(picture(s.name));
        tile.append(caption, frame, error);
        tile.addEventListener("click", () => { setMode("single"); watch(s.name); });
        grid.appendChild(tile);
      }
      const problem = trouble(s);
      tile.classList.toggle("broken", !!problem);
      tile.dataset.state = problem ? "error" : (s.state || "running");
      tile.querySelector(".state").textContent = t("live.kind." + s.kind) + " · " + stateText(s);
      const error = tile.querySelector(".tile-error");
      error.textContent = problem ? t("live.camera_error", { error: problem }) : "";
      error.hidden = !problem;
    }
  }

  function setMode(next) {
    mode = next;
    const isGrid = mode === "grid";
    document.getElementById("mode-grid").classList.toggle("on", isGrid);
    document.getElementById("mode-single").classList.toggle("on", !isGrid);
    document.getElementById("mode-grid").setAttribute("aria-pressed", String(isGrid));
    document.getElementById("mode-single").setAttribute("aria-pressed", String(!isGrid));
    grid.hidden = !isGrid;
    single.hidden = isGrid;
    if (isGrid) {
      stopPicture(document.getElementById("video"));  // the grid has its own pictures
      renderGrid();
    } else {
      for (const img of grid.querySelectorAll("img")) stopPicture(img);
      grid.replaceChildren();
    }
  }

  async function refresh() {
    try {
      streams = (await api("/api/v1/live/streams")).streams;
    } catch (e) {
      return;
    }
    renderTable();
    if (mode === "grid") { renderGrid(); return; }
    const chosen = streams.some((s) => s.name === selected) ? selected : pickDefault();
    if (chosen && (chosen !== selected || !document.getElementById("video"))) watch(chosen);
    else showSingleState();
  }

  function showEvent(e) {
    const item = document.createElement("li");
    item.className = e.person ? "known" : "unknown";
    const who = document.createElement("strong");
    who.textContent = e.person ? e.person.name : t("live.unknown");
    item.append(localTime(e.at, "time") + " · " + e.stream + " #" + e.track_id + " · ");
    item.appendChild(who);
    if (e.person) item.append(" · " + t("live.similarity") + " " + e.similarity.toFixed(2));
    list.prepend(item);
    while (list.children.length > MAX_EVENTS) list.lastElementChild.remove();
    status.hidden = true;
  }

  // The id of the last event shown: after a drop the page reconnects with ?after=<id> and
  // the server first sends what it missed (none lost, none twice; docs/api.md).
  let lastId = null;

  function connect() {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    const after = lastId === null ? "" : "?after=" + encodeURIComponent(lastId);
    const socket = new WebSocket(scheme + location.host + "/ws/events" + after);
    socket.onmessage = (message) => {
      const e = JSON.parse(message.data);
      if (typeof e.id === "number") lastId = e.id;
      showEvent(e);
    };
    socket.onclose = () => {
      status.textContent = t("live.disconnected");
      status.hidden = false;
      setTimeout(connect, 3000);
    };
  }

  document.getElementById("mode-grid").addEventListener("click", () => setMode("grid"));
  document.getElementById("mode-single").addEventListener("click", () => {
    setMode("single");
    refresh();
  });
  setMode(mode);
  refresh();
  setInterval(refresh, POLL_MS);
  connect();
})();
