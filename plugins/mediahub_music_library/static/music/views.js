// The collection's views, each drawn from the JSON API (docs/music-library.md) and the
// listener's library-sync library: a view returns its title and the nodes to show.

import { getJSON, query, tracksByIds } from "./api.js";
import {
  el, empty, heading, heart, link, formatTime, trackList, albumGrid, artistList, albumItem,
  artistItem, genreHref, artistHref, trackItem,
} from "./dom.js";

const PAGE = 100;
const FAVORITES_SHOWN = 500;

function actions(buttons) {
  return el("div", { class: "view-actions" }, buttons);
}

function button(text, action, attrs) {
  return el("button", Object.assign({ type: "button", class: "button small", "data-action": action, text }, attrs || {}));
}

// A list that grows by pages: `fetchPage(offset)` resolves to items, `draw(items)` to a node.
function pagedList(fetchPage, draw, more) {
  const box = el("div", { class: "paged" });
  let offset = 0;
  async function load() {
    const items = await fetchPage(offset);
    offset += items.length;
    box.insertBefore(draw(items, offset - items.length), moreButton);
    moreButton.hidden = items.length < PAGE;
    return items;
  }
  const moreButton = el("button", { type: "button", class: "button ghost small more", text: more || "More", hidden: true });
  moreButton.addEventListener("click", () => { moreButton.disabled = true; load().finally(() => { moreButton.disabled = false; }); });
  box.appendChild(moreButton);
  return { box, load };
}

// -- browsing ------------------------------------------------------------------------------

function qualityPicker(player) {
  const select = el("select", { "data-setting": "quality" }, [
    el("option", { value: "original", text: "Original files" }),
    el("option", { value: "data-saver", text: "Data saver (Opus, 96 kb/s)" }),
  ]);
  select.value = player.quality;
  return el("section", { class: "view-section", "aria-labelledby": "playback-title" }, [
    el("h2", { id: "playback-title", text: "Playback on this device" }),
    el("label", { class: "quality" }, ["Streaming quality", select,
      el("span", { class: "hint", text: "Data saver asks the server for a smaller stream: for a phone on mobile data." })]),
  ]);
}

export async function home(params, url, ctx) {
  const data = await getJSON("/api/music/albums" + query({ type: "newest", size: 24 }));
  return {
    title: "Music",
    nodes: [
      heading("Music"),
      el("section", { class: "view-section", "aria-labelledby": "recent-title" }, [
        el("div", { class: "section-head" }, [
          el("h2", { id: "recent-title", text: "Recently added" }),
          link("/music/albums", "All albums"),
        ]),
        data.albums.length ? albumGrid(data.albums, "Recently added") :
          empty("The collection is empty. An administrator adds music folders to the configuration ([plugins.music_library] folders) and the server scans them."),
      ]),
      qualityPicker(ctx.player),
    ],
  };
}

export async function artists() {
  const data = await getJSON("/api/music/artists");
  return { title: "Artists", nodes: [heading("Artists"), data.artists.length ? artistList(data.artists, "Artists") : empty("No artists yet.")] };
}

export async function artist({ id }) {
  const data = await getJSON("/api/music/artists/" + encodeURIComponent(id));
  const name = data.artist.name || "Unknown artist";
  return {
    title: name,
    nodes: [
      el("header", { class: "view-head" }, [
        heading(name),
        heart(artistItem(data.artist), name),
      ]),
      actions([button("Play all", "play-artist", { "data-artist-id": data.artist.id })]),
      data.albums.length ? albumGrid(data.albums, "Albums of " + name) : empty("No albums."),
    ],
  };
}

const ALBUM_ORDERS = [
  ["newest", "Recently added"], ["alphabeticalByName", "By name"],
  ["alphabeticalByArtist", "By artist"], ["byYear", "By year"], ["random", "Random"],
];

export async function albums(params, url) {
  const type = ALBUM_ORDERS.some(([value]) => value === url.searchParams.get("type")) ?
    url.searchParams.get("type") : "newest";
  const list = pagedList(
    async (offset) => (await getJSON("/api/music/albums" + query({ type, size: PAGE, offset }))).albums,
    (items) => albumGrid(items, "Albums"), "More albums");
  const first = await list.load();
  const order = el("nav", { class: "chips", "aria-label": "Order albums" }, ALBUM_ORDERS.map(([value, label]) =>
    link("/music/albums" + query({ type: value === "newest" ? "" : value }), label,
         { "aria-current": value === type ? "page" : null })));
  return { title: "Albums", nodes: [heading("Albums"), order, first.length ? list.box : empty("No albums yet.")] };
}

