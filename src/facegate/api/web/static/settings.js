// /settings: save the site settings through PUT /api/v1/settings/site (the same API an
// integrator uses); the server validates and answers the settings in force.
"use strict";

(function () {
  const form = document.getElementById("set-form");
  const status = document.getElementById("set-status");
  const revision = document.getElementById("set-revision");
  if (!form) return;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const body = {
      timezone: String(data.get("timezone") || "").trim(),
      day_start: data.get("day_start"),
      work_start: data.get("work_start"),
      work_end: data.get("work_end"),
      working_days: data.getAll("working_days").map(Number),
      late_grace_minutes: Number(data.get("late_grace_minutes")),
      early_grace_minutes: Number(data.get("early_grace_minutes")),
      leave_margin_minutes: Number(data.get("leave_margin_minutes")),
    };
    status.textContent = t("set.saving");
    status.className = "hint";
    try {
      const saved = await api("/api/v1/settings/site", {
        method: "PUT",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
      });
      status.textContent = t("set.saved", { n: saved.revision });
      status.className = "hint ok";
      revision.textContent = t("set.saved", { n: saved.revision });
    } catch (e) {
      status.textContent = t("set.error", { message: e.message });
      status.className = "hint bad";
    }
  });
})();
