// Listening party client: server clock estimate, scheduled starts, drift correction, host controls.
// The drift policy's numbers come from mediahub_listen_party/clock.py (the page's data-policy,
// one source); docs/party-protocol.md explains them.
(function () {
  "use strict";

  var root = document.getElementById("party");
  var POLICY = JSON.parse(root.dataset.policy);
  var BURST = 10, BURST_GAP_MS = 60, REFRESH_MS = 15000;
  var CORRECT_EVERY_MS = 100, REPORT_EVERY_MS = 2000, SETTLE_MS = 300;

  var code = root.dataset.code;
  var $ = function (id) { return document.getElementById(id); };
  // Two players: the one playing, and a spare that loads the next queued track ahead of
  // its start, so a track boundary is a scheduled start of an element that is ready.
  var audio = $("party-audio"), spare = $("party-audio-next");

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
    if (clock.samples.length > POLICY.window) clock.samples.shift();
    var estimate = estimateOffset(clock.samples);
    clock.offset = estimate.offset; clock.rtt = estimate.rtt;
  }

  // clock.py estimate_offset: the lowest-RTT samples of the window vote, and only those
  // within rttSlackMs of the fastest (one clean ping outvotes any number of queued ones).
  function estimateOffset(samples) {
    var fastest = samples.slice(-POLICY.window).sort(function (a, b) { return a.rtt - b.rtt; })
      .slice(0, Math.max(1, POLICY.keepFastest));
    var best = fastest[0].rtt;
    var voters = fastest.filter(function (s) { return s.rtt <= best + POLICY.rttSlackMs; })
      .map(function (s) { return s.offset; }).sort(function (a, b) { return a - b; });
    var mid = Math.floor(voters.length / 2);
    return { offset: voters.length % 2 ? voters[mid] : (voters[mid - 1] + voters[mid]) / 2, rtt: best };
  }

  function burst(count) {
    for (var i = 0; i < count; i++) {
      setTimeout(function () { send({ t: "PING", t0: localNow() }); }, i * BURST_GAP_MS);
    }
  }

  // -- party state -----------------------------------------------------------------------
  var state = null, me = null, socket = null, retry = 0, ended = false, opened = false;
  var loadedUrl = null, settleUntil = 0, lastDrift = 0, blocked = false;
  var startLatencyMs = 0, plan = 0, JOIN_LEAD_MS = 300;  // learned: how late play()/seek lands, compensated next time

  function targetAt(serverMs) {
    if (!state.playing) return state.positionSec;
    return Math.max(state.positionSec, state.positionSec + (serverMs - state.serverTimestamp) / 1000);
  }

  // The same playback (track and instant of its position 0)? Then a new message (a queue
  // change, the server confirming a boundary this page already crossed) changes nothing.
  function sameTimeline(a, b) {
    return !!(a && b && a.playing && b.playing && a.trackUrl === b.trackUrl &&
      Math.abs((a.serverTimestamp - a.positionSec * 1000) - (b.serverTimestamp - b.positionSec * 1000)) < 1);
  }

  // protocol.advance: the state after its track's end (the next entry starts at 0 on the
  // instant the previous ends). The page moves on by itself; the server's TRACK_ADVANCED
  // then confirms the same timeline.
  function advanced(s) {
    var next = s.queue && s.queue[0];
    if (!next) return Object.assign({}, s, { playing: false, positionSec: s.durationSec || s.positionSec,
                                             serverTimestamp: s.endsAt, endsAt: null, finished: true });
    return Object.assign({}, s, { trackId: next.trackId, trackUrl: next.trackUrl, filename: next.filename,
      entryId: next.entryId, durationSec: next.durationSec || null, coverUrl: next.coverUrl || null,
      addedByName: next.addedByName, positionSec: 0, serverTimestamp: s.endsAt, queue: s.queue.slice(1),
      skipVotes: 0, finished: false, endsAt: next.durationSec ? s.endsAt + next.durationSec * 1000 : null });
  }

  function settled(s) {
    while (s.playing && s.endsAt !== null && clock.offset !== null &&
           (serverNow() >= s.endsAt || s.endsAt <= crossedAt)) s = advanced(s);
    return s;
  }

  // State messages carry the queue's entries only when the queue changed (and in SNAPSHOT,
  // QUEUE_CHANGED, TRACK_ADVANCED), its ids always: the page keeps the entries it was last
  // sent and puts them in the ids' order. An id it has no entry for means a queue frame never
  // reached it (a slow socket's inbox drops the oldest): it reconnects for a snapshot.
  var entries = {}, resyncing = false;
  function withQueue(message) {
    if (message.queue) {
      entries = {};
      message.queue.forEach(function (entry) { entries[entry.entryId] = entry; });
      return message;
    }
    if (!message.queueIds) return message;
    var queue = message.queueIds.map(function (id) { return entries[id]; });
    if (queue.indexOf(undefined) >= 0) {
      queue = queue.filter(Boolean);
      if (!resyncing && socket) { resyncing = true; socket.close(4000, "queue out of date"); }
    }
    return Object.assign({}, message, { queue: queue });
  }

  function adopt(message) {
    if (ended) return;
    if (state && message.version <= state.version && message.t !== "SNAPSHOT") return;
    if (message.t === "SNAPSHOT") resyncing = false;
    message = withQueue(message);
    var previous = state;
    if (message.you) me = message.you;
    if (message.listeners !== undefined) listeners = message.listeners;
    state = settled(message);
    render();
    if (sameTimeline(previous, state) && loadedUrl === state.trackUrl && !audio.paused) {
      planBoundary();  // still playing what the party plays
      return;
    }
    apply();
  }

  function apply() {
    if (!state || clock.offset === null) return;  // wait for the first clock estimate
    clearTimeout(timers.start);
    state = settled(state);
    if (!state.trackUrl || state.finished) { audio.pause(); clearTimeout(timers.boundary); return; }
    if (loadedUrl !== state.trackUrl) {
      if (spare.dataset.url === state.trackUrl) swapPlayers();  // preloaded already
      else loadTrack(audio, state.trackUrl);
      loadedUrl = state.trackUrl;
      // A preloaded spare fired its loadedmetadata long ago: its length is known now. (When
      // the server's TRACK_ADVANCED came before this page crossed by itself, under load,
      // nothing else told the server, and a party whose track has no length never advances.)
      reportDuration();
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
    planBoundary();
  }

  // -- starting on an instant -------------------------------------------------------------
  // A timer fires late when the cores are busy (a boundary start landed ~80 ms late), so a
  // start is not one timer: aim AIM_EARLY_MS early, re-aim from the clock estimate as it is
  // then, and wait out the last SPIN_MS on the clock itself instead of trusting a timer.
  var AIM_EARLY_MS = 400, SPIN_MS = 4, timers = { start: null, boundary: null, landing: null };
  // `instant()` is asked again at every step: the clock estimate and the learned latency
  // may have changed since the start was planned (the first boundary was planned at the
  // party's first start, before that start had taught the page its latency: ~80 ms late).
  function atServerTime(slot, instant, run) {
    clearTimeout(timers[slot]);
    (function aim() {
      var wait = instant() - serverNow();
      if (wait > AIM_EARLY_MS + SPIN_MS) { timers[slot] = setTimeout(aim, wait - AIM_EARLY_MS); return; }
      if (wait > SPIN_MS) { timers[slot] = setTimeout(aim, wait - SPIN_MS); return; }
      var at = instant(), spun = at - serverNow();  // < 0: the timer itself fired late
      while (serverNow() < at) { /* at most SPIN_MS: the start's precision */ }
      run(at, spun);
    })();
  }

  // -- track boundaries --------------------------------------------------------------------
  // The next track is known (the queue's head) and so is the instant it starts (`endsAt`):
  // the spare player loads it now and is started on that instant like any scheduled start,
  // instead of loading and seeking after the previous track ended.
  function planBoundary() {
    clearTimeout(timers.boundary);
    if (!state || !state.playing || state.endsAt === null || clock.offset === null) return;
    var next = state.queue && state.queue[0];
    if (next && spare.dataset.url !== next.trackUrl) {
      loadTrack(spare, next.trackUrl);
      spare.pause();
      var player = spare, url = next.trackUrl;
      player.addEventListener("canplay", function () { warm(player, url); }, { once: true });
    }
    var token = plan, endsAt = state.endsAt;
    atServerTime("boundary", function () { return endsAt - boundaryLatency() - aheadMs(); }, function (aim, spun) {
      if (token !== plan) return;
      aimedLatencyMs = endsAt - aim; lateMs = serverNow() - aim;
      // For the curious (and the browser test): how late this page got to the instant.
      crossings.push({ endsAt: endsAt, aimedMs: aimedLatencyMs, lateMs: lateMs, spunMs: spun });
      if (crossings.length > 20) crossings.shift();
      crossBoundary();
    });
  }

  // How long play() takes to be heard varies by element and load (75-200 ms with both
  // cores busy): four pages started by play() were up to 37 ms apart (p95 30-36 ms over
  // the first 5 s). So the spare does not wait paused: it plays at rate 0 (started, silent,
  // not moving) and its start on the boundary is a rate change to 1, whose latency is
  // steadier and learned like a start's (p95 19-20 ms under the same load).
  function warm(player, url) {
    if (player === audio || player.dataset.url !== url || player.dataset.primed === url) return;
    try { player.playbackRate = 0; } catch (e) { return; }  // not supported: a plain start then
    var playing = player.play();
    if (playing && playing.then) playing.then(function () {
      if (player !== audio && player.dataset.url === url) player.dataset.primed = url;
    }, function () { player.playbackRate = 1; });
  }
  // aimedLatencyMs: how early the last start was aimed; lateMs: how late the page then got
  // to it (a timer under load, a preempted spin): the start's own latency is what is left.
  var primedLatencyMs = null, primedStart = false, aimedLatencyMs = 0, lateMs = 0;
  function boundaryLatency() {
    var next = state.queue && state.queue[0];
    var primed = next && spare.dataset.primed === next.trackUrl && !spare.paused;
    // Before its first primed start a page knows only how late play() lands: about as late.
    return primed && primedLatencyMs !== null ? primedLatencyMs : startLatencyMs;
  }

  var crossedAt = -Infinity, crossings = [];  // the last boundary this page crossed by itself
  function crossBoundary() {
    crossedAt = state.endsAt;
    var after = advanced(state);
    state = after;
    plan += 1;
    excursion = null; readings = [];
    if (after.finished) { audio.pause(); render(); return; }
    if (spare.dataset.url === after.trackUrl && spare.readyState >= 3) {
      var finished = audio;
      swapPlayers();
      loadedUrl = after.trackUrl;
      wasSettling = true;  // learn how late this start lands, as for any start
      primedStart = audio.dataset.primed === after.trackUrl && !audio.paused;
      audio.playbackRate = 1;  // a primed spare starts here
      if (primedStart) { settleUntil = localNow() + SETTLE_MS; watchLanding(null, after.serverTimestamp); }
      else start(after.serverTimestamp);
      finished.pause();
      render();
      planBoundary();
      return;
    }
    render();
    apply();  // the spare was not ready: join the new track like a late joiner
  }

  function swapPlayers() {
    var finished = audio;
    audio = spare; spare = finished;
    spare.pause();
    audio.volume = spare.volume;
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
      var wait = startAt - serverNow() - startLatencyMs - aheadMs();
      if (wait < 0) {  // the seek took longer than the lead: plan again with more
        if (state.playing) joinRunning(Math.min(2 * (leadMs || JOIN_LEAD_MS), 4000));
        return;
      }
      atServerTime("start", function () { return startAt - startLatencyMs - aheadMs(); }, function (at) {
        if (token !== plan) return;
        aimedLatencyMs = startAt - at; lateMs = serverNow() - at;
        start(startAt);
      });
    }
    ready();
  }

  function seekTo(seconds) {
    if (Math.abs(audio.currentTime - seconds) > 0.001) {
      try { audio.currentTime = seconds; } catch (e) { /* not loaded yet: applied on loadedmetadata */ }
    }
    settleUntil = localNow() + SETTLE_MS;
  }

  function start(instant) {  // instant: the server time the start is aimed at
    settleUntil = localNow() + SETTLE_MS;
    watchLanding(null, instant);
    var playing = audio.play();
    if (playing && playing.catch) playing.then(function () {
      blocked = false; $("tap-to-sync").hidden = true;
    }).catch(function (error) {
      if (error && error.name === "NotAllowedError") {  // autoplay rules: one tap needed
        blocked = true; $("tap-to-sync").hidden = false;
      }
    });
  }

  // -- landing: where a start put the audio, read as soon as it holds still ------------------
  // A start lands wherever the cores let it: under load the timer and play()/the rate change
  // moved it by -40..+16 ms, and the latency learned at one boundary missed the next by up
  // to 34 ms. Waiting SETTLE_MS and five 100 ms readings before a first correction kept that
  // error for ~0.9 s and its correction took ~1 s more: most of a boundary's first 5 s. Yet
  // once the element moves, its error against the party is steady to a millisecond within
  // ~50 ms. So every start is read right away, every LAND_EVERY_MS, and corrected (and its
  // latency learned) on the first LAND_READINGS readings that agree within LAND_SPREAD_MS.
  // A rate change's effect (its -20 ms jump, then the tempo) shows ~110 ms after it is
  // made: so a correction is read the same way LAND_AFTER_RATE_MS after it ends, and
  // corrected again while it is outside the landing dead band (LAND_ROUNDS in all), before
  // the steady loop's slower rhythm takes over.
  var LAND_EVERY_MS = 10, LAND_AFTER_MS = 25, LAND_READINGS = 4, LAND_SPREAD_MS = 1.5, LAND_GIVE_UP_MS = 700;
  var LAND_STARVED_MS = 40;
  var LAND_AFTER_RATE_MS = 130, LAND_ROUNDS = 4;
  var landing = null, landings = [];
  // A start's readings count from LAND_AFTER_MS after its own instant: a join's play() (a
  // seek, a reload) starts on an instant of its own, long after the state's timestamp, and
  // right after play() Chromium's currentTime runs on for one decoded buffer (~23 ms), then
  // stands still until the audio output's first callback (~60 ms): readings taken then agree
  // with each other and are wrong by up to the whole start latency (a rejoin read +90 ms
  // where it had landed +20 ms, and its correction took it to -70 ms). For the same reason a
  // page starved of the cores (a gap of LAND_STARVED_MS between two looks) starts over.
  function watchLanding(after, instant) {  // after: the start's correction that just ended, if any
    clearTimeout(timers.landing);
    var token = plan, began = localNow(), seen = [], lastLook = null;
    if (instant === undefined) instant = state.serverTimestamp;
    landing = { began: began };
    (function look() {
      if (token !== plan || !state || !state.playing) { landing = null; return; }
      var now = serverNow();
      var due = after ? localNow() >= began + LAND_AFTER_RATE_MS : now >= instant + LAND_AFTER_MS;
      if (lastLook !== null && localNow() - lastLook > LAND_STARVED_MS) seen = [];
      lastLook = localNow();
      if (!audio.paused && !audio.seeking && due) {
        seen.push((audio.currentTime - targetAt(now)) * 1000);
        if (seen.length > LAND_READINGS) seen.shift();
        var sorted = seen.slice().sort(function (a, b) { return a - b; });
        if (seen.length === LAND_READINGS && sorted[sorted.length - 1] - sorted[0] <= LAND_SPREAD_MS) {
          landing = null;
          landed(median(seen), localNow() - began, after);
          return;
        }
      }
      if (localNow() - began > LAND_GIVE_UP_MS) {  // the steady loop takes over
        landing = null;
        if (after) settleUntil = localNow() + SETTLE_MS;
        return;
      }
      timers.landing = setTimeout(look, LAND_EVERY_MS);
    })();
  }

  function landed(drift, afterMs, after) {
    var round = after ? after.round + 1 : 1;
    landings.push({ driftMs: drift, afterMs: afterMs, primed: !after && primedStart, round: round });
    if (landings.length > 30) landings.shift();
    lastDrift = drift;
    readings = [];
    settleUntil = 0;
    if (after) {  // what the correction's rate change did by itself
      rateJump = learnRateJump(rateJump, after.before, drift, (after.rate - 1) * after.elapsedMs);
      excursion = null;
    } else {
      learnLatency(drift);
    }
    // The landing's dead band: a start or a correction is finished to within a few ms, not
    // left anywhere inside the steady band; after LAND_ROUNDS the steady loop takes over.
    act(drift, true, round < LAND_ROUNDS ? round : 0);
    showQuality();
  }

  [audio, spare].forEach(function (player) {
    player.addEventListener("loadedmetadata", function () {
      if (player !== audio) return;  // the spare: ready when its turn comes
      reportDuration();
      render();
      apply();
    });
  });

  // A source that did not know the track's length: a controller's browser tells the
  // server (which needs it to schedule the next track).
  function reportDuration() {
    if (state && state.entryId && !state.durationSec && canControl() && loadedUrl === state.trackUrl &&
        isFinite(audio.duration) && audio.duration > 0) {
      send({ t: "TRACK_DURATION", entryId: state.entryId, durationSec: audio.duration });
    }
  }

  // -- drift correction ------------------------------------------------------------------
  // One rate excursion per correction (rate for a planned time, then back to 1): every
  // playbackRate change moves the position by itself (Chromium: about -20 ms), so a guest
  // learns its own jump and plans for it (clock.py: correction, learn_rate_jump).
  function correction(driftMs, jumpMs, landing) {
    var size = Math.abs(driftMs);
    if (size < (landing ? POLICY.landingDeadbandMs : POLICY.deadbandMs)) return { action: "none", rate: 1, durationMs: 0 };
    if (size >= POLICY.seekMs) return { action: "seek", rate: 1, durationMs: 0 };
    var needed = -driftMs - jumpMs;
    var horizonS = landing ? POLICY.landingHorizonS : POLICY.rateHorizonS;
    var delta = Math.min(landing ? POLICY.landingMaxRateDelta : POLICY.maxRateDelta,
                         Math.max(POLICY.minRateDelta, Math.abs(needed) / 1000 / horizonS));
    return { action: "rate", rate: needed > 0 ? 1 + delta : 1 - delta,
             durationMs: Math.max(100, Math.abs(needed) / delta) };
  }

  function learnRateJump(learned, before, after, plannedMs) {
    var observed = after - before - plannedMs;
    if (Math.abs(observed) > POLICY.maxJumpMs) return learned;
    return learned === null ? observed : learned + POLICY.jumpLearning * (observed - learned);
  }

  var excursion = null, rateJump = null;
  // `round`: the correction of a start (1, 2...): its outcome is read at once, as a landing.
  function startExcursion(fix, drift, round) {
    var token = plan, started = localNow();
    var current = excursion = { rate: fix.rate, before: drift, elapsedMs: 0, ended: false, round: round || 0 };
    audio.playbackRate = fix.rate;
    setTimeout(function () {
      if (excursion !== current || token !== plan) return;  // a new state took over
      audio.playbackRate = 1;
      current.elapsedMs = localNow() - started;
      current.ended = true;
      readings = [];
      if (current.round) watchLanding(current);
      else settleUntil = localNow() + SETTLE_MS;
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
    if (landing) return;  // a start being read: watchLanding decides
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
      learnLatency(drift);  // first reading after a start or seek (one watchLanding missed)
    }
    act(drift);
  }

  // How late a start landed (`drift` ms after the party: -) teaches the latency aimed for
  // next time: a primed start's (a rate change) and a play()'s apart, they differ.
  function learnLatency(drift) {
    wasSettling = false;
    // How long the element took to move once told (the page's own lateness is not the
    // element's: learning it as latency made the next start early by as much).
    var actual = Math.max(0, Math.min(300, aimedLatencyMs - lateMs - drift));
    if (primedStart) {
      primedStart = false;
      primedLatencyMs = primedLatencyMs === null ? actual : primedLatencyMs + 0.5 * (actual - primedLatencyMs);
    }
    else startLatencyMs = starts++ ? startLatencyMs + 0.5 * (actual - startLatencyMs) : actual;
  }

  // Every rate change moves the position back by itself (`rateJump`, about -20 ms), so a
  // start that lands ahead is corrected by little more than that jump (~0.1 s), while one
  // that lands behind first falls further behind and then needs a second of catching up.
  // So a start aims to land one jump ahead: a page that got there late (tens of ms under
  // load) still lands ahead or inside the dead band, and one that did not is set right by
  // its correction's jump.
  // And AHEAD_MARGIN_MS more: a start's latency varies by ~7 ms (sd) from one start to the
  // next, and one that lands ahead converges in ~0.1 s (the jump does it) where one behind
  // first dips a jump further back.
  var AHEAD_MARGIN_MS = 6;
  function aheadMs() {
    return Math.max(0, -(rateJump === null ? POLICY.rateJumpPriorMs : rateJump)) + AHEAD_MARGIN_MS;
  }

  // `round` (a landing's) 0 for the steady loop: its correction is then read like a
  // landing's too (round 1), the dead band's hysteresis: in at DEADBAND_MS, out at LANDING_DEADBAND_MS.
  function act(drift, landing, round) {
    var fix = correction(drift, rateJump === null ? POLICY.rateJumpPriorMs : rateJump, landing);
    if (!landing) round = 1;
    if (fix.action !== "none") readings = [];  // judge the next second afresh
    if (fix.action === "seek") {
      audio.playbackRate = 1;
      plan += 1;
      joinRunning(JOIN_LEAD_MS);
    } else if (fix.action === "rate") {
      startExcursion(fix, drift, round);
    }
    showQuality();
  }

  function showQuality() {
    var q = quality(lastDrift, clock.rtt);
    var badge = $("sync-quality");
    badge.textContent = q; badge.dataset.quality = q;
    $("sync-offset").textContent = "This device: drift " + lastDrift.toFixed(1) + " ms · clock offset " +
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
        case "HOST_CHANGED": case "QUEUE_CHANGED": case "TRACK_ADVANCED": case "ROLES_CHANGED":
        case "PERMISSIONS_CHANGED": case "SKIP_VOTES": adopt(message); break;
        case "LISTENERS": listeners = message.count; renderListeners(); break;
        case "REACTION": showReaction(message); break;
        case "MEMBERS": message.members.forEach(function (m) { guests[m.memberId] = m; }); renderGuests(); break;
        case "MEMBER_JOINED": guests[message.memberId] = Object.assign(guests[message.memberId] || {}, { name: message.name, online: true }); renderGuests(); break;
        case "MEMBER_LEFT": if (guests[message.memberId]) guests[message.memberId].online = false; renderGuests(); break;
        case "MEMBER_SYNC": guests[message.memberId] = Object.assign(guests[message.memberId] || {}, message, { online: true }); renderGuests(); break;
        case "ERROR": showError(message.message); break;
        case "PARTY_ENDED": partyEnded(); break;
      }
    };
    socket.onclose = function (event) {
      if (ended) return;  // "The party has ended" stays
      if (event.code === 1008) { $("sync-status").textContent = "disconnected"; return; }
      $("sync-status").textContent = "reconnecting…";
      retry = Math.min(retry + 1, 6);
      var backoff = 250 * Math.pow(2, retry - 1);
      // Refused before it opened: ask why rather than knock again. An ended party must not
      // keep a forgotten tab guessing (each refusal counts against this network's join limit).
      if (!opened) { whyRefused(backoff); return; }
      setTimeout(connect, backoff);  // rejoin gets a fresh snapshot
    };
  }

  // The party is over (the host ended it, or it was gone when this page came back): say so
  // where the track name was, stop both players, and leave no control that would do nothing.
  var ENDED = "The party has ended";
  function partyEnded() {
    ended = true;
    plan += 1;
    clearTimeout(timers.start); clearTimeout(timers.boundary);
    [audio, spare].forEach(function (player) { player.pause(); player.playbackRate = 1; });
    $("sync-status").textContent = ENDED;
    $("track-name").textContent = ENDED;
    $("added-by").textContent = "";
    $("play-state").textContent = "ended";
    $("tap-to-sync").hidden = true;
    showAll(".control-only, .owner-only", false);
    ["host-panel", "add-panel", "vote-skip-button"].forEach(function (id) { $(id).hidden = true; });
    $("seek").disabled = true;
    if (state) state = Object.assign({}, state, { playing: false, finished: true, queue: [] });
    if (state) renderQueue();
  }

  function whyRefused(backoff) {
    window.mediahub.fetch("/api/parties/" + encodeURIComponent(code)).then(function (response) {
      if (response.status === 404) { partyEnded(); return; }
      if (response.status === 401) { $("sync-status").textContent = "signed out: reload the page"; return; }
      var wait = response.status === 429 ? 1000 * (Number(response.headers.get("Retry-After")) || 60) : backoff;
      setTimeout(connect, wait);
    }, function () { setTimeout(connect, backoff); });  // offline: try again later
  }

  // -- page ------------------------------------------------------------------------------
  var guests = {}, listeners = 1, reactionLog = [];
  function role() {
    if (!state || !me) return "guest";
    if (state.hostId === me) return "host";
    return (state.cohosts || []).indexOf(me) >= 0 ? "cohost" : "guest";
  }
  function isHost() { return role() === "host"; }
  function isManager() { return role() !== "guest"; }  // host or co-host
  function canControl() { return isManager() || !!(state && state.permissions && state.permissions.guestsControl); }
  function canAdd() { return isManager() || !!(state && state.permissions && state.permissions.guestsAdd); }
  function showError(text) { var e = $("party-error"); e.textContent = text; e.hidden = false;
                             setTimeout(function () { e.hidden = true; }, 4000); }
  function clockText(seconds) { var s = Math.max(0, Math.floor(seconds));
                                return Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0"); }
  function showAll(selector, visible) {
    Array.prototype.forEach.call(document.querySelectorAll(selector), function (el) { el.hidden = !visible; });
  }
  function button(label, className, onClick) {
    var b = document.createElement("button");
    b.type = "button"; b.className = "button small " + (className || ""); b.textContent = label;
    b.addEventListener("click", onClick);
    return b;
  }

  // -- track sources (see docs/party-protocol.md "Track sources") ----------------------------
  // Library tracks are HLS playlists: hls.js (vendored by hls-transcode) where the browser
  // has Media Source Extensions, else the browser's own HLS (Safari, recent Chromium).
  // Either way it is an <audio> element, so scheduling and drift correction apply as is.
  function loadTrack(player, url) {
    if (player.hls) { player.hls.destroy(); player.hls = null; }
    player.dataset.url = url;
    delete player.dataset.primed;
    player.playbackRate = 1;
    if (/\.m3u8(\?|$)/.test(url.split("#")[0]) && window.Hls && window.Hls.isSupported()) {
      player.hls = new window.Hls();
      player.hls.loadSource(url);
      player.hls.attachMedia(player);
      return;
    }
    player.src = url;
    player.load();
  }

  function selectTrack(source, trackId) {
    send({ t: "HOST_TRACK_SELECTED", version: state.version, source: source, trackId: trackId });
  }
  function queueTrack(source, trackId) { send({ t: "QUEUE_ADD", source: source, trackId: trackId }); }

  // One list per track source that offers a picker (library, collection, ...): filled from
  // GET /api/parties/<code>/tracks?source=<name>&q=<search box>, the source's own search
  // (the collection's folds accents and case: "hoppi" finds "Hoppípolla").
  var libraryLoaded = false, SEARCH_DELAY_MS = 250;
  function loadLibrary() {
    if (libraryLoaded || !canAdd()) return;
    var lists = document.querySelectorAll("ul.source-list[data-source]");
    if (!lists.length) return;
    libraryLoaded = true;
    Array.prototype.forEach.call(lists, function (list) { fillList(list, ""); });
  }

  var asked = {};  // source -> the newest query sent: an older answer arriving late is dropped
  function fillList(list, query) {
    var source = list.dataset.source;
    asked[source] = query;
    window.mediahub.fetch("/api/parties/" + code + "/tracks?source=" + encodeURIComponent(source) +
                          (query ? "&q=" + encodeURIComponent(query) : "")).then(function (response) {
      return response.json();
    }).then(function (body) {
      if (asked[source] !== query) return;
      list.textContent = "";
      (body.tracks || []).forEach(function (track) {
        var li = document.createElement("li");
        li.dataset.trackId = track.trackId;
        li.appendChild(document.createTextNode(track.title));
        var pick = button("Select", "control-only", function () { selectTrack(source, track.trackId); });
        pick.dataset.action = "select";
        pick.hidden = !canControl();
        var queue = button("Queue", "ghost", function () { queueTrack(source, track.trackId); });
        queue.dataset.action = "queue";
        li.appendChild(pick); li.appendChild(queue);
        list.appendChild(li);
      });
      if (!list.children.length) {
        var empty = document.createElement("li");
        empty.className = "muted-label";
        empty.textContent = query ? "Nothing matches “" + query + "”." : "Nothing to pick here yet.";
        list.appendChild(empty);
      }
    }).catch(function () { if (!query) libraryLoaded = false; });
  }

  Array.prototype.forEach.call(document.querySelectorAll("input.source-search[data-source]"), function (box) {
    var list = document.querySelector('ul.source-list[data-source="' + box.dataset.source + '"]'), timer = null;
    if (!list) return;
    box.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () { fillList(list, box.value.trim().slice(0, 200)); }, SEARCH_DELAY_MS);
    });
  });

  function render() {
    var finished = state.finished;
    $("track-name").textContent = finished ? "The queue has finished: add a track" :
      (state.filename || (state.trackId ? state.trackId : "Nothing yet"));
    $("added-by").textContent = state.addedByName && !finished ? "added by " + state.addedByName : "";
    $("play-state").textContent = state.playing ? "playing" : finished ? "finished" : "paused";
    var cover = $("cover-image");
    if (state.coverUrl && !finished) { if (cover.getAttribute("src") !== state.coverUrl) cover.src = state.coverUrl; cover.hidden = false; }
    else { cover.hidden = true; cover.removeAttribute("src"); }
    var r = role();
    $("role-badge").textContent = r === "host" ? "you host" : r === "cohost" ? "you co-host" : "";
    $("role-badge").hidden = r === "guest";
    $("host-panel").hidden = !isManager();
    showAll(".control-only", canControl());
    showAll(".owner-only", isHost());
    $("add-panel").hidden = !canAdd();
    $("seek").disabled = !canControl();
    $("vote-skip-button").hidden = canControl() || !state.trackId || finished;
    $("skip-votes").textContent = state.skipVotes ? "(" + state.skipVotes + ")" : "";
    var permissions = state.permissions || {};
    $("guests-control").checked = !!permissions.guestsControl;
    $("guests-add").checked = !!permissions.guestsAdd;
    $("skip-share").value = String(permissions.skipShare || 0.5);
    renderQueue();
    renderGuests();
    renderListeners();
    loadLibrary();
    reportDuration();
  }

  function trackLength() {
    if (state && state.durationSec) return state.durationSec;
    return isFinite(audio.duration) && loadedUrl === (state && state.trackUrl) ? audio.duration : null;
  }

  function renderListeners() {
    $("listener-count").textContent = listeners + (listeners === 1 ? " listening" : " listening");
  }

  function renderQueue() {
    var list = $("queue");
    list.textContent = "";
    (state.queue || []).forEach(function (entry, index) {
      var li = document.createElement("li"), text = document.createElement("span");
      li.dataset.entryId = entry.entryId;
      text.className = "queue-title";
      text.textContent = entry.filename + (entry.durationSec ? " · " + clockText(entry.durationSec) : "");
      var by = document.createElement("span");
      by.className = "muted-label"; by.textContent = "added by " + (entry.addedByName || "someone");
      li.appendChild(text); li.appendChild(by);
      var mine = entry.addedBy === me && canAdd();
      if (isManager()) {
        if (index > 0) li.appendChild(button("↑", "ghost", function () {
          send({ t: "QUEUE_MOVE", version: state.version, entryId: entry.entryId, toIndex: index - 1 }); }));
        if (index < state.queue.length - 1) li.appendChild(button("↓", "ghost", function () {
          send({ t: "QUEUE_MOVE", version: state.version, entryId: entry.entryId, toIndex: index + 1 }); }));
      }
      if (isManager() || mine) {
        var remove = button("Remove", "ghost", function () {
          send({ t: "QUEUE_REMOVE", version: state.version, entryId: entry.entryId }); });
        remove.setAttribute("aria-label", "Remove " + entry.filename);
        li.appendChild(remove);
      }
      list.appendChild(li);
    });
    if (!list.children.length) {
      var empty = document.createElement("li");
      empty.className = "muted-label"; empty.textContent = "Nothing queued.";
      list.appendChild(empty);
    }
  }

  function renderGuests() {
    var list = $("guest-list"), diagnostics = $("diagnostics-list");
    if (!list || !isHost()) return;
    list.textContent = ""; diagnostics.textContent = "";
    Object.keys(guests).forEach(function (id) {
      if (id === me) return;
      var g = guests[id], li = document.createElement("li"), label = document.createElement("span");
      var cohost = (state.cohosts || []).indexOf(id) >= 0;
      // What a host needs: who is here and whether they hear the party. Clock offsets are
      // diagnostics (a phone whose clock is 37 s wrong still plays in sync).
      label.textContent = g.name + (cohost ? " (co-host)" : "") + (g.online === false ? " (away)" : "") +
        (g.quality ? " · " + (g.quality === "Good" ? "in sync" : g.quality.toLowerCase() + " sync") : "");
      li.appendChild(label);
      li.dataset.memberId = id;
      li.appendChild(button(cohost ? "Make guest" : "Make co-host", "ghost", function () {
        send({ t: "SET_ROLE", version: state.version, memberId: id, role: cohost ? "guest" : "cohost" });
      }));
      li.appendChild(button("Make host", "ghost", function () {
        send({ t: "HOST_HANDOFF", version: state.version, memberId: id });
      }));
      list.appendChild(li);
      if (g.offsetMs !== undefined) {
        var d = document.createElement("li");
        d.textContent = g.name + " · offset " + Math.round(g.offsetMs) + " ms · drift " +
          Number(g.driftMs).toFixed(1) + " ms · rtt " + Math.round(g.rttMs) + " ms · " + g.quality;
        diagnostics.appendChild(d);
      }
    });
  }

  function showReaction(message) {
    reactionLog.push(message.emoji);
    var bubble = document.createElement("span");
    bubble.className = "reaction";
    bubble.textContent = message.emoji + " " + (message.name || "");  // text only, never markup
    $("reaction-stage").appendChild(bubble);
    setTimeout(function () { bubble.remove(); }, 2500);
  }

  // Playback position, track length, the seek slider (following playback unless being
  // dragged) and the "Tap to sync" button (only when the browser needs a tap, or the
  // audio stopped while the party plays).
  var dragging = false;
  setInterval(function () {
    if (!state) return;
    var position = state.playing ? targetAt(serverNow()) : state.positionSec, length = trackLength();
    $("position").textContent = clockText(position);
    $("duration").textContent = length ? clockText(length) : "–:––";
    var seek = $("seek");
    if (length) seek.max = String(Math.floor(length));
    if (!dragging) seek.value = String(Math.floor(position));
    var lost = state.playing && !state.finished && audio.paused && !audio.seeking &&
      serverNow() > state.serverTimestamp + 2000;
    $("tap-to-sync").hidden = !(blocked || lost);
  }, 250);
  setInterval(correct, CORRECT_EVERY_MS);
  setInterval(function () {
    if (state && state.playing && clock.offset !== null && !audio.paused) {
      send({ t: "SYNC_REPORT", offsetMs: clock.offset, driftMs: lastDrift, rttMs: clock.rtt || 0 });
    }
  }, REPORT_EVERY_MS);
  setInterval(function () { burst(5); }, REFRESH_MS);

  $("tap-to-sync").addEventListener("click", function () {
    // play() inside the tap unlocks the element (autoplay rules), the spare too (muted, so
    // the next track may start on its instant); then the normal join.
    blocked = false; $("tap-to-sync").hidden = true;
    spare.muted = true;
    var unlockSpare = spare.play();
    if (unlockSpare && unlockSpare.then) unlockSpare.then(function () { spare.pause(); spare.muted = false; },
                                                          function () { spare.muted = false; });
    var unlocked = audio.play();
    if (unlocked && unlocked.then) unlocked.then(apply, apply); else apply();
  });
  $("play-button").addEventListener("click", function () { send({ t: "HOST_PLAY", version: state.version }); });
  $("pause-button").addEventListener("click", function () { send({ t: "HOST_PAUSE", version: state.version }); });
  $("skip-button").addEventListener("click", function () { send({ t: "SKIP", version: state.version }); });
  $("vote-skip-button").addEventListener("click", function () {
    if (state && state.entryId) send({ t: "VOTE_SKIP", entryId: state.entryId });
  });
  $("volume").addEventListener("input", function (event) {
    audio.volume = spare.volume = Number(event.target.value);
  });
  Array.prototype.forEach.call(document.querySelectorAll("button.react"), function (b) {
    b.addEventListener("click", function () { send({ t: "REACT", emoji: b.dataset.emoji }); });
  });
  var seekSlider = $("seek");
  seekSlider.addEventListener("input", function () { dragging = true; });
  seekSlider.addEventListener("change", function (event) {
    dragging = false;
    send({ t: "HOST_SEEK", version: state.version, positionSec: Number(event.target.value) });
  });
  $("guests-control").addEventListener("change", function (event) {
    send({ t: "SET_PERMISSIONS", version: state.version, guestsControl: event.target.checked });
  });
  $("guests-add").addEventListener("change", function (event) {
    send({ t: "SET_PERMISSIONS", version: state.version, guestsAdd: event.target.checked });
  });
  $("skip-share").addEventListener("change", function (event) {
    send({ t: "SET_PERMISSIONS", version: state.version, skipShare: Number(event.target.value) });
  });
  $("end-button").addEventListener("click", async function () {
    if (!confirm("End the party for everyone?")) return;
    await window.mediahub.fetch("/api/parties/" + code + "/end", { method: "POST" });
  });
  $("upload-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var file = $("track-file").files[0];
    if (!file) return;
    var mode = (event.submitter && event.submitter.dataset.mode) || (canControl() ? "select" : "queue");
    // With cloudinary-temp: a temporary upload of this party's session (deleted once it
    // has played, and when the party ends); without it, the seed's upload-track.
    var temp = root.dataset.upload === "temp", form = new FormData();
    if (temp) {
      form.append("sessionId", root.dataset.session);
      form.append("songTitle", file.name.slice(0, 300));
    } else {
      form.append("filename", file.name);
    }
    form.append("audio", file);
    var progress = $("upload-progress");
    function done() { progress.value = 100; progress.hidden = true; }  // full, then gone
    window.mediahub.upload(temp ? "/api/temp-upload/upload-temp" : "/api/upload-track", form,
                           { progress: progress }).then(function (body) {
      done();
      var source = temp ? "temp-upload" : "upload-track", id = temp ? body.publicId : body.trackId;
      if (mode === "select") selectTrack(source, id); else queueTrack(source, id);
      $("track-file").value = "";
    }, function (error) { done(); showError(error.message); });
  });

  // For tests and the curious: the live numbers behind the sync badge.
  window.party = { get state() { return state; }, clock: clock, serverNow: serverNow,
                   targetAt: function (ms) { return targetAt(ms); }, get audio() { return audio; },
                   get lastDrift() { return lastDrift; }, get me() { return me; },
                   get rateJump() { return rateJump; }, get role() { return role(); },
                   get listeners() { return listeners; }, crossings: crossings, landings: landings, get reactions() { return reactionLog; },
                   send: send, get blocked() { return blocked; }, get resyncing() { return resyncing; },
                   policy: POLICY, estimateOffset: estimateOffset, correction: correction, learnRateJump: learnRateJump, quality: quality };
  connect();
})();
