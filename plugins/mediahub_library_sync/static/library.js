// The /library page: this browser is one device of the user's library.
// It keeps its copy (and the server version it last received) in localStorage, syncs it
// on load, sends each edit with `since`, and refetches when the WebSocket says another
// device changed something. Nothing here asks for an id: items are added where tracks are
// listed (the Music pages' ♥ and ⋯ menu, other apps); collection tracks (`tr-…` ids) are shown
// with their names from the collection (/api/me/library/tracks) when a device stored only the id.
(function () {
  "use strict";

  var root = document.getElementById("library");
  if (!root) return;
  var storeKey = "mediahub.library." + root.dataset.user;
  // Each tab is a device of its own (tabs share localStorage, so they share the copy).
  var sessionId = sessionStorage.getItem("mediahub.library.session");
  if (!sessionId) {
    sessionId = "tab-" + Math.random().toString(36).slice(2, 12);
    sessionStorage.setItem("mediahub.library.session", sessionId);
  }
  var deviceId = sessionId;
  var rendered = null;
  var SECTIONS = ["favorites", "history", "queue", "playlists", "preferences", "recent_searches"];
  var local = readLocal();
  var busy = Promise.resolve();
  var names = {};      // collection track id -> {title, artist}, as the collection names it
  var asked = {};      // ids already looked up (found or not): asked once per page load

  function readLocal() {
    try { return JSON.parse(localStorage.getItem(storeKey)) || null; } catch (e) { return null; }
  }

  function keep(library) {
    local = { since: library.version, library: library };
    localStorage.setItem(storeKey, JSON.stringify(local));
    if (rendered !== library.version) render(library);
  }

  function showError(message) {
    var box = document.getElementById("library-error");
    box.textContent = message || "";
    box.hidden = !message;
  }

  // One request at a time, so every edit carries the version of the answer before it.
  function queueRequest(make) {
    busy = busy.then(make).catch(function (error) { showError(String(error.message || error)); });
    return busy;
  }

  function send(method, url, body) {
    return mediahub.fetch(url, {
      method: method,
      headers: body ? { "Content-Type": "application/json" } : {},
      body: body ? JSON.stringify(body) : undefined,
    }).then(function (response) {
      return response.json().then(function (data) {
        if (!response.ok) throw new Error((data.error && data.error.message) || response.statusText);
        showError("");
        return data;
      });
    });
  }

  function syncAll() {
    return queueRequest(function () {
      if (!local) return send("GET", "/api/me/library").then(keep);
      var body = { since: local.since, device_id: deviceId };
      SECTIONS.forEach(function (name) { body[name] = local.library[name]; });
      return send("POST", "/api/me/library/sync", body).then(keep);
    });
  }

  function refresh() {
    return queueRequest(function () { return send("GET", "/api/me/library").then(keep); });
  }

  // Edit one section of the local copy and send it (merged by the server with `since`).
  function edit(section, change) {
    return queueRequest(function () {
      var copy = JSON.parse(JSON.stringify(local.library[section]));
      copy = change(copy) || copy;
      var body = { since: local.since, device_id: deviceId };
      body[section] = copy;
      var path = "/api/me/" + section.replace("_", "-");
      return send("PUT", path, body).then(keep);
    });
  }

  // -- rendering ---------------------------------------------------------------------------

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      if (key === "text") node.textContent = attrs[key];
      else if (key === "onclick") node.addEventListener("click", attrs[key]);
      else node.setAttribute(key, attrs[key]);
    });
    (children || []).forEach(function (child) { if (child) node.appendChild(child); });
    return node;
  }

  // The collection's name wins: it is the track's current title, the stored one a copy.
  function titleOf(song) {
    var known = names[song.videoId];
    return (known && known.title) || song.title || song.videoId;
  }

  function describe(song) {
    var known = names[song.videoId];
    var artist = (known && known.artist) || song.artist;
    return el("span", { class: "what" }, [
      el("strong", { text: titleOf(song) }),
      artist ? el("span", { class: "who", text: " — " + artist }) : null,
    ]);
  }

  // Look up, 100 at a time, the collection ids not asked about yet; re-render if any had a name.
  function lookUpNames(library) {
    var songs = [].concat(library.favorites, library.queue, library.history);
    library.playlists.forEach(function (p) { songs = songs.concat(p.songs || []); });
    var wanted = [];
    songs.forEach(function (song) {
      var id = song && song.videoId;
      if (typeof id === "string" && id.indexOf("tr-") === 0 && !asked[id]) {
        asked[id] = true;
        wanted.push(id);
      }
    });
    var chunks = [];
    for (var start = 0; start < wanted.length; start += 100) chunks.push(wanted.slice(start, start + 100));
    chunks.forEach(function (chunk) {
      send("GET", "/api/me/library/tracks?ids=" + encodeURIComponent(chunk.join(","))).then(function (answer) {
        if (!answer.tracks.length) return;
        answer.tracks.forEach(function (t) { names[t.id] = { title: t.title, artist: t.artist }; });
        if (local) render(local.library);
      }).catch(function () {});  // names are a nicety: the stored titles still show
    });
  }

  function button(label, onclick, name) {
    return el("button", { type: "button", class: "button ghost small", text: label,
                          "aria-label": name || label, onclick: onclick });
  }

  function fill(id, nodes, count) {
    var list = document.getElementById(id);
    list.replaceChildren.apply(list, nodes);
    var counter = document.getElementById(id + "-count");
    if (counter) counter.textContent = "(" + count + ")";
  }

  // What the user is typing in the playlists' forms survives a re-render caused by
  // another device's change.
  function typedInputs() {
    var typed = {};
    document.querySelectorAll("#playlists input").forEach(function (input) {
      var key = input.getAttribute("aria-label");
      if (input.value !== input.defaultValue) typed[key] = input.value;
      if (input === document.activeElement) typed["\u0000focus"] = key;
    });
    return typed;
  }

  function restoreInputs(typed) {
    document.querySelectorAll("#playlists input").forEach(function (input) {
      var key = input.getAttribute("aria-label");
      if (Object.prototype.hasOwnProperty.call(typed, key)) input.value = typed[key];
      if (typed["\u0000focus"] === key) input.focus();
    });
  }

  function render(library) {
    lookUpNames(library);
    var typed = typedInputs();
    rendered = library.version;
    var version = document.getElementById("library-version");
    version.dataset.version = library.version;
    version.textContent = "version " + library.version;

    fill("favorites", library.favorites.map(function (song) {
      return el("li", { "data-video-id": song.videoId }, [
        describe(song),
        button("Remove", function () { removeFavorite(song.videoId); },
               "Remove " + titleOf(song) + " from favorites"),
      ]);
    }), library.favorites.length);

    fill("playlists", library.playlists.map(renderPlaylist), library.playlists.length);
    restoreInputs(typed);
    fill("queue", library.queue.map(function (song) {
      return el("li", {}, [describe(song)]);
    }), library.queue.length);
    fill("history", library.history.map(function (play) {
      return el("li", {}, [describe(play), el("time", { datetime: play.playedAt, text: play.playedAt })]);
    }), library.history.length);
  }

  function renderPlaylist(playlist) {
    var songs = playlist.songs || [];
    var nameInput = el("input", { name: "name", value: playlist.name, maxlength: "200", required: "",
                                  "aria-label": "New name for " + playlist.name });
    var rename = el("form", { class: "library-form" }, [
      nameInput, el("button", { type: "submit", class: "button small", text: "Rename" })]);
    rename.addEventListener("submit", function (event) {
      event.preventDefault();
      editPlaylist(playlist.id, function (p) { p.name = nameInput.value.trim() || p.name; });
    });
    var list = el("ol", { class: "library-list", "aria-label": "Songs of " + playlist.name },
      songs.map(function (song, index) {
        var label = titleOf(song);
        return el("li", { "data-video-id": song.videoId }, [
          describe(song),
          index > 0 ? button("↑", function () { moveSong(playlist.id, index, -1); }, "Move " + label + " up") : null,
          index < songs.length - 1 ? button("↓", function () { moveSong(playlist.id, index, 1); }, "Move " + label + " down") : null,
          button("Remove", function () { removeSong(playlist.id, song.videoId); },
                 "Remove " + label + " from " + playlist.name),
        ]);
      }));
    return el("article", { class: "playlist", "data-playlist-id": playlist.id,
                           "aria-label": "Playlist " + playlist.name }, [
      el("div", { class: "playlist-head" }, [
        el("h3", { text: playlist.name }),
        el("span", { class: "count", text: songs.length + " songs" }),
        button("Delete", function () { deletePlaylist(playlist.id); }, "Delete playlist " + playlist.name),
      ]),
      rename, list,
    ]);
  }

  // -- edits -------------------------------------------------------------------------------

  function removeFavorite(videoId) {
    edit("favorites", function (list) {
      return list.filter(function (f) { return f.videoId !== videoId; });
    });
  }

  function editPlaylist(id, change) {
    edit("playlists", function (lists) {
      lists.forEach(function (p) { if (p.id === id) change(p); });
    });
  }

  function moveSong(id, index, step) {
    editPlaylist(id, function (p) {
      var song = p.songs.splice(index, 1)[0];
      p.songs.splice(index + step, 0, song);
    });
  }

  function removeSong(id, videoId) {
    editPlaylist(id, function (p) {
      p.songs = p.songs.filter(function (s) { return s.videoId !== videoId; });
    });
  }

  function deletePlaylist(id) {
    edit("playlists", function (lists) { return lists.filter(function (p) { return p.id !== id; }); });
  }

  document.getElementById("playlist-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var form = event.target;
    var now = new Date().toISOString();
    var playlist = { id: "pl_" + Math.random().toString(36).slice(2, 12), name: form.name.value.trim(),
                     songs: [], created_at: now, updated_at: now };
    edit("playlists", function (lists) { lists.push(playlist); });
    form.reset();
  });

  // -- live updates and device sessions ------------------------------------------------------

  var retry = 500;
  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var socket = new WebSocket(scheme + location.host + "/ws/library");
    var live = document.getElementById("library-live");
    socket.onmessage = function (event) {
      var message = JSON.parse(event.data);
      if (message.type === "ready") {
        retry = 500;
        live.textContent = "live";
        live.classList.add("live");
        syncAll();  // catch up on anything missed while disconnected
      } else if (message.type === "library_changed" && message.device_id !== deviceId &&
                 (!local || message.version > local.since)) {
        refresh();
      }
    };
    socket.onclose = function () {
      live.textContent = "offline — reconnecting";
      live.classList.remove("live");
      setTimeout(connect, retry);
      retry = Math.min(retry * 2, 15000);
    };
  }

  function ping() {
    send("POST", "/api/me/session/ping", { session_id: sessionId }).then(function (status) {
      document.getElementById("library-devices").textContent =
        status.multiple_sessions ? status.active_sessions + " devices active" : "";
    }).catch(function () {});
  }

  if (local) render(local.library);
  connect();
  ping();
  setInterval(ping, 60000);
  window.mediahubLibrary = { sync: syncAll, refresh: refresh };
})();
