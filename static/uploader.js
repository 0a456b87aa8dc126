// mediahub's one uploader: POST a FormData with upload progress, for every page that uploads.
// XHR, because fetch cannot report upload progress. Use:
//   mediahub.upload(url, formData, {progress: <progress> element, onProgress: fn(percent)})
//     -> Promise of the parsed JSON answer (null when the answer is not JSON, e.g. S3's),
//        rejected with an Error whose message is the server's `error.message` when it sent one.
(function () {
  "use strict";

  function parsed(text) {
    try { return JSON.parse(text); } catch (e) { return null; }
  }

  function upload(url, form, options) {
    options = options || {};
    var bar = options.progress || null;
    var sameOrigin = url.charAt(0) === "/";
    return new Promise(function (resolve, reject) {
      var xhr = new XMLHttpRequest();
      xhr.open("POST", url);
      // The host never reads a streamed body for the CSRF token: it travels in the header.
      // Only our own host gets it (the session cookie goes there); a presigned S3 URL must not.
      if (sameOrigin) xhr.setRequestHeader("X-CSRF-Token", window.mediahub.csrfToken());
      if (bar) { bar.hidden = false; bar.value = 0; }
      xhr.upload.addEventListener("progress", function (event) {
        if (!event.lengthComputable) return;
        var percent = Math.round(event.loaded / event.total * 100);
        if (bar) bar.value = percent;
        if (options.onProgress) options.onProgress(percent);
      });
      xhr.addEventListener("load", function () {
        var body = parsed(xhr.responseText);
        if (xhr.status >= 200 && xhr.status < 300) {
          if (bar) bar.value = 100;
          resolve(body);
          return;
        }
        var error = new Error((body && body.error && body.error.message) ||
                              "upload refused (HTTP " + xhr.status + ")");
        error.status = xhr.status;
        reject(error);
      });
      xhr.addEventListener("error", function () {
        reject(new Error("the upload was interrupted (network)"));
      });
      xhr.send(form);
    });
  }

  window.mediahub = Object.assign(window.mediahub || {}, { upload: upload });
})();
