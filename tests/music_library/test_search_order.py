"""Track search lists matches in title order whether a query matches a few tracks or thousands
(SQLite walks the title index for many matches, sorts them for few; both must agree)."""

from __future__ import annotations

from mediahub_music_library.queries import SORT_MATCHES_LIMIT, track_matches


async def fill(folder_id: int, count: int) -> None:
    """`count` tracks titled "Night <n>", plus a few "Quiet ..." ones, in scrambled title order."""
    from mediahub_music_library.models import MusicAlbum, MusicArtist, MusicTrack

    artist = await MusicArtist.create(id="ar-1", key="a", name="A", sort_name="a", search_text="a")
    album = await MusicAlbum.create(id="al-1", key="a\nx\n", name="X", sort_name="x", search_text="x a",
                                    artist=artist, artist_name="A")
    titles = [f"Night {(n * 7919) % count:05d}" for n in range(count)]
    titles += ["Quiet Zebra", "Quiet Apple", "Quiet Mango"]
    await MusicTrack.bulk_create([
        MusicTrack(id=f"tr-{n:016x}", folder_id=folder_id, rel_path=f"{n}.mp3", path_key=f"{n:040x}",
                   fingerprint=str(n), title=title, sort_title=title.lower(),
                   search_text=f"{title.lower()} a x", album_id=album.id, artist_id=artist.id,
                   artist_name="A", present=n % 50 != 3)  # a few gone files: never listed
        for n, title in enumerate(titles)], batch_size=500)
    # Tracks with a long text (hundreds of credited artists): PostgreSQL finds them through
    # an index of their own (migration 0007), and they must sort in among the others.
    for n, title in enumerate(LONG_TITLES):
        credits = " ".join(f"artist{k} ensemble{k * 7}" for k in range(300))
        await MusicTrack.create(id=f"tr-long-{n}", folder_id=folder_id, rel_path=f"long{n}.mp3",
                                path_key=f"long{n}", fingerprint=f"long{n}", title=title,
                                sort_title=title.lower(), search_text=f"{title.lower()} {credits} x",
                                album_id=album.id, artist_id=artist.id, artist_name="A")


LONG_TITLES = ["Night 00045 Long", "Quiet Long"]


async def test_search_pages_are_in_title_order_for_many_and_few_matches(mediahub_app_factory,
                                                                       database_overrides, tmp_path):
    from mediahub import first_result
    from mediahub.models import User
    from mediahub_music_library.visibility import configured_folders

    music = tmp_path / "music"
    music.mkdir()
    app = await mediahub_app_factory(overrides={**database_overrides, "plugins": {"music_library": {
        "folders": [str(music)], "scan_on_start": False, "watch": False, "rescan_interval": 0}}})
    count = SORT_MATCHES_LIMIT + 100
    async with app.app_context():
        (folder, _), = await configured_folders()
        await fill(folder.id, count)
        user = await User.create(username="reader", password_hash="x")
        catalog = await first_result("music_catalog")
        visible = sorted([f"Night {(n * 7919) % count:05d}" for n in range(count) if n % 50 != 3]
                         + ["Night 00045 Long"])

        many = await catalog.search(user, "nig", song_count=30, song_offset=40)
        assert [t.title for t in many.tracks] == visible[40:70]
        assert "Night 00045 Long" in visible[40:70]
        few = await catalog.search(user, "quiet", song_count=3)
        assert [t.title for t in few.tracks] == ["Quiet Apple", "Quiet Long", "Quiet Mango"]
        both = await catalog.search(user, "quiet zeb")
        assert [t.title for t in both.tracks] == ["Quiet Zebra"]
        credited = await catalog.search(user, "ensemble2093")  # a word far into a long text
        assert [t.title for t in credited.tracks] == ["Night 00045 Long", "Quiet Long"]
        everything = await catalog.search(user, "", song_count=5)
        assert [t.title for t in everything.tracks] == visible[:5]
        assert (await catalog.search(user, "nightx")).tracks == []
        if not database_overrides:  # SQLite: both plans were taken above
            assert (await track_matches("nig"))[0].startswith("+")
            assert not (await track_matches("quiet"))[0].startswith("+")
