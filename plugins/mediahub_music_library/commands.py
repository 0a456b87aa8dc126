"""`mediahub library scan` and `mediahub library status`."""

from __future__ import annotations

from datetime import timezone

import click

from mediahub import run_with_services


@click.group("library")
def library() -> None:
    """The music collection ([plugins.music_library] folders)."""


@library.command("scan")
@click.pass_context
def scan(ctx: click.Context) -> None:
    """Scan the folders now: new, changed, moved and removed files."""
    from mediahub_music_library.service import LibraryService

    def progress(counts) -> None:
        click.echo(f"\rseen {counts.seen}  added {counts.added}  changed {counts.changed}  "
                   f"moved {counts.moved}  removed {counts.removed}  failed {counts.failed}",
                   nl=False, err=True)

    async def work(host):
        config = host.plugin_config("music_library")
        if not config.folders:
            raise click.ClickException("no folders configured: set [plugins.music_library] folders")
        # Through the service, as `mediahub serve` scans: under the scan lease (never two scans
        # of one collection at once) and recorded for `mediahub library status`.
        service = LibraryService(config)
        counts = await service.scan("cli", progress=progress)
        if counts is None:
            raise click.ClickException(f"scan failed: {service.error}" if service.error else
                                       "another server is scanning the collection now; try later")
        return counts

    counts = run_with_services(ctx, work)
    click.echo("", err=True)
    for path, reason in counts.problems:
        click.echo(f"skipped {path}: {reason}")
    click.echo(f"scanned {counts.seen} files: {counts.added} added, {counts.changed} changed, "
               f"{counts.moved} moved, {counts.removed} removed, {counts.failed} failed")


@library.command("status")
@click.pass_context
def status(ctx: click.Context) -> None:
    """What the collection holds, the last scan (when, why, what it did, any error), and which
    files were skipped and why."""

    async def work(host):
        return await status_lines()

    for line in run_with_services(ctx, work):
        click.echo(line)


async def status_lines() -> list[str]:
    import time

    from mediahub_music_library.models import (MusicAlbum, MusicArtist, MusicFolder,
                                               MusicScanIssue, MusicScanState, MusicTrack)

    lines = []
    for folder in await MusicFolder.all().order_by("id"):
        count = await MusicTrack.filter(folder_id=folder.id, present=True).count()
        lines.append(f"{folder.path}: {count} tracks{'' if folder.configured else ' (not configured)'}")
    uploads = await MusicTrack.filter(folder_id=None, present=True).count()
    if uploads:
        lines.append(f"uploads: {uploads} tracks")
    albums = await MusicAlbum.filter(tracks__present=True).distinct().count()
    artists = await MusicArtist.filter(track_links__track__present=True).distinct().count()
    lines.append(f"total: {await MusicTrack.filter(present=True).count()} tracks, "
                 f"{albums} albums, {artists} artists")
    state = await MusicScanState.get_or_none(name="scan")
    if state is not None and state.lease_until > time.time():
        lines.append(f"scanning now: yes ({state.holder}, since {when(state.started_at)})")
    if state is None or state.finished_at is None:
        lines.append("last scan: never")
    else:
        counts = state.counts or {}
        lines.append(f"last scan: {when(state.started_at)} to {when(state.finished_at)}"
                     f" ({counts.get('seconds', '?')} s), reason: {counts.get('reason', '?')}")
        lines.append("  " + ", ".join(f"{counts.get(key, 0)} {key}" for key in
                                      ("seen", "added", "changed", "moved", "removed", "failed")))
        lines.append(f"  error: {state.error}" if state.error else "  error: none")
        lines += [f"  skipped {problem['path']}: {problem['reason']}"
                  for problem in counts.get("problems") or []]
    issues = await MusicScanIssue.all().order_by("rel_path")
    lines.append(f"skipped files: {len(issues)}")
    lines += [f"  {issue.rel_path}: {issue.reason}" for issue in issues]
    return lines


def when(value) -> str:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC") if value else "?"
