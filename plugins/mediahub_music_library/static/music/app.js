// The music pages as one document: links inside /music swap the view (History API) instead
// of loading a page, so the player bar's <audio> keeps playing; the views' buttons act on
// the player and the listener's library. Entry point of the pages (templates/music/app.html).

import { getJSON, request, tracksByIds } from "./api.js";
import { el, tracksAt, tracksUnder, trackItem, rowTrack, shareLabel, shareBadge } from "./dom.js";
import { Library } from "./library.js";
import { Player } from "./player.js";
import { bindBar } from "./bar.js";
import * as views from "./views.js";

const root = document.getElementById("music");
const view = document.getElementById("music-view");
const errorBox = document.getElementById("music-error");
const searchBox = document.getElementById("music-q");
const library = new Library();
const player = new Player(library, document.getElementById("player-audio"));

const ROUTES = [
  [/^\/music\/?$/, views.home, "home"],
  [/^\/music\/artists\/?$/, views.artists, "artists"],
  [/^\/music\/artists\/([^/]+)$/, views.artist, "artists", ["id"]],
  [/^\/music\/albums\/?$/, views.albums, "albums"],
  [/^\/music\/albums\/([^/]+)$/, views.album, "albums", ["id"]],
  [/^\/music\/genres\/?$/, views.genres, "genres"],
  [/^\/music\/genres\/(.+)$/, views.genre, "genres", ["name"]],
  [/^\/music\/search\/?$/, views.search, "search"],
  [/^\/music\/favorites\/?$/, views.favorites, "favorites"],
  [/^\/music\/playlists\/?$/, views.playlists, "playlists"],
  [/^\/music\/playlists\/([^/]+)$/, views.playlist, "playlists", ["id"]],
  [/^\/music\/history\/?$/, views.history, "history"],
  [/^\/music\/queue\/?$/, views.queue, "queue"],
];

function showError(message) {
  errorBox.textContent = message || "";
  errorBox.hidden = !message;
}

// -- moving between views ----------------------------------------------------------------

let rendering = null;   // the AbortController of the view being drawn
let liveView = null;

function match(url) {
  for (const [pattern, draw, nav, names] of ROUTES) {
    const found = pattern.exec(url.pathname);
    if (!found) continue;
    const params = {};
    (names || []).forEach((name, i) => { params[name] = decodeURIComponent(found[i + 1]); });
    return { draw, nav, params };
  }
  return null;
}

async function render(url, { focus = false } = {}) {
  if (rendering) rendering.abort();
  const controller = new AbortController();
  rendering = controller;
  const route = match(url);
  if (!route) { location.assign(url.href); return; }
  document.querySelectorAll(".music-nav a").forEach((a) => {
    if (a.dataset.nav === route.nav) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  });
  // Every view is a music page, whatever the server marked when the document loaded.
  document.querySelectorAll('.site-nav a[href="/music"]').forEach((a) => a.setAttribute("aria-current", "page"));
  if (route.nav === "search" && document.activeElement !== searchBox) {
    searchBox.value = url.searchParams.get("q") || "";  // back/forward through searches
  }
  view.setAttribute("aria-busy", "true");
  try {
    const result = await route.draw(route.params, url, { library, player, signal: controller.signal });
    if (controller.signal.aborted) return;
    view.replaceChildren(...result.nodes.filter(Boolean));
    liveView = result.live || null;
    document.title = result.title + " — mediahub";
    markFavorites();
    showError("");
    if (focus) view.focus({ preventScroll: true });
  } catch (error) {
    if (controller.signal.aborted || error.name === "AbortError") return;
    if (error.status === 401) {  // signed out meanwhile (another tab, an expired session)
      location.assign("/login?next=" + encodeURIComponent(url.pathname + url.search));
      return;
    }
    const title = error.status === 404 ? "Not found" : "Something went wrong";
    view.replaceChildren(el("h1", { text: title }), el("p", { class: "hint", text: error.message || String(error) }));
    document.title = title + " — mediahub";
  } finally {
    if (rendering === controller) view.removeAttribute("aria-busy");
  }
}

// `focus`: move the keyboard focus to the new view (not while the listener types a search).
function navigate(href, { replace = false, focus = !replace } = {}) {
  const url = new URL(href, location.href);
  if (replace) history.replaceState({}, "", url.href);
  else history.pushState({}, "", url.href);
  if (!replace) window.scrollTo(0, 0);
  return render(url, { focus });
}

function isMusicLink(anchor, event) {
  if (!anchor || event.defaultPrevented || event.button !== 0) return false;
  if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return false;
  if (anchor.target && anchor.target !== "_self") return false;
  if (anchor.hasAttribute("download")) return false;
  const url = new URL(anchor.href, location.href);
  return url.origin === location.origin && /^\/music(\/|$)/.test(url.pathname) &&
    !url.pathname.startsWith("/music/static/") && Boolean(match(url));
}

