// Library page: list the user's tracks, play one with hls.js (or native HLS where the browser has it).
(function () {
  "use strict";
  var list = document.getElementById("tracks");
  var player = document.getElementById("player");
  var nowPlaying = document.getElementById("now-playing");
  var hls = null;

  function play(track) {
    if (hls) { hls.destroy(); hls = null; }
    nowPlaying.textContent = "Playing " + (track.title || "Untitled") + " — " + (track.artist_name || "Unknown");
    if (window.Hls && window.Hls.isSupported()) {
      // startPosition 0: a track still processing (EVENT playlist) plays from its start, not its edge.
      hls = new window.Hls({startPosition: 0});
      hls.loadSource(track.hls_master_url);
      hls.attachMedia(player);
    } else if (player.canPlayType("application/vnd.apple.mpegurl")) {
      player.src = track.hls_master_url;
    } else {
      nowPlaying.textContent = "This browser cannot play HLS.";
      return;
    }
    player.play().catch(function () { /* autoplay refused: the controls are there */ });
  }

  function row(track) {
    var item = document.createElement("li");
    item.className = "card";
    item.dataset.trackId = track.track_id;
    if (track.artwork_url) {
      var image = document.createElement("img");
      image.src = track.artwork_url;
      image.alt = "";
      item.appendChild(image);
    }
    var name = document.createElement("span");
    name.className = "hls-name";
    name.textContent = (track.title || "Untitled") + " — " + (track.artist_name || "Unknown");
    item.appendChild(name);
    var state = document.createElement("span");
    state.className = "badge";
    state.textContent = track.status === "processing" ? "processing " + Math.round(track.progress) + "%" : track.status;
    if (track.error) state.title = track.error;
    item.appendChild(state);
    if (track.hls_master_url) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "button small play";
      button.textContent = "Play";
      button.addEventListener("click", function () { play(track); });
      item.appendChild(button);
    }
    var remove = document.createElement("button");
    remove.type = "button";
    remove.className = "button ghost small";
    remove.textContent = "Delete";
    remove.addEventListener("click", async function () {
      if (!window.confirm("Delete this track?")) return;
      var response = await window.mediahub.fetch("/api/tracks/" + track.track_id, {method: "DELETE"});
      if (response.ok) item.remove();
    });
    item.appendChild(remove);
    return item;
  }

  async function load() {
    var response = await window.mediahub.fetch("/api/tracks");
    var body = await response.json();
    list.textContent = "";
    if (!body.tracks || !body.tracks.length) {
      var empty = document.createElement("li");
      empty.className = "muted";
      empty.textContent = "No tracks yet.";
      list.appendChild(empty);
      return;
    }
    body.tracks.forEach(function (track) { list.appendChild(row(track)); });
  }

  load();
})();
