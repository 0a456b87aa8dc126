// The player: one <audio> element that lives for as long as the tab (views change around
// it), a queue of collection tracks, shuffle/repeat, and the play rules shared with the
// listener's other devices through library-sync: the queue with its current track and
// position is saved there, and a play enters the history by the scrobble rule.

import { trackItem } from "./dom.js";

// A play counts once the listener heard half the track or 4 minutes, whichever comes first.
export function scrobbleThreshold(duration) {
  return Number.isFinite(duration) && duration > 0 ? Math.min(duration / 2, 240) : 240;
}

const SAVE_EVERY_MS = 10_000;       // position saved this often while playing
const QUALITY_KEY = "mediahub.music.quality";
// "Data saver" (a phone on mobile data): the server transcodes to Opus at this bitrate.
export const DATA_SAVER = { format: "opus", maxBitRate: 96 };
const RESTART_AFTER_SEC = 3;        // "previous" past this point restarts the track
const REPEAT_MODES = ["off", "all", "one"];

let nextUid = 1;

function entry(track) {
  return { uid: nextUid++, track };
}

export class Player extends EventTarget {
  constructor(library, audio) {
    super();
    this.library = library;
    this.audio = audio;
    this.entries = [];
    this.current = -1;
    this.shuffle = false;
    this.repeat = "off";
    this.played = new Set();     // entries already heard in this shuffle round
    this.back = [];              // where "previous" goes when shuffling
    this.heard = 0;              // seconds of the current play actually listened to
    this.lastTime = 0;
    this.scrobbled = false;
    this.pendingSeek = null;
    this.saveTimer = null;
    this.offset = 0;             // where the current source starts (a transcode starts at a seek)
    this.quality = localStorage.getItem(QUALITY_KEY) === "data-saver" ? "data-saver" : "original";
    this.bind();
  }

  get track() { return this.entries[this.current] ? this.entries[this.current].track : null; }
  get playing() { return !this.audio.paused && !this.audio.ended; }

  // Seconds into the track (a transcoded source starts at `offset`).
  time() { return this.offset + (this.audio.currentTime || 0); }

  duration() {
    const track = this.track;
    if (track && track.duration) return track.duration;
    return Number.isFinite(this.audio.duration) ? this.offset + this.audio.duration : 0;
  }

  get transcoded() { return this.quality === "data-saver"; }

  // The stream of `track` from `start` seconds: the original file (seekable by Range), or
  // in data-saver mode an Opus transcode the server starts at that offset.
  source(track, start) {
    const base = track.streamUrl || "/api/music/tracks/" + encodeURIComponent(track.id) + "/stream";
    if (!this.transcoded) {
      this.offset = 0;
      this.pendingSeek = start > 0 ? start : null;
      return base;
    }
    this.offset = Math.max(0, Math.floor(start || 0));
    this.pendingSeek = null;
    const params = new URLSearchParams({ format: DATA_SAVER.format, maxBitRate: String(DATA_SAVER.maxBitRate) });
    if (this.offset) params.set("timeOffset", String(this.offset));
    return base + (base.includes("?") ? "&" : "?") + params.toString();
  }

  setQuality(quality) {
    this.quality = quality === "data-saver" ? "data-saver" : "original";
    localStorage.setItem(QUALITY_KEY, this.quality);
    if (!this.track) return;
    // Switch the playing track over at the same point.
    const wasPlaying = this.playing;
    const at = this.time();
    this.audio.src = this.source(this.track, at);
    this.lastTime = at;
    if (wasPlaying) this.audio.play().catch((error) => this.emit("error", String(error.message || error)));
    this.emit("time");
  }

  bind() {
    const audio = this.audio;
    audio.addEventListener("loadedmetadata", () => {
      if (this.pendingSeek !== null) {
        this.quietSeek = true;  // restoring a saved position is not the listener seeking
        audio.currentTime = Math.min(this.pendingSeek, audio.duration || this.pendingSeek);
        this.pendingSeek = null;
      }
      this.emit("time");
    });
    audio.addEventListener("timeupdate", () => this.onTime());
    audio.addEventListener("play", () => { this.emit("state"); this.startSaving(); });
    audio.addEventListener("pause", () => { this.emit("state"); this.stopSaving(); this.save(); });
    audio.addEventListener("seeked", () => {
      this.lastTime = this.time();
      if (this.quietSeek) this.quietSeek = false;
      else this.saveSoon();
    });
    audio.addEventListener("ended", () => this.onEnded());
    audio.addEventListener("error", () => this.emit("error", "this track cannot be played"));
    window.addEventListener("pagehide", () => this.save({ keepalive: true }));
  }