function discNumbered(tracks) {
  const discs = new Set(tracks.map((t) => t.discNo || 1));
  return discs.size > 1;
}

export async function album({ id }) {
  const data = await getJSON("/api/music/albums/" + encodeURIComponent(id));
  const info = data.album;
  const name = info.name || "Unknown album";
  const tracks = data.tracks;
  const manyDiscs = discNumbered(tracks);
  const list = trackList(tracks, {
    label: "Tracks of " + name, number: "track", showAlbum: false,
  });
  if (manyDiscs) {
    // Disc headings between the rows, and "2-03" numbers, so a box set reads in order.
    let disc = null;
    list.querySelectorAll(".track-row").forEach((row, index) => {
      const track = tracks[index];
      row.querySelector(".track-no").textContent = `${track.discNo || 1}-${String(track.trackNo || "").padStart(2, "0")}`;
      if ((track.discNo || 1) !== disc) {
        disc = track.discNo || 1;
        list.insertBefore(el("li", { class: "disc-head", role: "presentation", text: "Disc " + disc }), row);
      }
    });
  }
  const total = tracks.reduce((sum, t) => sum + (t.duration || 0), 0);
  const genres = (info.genres || []).map((g) => link(genreHref(g), g, { class: "chip" }));
  return {
    title: name,
    nodes: [
      el("header", { class: "album-head" }, [
        info.coverUrl ? el("img", { class: "album-head-cover", src: info.coverUrl.replace(/size=\d+/, "size=600"), alt: "Cover of " + name, width: 300, height: 300 }) :
          el("span", { class: "album-head-cover cover-empty", "aria-hidden": "true" }, ["♪"]),
        el("div", { class: "album-head-text" }, [
          el("p", { class: "eyebrow", text: "Album" }),
          heading(name),
          el("p", { class: "album-by" }, [
            info.artistId ? link(artistHref(info.artistId), info.artist || "Unknown artist") : (info.artist || ""),
            info.year ? " · " + info.year : "",
            ` · ${tracks.length} ${tracks.length === 1 ? "track" : "tracks"}, ${formatTime(total)}`,
          ]),
          genres.length ? el("p", { class: "chips" }, genres) : null,
          actions([
            button("Play album", "play-all"), button("Shuffle", "shuffle-all", { class: "button ghost small" }),
            button("Add to queue", "enqueue-all", { class: "button ghost small" }),
            heart(albumItem(info), name),
          ]),
        ]),
      ]),
      tracks.length ? list : empty("This album has no tracks you can see."),
    ],
  };
}

export async function genres() {
  const data = await getJSON("/api/music/genres");
  const items = data.genres.map((genre) => el("li", {}, [
    link(genreHref(genre.name), genre.name),
    el("span", { class: "hint", text: ` ${genre.songCount} tracks · ${genre.albumCount} albums` }),
  ]));
  return { title: "Genres", nodes: [heading("Genres"), items.length ? el("ul", { class: "genre-list", "aria-label": "Genres" }, items) : empty("No genres yet.")] };
}

export async function genre({ name }) {
  const list = pagedList(
    async (offset) => (await getJSON(`/api/music/genres/${encodeURIComponent(name)}/tracks` + query({ size: PAGE, offset }))).tracks,
    (items, start) => trackList(items, { label: name + " tracks", number: "index", start }), "More tracks");
  const first = await list.load();
  return {
    title: name,
    nodes: [heading(name), first.length ? actions([button("Play all", "play-view")]) : null, first.length ? list.box : empty("No tracks in this genre.")],
  };
}

// -- search as you type (the box above the view; results replace the view) ---------------

