// /attendance/schedule: the calendar and the shifts, edited through the same
// /api/v1/attendance/calendar and /api/v1/attendance/shifts an integrator uses; after a change
// the page reloads (the server renders the lists, one place for how they look).
"use strict";

(function () {
  const status = document.getElementById("sch-status");
  const shiftForm = document.getElementById("sch-shift-form");
  const saveButton = document.getElementById("sch-shift-save");
  const cancel = document.getElementById("sch-shift-cancel");

  function fail(e) {
    status.textContent = t("sch.error", { message: e.message });
    status.className = "hint bad";
  }

  async function change(path, method, body) {
    status.textContent = "";
    status.className = "hint";
    try {
      const options = { method: method };
      if (body !== undefined) {
        options.headers = { "Content-Type": "application/json" };
        options.body = JSON.stringify(body);
      }
      await api(path, options);
    } catch (e) {
      fail(e);
      return;
    }
    location.reload();
  }

  document.getElementById("sch-day-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const data = new FormData(event.target);
    change("/api/v1/attendance/calendar/" + encodeURIComponent(String(data.get("date"))), "PUT",
      { kind: data.get("kind"), name: String(data.get("name") || "").trim() });
  });

  for (const button of document.querySelectorAll(".sch-remove-day")) {
    button.addEventListener("click", () => {
      const day = button.closest("tr").dataset.date;
      if (!confirm(t("sch.confirm_day", { date: day }))) return;
      change("/api/v1/attendance/calendar/" + encodeURIComponent(day), "DELETE");
    });
  }

  function editing(row) {
    shiftForm.dataset.id = row ? row.dataset.id : "";
    saveButton.textContent = row ? saveButton.dataset.save : saveButton.dataset.add;
    cancel.hidden = !row;
    if (!row) return;
    shiftForm.elements.name.value = row.dataset.name;
    shiftForm.elements.start.value = row.dataset.start;
    shiftForm.elements.end.value = row.dataset.end;
    const days = row.dataset.days.split(",");
    for (const box of shiftForm.querySelectorAll("input[name=days]")) {
      box.checked = days.includes(box.value);
    }
    shiftForm.scrollIntoView({ block: "nearest" });
    shiftForm.elements.name.focus();
  }

  for (const button of document.querySelectorAll(".sch-edit")) {
    button.addEventListener("click", () => editing(button.closest("tr")));
  }
  cancel.addEventListener("click", () => editing(null));

  for (const button of document.querySelectorAll(".sch-remove-shift")) {
    button.addEventListener("click", () => {
      const row = button.closest("tr");
      if (!confirm(t("sch.confirm_shift", { name: row.dataset.name }))) return;
      change("/api/v1/attendance/shifts/" + row.dataset.id, "DELETE");
    });
  }

  shiftForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const data = new FormData(shiftForm);
    const body = {
      name: String(data.get("name") || "").trim(),
      start: data.get("start"),
      end: data.get("end"),
      days: data.getAll("days").map(Number),
    };
    const id = shiftForm.dataset.id;
    if (id) change("/api/v1/attendance/shifts/" + id, "PUT", body);
    else change("/api/v1/attendance/shifts", "POST", body);
  });

  const assign = document.getElementById("sch-assign-form");
  if (assign) {
    assign.addEventListener("submit", (event) => {
      event.preventDefault();
      const data = new FormData(assign);
      const person = String(data.get("person_id") || "").trim();
      const group = String(data.get("group") || "").trim();
      if (!person === !group) {
        status.textContent = t("sch.person_or_group");
        status.className = "hint bad";
        return;
      }
      const body = person ? { person_id: Number(person) } : { group: group };
      change("/api/v1/attendance/shifts/" + data.get("shift") + "/assign", "PUT", body);
    });
  }
})();
