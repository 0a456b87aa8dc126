// This browser tab as one device of the listener's library-sync library: favorites, history,
// queue, playlists and preferences (docs/library-sync.md). Writes go one at a time, each with
// the version of the answer before it (`since`), so the server's merge rules decide; the
// WebSocket says when another device changed something, and the copy is refetched.

import { request, getJSON } from "./api.js";

const DEVICE_KEY = "mediahub.music.device";

function deviceId() {
  let id = sessionStorage.getItem(DEVICE_KEY);
  if (!id) {
    id = "music-" + Math.random().toString(36).slice(2, 12);
    sessionStorage.setItem(DEVICE_KEY, id);
  }
  return id;
}

function now() { return new Date().toISOString(); }

export class Library extends EventTarget {
  constructor() {
    super();
    this.device = deviceId();
    this.data = null;          // the last library the server sent
    this.available = true;     // false when library-sync is not enabled on this server
    this.busy = Promise.resolve();
    this.loaded = new Promise((resolve) => { this.markLoaded = resolve; });
  }

  get version() { return this.data ? this.data.version : undefined; }

  // `own`: the answer to this device's write (not news from another device).
  keep(library, sections, own) {
    const before = this.data;
    this.data = library;
    this.dispatchEvent(new CustomEvent("change", { detail: { sections: sections || null, before, own: Boolean(own) } }));
    return library;
  }

  // One request at a time: every write carries the version of the answer before it.
  serial(make) {
    const run = this.busy.then(make);
    this.busy = run.catch((error) => {
      this.dispatchEvent(new CustomEvent("error", { detail: error }));
    });
    return run;
  }

  load() {
    return this.serial(async () => {
      try {
        return this.keep(await getJSON("/api/me/library"));
      } catch (error) {
        if (error.status === 404) { this.available = false; return null; }
        throw error;
      } finally {
        this.markLoaded();
      }
    });
  }

  // `value` may be a function of the current copy, run when the write's turn comes.
  put(section, value, extra, sections) {
    if (!this.available) return Promise.resolve(null);
    return this.serial(async () => {
      const body = Object.assign({ since: this.version, device_id: this.device }, extra || {});
      body[section] = typeof value === "function" ? value() : value;
      const answer = await request("PUT", "/api/me/" + section.replace("_", "-"), body);
      return this.keep(answer, sections || [section], true);
    });
  }

  // -- favorites -------------------------------------------------------------------------

  favoriteIds() {
    return new Set(((this.data && this.data.favorites) || []).map((item) => item.videoId));
  }

  isFavorite(videoId) { return this.favoriteIds().has(videoId); }

  setFavorite(item, on) {
    return this.put("favorites", () => {
      const favorites = ((this.data && this.data.favorites) || []).filter((f) => f.videoId !== item.videoId);
      if (on) favorites.unshift(Object.assign({}, item, { addedAt: now() }));
      return favorites;
    });
  }

  // -- history: a play counts once it passed the scrobble rule (player.js) ---------------

  addPlay(item, completionRate) {
    const entry = Object.assign({}, item, { playedAt: now(), source: "music" });
    delete entry.duration;
    if (Number.isFinite(completionRate)) entry.completionRate = Math.max(0, Math.min(1, completionRate));
    return this.put("history", [entry]);
  }

  // -- queue: the items, which one plays and where (docs/library-sync.md "queue") -------

  savedQueue() {
    const data = this.data || {};
    const state = data.queue_state || {};
    const current = Number.isInteger(state.current) ? state.current : 0;
    const position = Number.isFinite(state.positionSec) ? state.positionSec : 0;
    return { items: data.queue || [], current, position };
  }

  saveQueue(items, current, positionSec, options) {
    const queue = items.map((item, index) => Object.assign({}, item, { position: index }));
    queue.forEach((item) => { delete item.duration; });
    const extra = { queue_state: { current, positionSec: Math.max(0, positionSec || 0) } };
    if (options && options.keepalive) return this.beacon("queue", queue, extra);
    return this.put("queue", queue, extra);
  }

  // The last save as the page goes away: a keepalive request that outlives the page.
  beacon(section, value, extra) {
    if (!this.available || !this.data) return null;
    const body = Object.assign({ since: this.version, device_id: this.device }, extra || {});
    body[section] = value;
    return window.mediahub.fetch("/api/me/" + section, {
      method: "PUT", keepalive: true, headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    }).catch(() => null);
  }

  // -- preferences: shuffle and repeat follow the listener ------------------------------

  preferences() { return (this.data && this.data.preferences) || {}; }

  setPreferences(changes) {
    return this.put("preferences", () => Object.assign({}, this.preferences(), changes));
  }

  // -- playlists -------------------------------------------------------------------------

  playlists() { return (this.data && this.data.playlists) || []; }

  playlist(id) {
    const map = (this.data && this.data.playlist_id_map) || {};
    const wanted = map[id] || id;
    return this.playlists().find((p) => p.id === wanted) || null;
  }

  editPlaylists(change) {
    return this.put("playlists", () => {
      const copy = JSON.parse(JSON.stringify(this.playlists()));
      return change(copy) || copy;
    });
  }

  createPlaylist(name, songs) {
    const id = "pl_" + Math.random().toString(36).slice(2, 14);
    const stamp = now();
    return this.editPlaylists((lists) => {
      lists.push({ id, name, songs: songs || [], is_public: false, created_at: stamp, updated_at: stamp });
    }).then(() => this.playlist(id));
  }

  addToPlaylist(playlistId, items) {
    return this.editPlaylists((lists) => {
      const list = lists.find((p) => p.id === playlistId);
      if (!list) throw new Error("that playlist is gone");
      list.songs = list.songs || [];
      const have = new Set(list.songs.map((s) => s.videoId));
      for (const item of items) {
        if (!have.has(item.videoId)) list.songs.push(Object.assign({}, item, { addedAt: now() }));
      }
      list.updated_at = now();
    });
  }

  removeFromPlaylist(playlistId, videoId) {
    return this.editPlaylists((lists) => {
      const list = lists.find((p) => p.id === playlistId);
      if (list) {
        list.songs = (list.songs || []).filter((s) => s.videoId !== videoId);
        list.updated_at = now();
      }
    });
  }

  deletePlaylist(playlistId) {
    return this.editPlaylists((lists) => lists.filter((p) => p.id !== playlistId));
  }

  // -- other devices ---------------------------------------------------------------------

  listen() {
    if (!this.available) return;
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    const socket = new WebSocket(scheme + location.host + "/ws/library");
    socket.addEventListener("message", (event) => {
      let message;
      try { message = JSON.parse(event.data); } catch (error) { return; }
      if (message.type === "library_changed" && message.device_id !== this.device &&
          message.version > (this.version || 0)) {
        this.serial(async () => this.keep(await getJSON("/api/me/library"), message.sections));
      }
    });
    socket.addEventListener("close", () => {
      // Reconnect, and catch up on what was missed meanwhile.
      setTimeout(() => { this.listen(); this.serial(async () => this.keep(await getJSON("/api/me/library"))); }, 3000);
    });
  }
}