  emit(type, detail) { this.dispatchEvent(new CustomEvent(type, { detail })); }

  // -- the scrobble rule ---------------------------------------------------------------

  onTime() {
    const time = this.time();
    const step = time - this.lastTime;
    // Only steady playback counts: a seek forward is not listening.
    if (step > 0 && step < 1.5 && !this.audio.paused) this.heard += step;
    this.lastTime = time;
    const track = this.track;
    if (track && !this.scrobbled && this.heard >= scrobbleThreshold(this.duration())) {
      this.scrobbled = true;
      const duration = this.duration();
      this.library.addPlay(trackItem(track), duration ? this.heard / duration : undefined)
        .catch(() => null);
      this.emit("scrobble", track);
    }
    this.emit("time");
  }

  // -- loading and playing ---------------------------------------------------------------

  load(index, { autoplay = true, position = 0 } = {}) {
    this.current = index;
    const track = this.track;
    this.heard = 0;
    this.lastTime = position;
    this.scrobbled = false;
    this.quietSeek = false;
    if (!track) {
      this.audio.removeAttribute("src");
      this.audio.load();
      this.emit("track");
      return;
    }
    if (this.shuffle) this.played.add(this.entries[index]);
    this.audio.src = this.source(track, position);
    this.emit("track");
    if (autoplay) this.audio.play().catch((error) => this.emit("error", String(error.message || error)));
    this.mediaSession();
  }

  playList(tracks, index) {
    this.entries = tracks.map(entry);
    this.played = new Set();
    this.back = [];
    this.load(Math.max(0, index || 0));
    this.changed();
  }

  playNext(tracks) {
    if (!this.entries.length) return this.playList(tracks, 0);
    this.entries.splice(this.current + 1, 0, ...tracks.map(entry));
    this.changed();
  }

  enqueue(tracks) {
    if (!this.entries.length) {
      this.entries = tracks.map(entry);
      this.load(0, { autoplay: false });
    } else {
      this.entries.push(...tracks.map(entry));
    }
    this.changed();
  }

  jump(index) {
    if (index < 0 || index >= this.entries.length) return;
    if (this.current >= 0) this.back.push(this.entries[this.current]);
    this.load(index);
    this.changed();
  }

  move(from, to) {
    if (from === to || from < 0 || to < 0 || from >= this.entries.length || to >= this.entries.length) return;
    const playing = this.entries[this.current];
    const [moved] = this.entries.splice(from, 1);
    this.entries.splice(to, 0, moved);
    this.current = this.entries.indexOf(playing);
    this.changed();
  }

  remove(index) {
    if (index < 0 || index >= this.entries.length) return;
    const wasPlaying = this.playing;
    const [gone] = this.entries.splice(index, 1);
    this.played.delete(gone);
    this.back = this.back.filter((e) => e !== gone);
    if (index < this.current) {
      this.current -= 1;
    } else if (index === this.current) {
      // The track after the removed one takes its place (or the queue ends).
      const next = this.current < this.entries.length ? this.current : -1;
      this.load(next, { autoplay: wasPlaying });
    }
    this.changed();
  }

  clear() {
    this.entries = [];
    this.load(-1);
    this.changed();
  }

  toggle() {
    if (!this.track) return;
    if (this.audio.paused) this.audio.play().catch((error) => this.emit("error", String(error.message || error)));
    else this.audio.pause();
  }

  seek(seconds) {
    if (!this.track) return;
    this.quietSeek = false;
    const target = Math.max(0, seconds);
    if (this.transcoded) {
      // A transcode cannot seek by Range: the server starts a new one at that point.
      const wasPlaying = this.playing;
      this.audio.src = this.source(this.track, target);
      this.lastTime = this.offset;
      if (wasPlaying) this.audio.play().catch((error) => this.emit("error", String(error.message || error)));
      this.saveSoon();
      this.emit("time");
      return;
    }
    this.audio.currentTime = target;
    this.lastTime = target;
  }

