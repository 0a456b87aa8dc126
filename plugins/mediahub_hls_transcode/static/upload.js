// Upload page: init, POST the file to the presigned URL (with progress), complete, poll status.
(function () {
  "use strict";
  var form = document.getElementById("upload-form");
  var uploadBar = document.getElementById("upload-progress");
  var processingBar = document.getElementById("processing-progress");
  var statusLine = document.getElementById("upload-status");
  var errorLine = document.getElementById("upload-error");
  var button = document.getElementById("upload-button");

  function extension(file) {
    var dot = file.name.lastIndexOf(".");
    return dot < 0 ? "" : file.name.slice(dot + 1).toLowerCase();
  }

  function fail(message) {
    errorLine.textContent = message;
    errorLine.hidden = false;
    button.disabled = false;
  }

  async function json(response) {
    var body = await response.json().catch(function () { return {}; });
    if (!response.ok) throw new Error((body.error && body.error.message) || ("HTTP " + response.status));
    return body;
  }

  // Like a browser POST to S3: the policy fields first, then the file (S3 answers XML:
  // mediahub.upload then reports the HTTP status).
  function postForm(url, fields, file, bar) {
    var data = new FormData();
    Object.keys(fields).forEach(function (name) { data.append(name, fields[name]); });
    data.append("file", file);
    return window.mediahub.upload(url, data, {progress: bar});
  }

  async function poll(trackId) {
    for (;;) {
      var status = await json(await window.mediahub.fetch("/tracks/upload/status/" + trackId));
      processingBar.value = status.progress;
      if (status.status === "completed") { statusLine.textContent = "Ready — it is in your tracks."; return; }
      if (status.status === "failed") throw new Error("Processing failed: " + status.error);
      statusLine.textContent = "Processing… " + Math.round(status.progress) + "%";
      await new Promise(function (done) { setTimeout(done, 700); });
    }
  }

  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    errorLine.hidden = true;
    var file = document.getElementById("file").files[0];
    var artwork = document.getElementById("artwork").files[0];
    if (!file) return fail("Pick an audio file first.");
    button.disabled = true;
    uploadBar.value = 0;
    processingBar.value = 0;
    try {
      statusLine.textContent = "Preparing…";
      var request = {title: document.getElementById("title").value,
                     artist_name: document.getElementById("artist").value,
                     file_extension: extension(file), file_size: file.size};
      if (artwork) request.artwork_extension = extension(artwork);
      var init = await json(await window.mediahub.fetch("/tracks/upload/init", {
        method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(request)}));
      statusLine.textContent = "Uploading…";
      await postForm(init.audio_upload_url, init.audio_upload_fields, file, uploadBar);
      if (artwork && init.artwork_upload_url) {
        await postForm(init.artwork_upload_url, init.artwork_upload_fields, artwork, null);
      }
      await json(await window.mediahub.fetch("/tracks/upload/complete", {
        method: "POST", headers: {"Content-Type": "application/json"},
        body: JSON.stringify({track_id: init.track_id})}));
      statusLine.textContent = "Processing…";
      await poll(init.track_id);
      button.disabled = false;
    } catch (error) {
      fail(error.message);
    }
  });
})();
