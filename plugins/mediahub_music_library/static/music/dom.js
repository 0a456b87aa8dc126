// Building blocks of the music views: elements from text only (never HTML strings), track
// rows, album and artist cards, ♥ buttons. Rows and lists remember the track objects they
// show, so a click finds what to play without re-reading the page.

const rowTracks = new WeakMap();
const listTracks = new WeakMap();

export function el(tag, attrs, children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "text") node.textContent = value;
    else if (key === "class") node.className = value;
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children || []) {
    if (child === null || child === undefined || child === false) continue;
    node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return node;
}

export function formatTime(seconds) {
  if (!Number.isFinite(seconds) || seconds < 0) seconds = 0;
  const whole = Math.floor(seconds);
  const hours = Math.floor(whole / 3600);
  const minutes = Math.floor((whole % 3600) / 60);
  const secs = String(whole % 60).padStart(2, "0");
  return hours ? `${hours}:${String(minutes).padStart(2, "0")}:${secs}` : `${minutes}:${secs}`;
}

export function link(href, text, attrs) {
  return el("a", Object.assign({ href, text }, attrs || {}));
}

export function albumHref(id) { return "/music/albums/" + encodeURIComponent(id); }
export function artistHref(id) { return "/music/artists/" + encodeURIComponent(id); }
export function genreHref(name) { return "/music/genres/" + encodeURIComponent(name); }

// The ♥ of a track, album or artist: `item` is what library-sync stores as the favorite.
export function heart(item, label) {
  return el("button", {
    type: "button", class: "heart", "data-action": "favorite", "data-fav-id": item.videoId,
    "data-fav": JSON.stringify(item), "aria-pressed": "false", "aria-label": "Favorite " + label,
    title: "Favorite",
  }, ["♥"]);
}

// What library-sync keeps of a collection item (favorites, queue, playlists, history).
export function trackItem(track) {
  const item = { videoId: track.id, title: track.title || "", artist: track.artist || "" };
  if (track.coverUrl) item.artwork = track.coverUrl;
  if (Number.isFinite(track.duration)) item.duration = track.duration;
  return item;
}

export function albumItem(album) {
  const item = { videoId: album.id, title: album.name || "", artist: album.artist || "" };
  if (album.coverUrl) item.artwork = album.coverUrl;
  return item;
}

export function artistItem(artist) {
  const item = { videoId: artist.id, title: artist.name || "" };
  if (artist.coverUrl) item.artwork = artist.coverUrl;
  return item;
}

function cover(url, className) {
  if (!url) return el("span", { class: className + " cover-empty", "aria-hidden": "true" }, ["♪"]);
  return el("img", { class: className, src: url, alt: "", loading: "lazy", width: 300, height: 300 });
}

// A track the listener uploaded (hls-transcode): only they see it until they share it.
export function uploadedByMe(track) { return Boolean(track.uploaded && track.mine); }
export function shareLabel(track) { return track.shared ? "Stop sharing" : "Share with everyone"; }
export function shareBadge(track) {
  return el("span", { class: "badge share-badge", text: track.shared ? "shared" : "only you" });
}

