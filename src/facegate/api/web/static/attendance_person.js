// A person's attendance page: add a correction through POST /api/v1/attendance/corrections
// (the time is site time: the server applies the site's zone), then show the day again.
"use strict";

(function () {
  const form = document.getElementById("corr-form");
  const status = document.getElementById("corr-status");
  if (!form) return;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const reason = String(data.get("reason") || "").trim();
    if (!reason) {
      status.textContent = t("att.correct_need_reason");
      status.className = "hint bad";
      return;
    }
    const day = String(data.get("date"));
    status.textContent = t("att.correct_saving");
    status.className = "hint";
    try {
      await api("/api/v1/attendance/corrections", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({
          person_id: Number(form.dataset.person),
          date: day,
          kind: data.get("kind"),
          at: day + "T" + data.get("time") + ":00",
          reason: reason,
        }),
      });
      const url = new URL(window.location.href);
      url.searchParams.set("date", day);
      window.location.assign(url.toString());
    } catch (e) {
      status.textContent = t("att.correct_error", { message: e.message });
      status.className = "hint bad";
    }
  });
})();
