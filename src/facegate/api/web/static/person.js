"use strict";
// A person's page: rename, merge into another person, delete the person, remove one face.
(function () {
  const section = document.getElementById("person");
  const id = section.dataset.id;
  const message = document.getElementById("message");
  const fail = (error) => {
    notice.hidden = true;
    message.textContent = t("error") + ": " + error.message;
    message.hidden = false;
  };

  document.getElementById("delete-person").addEventListener("click", async () => {
    if (!window.confirm(t("person.confirm"))) return;
    try {
      await api("/api/v1/people/" + id, { method: "DELETE" });
      window.location.assign("/people");
    } catch (error) { fail(error); }
  });

  const notice = document.getElementById("notice");
  const say = (text) => { message.hidden = true; notice.textContent = text; notice.hidden = false; };

  document.getElementById("rename-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const name = document.getElementById("new-name").value.trim();
    try {
      const person = await api("/api/v1/people/" + id, {
        method: "PATCH",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ name: name }),
      });
      document.getElementById("person-name").textContent = person.name;
      section.dataset.name = person.name;
      say([t("person.renamed")].concat((person.warnings || []).map(warningText)).join(" "));
    } catch (error) { fail(error); }
  });

  // The merge target: an id typed in, or "Name (id N)" picked from the suggestions.
  const into = document.getElementById("merge-into");
  const candidates = document.getElementById("merge-candidates");
  into.addEventListener("input", async () => {
    const q = into.value.trim();
    if (q.length < 1 || /^\d+$/.test(q) || /\(id \d+\)$/.test(q)) return;
    try {
      const page = await api("/api/v1/people?limit=10&q=" + encodeURIComponent(q));
      candidates.replaceChildren(...page.people.filter((p) => String(p.id) !== id).map((p) => {
        const option = document.createElement("option");
        option.value = p.name + " (id " + p.id + ")";
        return option;
      }));
    } catch (error) { /* suggestions only */ }
  });

  document.getElementById("merge-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const typed = into.value.trim();
    const found = typed.match(/^(\d+)$/) || typed.match(/\(id (\d+)\)$/);
    if (!found) { fail(new Error(t("person.merge_pick"))); return; }
    try {
      const target = await api("/api/v1/people/" + found[1]);
      const question = t("person.merge_confirm", { from: section.dataset.name, into: target.name, id: target.id });
      if (!window.confirm(question.replace("{from}", section.dataset.name))) return;
      await api("/api/v1/people/" + id + "/merge", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ into: target.id }),
      });
      window.location.assign("/people/" + target.id);
    } catch (error) { fail(error); }
  });

  for (const button of document.querySelectorAll(".remove-face")) {
    button.addEventListener("click", async () => {
      if (!window.confirm(t("person.confirm_remove_face"))) return;
      try {
        await api("/api/v1/people/" + id + "/faces/" + button.dataset.template, { method: "DELETE" });
        button.closest("li").remove();
      } catch (error) { fail(error); }
    });
  }
})();
