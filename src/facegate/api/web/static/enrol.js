"use strict";
// Enrol: create the person (unless adding to one), then upload every photo and snapshot in
// one multipart request and show what happened to each.
(function () {
  const form = document.getElementById("enrol-form");
  const snapshots = [];
  const strip = document.getElementById("snapshots");

  setupCamera(form.querySelector("[data-camera]"), (blob) => {
    snapshots.push(blob);
    const img = document.createElement("img");
    img.src = URL.createObjectURL(blob);
    strip.appendChild(img);
  });

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const files = Array.from(document.getElementById("photos").files);
    if (files.length + snapshots.length === 0) {
      setStatus(t("enrol.need_photo"), true);
      return;
    }
    const button = document.getElementById("enrol-submit");
    button.disabled = true;
    setStatus(t("enrol.working"));
    let personId = form.dataset.person ? Number(form.dataset.person) : null;
    const created = personId === null;
    let enrolled = false;
    try {
      if (created) {
        const externalId = document.getElementById("external_id").value.trim();
        const person = await api("/api/v1/people", {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({
            name: document.getElementById("name").value.trim(),
            external_id: externalId || null,
          }),
        });
        personId = person.id;
        showWarnings(person.warnings || []);
      } else {
        showWarnings([]);
      }
      const data = new FormData();
      files.forEach((file) => data.append("images", file, file.name));
      snapshots.forEach((blob, i) => data.append("images", blob, "snapshot-" + (i + 1) + ".jpg"));
      const result = await api("/api/v1/people/" + personId + "/faces", { method: "POST", body: data });
      enrolled = result.accepted > 0;
      showResults(result.images);
      if (result.accepted === 0 && created) {
        await api("/api/v1/people/" + personId, { method: "DELETE" });
        setStatus(t("enrol.none"), true);
      } else {
        setStatus(t("enrol.done", { n: result.accepted, total: result.images.length }));
        const link = document.getElementById("person-link");
        link.href = "/people/" + personId;
        link.hidden = false;
      }
    } catch (error) {
      // A person created here but left without a face (the upload failed) is removed again.
      if (created && personId !== null && !enrolled) {
        await api("/api/v1/people/" + personId, { method: "DELETE" }).catch(() => null);
      }
      setStatus(t("error") + ": " + error.message, true);
    } finally {
      button.disabled = false;
    }
  });

  function showResults(images) {
    const table = document.getElementById("results");
    const body = table.querySelector("tbody");
    body.replaceChildren();
    for (const image of images) {
      const row = body.insertRow();
      row.insertCell().textContent = image.image;
      const outcome = row.insertCell();
      outcome.textContent = t("outcome." + image.outcome);
      outcome.className = image.outcome === "accepted" ? "ok" : "bad";
      const reasons = row.insertCell();
      reasons.textContent = (image.reasons || []).map(reasonText).filter(Boolean).join("; ");
      for (const w of image.warnings || []) {
        const note = document.createElement("div");
        note.className = "warn";
        note.dataset.code = w.code;
        note.textContent = warningText(w);
        reasons.appendChild(note);
      }
    }
    table.hidden = false;
  }

  function showWarnings(warnings) {
    const list = document.getElementById("warnings");
    list.replaceChildren(...warnings.map((w) => {
      const item = document.createElement("li");
      item.dataset.code = w.code;
      item.textContent = warningText(w);
      return item;
    }));
    list.hidden = warnings.length === 0;
  }
})();