  // The index "next" goes to, or -1 at the end of the queue.
  upcoming() {
    const count = this.entries.length;
    if (!count) return -1;
    if (this.shuffle) {
      let left = this.entries.filter((e, i) => i !== this.current && !this.played.has(e));
      if (!left.length && this.repeat === "all") {
        this.played = new Set([this.entries[this.current]]);
        left = this.entries.filter((e, i) => i !== this.current);
      }
      if (!left.length) return -1;
      return this.entries.indexOf(left[Math.floor(Math.random() * left.length)]);
    }
    if (this.current + 1 < count) return this.current + 1;
    return this.repeat === "all" ? 0 : -1;
  }

  next() {
    const index = this.upcoming();
    if (index < 0) return false;
    this.back.push(this.entries[this.current]);
    this.load(index, { autoplay: true });
    this.changed();
    return true;
  }

  previous() {
    if (this.time() > RESTART_AFTER_SEC || this.current < 0) {
      this.seek(0);
      return;
    }
    let index = -1;
    if (this.shuffle) {
      while (this.back.length && index < 0) index = this.entries.indexOf(this.back.pop());
    } else if (this.current > 0) {
      index = this.current - 1;
    } else if (this.repeat === "all") {
      index = this.entries.length - 1;
    }
    if (index < 0) { this.seek(0); return; }
    this.load(index, { autoplay: true });
    this.changed();
  }

  onEnded() {
    if (this.repeat === "one") {
      this.load(this.current, { autoplay: true });
      return;
    }
    if (!this.next()) {
      this.emit("state");
      this.save();
    }
  }

  setShuffle(on) {
    this.shuffle = Boolean(on);
    this.played = new Set(this.current >= 0 ? [this.entries[this.current]] : []);
    this.emit("mode");
  }

  cycleRepeat() {
    this.setRepeat(REPEAT_MODES[(REPEAT_MODES.indexOf(this.repeat) + 1) % REPEAT_MODES.length]);
  }

  setRepeat(mode) {
    this.repeat = REPEAT_MODES.includes(mode) ? mode : "off";
    this.emit("mode");
  }

  // -- the queue on the listener's other devices -------------------------------------------

  changed() {
    this.emit("queue");
    this.saveSoon();
  }

  saveSoon() {
    clearTimeout(this.saveTimer);
    this.saveTimer = setTimeout(() => this.save(), 400);
  }

  startSaving() {
    this.stopSaving();
    this.saveInterval = setInterval(() => this.save(), SAVE_EVERY_MS);
  }

  stopSaving() {
    clearInterval(this.saveInterval);
  }

  position() {
    return this.pendingSeek !== null ? this.pendingSeek : this.time();
  }

  save(options) {
    clearTimeout(this.saveTimer);
    if (!this.restored) return null;  // never overwrite the saved queue before reading it
    const items = this.entries.map((e) => trackItem(e.track));
    return this.library.saveQueue(items, Math.max(0, this.current), this.position(), options);
  }

  // Take the queue another device (or this one, before a reload) left: same tracks, same
  // track, same position; paused, since nobody pressed play here yet.
  restore(tracks, current, position) {
    this.restored = true;
    if (this.playing) return;
    const index = Math.min(Math.max(0, current), tracks.length - 1);
    const same = tracks.length === this.entries.length &&
      tracks.every((track, i) => track.id === this.entries[i].track.id);
    if (same && index === this.current && this.audio.readyState >= 1) {
      // Only the position moved on (another device playing on): no need to reload the track.
      if (this.transcoded) {
        this.audio.src = this.source(this.track, position);
        this.lastTime = this.offset;
      } else {
        this.quietSeek = true;
        this.audio.currentTime = position;
      }
      this.emit("time");
      return;
    }
    this.entries = tracks.map(entry);
    this.played = new Set();
    this.back = [];
    if (!tracks.length) { this.load(-1); this.emit("queue"); return; }
    this.load(index, { autoplay: false, position });
    this.emit("queue");
  }

  // Lock-screen and headset controls on phones.
  mediaSession() {
    if (!("mediaSession" in navigator) || !this.track) return;
    const track = this.track;
    try {
      navigator.mediaSession.metadata = new MediaMetadata({
        title: track.title || "", artist: track.artist || "", album: track.album || "",
        artwork: track.coverUrl ? [{ src: track.coverUrl }] : [],
      });
      navigator.mediaSession.setActionHandler("play", () => this.toggle());
      navigator.mediaSession.setActionHandler("pause", () => this.toggle());
      navigator.mediaSession.setActionHandler("nexttrack", () => this.next());
      navigator.mediaSession.setActionHandler("previoustrack", () => this.previous());
    } catch (error) { /* an older browser without some handler: controls stay in the page */ }
  }
}
