"use strict";
// Live view: the stream list (polled), one stream's MJPEG in an <img>, and recognition events
// from the WebSocket as a running list. The <img> and the WebSocket are same-origin, so the
// session cookie authenticates both; closing the page ends both, and the server then stops
// drawing (and, for a camera nobody else uses, capturing) a few seconds later.
(function () {
  const POLL_MS = 2000;
  const MAX_EVENTS = 50;
  const body = document.querySelector("#streams tbody");
  const video = document.getElementById("video");
  const watching = document.getElementById("watching");
  const list = document.getElementById("events");
  const status = document.getElementById("events-status");
  let selected = new URLSearchParams(location.search).get("stream");

  function cell(text) {
    const td = document.createElement("td");
    td.textContent = text;
    return td;
  }

  function watch(name) {
    selected = name;
    video.src = "/streams/" + encodeURIComponent(name) + "/mjpeg";
    video.hidden = false;
    watching.textContent = t("live.watching") + ": " + name;
  }

  async function refresh() {
    let data;
    try {
      data = await api("/api/v1/live/streams");
    } catch (e) {
      return;
    }
    const streams = data.streams;
    body.replaceChildren();
    for (const s of streams) {
      const row = document.createElement("tr");
      row.dataset.stream = s.name;
      if (s.name === selected) row.className = "on";
      row.append(
        cell(s.name),
        cell(t("live.kind." + s.kind)),
        cell(s.state ? t("live.state." + s.state) : "—"),
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
      button.addEventListener("click", () => watch(s.name));
      action.appendChild(button);
      row.appendChild(action);
      body.appendChild(row);
    }
    document.getElementById("no-streams").hidden = streams.length > 0;
    if (!selected && streams.length > 0) watch(streams[0].name);
    else if (selected && video.hidden && streams.some((s) => s.name === selected)) watch(selected);
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

  function connect() {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    const socket = new WebSocket(scheme + location.host + "/ws/events");
    socket.onmessage = (message) => showEvent(JSON.parse(message.data));
    socket.onclose = () => {
      status.textContent = t("live.disconnected");
      status.hidden = false;
      setTimeout(connect, 3000);
    };
  }

  refresh();
  setInterval(refresh, POLL_MS);
  connect();
})();
