"use strict";
// The review page: assign a face snapshot to a person (the server enrols it after the same
// checks as an uploaded photo) or mark a recognised name as wrong, each through
// /api/v1/review; the row shows the result without a reload.
(function () {
  function mark(row, text, ok) {
    const slot = row.querySelector(".mark");
    const chip = document.createElement("span");
    chip.className = "chip " + (ok ? "ok" : "bad");
    chip.textContent = text;
    slot.replaceChildren(chip);
  }

  for (const row of document.querySelectorAll(".rev-row")) {
    const id = row.dataset.event;
    const assign = row.querySelector(".assign");
    if (assign) {
      assign.addEventListener("click", async () => {
        const select = row.querySelector(".assign-to");
        if (!select.value) { setStatus(t("rev.pick_person"), true); return; }
        const name = select.options[select.selectedIndex].textContent;
        if (!window.confirm(t("rev.confirm_assign", { name: name }))) return;
        assign.disabled = true;
        try {
          await api("/api/v1/review/events/" + id + "/assign", {
            method: "POST",
            headers: { "Content-Type": "application/json" },
            body: JSON.stringify({ person_id: Number(select.value) }),
          });
          mark(row, t("rev.assigned", { name: name }), true);
          setStatus(t("rev.assigned", { name: name }));
        } catch (error) {
          setStatus(t("error") + ": " + error.message, true);
        } finally {
          assign.disabled = false;
        }
      });
    }
    const wrong = row.querySelector(".wrong-name");
    if (wrong) {
      wrong.addEventListener("click", async () => {
        if (!window.confirm(t("rev.confirm_wrong"))) return;
        try {
          await api("/api/v1/review/events/" + id + "/wrong-name", { method: "POST" });
          mark(row, t("rev.wrong"), false);
        } catch (error) {
          setStatus(t("error") + ": " + error.message, true);
        }
      });
    }
  }
})();