export async function search(params, url, ctx) {
  const q = (url.searchParams.get("q") || "").trim();
  if (!q) return { title: "Search", nodes: [heading("Search"), empty("Type in the box above: artists, albums and titles, accents and case ignored.")] };
  const data = await getJSON("/api/music/search" + query({ q, artistCount: 8, albumCount: 12, songCount: 50 }),
                             { signal: ctx.signal });
  const nodes = [heading(`Results for “${q}”`)];
  if (data.artists.length) nodes.push(el("h2", { text: "Artists" }), artistList(data.artists, "Artists found"));
  if (data.albums.length) nodes.push(el("h2", { text: "Albums" }), albumGrid(data.albums, "Albums found"));
  if (data.tracks.length) nodes.push(el("h2", { text: "Tracks" }), trackList(data.tracks, { label: "Tracks found" }));
  if (nodes.length === 1) nodes.push(empty("Nothing matches."));
  return { title: "Search: " + q, nodes };
}

// -- the listener's own: favorites, playlists, history, queue ----------------------------

async function needsLibrary(ctx, title) {
  await ctx.library.loaded;
  if (ctx.library.available) return null;
  return { title, nodes: [heading(title), empty("This needs the library-sync plugin, which this server has not enabled.")] };
}

function storedCard(item, kind) {
  // A favorite album or artist as library-sync stored it (its name and cover at the time).
  const href = kind === "album" ? "/music/albums/" + encodeURIComponent(item.videoId) : artistHref(item.videoId);
  return el("li", { class: kind === "album" ? "album-card" : "artist-row" }, [
    el("a", { href, class: kind === "album" ? "album-link" : "artist-name" }, [
      kind === "album" ? (item.artwork ? el("img", { class: "album-cover", src: item.artwork, alt: "", loading: "lazy", width: 300, height: 300 }) :
        el("span", { class: "album-cover cover-empty", "aria-hidden": "true" }, ["♪"])) : null,
      el("span", { class: kind === "album" ? "album-name" : "", text: item.title || item.videoId }),
    ]),
    kind === "album" && item.artist ? el("span", { class: "album-meta", text: item.artist }) : null,
    heart(item, item.title || item.videoId),
  ]);
}

export async function favorites(params, url, ctx) {
  const missing = await needsLibrary(ctx, "Favorites");
  if (missing) return missing;
  const all = (ctx.library.data && ctx.library.data.favorites) || [];
  // The newest first, and a bounded number: a library may hold 10,000 favorites.
  const trackIds = all.filter((f) => f.videoId.startsWith("tr-")).map((f) => f.videoId);
  const tracks = await tracksByIds(trackIds.slice(0, FAVORITES_SHOWN));
  const albumsLiked = all.filter((f) => f.videoId.startsWith("al-"));
  const artistsLiked = all.filter((f) => f.videoId.startsWith("ar-"));
  const nodes = [heading("Favorites")];
  nodes.push(el("h2", { text: "Tracks" }));
  nodes.push(tracks.length ? actions([button("Play all", "play-view")]) : null,
             tracks.length ? trackList(tracks, { label: "Favorite tracks" }) : empty("♥ a track to find it here."),
             trackIds.length > FAVORITES_SHOWN ? empty(`The newest ${FAVORITES_SHOWN} of ${trackIds.length} are shown.`) : null);
  if (albumsLiked.length) nodes.push(el("h2", { text: "Albums" }), el("ul", { class: "album-grid", "aria-label": "Favorite albums" }, albumsLiked.map((i) => storedCard(i, "album"))));
  if (artistsLiked.length) nodes.push(el("h2", { text: "Artists" }), el("ul", { class: "artist-list", "aria-label": "Favorite artists" }, artistsLiked.map((i) => storedCard(i, "artist"))));
  return { title: "Favorites", nodes };
}

export async function playlists(params, url, ctx) {
  const missing = await needsLibrary(ctx, "Playlists");
  if (missing) return missing;
  const lists = ctx.library.playlists();
  const form = el("form", { class: "inline-create", "data-form": "create-playlist" }, [
    el("label", {}, ["New playlist", el("input", { name: "name", required: true, maxlength: 200, autocomplete: "off" })]),
    el("button", { type: "submit", class: "button small", text: "Create playlist" }),
  ]);
  const items = lists.map((list) => el("li", {}, [
    link("/music/playlists/" + encodeURIComponent(list.id), list.name),
    el("span", { class: "hint", text: ` ${(list.songs || []).length} tracks` }),
  ]));
  return {
    title: "Playlists",
    nodes: [heading("Playlists"), form, items.length ? el("ul", { class: "genre-list", "aria-label": "Playlists" }, items) : empty("No playlists yet.")],
  };
}