document.addEventListener("click", (event) => {
  const anchor = event.target.closest("a[href]");
  if (isMusicLink(anchor, event)) {
    event.preventDefault();
    navigate(anchor.href);
  }
});
window.addEventListener("popstate", () => render(new URL(location.href)));

// -- search as you type --------------------------------------------------------------------

let searchTimer = null;
searchBox.addEventListener("input", () => {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(() => {
    const q = searchBox.value.trim();
    const target = "/music/search" + (q ? "?q=" + encodeURIComponent(q) : "");
    navigate(target, { replace: location.pathname === "/music/search", focus: false });
  }, 120);
});
document.getElementById("music-search").addEventListener("submit", (event) => {
  event.preventDefault();
  clearTimeout(searchTimer);
  const q = searchBox.value.trim();
  navigate("/music/search" + (q ? "?q=" + encodeURIComponent(q) : ""),
           { replace: location.pathname === "/music/search", focus: false });
});

// -- favorites: every ♥ on the page shows the listener's library --------------------------

function markFavorites() {
  const liked = library.favoriteIds();
  document.querySelectorAll("[data-fav-id]").forEach((button) => {
    button.setAttribute("aria-pressed", String(liked.has(button.dataset.favId)));
  });
}

library.addEventListener("change", (event) => {
  markFavorites();
  const sections = event.detail.sections;
  // Another device moved the queue on while this one sits idle: follow it.
  const queueMoved = sections && sections.some((name) => name.startsWith("queue"));
  if (queueMoved && !player.playing && !event.detail.own) restoreQueue().catch(() => null);
});
library.addEventListener("error", (event) => showError(String(event.detail.message || event.detail)));
player.addEventListener("error", (event) => showError(event.detail));

// -- what the views' buttons do --------------------------------------------------------------

async function allTracksOfArtist(artistId) {
  const data = await getJSON("/api/music/artists/" + encodeURIComponent(artistId));
  const tracks = [];
  for (const album of data.albums) {
    tracks.push(...(await getJSON("/api/music/albums/" + encodeURIComponent(album.id))).tracks);
  }
  return tracks;
}

function shuffled(list) {
  const copy = list.slice();
  for (let i = copy.length - 1; i > 0; i -= 1) {
    const j = Math.floor(Math.random() * (i + 1));
    [copy[i], copy[j]] = [copy[j], copy[i]];
  }
  return copy;
}

// The ⋯ menu of a track row: one open at a time, closed by any other click or Escape.
function closeMenus(except) {
  document.querySelectorAll(".track-more[aria-expanded=true]").forEach((button) => {
    if (button === except) return;
    button.setAttribute("aria-expanded", "false");
    button.nextElementSibling.hidden = true;
  });
}
document.addEventListener("click", (event) => {
  if (!event.target.closest(".track-menu")) closeMenus();
});
document.addEventListener("keydown", (event) => { if (event.key === "Escape") closeMenus(); });

const ACTIONS = {
  menu(target) {
    const open = target.getAttribute("aria-expanded") !== "true";
    closeMenus(target);
    target.setAttribute("aria-expanded", String(open));
    target.nextElementSibling.hidden = !open;
    if (open) target.nextElementSibling.querySelector("button").focus();
  },
  play(target) {
    const found = tracksAt(target);
    if (found) player.playList(found.tracks, found.index);
  },
  "play-next"(target) {
    const found = tracksAt(target);
    if (found) player.playNext([found.track]);
  },
  enqueue(target) {
    const found = tracksAt(target);
    if (found) player.enqueue([found.track]);
  },
  "play-all"() { const tracks = tracksUnder(view); if (tracks.length) player.playList(tracks, 0); },
  "play-view"() { const tracks = tracksUnder(view); if (tracks.length) player.playList(tracks, 0); },
  "shuffle-all"() { const tracks = tracksUnder(view); if (tracks.length) player.playList(shuffled(tracks), 0); },
  "enqueue-all"() { player.enqueue(tracksUnder(view)); },
  async "play-artist"(target) {
    const tracks = await allTracksOfArtist(target.dataset.artistId);
    if (tracks.length) player.playList(tracks, 0);
  },
  async favorite(target) {
    const on = target.getAttribute("aria-pressed") !== "true";
    target.setAttribute("aria-pressed", String(on));
    await library.setFavorite(JSON.parse(target.dataset.fav), on);
  },
  async share(target) {
    // The uploader lets everybody see their upload (or takes it back): PUT .../shared.
    const track = rowTrack(target);
    if (!track) return;
    const answer = await request("PUT", "/api/music/tracks/" + encodeURIComponent(track.id) + "/shared",
                                 { shared: !track.shared });
    track.shared = answer.track.shared;
    target.textContent = shareLabel(track);
    const badge = target.closest(".track-row").querySelector(".share-badge");
    if (badge) badge.replaceWith(shareBadge(track));
  },
  "add-to-playlist"(target) {
    const found = tracksAt(target);
    if (found) choosePlaylist(found.track);
  },
  async "remove-from-playlist"(target) {
    await library.removeFromPlaylist(target.dataset.playlistId, target.dataset.videoId);
    render(new URL(location.href));
  },
  async "delete-playlist"(target) {
    await library.deletePlaylist(target.dataset.playlistId);
    navigate("/music/playlists");
  },
  "queue-jump"(target) { player.jump(queueIndex(target)); },
  "queue-up"(target) { const i = queueIndex(target); player.move(i, i - 1); },
  "queue-down"(target) { const i = queueIndex(target); player.move(i, i + 1); },
  "queue-remove"(target) { player.remove(queueIndex(target)); },
  "queue-clear"() { player.clear(); },
};

