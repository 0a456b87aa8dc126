// /party: start a party or join one by code; /party/<code> before joining: pick a name.
(function () {
  "use strict";
  var error = document.getElementById("party-error");
  function fail(message) { if (error) { error.textContent = message; error.hidden = false; } }
  async function answer(response) {
    var body = await response.json().catch(function () { return {}; });
    if (!response.ok) throw new Error((body.error && body.error.message) || response.statusText);
    return body;
  }
  var codeForm = document.getElementById("join-code-form");
  if (codeForm) codeForm.addEventListener("submit", function (event) {
    event.preventDefault();
    var code = document.getElementById("join-code").value.trim().toUpperCase();
    if (code) location.href = "/party/" + encodeURIComponent(code);
  });
  var createForm = document.getElementById("create-form");
  if (createForm) createForm.addEventListener("submit", async function (event) {
    event.preventDefault();
    try {
      var party = await answer(await window.mediahub.fetch("/api/parties", {
        method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ name: createForm.elements.name.value }) }));
      location.href = party.url;
    } catch (e) { fail(e.message); }
  });
  var joinForm = document.getElementById("join-form");
  if (joinForm) joinForm.addEventListener("submit", async function (event) {
    event.preventDefault();
    var code = document.getElementById("party").dataset.code;
    try {
      await answer(await window.mediahub.fetch("/api/parties/" + code + "/join", {
        method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ display_name: document.getElementById("display-name").value }) }));
      location.reload();
    } catch (e) { fail(e.message); }
  });
})();
