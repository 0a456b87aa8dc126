// The session upload page: XHR (fetch cannot report upload progress), then play and delete.
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

  function errorMessage(xhr) {
    try {
      return JSON.parse(xhr.responseText).error.message;
    } catch (e) {
      return "upload failed (" + xhr.status + ")";
    }
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    errorBox.hidden = true;
    var data = new FormData();
    // Fields before the file: the server knows the session before the bytes arrive.
    data.append("sessionId", form.elements.sessionId.value);
    data.append("songTitle", form.elements.songTitle.value);
    data.append("audio", form.elements.audio.files[0]);
    var xhr = new XMLHttpRequest();
    // Multipart bodies carry the CSRF token in the query string (the body is streamed).
    xhr.open("POST", "/api/temp-upload/upload-temp?csrf_token=" +
      encodeURIComponent(window.mediahub.csrfToken()));
    xhr.setRequestHeader("X-CSRF-Token", window.mediahub.csrfToken());
    progress.hidden = false;
    progress.value = 0;
    xhr.upload.onprogress = function (e) {
      if (e.lengthComputable) {
        var percent = Math.round((e.loaded / e.total) * 100);
        progress.value = percent;
        statusText.textContent = "Uploading song for session… " + percent + "%";
      }
    };
    xhr.onload = function () {
      if (xhr.status !== 200) {
        statusText.textContent = "";
        showError(errorMessage(xhr));
        return;
      }
      current = JSON.parse(xhr.responseText);
      progress.value = 100;
      statusText.textContent = "Uploaded: streaming from the session";
      player.src = current.url;
      publicIdText.textContent = current.publicId;
      expiresText.textContent = new Date(current.expiresAt).toLocaleString();
      result.hidden = false;
    };
    xhr.onerror = function () { showError("the upload was interrupted"); };
    xhr.send(data);
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
