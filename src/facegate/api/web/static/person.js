"use strict";
// A person's page: delete the person, or remove one enrolled face.
(function () {
  const section = document.getElementById("person");
  const id = section.dataset.id;
  const message = document.getElementById("message");
  const fail = (error) => { message.textContent = t("error") + ": " + error.message; message.hidden = false; };

  document.getElementById("delete-person").addEventListener("click", async () => {
    if (!window.confirm(t("person.confirm"))) return;
    try {
      await api("/api/v1/people/" + id, { method: "DELETE" });
      window.location.assign("/people");
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
