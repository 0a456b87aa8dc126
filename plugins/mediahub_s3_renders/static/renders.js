// Threads page (create a thread) and thread page (record, send with progress, play renders).
(function () {
  "use strict";

  function show(el, message) { el.textContent = message; el.hidden = !message; }

  async function errorText(response) {
    try { return (await response.json()).error.message; } catch (e) { return "HTTP " + response.status; }
  }

  // -- threads list ---------------------------------------------------------------------
  var threadForm = document.getElementById("thread-form");
  if (threadForm) {
    threadForm.addEventListener("submit", async function (event) {
      event.preventDefault();
      var data = new FormData(threadForm);
      var members = String(data.get("members") || "").split(",").map(function (s) { return s.trim(); })
        .filter(Boolean);
      var response = await mediahub.fetch("/api/v1/threads", {
        method: "POST", headers: {"Content-Type": "application/json"},
        body: JSON.stringify({title: data.get("title"), members: members, is_private: data.get("is_private") === "on"})
      });
      if (!response.ok) { show(document.getElementById("thread-error"), await errorText(response)); return; }
      location.href = "/threads/" + (await response.json()).id;
    });
  }

  var root = document.getElementById("thread");
  if (!root) return;
  var threadId = root.dataset.thread, me = root.dataset.user;
  var list = document.getElementById("messages");
  var composerError = document.getElementById("composer-error");

  // -- players --------------------------------------------------------------------------
  function formatTime(seconds) {
    seconds = Math.max(0, Math.floor(seconds || 0));
    return Math.floor(seconds / 60) + ":" + String(seconds % 60).padStart(2, "0");
  }

  function drawWaveform(canvas, peaks, fraction) {
    var ratio = window.devicePixelRatio || 1;
    var width = canvas.clientWidth * ratio, height = canvas.clientHeight * ratio;
    if (!width || !height) return;
    canvas.width = width; canvas.height = height;
    var ctx = canvas.getContext("2d"), n = peaks.length || 1, bar = width / n;
    var played = getComputedStyle(canvas).getPropertyValue("--played").trim() || "#3b82f6";
    for (var i = 0; i < peaks.length; i++) {
      var h = Math.max(1, peaks[i] * height);
      ctx.fillStyle = (i + 0.5) / n <= fraction ? played : "rgba(127,127,127,.45)";
      ctx.fillRect(i * bar, (height - h) / 2, Math.max(1, bar - ratio), h);
    }
  }

  function player(render) {
    var box = document.createElement("div");
    box.className = "render-player";
    box.dataset.renderId = render.id;
    var audio = new Audio();
    audio.preload = "metadata";
    audio.src = render.url;
    var button = document.createElement("button");
    button.type = "button"; button.className = "button play"; button.textContent = "▶";
    button.setAttribute("aria-label", "Play");
    var track = document.createElement("div"); track.className = "track";
    var canvas = document.createElement("canvas");
    var seek = document.createElement("input");
    seek.type = "range"; seek.min = "0"; seek.max = "1000"; seek.step = "1"; seek.value = "0";
    seek.setAttribute("aria-label", "Seek");
    var time = document.createElement("span"); time.className = "time";
    var total = render.duration || 0;
    time.textContent = "0:00 / " + formatTime(total);
    track.append(canvas, seek);
    box.append(button, track, time, audio);
    var dragging = false;

    function duration() { return isFinite(audio.duration) && audio.duration > 0 ? audio.duration : total; }
    function refresh() {
      var fraction = duration() ? audio.currentTime / duration() : 0;
      if (!dragging) seek.value = String(Math.round(fraction * 1000));
      time.textContent = formatTime(audio.currentTime) + " / " + formatTime(duration());
      box.dataset.position = audio.currentTime.toFixed(2);
      drawWaveform(canvas, render.peaks || [], fraction);
    }
    button.addEventListener("click", function () {
      if (audio.paused) {
        document.querySelectorAll(".render-player audio").forEach(function (other) { if (other !== audio) other.pause(); });
        audio.play().catch(function (e) { show(composerError, "cannot play: " + e.message); });
      } else { audio.pause(); }
    });
    audio.addEventListener("play", function () { button.textContent = "⏸"; button.setAttribute("aria-label", "Pause"); box.dataset.state = "playing"; });
    audio.addEventListener("pause", function () { button.textContent = "▶"; button.setAttribute("aria-label", "Play"); box.dataset.state = "paused"; });
    audio.addEventListener("timeupdate", refresh);
    audio.addEventListener("loadedmetadata", refresh);
    audio.addEventListener("seeked", refresh);
    seek.addEventListener("pointerdown", function () { dragging = true; });
    seek.addEventListener("input", function () {
      dragging = true;
      time.textContent = formatTime(seek.value / 1000 * duration()) + " / " + formatTime(duration());
    });
    seek.addEventListener("change", function () {
      dragging = false;
      audio.currentTime = seek.value / 1000 * duration();
      refresh();
    });
    requestAnimationFrame(refresh);
    return box;
  }

  // -- messages -------------------------------------------------------------------------
  function messageItem(message) {
    var item = document.createElement("li");
    item.className = "renders-message";
    item.dataset.messageId = message.id;
    var header = document.createElement("header");
    var who = document.createElement("strong"); who.textContent = message.author;
    var when = document.createElement("time"); when.dateTime = message.created_at;
    when.textContent = new Date(message.created_at).toLocaleTimeString();
    header.append(who, when);
    if (message.user_id === me) {
      var del = document.createElement("button");
      del.type = "button"; del.className = "button small"; del.textContent = "Delete";
      del.addEventListener("click", async function () {
        var response = await mediahub.fetch("/api/v1/messages/" + message.id, {method: "DELETE"});
        if (response.ok) item.remove(); else show(composerError, await errorText(response));
      });
      header.append(del);
    }
    item.append(header);
    if (message.text) { var text = document.createElement("p"); text.textContent = message.text; item.append(text); }
    message.renders.forEach(function (render) { item.append(player(render)); });
    return item;
  }

  async function loadMessages() {
    var response = await mediahub.fetch("/api/v1/threads/" + threadId + "/messages");
    if (!response.ok) { show(composerError, await errorText(response)); return; }
    var messages = (await response.json()).messages;
    list.replaceChildren.apply(list, messages.map(messageItem));
    root.dataset.loaded = String(messages.length);
  }

  // -- recording ------------------------------------------------------------------------
  var recordButton = document.getElementById("record"), stopButton = document.getElementById("stop");
  var recordStatus = document.getElementById("record-status");
  var recorder = null, recording = null, startedAt = 0, recordedSeconds = 0;

  recordButton.addEventListener("click", async function () {
    show(composerError, "");
    try {
      var stream = await navigator.mediaDevices.getUserMedia({audio: true});
    } catch (e) { show(composerError, "microphone unavailable: " + e.message); return; }
    var type = MediaRecorder.isTypeSupported("audio/webm;codecs=opus") ? "audio/webm;codecs=opus" : "audio/webm";
    var chunks = [];
    recorder = new MediaRecorder(stream, {mimeType: type});
    recorder.addEventListener("dataavailable", function (e) { if (e.data.size) chunks.push(e.data); });
    recorder.addEventListener("stop", function () {
      stream.getTracks().forEach(function (t) { t.stop(); });
      recordedSeconds = (performance.now() - startedAt) / 1000;
      recording = new Blob(chunks, {type: "audio/webm"});
      recordStatus.textContent = "Recorded " + recordedSeconds.toFixed(1) + " s";
      recordButton.disabled = false; stopButton.disabled = true;
    });
    recorder.start(250);
    startedAt = performance.now();
    recordStatus.textContent = "Recording…";
    recordButton.disabled = true; stopButton.disabled = false;
  });
  stopButton.addEventListener("click", function () { if (recorder && recorder.state !== "inactive") recorder.stop(); });

  // -- sending --------------------------------------------------------------------------
  function upload(blob, seconds) {
    var form = new FormData();
    form.append("format", "webm");
    form.append("duration", seconds.toFixed(2));
    form.append("file", blob, "recording.webm");
    return mediahub.upload("/api/v1/upload/audio", form,
                           {progress: document.getElementById("upload-progress")});
  }

  document.getElementById("composer").addEventListener("submit", async function (event) {
    event.preventDefault();
    show(composerError, "");
    var input = event.target.elements.text;
    var response = await mediahub.fetch("/api/v1/threads/" + threadId + "/messages", {
      method: "POST", headers: {"Content-Type": "application/json"},
      body: JSON.stringify({text: input.value, snapshot: {}})
    });
    if (!response.ok) { show(composerError, await errorText(response)); return; }
    var message = await response.json();
    input.value = "";
    await loadMessages();
    if (!recording) return;
    var blob = recording; recording = null;
    recordStatus.textContent = "Uploading audio…";
    try {
      var render = await upload(blob, recordedSeconds);
      var attached = await mediahub.fetch("/api/v1/messages/" + message.id + "/renders", {
        method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify({render: render})
      });
      if (!attached.ok) throw new Error(await errorText(attached));
      recordStatus.textContent = "Sent";
    } catch (e) { show(composerError, "upload failed: " + e.message); recordStatus.textContent = "Upload failed"; }
    await loadMessages();
  });

  loadMessages();
})();
