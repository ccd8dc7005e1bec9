"use strict";
// Identify: send one photo (file or snapshot) to /api/v1/identify?annotate=true&format=json
// and show the annotated image the server drew, with the names listed beside it.
(function () {
  const form = document.getElementById("identify-form");
  let snapshot = null;

  setupCamera(form.querySelector("[data-camera]"), (blob) => {
    snapshot = blob;
    identify(blob, "snapshot.jpg");
  });

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const file = document.getElementById("photo").files[0];
    if (file) identify(file, file.name);
    else if (snapshot) identify(snapshot, "snapshot.jpg");
    else setStatus(t("identify.need_photo"), true);
  });

  async function identify(blob, name) {
    const button = document.getElementById("identify-submit");
    button.disabled = true;
    setStatus(t("identify.working"));
    const data = new FormData();
    if (blob) data.append("image", blob, name);
    try {
      const result = await api("/api/v1/identify?annotate=true&format=json", { method: "POST", body: data });
      document.getElementById("annotated").src = "data:image/jpeg;base64," + result.annotated_image;
      const list = document.getElementById("faces");
      list.replaceChildren();
      for (const face of result.faces) {
        const item = document.createElement("li");
        item.className = face.person ? "known" : "unknown";
        const who = document.createElement("strong");
        who.textContent = face.person ? face.person.name : t("identify.unknown");
        item.appendChild(who);
        item.append(" · " + t("identify.similarity") + " " + face.similarity.toFixed(2));
        list.appendChild(item);
      }
      document.getElementById("result").hidden = false;
      setStatus(result.faces.length ? t("identify.found", { n: result.faces.length }) : t("identify.none"));
    } catch (error) {
      setStatus(t("error") + ": " + error.message, true);
    } finally {
      button.disabled = false;
    }
  }
})();
