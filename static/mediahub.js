// mediahub page helpers: a fetch that carries the CSRF token, for plugins' scripts.
(function () {
  "use strict";

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  // Same-origin requests with the session cookie must echo the CSRF token (see mediahub.auth).
  function apiFetch(url, options) {
    options = Object.assign({ credentials: "same-origin" }, options || {});
    var headers = new Headers(options.headers || {});
    var method = (options.method || "GET").toUpperCase();
    if (method !== "GET" && method !== "HEAD" && !headers.has("X-CSRF-Token")) {
      headers.set("X-CSRF-Token", csrfToken());
    }
    options.headers = headers;
    return fetch(url, options);
  }

  window.mediahub = Object.assign(window.mediahub || {}, { csrfToken: csrfToken, fetch: apiFetch });
})();
