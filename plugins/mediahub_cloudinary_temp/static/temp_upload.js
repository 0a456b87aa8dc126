// The page that shares a song with one of your parties (the party is picked from a list, never
// typed as an id): upload with progress (mediahub.upload), then play and delete.
(function () {
  "use strict";
  var form = document.getElementById("temp-upload-form");
  if (!form) return;
  var progress = document.getElementById("temp-upload-progress");
  var statusText = document.getElementById("temp-upload-status");
  var errorBox = document.getElementById("temp-upload-error");
  var result = document.getElementById("temp-upload-result");
  var player = document.getElementById("temp-upload-player");
  var publicIdText = document.getElementById("temp-upload-public-id");
  var expiresText = document.getElementById("temp-upload-expires");
  var deleteButton = document.getElementById("temp-upload-delete");
  var current = null;

  function showError(message) {
    errorBox.textContent = message;
    errorBox.hidden = false;
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    errorBox.hidden = true;
    var data = new FormData();
    // Fields before the file: the server knows the session before the bytes arrive.
    data.append("sessionId", form.elements.sessionId.value);
    data.append("songTitle", form.elements.songTitle.value);
    data.append("audio", form.elements.audio.files[0]);
    window.mediahub.upload("/api/temp-upload/upload-temp", data, {
      progress: progress,
      onProgress: function (percent) {
        statusText.textContent = "Uploading song for the party… " + percent + "%";
      }
    }).then(function (uploaded) {
      current = uploaded;
      statusText.textContent = "Uploaded: the party can play it now";
      player.src = current.url;
      publicIdText.textContent = current.publicId;
      expiresText.textContent = new Date(current.expiresAt).toLocaleString();
      result.hidden = false;
    }, function (error) {
      statusText.textContent = "";
      showError(error.message);
    });
  });

  deleteButton.addEventListener("click", function () {
    if (!current) return;
    window.mediahub.fetch("/api/temp-upload/temp/" + encodeURIComponent(current.publicId),
      { method: "DELETE" }).then(function (response) {
      if (response.ok) {
        player.removeAttribute("src");
        result.hidden = true;
        statusText.textContent = "Deleted";
        current = null;
      } else {
        response.json().then(function (body) { showError(body.error.message); });
      }
    });
  });
})();
