"use strict";
// The access board's forms: each calls the same /api/v1/access an integrator uses (the
// session cookie authenticates), then reloads the page to show the change.
(function () {
  const status = document.getElementById("acc-status");

  function form(id, build) {
    const element = document.getElementById(id);
    if (!element) return;
    element.addEventListener("submit", async (event) => {
      event.preventDefault();
      const data = Object.fromEntries(new FormData(element).entries());
      const [path, body] = build(data);
      try {
        await api(path, {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify(body),
        });
        location.reload();
      } catch (error) {
        status.textContent = t("error") + ": " + error.message;
        status.className = "status error";
      }
    });
  }

  function cameras(text) {
    return text.split(",").map((s) => s.trim()).filter(Boolean).map((s) => {
      const m = s.match(/^(.*):(in|out)$/);
      return m ? { camera: m[1], direction: m[2] } : { camera: s, direction: "in" };
    });
  }

  form("add-door", (d) => ["/api/v1/access/doors", {
    name: d.name, cameras: cameras(d.cameras || ""), liveness: d.liveness, undecided: d.undecided,
  }]);
  form("add-group", (d) => ["/api/v1/access/groups", { name: d.name }]);
  form("add-member", (d) => [
    "/api/v1/access/groups/" + encodeURIComponent(d.group) + "/members",
    { person: /^\d+$/.test(d.person) ? Number(d.person) : d.person },
  ]);
  form("add-rule", (d) => ["/api/v1/access/rules", {
    door: d.door, group: d.group, days: d.days, from: d.from, to: d.to,
  }]);

  for (const button of document.querySelectorAll(".remove-rule")) {
    button.addEventListener("click", async () => {
      if (!window.confirm(t("acc.confirm_remove_rule"))) return;
      try {
        await api("/api/v1/access/rules/" + button.dataset.id, { method: "DELETE" });
        location.reload();
      } catch (error) {
        status.textContent = t("error") + ": " + error.message;
      }
    });
  }
})();