function queueIndex(target) {
  return Number(target.closest("[data-index]").dataset.index);
}

document.addEventListener("click", (event) => {
  const target = event.target.closest("[data-action]");
  if (!target || !root.parentNode.contains(target) || !ACTIONS[target.dataset.action]) return;
  if (target.dataset.action !== "menu") closeMenus();
  Promise.resolve(ACTIONS[target.dataset.action](target))
    .catch((error) => showError(String(error.message || error)));
});

document.addEventListener("change", (event) => {
  if (event.target.matches("[data-setting=quality]")) player.setQuality(event.target.value);
});

document.addEventListener("submit", (event) => {
  const form = event.target.closest("[data-form=create-playlist]");
  if (!form) return;
  event.preventDefault();
  const name = form.elements.name.value.trim();
  if (!name) return;
  library.createPlaylist(name).then(() => render(new URL(location.href)))
    .catch((error) => showError(String(error.message || error)));
});

// "Add to playlist…": a dialog listing the listener's playlists, or a new one.
function choosePlaylist(track) {
  const dialog = el("dialog", { class: "playlist-dialog", "aria-label": "Add to playlist" });
  const close = () => { dialog.close(); dialog.remove(); };
  const add = (promise) => promise.then(close).catch((error) => showError(String(error.message || error)));
  const choices = library.playlists().map((list) => {
    const choice = el("button", { type: "button", class: "button ghost small", text: list.name });
    choice.addEventListener("click", () => add(library.addToPlaylist(list.id, [trackItem(track)])));
    return el("li", {}, [choice]);
  });
  const nameInput = el("input", { name: "name", required: true, maxlength: 200, autocomplete: "off" });
  const form = el("form", { class: "inline-create" }, [
    el("label", {}, ["New playlist", nameInput]),
    el("button", { type: "submit", class: "button small", text: "Create and add" }),
  ]);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const name = nameInput.value.trim();
    if (name) add(library.createPlaylist(name, [Object.assign(trackItem(track), { addedAt: new Date().toISOString() })]));
  });
  const cancel = el("button", { type: "button", class: "button ghost small", text: "Cancel" });
  cancel.addEventListener("click", close);
  dialog.append(
    el("h2", { text: `Add “${track.title || "track"}” to a playlist` }),
    choices.length ? el("ul", { class: "dialog-choices" }, choices) : null,
    form, cancel,
  );
  dialog.addEventListener("cancel", () => dialog.remove());
  document.body.appendChild(dialog);
  dialog.showModal();
}

// -- the queue view follows the player -----------------------------------------------------

function refreshLiveView() {
  if (liveView === "queue") view.replaceChildren(view.firstChild, views.queueList(player));
}
player.addEventListener("queue", refreshLiveView);
player.addEventListener("track", refreshLiveView);

// -- the queue the listener left (here or on another device) --------------------------------

async function restoreQueue() {
  const saved = library.savedQueue();
  const ids = saved.items.map((item) => item.videoId);
  const currentId = ids[saved.current];
  const tracks = ids.length ? await tracksByIds(ids) : [];
  // Tracks that left the collection drop out; the current one is found again by id.
  let current = tracks.findIndex((t) => t.id === currentId);
  const position = current >= 0 ? saved.position : 0;
  if (current < 0) current = 0;
  player.restore(tracks, current, position);
}

async function boot() {
  bindBar(player, library);
  const url = new URL(location.href);
  if (url.pathname === "/music/search") searchBox.value = url.searchParams.get("q") || "";
  const first = render(url);
  try {
    await library.load();
    const preferences = library.preferences();
    if (preferences.shuffle) player.setShuffle(true);
    if (preferences.repeat) player.setRepeat(preferences.repeat);
    await restoreQueue();
    library.listen();
  } catch (error) {
    showError(String(error.message || error));
  } finally {
    player.restored = true;
  }
  await first;
  markFavorites();
  root.dataset.ready = "true";
}

// For the browser tests and anyone debugging in the console.
window.mediahubMusic = { player, library };

boot();
