// Listening party client: server clock estimate, scheduled starts, drift correction, host controls.
// The numbers mirror mediahub_listen_party/clock.py (unit-tested there); docs/party-protocol.md
// explains them.
(function () {
  "use strict";

  var POLICY = { deadbandMs: 8, seekMs: 250, rateHorizonS: 1.0, maxRateDelta: 0.05,
                 minRateDelta: 0.002, rateJumpPriorMs: -20, jumpLearning: 0.5, maxJumpMs: 60,
                 goodMs: 20, mediumMs: 80 };
  var BURST = 10, BURST_GAP_MS = 60, REFRESH_MS = 15000, KEEP_FASTEST = 3, MAX_SAMPLES = 30;
  var CORRECT_EVERY_MS = 100, REPORT_EVERY_MS = 2000, SETTLE_MS = 300;

  var root = document.getElementById("party");
  var code = root.dataset.code;
  var audio = document.getElementById("party-audio");
  var $ = function (id) { return document.getElementById(id); };

  // -- the server clock ------------------------------------------------------------------
  // Local time is performance.timeOrigin + performance.now(): monotonic, and whatever the
  // device's wall clock says, the offset to the server absorbs it.
  function localNow() { return performance.timeOrigin + performance.now(); }
  var clock = { offset: null, rtt: null, samples: [] };
  function serverNow() { return localNow() + (clock.offset || 0); }

  function addSample(pong) {
    var t3 = localNow();
    var sample = { offset: ((pong.t1 - pong.t0) + (pong.t2 - t3)) / 2,
                   rtt: Math.max(0, (t3 - pong.t0) - (pong.t2 - pong.t1)) };
    clock.samples.push(sample);
    if (clock.samples.length > MAX_SAMPLES) clock.samples.shift();
    var fastest = clock.samples.slice().sort(function (a, b) { return a.rtt - b.rtt; })
      .slice(0, KEEP_FASTEST).map(function (s) { return s.offset; }).sort(function (a, b) { return a - b; });
    var mid = Math.floor(fastest.length / 2);
    clock.offset = fastest.length % 2 ? fastest[mid] : (fastest[mid - 1] + fastest[mid]) / 2;
    clock.rtt = Math.min.apply(null, clock.samples.map(function (s) { return s.rtt; }));
  }

  function burst(count) {
    for (var i = 0; i < count; i++) {
      setTimeout(function () { send({ t: "PING", t0: localNow() }); }, i * BURST_GAP_MS);
    }
  }

  // -- party state -----------------------------------------------------------------------
  var state = null, me = null, socket = null, retry = 0, ended = false, opened = false;
  var loadedUrl = null, startTimer = null, settleUntil = 0, lastDrift = 0, blocked = false;
  var startLatencyMs = 0, plan = 0, JOIN_LEAD_MS = 300;  // learned: how late play()/seek lands, compensated next time

  function targetAt(serverMs) {
    if (!state.playing) return state.positionSec;
    return Math.max(state.positionSec, state.positionSec + (serverMs - state.serverTimestamp) / 1000);
  }

  function adopt(message) {
    if (state && message.version <= state.version && message.t !== "SNAPSHOT") return;
    state = message;
    if (message.you) me = message.you;
    render();
    apply();
  }

  function apply() {
    if (!state || clock.offset === null) return;  // wait for the first clock estimate
    clearTimeout(startTimer);
    if (!state.trackUrl) { audio.pause(); return; }
    if (loadedUrl !== state.trackUrl) {
      loadedUrl = state.trackUrl;
      loadTrack(state.trackUrl);
    }
    audio.playbackRate = 1;
    excursion = null;
    plan += 1;
    if (!state.playing) {
      audio.pause();
      seekTo(state.positionSec);
      return;
    }
    var wait = state.serverTimestamp - serverNow();
    if (wait > 0) prepareStart(state.serverTimestamp, state.positionSec, plan);
    else joinRunning(JOIN_LEAD_MS);
  }

  // Joining a track that is already playing (late join, reload, tap to sync, big drift):
  // rather than seek-and-play (which lands wherever the seek latency puts it), seek a little
  // ahead while paused and start on the instant the party reaches that point.
  function joinRunning(leadMs) {
    var startAt = serverNow() + leadMs;
    prepareStart(startAt, targetAt(startAt), plan, leadMs);
  }

  function prepareStart(startAt, position, token, leadMs) {
    audio.pause();
    seekTo(position);
    function ready() {
      if (token !== plan) return;  // a newer state took over
      if (audio.seeking || audio.readyState < 3) {
        audio.addEventListener(audio.seeking ? "seeked" : "canplay", ready, { once: true });
        return;
      }
      var wait = startAt - serverNow() - startLatencyMs;
      if (wait < 0) {  // the seek took longer than the lead: plan again with more
        if (state.playing) joinRunning(Math.min(2 * (leadMs || JOIN_LEAD_MS), 4000));
        return;
      }
      startTimer = setTimeout(function () { if (token === plan) start(); }, wait);
    }
    ready();
  }

  function seekTo(seconds) {
    if (Math.abs(audio.currentTime - seconds) > 0.001) {
      try { audio.currentTime = seconds; } catch (e) { /* not loaded yet: applied on loadedmetadata */ }
    }
    settleUntil = localNow() + SETTLE_MS;
  }

  function start() {
    settleUntil = localNow() + SETTLE_MS;
    var playing = audio.play();
    if (playing && playing.catch) playing.then(function () {
      blocked = false; $("tap-to-sync").hidden = true;
    }).catch(function (error) {
      if (error && error.name === "NotAllowedError") {  // autoplay rules: one tap needed
        blocked = true; $("tap-to-sync").hidden = false;
      }
    });
  }

  audio.addEventListener("loadedmetadata", function () {
    $("seek").max = Math.floor(audio.duration || 600);
    apply();
  });

  // -- drift correction ------------------------------------------------------------------
  // One rate excursion per correction (rate for a planned time, then back to 1): every
  // playbackRate change moves the position by itself (Chromium: about -20 ms), so a guest
  // learns its own jump and plans for it (clock.py: correction, learn_rate_jump).
  function correction(driftMs, jumpMs) {
    var size = Math.abs(driftMs);
    if (size < POLICY.deadbandMs) return { action: "none", rate: 1, durationMs: 0 };
    if (size >= POLICY.seekMs) return { action: "seek", rate: 1, durationMs: 0 };
    var needed = -driftMs - jumpMs;
    var delta = Math.min(POLICY.maxRateDelta,
                         Math.max(POLICY.minRateDelta, Math.abs(needed) / 1000 / POLICY.rateHorizonS));
    return { action: "rate", rate: needed > 0 ? 1 + delta : 1 - delta,
             durationMs: Math.max(100, Math.abs(needed) / delta) };
  }

  function learnRateJump(learned, before, after, plannedMs) {
    var observed = after - before - plannedMs;
    if (Math.abs(observed) > POLICY.maxJumpMs) return learned;
    return learned === null ? observed : learned + POLICY.jumpLearning * (observed - learned);
  }

  var excursion = null, rateJump = null;
  function startExcursion(fix, drift) {
    var token = plan, started = localNow();
    var current = excursion = { rate: fix.rate, before: drift, elapsedMs: 0, ended: false };
    audio.playbackRate = fix.rate;
    setTimeout(function () {
      if (excursion !== current || token !== plan) return;  // a new state took over
      audio.playbackRate = 1;
      current.elapsedMs = localNow() - started;
      current.ended = true;
      settleUntil = localNow() + SETTLE_MS;
      readings = [];
    }, fix.durationMs);
  }

  function quality(driftMs, rttMs) {
    var error = Math.abs(driftMs) + (rttMs || 0) / 2;
    return error <= POLICY.goodMs ? "Good" : error <= POLICY.mediumMs ? "Medium" : "Poor";
  }

  var wasSettling = false, readings = [], FILTER = 5, starts = 0;
  function median(values) {
    var sorted = values.slice().sort(function (a, b) { return a - b; }), mid = sorted.length >> 1;
    return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  }
  function correct() {
    if (!state || !state.playing || audio.paused || audio.seeking || clock.offset === null) return;
    if (excursion && !excursion.ended) return;  // readings at another rate are not comparable
    var now = serverNow();
    if (now < state.serverTimestamp) return;
    // One reading is noisy (the audio clock advances in output-buffer steps): act on the
    // median of the last half second's readings.
    readings.push((audio.currentTime - targetAt(now)) * 1000);
    if (readings.length > FILTER) readings.shift();
    if (localNow() < settleUntil) { if (!excursion) wasSettling = true; readings = []; return; }
    if (readings.length < FILTER) return;
    var drift = median(readings);
    lastDrift = drift;
    if (excursion) {
      // First reading after a rate excursion: learn what the rate change did by itself.
      rateJump = learnRateJump(rateJump, excursion.before, drift,
                               (excursion.rate - 1) * excursion.elapsedMs);
      excursion = null;
    } else if (wasSettling) {
      // First reading after a start or seek: learn how late they land.
      wasSettling = false;
      startLatencyMs = Math.max(0, Math.min(300, startLatencyMs - drift * (starts++ ? 0.5 : 1)));
    }
    var fix = correction(drift, rateJump === null ? POLICY.rateJumpPriorMs : rateJump);
    if (fix.action !== "none") readings = [];  // judge the next second afresh
    if (fix.action === "seek") {
      audio.playbackRate = 1;
      plan += 1;
      joinRunning(JOIN_LEAD_MS);
    } else if (fix.action === "rate") {
      startExcursion(fix, drift);
    }
    showQuality();
  }

  function showQuality() {
    var q = quality(lastDrift, clock.rtt);
    var badge = $("sync-quality");
    badge.textContent = q; badge.dataset.quality = q;
    $("sync-offset").textContent = "drift " + lastDrift.toFixed(1) + " ms · clock offset " +
      Math.round(clock.offset || 0) + " ms";
  }

  // -- socket ----------------------------------------------------------------------------
  function send(message) {
    if (socket && socket.readyState === 1) socket.send(JSON.stringify(message));
  }

  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + location.host + "/ws/party/" + encodeURIComponent(code));
    opened = false;
    socket.onopen = function () { opened = true; retry = 0; $("sync-status").textContent = "connected"; burst(BURST); };
    socket.onmessage = function (event) {
      var message = JSON.parse(event.data);
      switch (message.t) {
        case "PONG": var first = clock.offset === null; addSample(message); if (first) apply(); break;
        case "SNAPSHOT": case "TRACK_SELECTED": case "PLAY": case "PAUSE": case "SEEK":
        case "HOST_CHANGED": adopt(message); break;
        case "MEMBERS": message.members.forEach(function (m) { guests[m.memberId] = m; }); renderGuests(); break;
        case "MEMBER_JOINED": guests[message.memberId] = Object.assign(guests[message.memberId] || {}, { name: message.name, online: true }); renderGuests(); break;
        case "MEMBER_LEFT": if (guests[message.memberId]) guests[message.memberId].online = false; renderGuests(); break;
        case "MEMBER_SYNC": guests[message.memberId] = Object.assign(guests[message.memberId] || {}, message, { online: true }); renderGuests(); break;
        case "ERROR": showError(message.message); break;
        case "PARTY_ENDED": ended = true; audio.pause(); $("sync-status").textContent = "the party has ended"; break;
      }
    };
    socket.onclose = function (event) {
      if (ended || event.code === 1008) { $("sync-status").textContent = "disconnected"; return; }
      $("sync-status").textContent = "reconnecting…";
      retry = Math.min(retry + 1, 6);
      var backoff = 250 * Math.pow(2, retry - 1);
      // Refused before it opened: ask why rather than knock again. An ended party must not
      // keep a forgotten tab guessing (each refusal counts against this network's join limit).
      if (!opened) { whyRefused(backoff); return; }
      setTimeout(connect, backoff);  // rejoin gets a fresh snapshot
    };
  }

  function whyRefused(backoff) {
    window.mediahub.fetch("/api/parties/" + encodeURIComponent(code)).then(function (response) {
      if (response.status === 404) { ended = true; $("sync-status").textContent = "the party has ended"; return; }
      if (response.status === 401) { $("sync-status").textContent = "signed out: reload the page"; return; }
      var wait = response.status === 429 ? 1000 * (Number(response.headers.get("Retry-After")) || 60) : backoff;
      setTimeout(connect, wait);
    }, function () { setTimeout(connect, backoff); });  // offline: try again later
  }

  // -- page ------------------------------------------------------------------------------
  var guests = {};
  function isHost() { return state && me && state.hostId === me; }
  function showError(text) { var e = $("party-error"); e.textContent = text; e.hidden = false;
                             setTimeout(function () { e.hidden = true; }, 4000); }
  function clockText(seconds) { var s = Math.max(0, Math.floor(seconds));
                                return Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0"); }

  // -- track sources (see docs/party-protocol.md "Track sources") ----------------------------
  // Library tracks are HLS playlists: hls.js (vendored by hls-transcode) where the browser
  // has Media Source Extensions, else the browser's own HLS (Safari, recent Chromium).
  // Either way it is the same <audio> element, so scheduling and drift correction apply as is.
  var hls = null, libraryLoaded = false;
  function loadTrack(url) {
    if (hls) { hls.destroy(); hls = null; }
    if (/\.m3u8(\?|$)/.test(url.split("#")[0]) && window.Hls && window.Hls.isSupported()) {
      hls = new window.Hls();
      hls.loadSource(url);
      hls.attachMedia(audio);
      return;
    }
    audio.src = url;
    audio.load();
  }

  function selectTrack(source, trackId) {
    send({ t: "HOST_TRACK_SELECTED", version: state.version, source: source, trackId: trackId });
  }

  // One list per track source that offers a picker (library, collection, ...): filled from
  // GET /api/parties/<code>/tracks?source=<name>.
  function loadLibrary() {
    if (libraryLoaded || !isHost()) return;
    var lists = document.querySelectorAll("ul.source-list[data-source]");
    if (!lists.length) return;
    libraryLoaded = true;
    Array.prototype.forEach.call(lists, function (list) {
      var source = list.dataset.source;
      window.mediahub.fetch("/api/parties/" + code + "/tracks?source=" + encodeURIComponent(source)).then(function (response) {
        return response.json();
      }).then(function (body) {
        list.textContent = "";
        (body.tracks || []).forEach(function (track) {
          var li = document.createElement("li"), pick = document.createElement("button");
          li.dataset.trackId = track.trackId;
          li.appendChild(document.createTextNode(track.title));
          pick.type = "button"; pick.className = "button small"; pick.textContent = "Select";
          pick.addEventListener("click", function () { selectTrack(source, track.trackId); });
          li.appendChild(pick);
          list.appendChild(li);
        });
        if (!list.children.length) list.innerHTML = '<li class="muted-label">Nothing to pick here yet.</li>';
      }).catch(function () { libraryLoaded = false; });
    });
  }

  function render() {
    $("track-name").textContent = state.filename || (state.trackId ? state.trackId : "Nothing yet");
    $("play-state").textContent = state.playing ? "playing" : "paused";
    $("host-panel").hidden = !isHost();
    renderGuests();
    loadLibrary();
  }

  function renderGuests() {
    var list = $("guest-list");
    if (!list || !isHost()) return;
    list.textContent = "";
    Object.keys(guests).forEach(function (id) {
      if (id === me) return;
      var g = guests[id], li = document.createElement("li");
      var label = document.createElement("span");
      label.textContent = g.name + (g.online === false ? " (away)" : "") +
        (g.offsetMs !== undefined ? " · offset " + Math.round(g.offsetMs) + " ms · drift " +
         Number(g.driftMs).toFixed(1) + " ms · " + g.quality : "");
      li.appendChild(label);
      li.dataset.memberId = id;
      var handoff = document.createElement("button");
      handoff.type = "button"; handoff.className = "button ghost small"; handoff.textContent = "Make host";
      handoff.addEventListener("click", function () {
        send({ t: "HOST_HANDOFF", version: state.version, memberId: id });
      });
      li.appendChild(handoff);
      list.appendChild(li);
    });
  }

  setInterval(function () {
    if (state) $("position").textContent = clockText(state.playing ? targetAt(serverNow()) : state.positionSec);
  }, 250);
  setInterval(correct, CORRECT_EVERY_MS);
  setInterval(function () {
    if (state && state.playing && clock.offset !== null && !audio.paused) {
      send({ t: "SYNC_REPORT", offsetMs: clock.offset, driftMs: lastDrift, rttMs: clock.rtt || 0 });
    }
  }, REPORT_EVERY_MS);
  setInterval(function () { burst(5); }, REFRESH_MS);

  $("tap-to-sync").addEventListener("click", function () {
    // play() inside the tap unlocks the element (autoplay rules); then the normal join
    // seeks and starts on the party's instant.
    blocked = false; $("tap-to-sync").hidden = true;
    var unlocked = audio.play();
    if (unlocked && unlocked.then) unlocked.then(apply, apply); else apply();
  });
  $("play-button").addEventListener("click", function () { send({ t: "HOST_PLAY", version: state.version }); });
  $("pause-button").addEventListener("click", function () { send({ t: "HOST_PAUSE", version: state.version }); });
  $("seek").addEventListener("change", function (event) {
    send({ t: "HOST_SEEK", version: state.version, positionSec: Number(event.target.value) });
  });
  $("end-button").addEventListener("click", async function () {
    if (!confirm("End the party for everyone?")) return;
    await window.mediahub.fetch("/api/parties/" + code + "/end", { method: "POST" });
  });
  $("upload-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var file = $("track-file").files[0];
    if (!file) return;
    // With cloudinary-temp: a temporary upload of this party's session (deleted on track
    // change and party end); without it, the seed's upload-track.
    var temp = root.dataset.upload === "temp", form = new FormData();
    if (temp) {
      form.append("sessionId", root.dataset.session);
      form.append("songTitle", file.name.slice(0, 300));
    } else {
      form.append("filename", file.name);
    }
    form.append("audio", file);
    var xhr = new XMLHttpRequest(), progress = $("upload-progress");
    progress.hidden = false; progress.value = 0;
    xhr.upload.onprogress = function (e) { if (e.lengthComputable) progress.value = 100 * e.loaded / e.total; };
    xhr.onload = function () {
      var body = {}; try { body = JSON.parse(xhr.responseText); } catch (e) { /* shown below */ }
      if (xhr.status !== 200) { showError((body.error && body.error.message) || "upload failed"); return; }
      progress.value = 100;
      if (temp) selectTrack("temp-upload", body.publicId);
      else selectTrack("upload-track", body.trackId);
    };
    xhr.onerror = function () { showError("upload failed"); };
    xhr.open("POST", temp ? "/api/temp-upload/upload-temp" : "/api/upload-track");
    xhr.setRequestHeader("X-CSRF-Token", window.mediahub.csrfToken());
    xhr.send(form);
  });

  // For tests and the curious: the live numbers behind the sync badge.
  window.party = { get state() { return state; }, clock: clock, serverNow: serverNow,
                   targetAt: function (ms) { return targetAt(ms); }, audio: audio,
                   get lastDrift() { return lastDrift; }, get me() { return me; },
                   get rateJump() { return rateJump; },
                   send: send, get blocked() { return blocked; } };
  connect();
})();
