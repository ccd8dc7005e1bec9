"use strict";
// Liveness check on the enrol and identify pages (docs/liveness.md): ask the server for a
// challenge, show its steps one after the other while recording a few webcam frames a
// second, then send the frames and their times to /api/v1/liveness/verify and show the
// verdict. The server judges everything; the page only prompts and records.
(function () {
  const root = document.querySelector("[data-camera]");
  if (!root) return;
  const video = root.querySelector("video");
  const button = root.querySelector("[data-liveness-start]");
  const prompt = root.querySelector("[data-liveness-prompt]");
  const list = root.querySelector("[data-liveness-steps]");
  const WIDTH = 480;  // frames are scaled down: the landmarks need ~150 px faces, not more

  function grab() {
    const canvas = document.createElement("canvas");
    const scale = Math.min(1, WIDTH / (video.videoWidth || WIDTH));
    canvas.width = Math.round((video.videoWidth || WIDTH) * scale);
    canvas.height = Math.round((video.videoHeight || WIDTH * 0.75) * scale);
    canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
    return canvas.toDataURL("image/jpeg", 0.8);
  }

  function reasonText(reason) {
    const key = "liveness.reason." + reason.replace(/ /g, "_");
    return key in T ? t(key) : reason;
  }

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  function say(text) {
    prompt.hidden = false;
    prompt.textContent = text;
  }

  button.addEventListener("click", async () => {
    list.hidden = true;
    list.replaceChildren();
    if (video.hidden || !video.srcObject) {
      setStatus(t("liveness.need_camera"), true);
      return;
    }
    setStatus("");
    button.disabled = true;
    try {
      const challenge = await api("/api/v1/liveness/challenge", { method: "POST" });
      const steps = challenge.steps;
      const budget = challenge.timeout_s * 1000 * 0.85;  // leave a margin for the clock
      const interval = Math.max(120, budget / challenge.max_frames);
      const frames = [];
      const times = [];
      const started = performance.now();
      const record = async (until) => {
        while (performance.now() - started < until && frames.length < challenge.max_frames) {
          times.push(Math.round(performance.now() - started));
          frames.push(grab());
          await sleep(interval);
        }
      };
      say(t("liveness.ready"));
      await record(budget * 0.12);
      const per = (budget * 0.88) / steps.length;
      for (let i = 0; i < steps.length; i++) {
        say((i + 1) + "/" + steps.length + " · " + t("liveness.step." + steps[i]));
        await record(budget * 0.12 + per * (i + 1));
      }
      say(t("liveness.checking"));
      const result = await api("/api/v1/liveness/verify", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ token: challenge.token, frames: frames, times: times }),
      });
      for (const step of result.steps) {
        const item = document.createElement("li");
        item.className = step.passed ? "passed" : "failed";
        item.textContent = t("liveness.step." + step.step) + " · " +
          t(step.passed ? "liveness.passed" : "liveness.failed");
        list.appendChild(item);
      }
      list.hidden = false;
      const live = result.verdict.state === "live";
      say(live ? t("liveness.live", { n: steps.length })
        : t("liveness.spoof", { reason: reasonText(result.verdict.reason) }));
      prompt.classList.toggle("error", !live);
      root.dataset.liveness = result.verdict.state;  // for scripts and tests
    } catch (error) {
      setStatus(t("error") + ": " + error.message, true);
      prompt.hidden = true;
    } finally {
      button.disabled = false;
    }
  });
})();