// A track row: number, title, artist and album links, length, ♥ and a menu of queue actions.
// `options.number`: "track" (disc/track numbers), "index" (place in the list) or none;
// `options.extra`: more buttons (e.g. remove from a playlist).
export function trackRow(track, index, options) {
  options = options || {};
  const number = options.number === "track" ? (track.trackNo || "") :
    options.number === "index" ? (options.start || 0) + index + 1 : "";
  const title = track.title || "(untitled)";
  const who = [];
  if (track.artistId) who.push(link(artistHref(track.artistId), track.artist || "Unknown artist"));
  else if (track.artist) who.push(track.artist);
  if (options.showAlbum !== false && track.albumId) {
    who.push(" · ", link(albumHref(track.albumId), track.album || "Unknown album"));
  }
  const menu = el("span", { class: "track-menu" }, [
    el("button", { type: "button", class: "track-more", "data-action": "menu", "aria-expanded": "false",
                   "aria-label": "More for " + title, title: "More" }, ["⋯"]),
    el("span", { class: "track-menu-items", hidden: true }, [
      el("button", { type: "button", "data-action": "play-next", text: "Play next" }),
      el("button", { type: "button", "data-action": "enqueue", text: "Add to queue" }),
      el("button", { type: "button", "data-action": "add-to-playlist", text: "Add to playlist…" }),
      uploadedByMe(track) ? el("button", { type: "button", "data-action": "share", text: shareLabel(track) }) : null,
    ]),
  ]);
  const row = el("li", { class: "track-row", "data-track-id": track.id }, [
    el("span", { class: "track-no", text: number }),
    el("button", { type: "button", class: "track-play", "data-action": "play",
                   "aria-label": "Play " + title, title: "Play" }, ["▶"]),
    el("span", { class: "track-what" }, [
      el("span", { class: "track-title" }, [title, uploadedByMe(track) ? shareBadge(track) : null]),
      el("span", { class: "track-who" }, who),
    ]),
    el("span", { class: "track-length", text: track.duration ? formatTime(track.duration) : "" }),
    heart(trackItem(track), title),
    menu,
  ].concat(options.extra ? options.extra(track, index) : []));
  rowTracks.set(row, track);
  return row;
}

export function trackList(tracks, options) {
  const list = el(options && options.ordered === false ? "ul" : "ol",
                  { class: "track-list", "aria-label": (options && options.label) || "Tracks" },
                  tracks.map((track, index) => trackRow(track, index, options)));
  listTracks.set(list, tracks);
  return list;
}

// The track of a clicked row and the tracks of its list (what "play" plays through).
export function rowTrack(node) {
  const row = node.closest(".track-row");
  return row ? rowTracks.get(row) : null;
}

export function tracksAt(node) {
  const row = node.closest(".track-row");
  const list = node.closest(".track-list");
  if (!row || !list) return null;
  const tracks = listTracks.get(list) || [];
  const track = rowTracks.get(row);
  return { track, tracks, index: tracks.indexOf(track) };
}

// Every track the lists under `root` show, in page order ("Play" on a view).
export function tracksUnder(root) {
  return [...root.querySelectorAll(".track-list")].flatMap((list) => listTracks.get(list) || []);
}

export function albumCard(album) {
  return el("li", { class: "album-card" }, [
    el("a", { href: albumHref(album.id), class: "album-link" }, [
      cover(album.coverUrl, "album-cover"),
      el("span", { class: "album-name", text: album.name || "Unknown album" }),
    ]),
    el("span", { class: "album-meta" }, [
      album.artistId ? link(artistHref(album.artistId), album.artist || "Unknown artist") : (album.artist || ""),
      album.year ? " · " + album.year : "",
    ]),
    heart(albumItem(album), album.name || "album"),
  ]);
}

export function albumGrid(albums, label) {
  return el("ul", { class: "album-grid", "aria-label": label || "Albums" }, albums.map(albumCard));
}

export function artistRow(artist) {
  const count = artist.albumCount === 1 ? "1 album" :
    Number.isFinite(artist.albumCount) ? artist.albumCount + " albums" : "";
  return el("li", { class: "artist-row" }, [
    cover(artist.coverUrl, "artist-cover"),
    el("span", { class: "artist-what" }, [
      link(artistHref(artist.id), artist.name || "Unknown artist", { class: "artist-name" }),
      el("span", { class: "hint", text: count }),
    ]),
    heart(artistItem(artist), artist.name || "artist"),
  ]);
}

export function artistList(artists, label) {
  return el("ul", { class: "artist-list", "aria-label": label || "Artists" }, artists.map(artistRow));
}

export function heading(text, tag) {
  return el(tag || "h1", { text });
}

export function empty(text) {
  return el("p", { class: "hint empty", text });
}