export async function playlist({ id }, url, ctx) {
  const missing = await needsLibrary(ctx, "Playlist");
  if (missing) return missing;
  const list = ctx.library.playlist(id);
  if (!list) return { title: "Playlist", nodes: [heading("Playlist"), empty("No such playlist (it may have been deleted on another device).")] };
  const tracks = await tracksByIds((list.songs || []).map((s) => s.videoId));
  const gone = (list.songs || []).length - tracks.length;
  return {
    title: list.name,
    nodes: [
      el("header", { class: "view-head" }, [heading(list.name)]),
      actions([
        tracks.length ? button("Play all", "play-view") : null,
        button("Delete playlist", "delete-playlist", { class: "button danger small", "data-playlist-id": list.id }),
      ]),
      tracks.length ? trackList(tracks, {
        label: "Tracks of " + list.name, number: "index",
        extra: (track) => [el("button", {
          type: "button", class: "icon-button small", "data-action": "remove-from-playlist",
          "data-playlist-id": list.id, "data-video-id": track.id,
          "aria-label": `Remove ${track.title} from ${list.name}`, title: "Remove from playlist", text: "✕",
        })],
      }) : empty("Add tracks with ⋯ → Add to playlist."),
      gone > 0 ? empty(`${gone} of its songs are not in this collection (removed, or added by another app).`) : null,
    ],
  };
}

export async function history(params, url, ctx) {
  const missing = await needsLibrary(ctx, "History");
  if (missing) return missing;
  const plays = ((ctx.library.data && ctx.library.data.history) || []).slice()
    .sort((a, b) => String(b.playedAt).localeCompare(String(a.playedAt))).slice(0, 200);
  const ids = [...new Set(plays.map((p) => p.videoId))];
  const found = new Map((await tracksByIds(ids)).map((t) => [t.id, t]));
  const tracks = plays.map((p) => found.get(p.videoId)).filter(Boolean);
  const total = (ctx.library.data && ctx.library.data.total_songs_played) || 0;
  return {
    title: "History",
    nodes: [
      heading("History"),
      el("p", { class: "hint", text: "A play counts once you heard half the track or 4 minutes. " + total + " plays in all." }),
      tracks.length ? trackList(tracks, { label: "Recently played", ordered: false }) : empty("Nothing played yet."),
    ],
  };
}

export async function queue(params, url, ctx) {
  return { title: "Queue", nodes: [heading("Queue"), queueList(ctx.player)], live: "queue" };
}

export function queueList(player) {
  if (!player.entries.length) return empty("The queue is empty: play an album or a track.");
  const items = player.entries.map((entryItem, index) => {
    const track = entryItem.track;
    const name = track.title || "(untitled)";
    const isCurrent = index === player.current;
    return el("li", { class: "queue-row" + (isCurrent ? " current" : ""), "data-index": index, "aria-current": isCurrent ? "true" : null }, [
      el("button", { type: "button", class: "track-play", "data-action": "queue-jump", "aria-label": "Play " + name + " from the queue", title: "Play" }, [isCurrent ? "♪" : "▶"]),
      el("span", { class: "track-what" }, [
        el("span", { class: "track-title", text: name }),
        el("span", { class: "track-who", text: track.artist || "" }),
      ]),
      el("span", { class: "track-length", text: track.duration ? formatTime(track.duration) : "" }),
      el("button", { type: "button", class: "icon-button small", "data-action": "queue-up", "aria-label": "Move " + name + " up", disabled: index === 0 }, ["↑"]),
      el("button", { type: "button", class: "icon-button small", "data-action": "queue-down", "aria-label": "Move " + name + " down", disabled: index === player.entries.length - 1 }, ["↓"]),
      el("button", { type: "button", class: "icon-button small", "data-action": "queue-remove", "aria-label": "Remove " + name + " from the queue" }, ["✕"]),
    ]);
  });
  return el("div", {}, [
    el("ol", { class: "queue-list", "aria-label": "Queue" }, items),
    actions([el("button", { type: "button", class: "button ghost small", "data-action": "queue-clear", text: "Clear the queue" })]),
  ]);
}

export { trackItem };
