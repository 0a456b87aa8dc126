// The player bar at the bottom of every music view: what plays, its ♥, the controls and
// the seek slider, kept in step with the player's events.

import { formatTime, trackItem } from "./dom.js";

export function bindBar(player, library) {
  const $ = (id) => document.getElementById(id);
  const title = $("player-title");
  const artist = $("player-artist");
  const coverImage = $("player-cover");
  const fav = $("player-fav");
  const play = $("player-play");
  const shuffle = $("player-shuffle");
  const repeat = $("player-repeat");
  const slider = $("player-position");
  const time = $("player-time");
  const length = $("player-duration");
  const count = $("player-queue-count");
  let dragging = false;

  function showTrack() {
    const track = player.track;
    title.textContent = track ? (track.title || "(untitled)") : "Nothing playing";
    artist.textContent = track ? [track.artist, track.album].filter(Boolean).join(" · ") : "";
    coverImage.hidden = !(track && track.coverUrl);
    if (track && track.coverUrl) coverImage.src = track.coverUrl;
    else coverImage.removeAttribute("src");
    fav.hidden = !track;
    if (track) {
      fav.dataset.favId = track.id;
      fav.dataset.fav = JSON.stringify(trackItem(track));
      fav.setAttribute("aria-label", "Favorite " + (track.title || "the playing track"));
      fav.setAttribute("aria-pressed", String(library.isFavorite(track.id)));
    }
    showTime();
  }

  function showState() {
    const playing = player.playing;
    play.dataset.state = playing ? "playing" : "paused";
    play.setAttribute("aria-label", playing ? "Pause" : "Play");
    play.title = playing ? "Pause" : "Play";
    play.disabled = !player.track;
  }

  function showTime() {
    const duration = player.duration();
    slider.max = String(duration);
    if (!dragging) slider.value = String(player.position());
    time.textContent = formatTime(dragging ? Number(slider.value) : player.position());
    length.textContent = formatTime(duration);
  }

  function showMode() {
    shuffle.setAttribute("aria-pressed", String(player.shuffle));
    repeat.dataset.repeat = player.repeat;
    repeat.setAttribute("aria-label", "Repeat: " + player.repeat);
    repeat.title = "Repeat: " + player.repeat;
  }

  play.addEventListener("click", () => player.toggle());
  $("player-next").addEventListener("click", () => player.next());
  $("player-prev").addEventListener("click", () => player.previous());
  shuffle.addEventListener("click", () => {
    player.setShuffle(!player.shuffle);
    library.setPreferences({ shuffle: player.shuffle }).catch(() => null);
  });
  repeat.addEventListener("click", () => {
    player.cycleRepeat();
    library.setPreferences({ repeat: player.repeat }).catch(() => null);
  });
  slider.addEventListener("input", () => { dragging = true; showTime(); });
  slider.addEventListener("change", () => { dragging = false; player.seek(Number(slider.value)); showTime(); });

  // Space plays and pauses, unless the listener is typing or on a control of its own.
  document.addEventListener("keydown", (event) => {
    if (event.key !== " " || event.target.closest("input, textarea, select, button, a, [contenteditable]")) return;
    event.preventDefault();
    player.toggle();
  });

  player.addEventListener("track", () => { showTrack(); showState(); });
  player.addEventListener("state", () => { showState(); showTrack(); });
  player.addEventListener("time", showTime);
  player.addEventListener("mode", showMode);
  player.addEventListener("queue", () => { count.textContent = String(player.entries.length); });
  library.addEventListener("change", () => {
    if (player.track) fav.setAttribute("aria-pressed", String(library.isFavorite(player.track.id)));
  });
  showTrack();
  showState();
  showMode();
}
