"""`mediahub library scan` and `mediahub library status`."""

from __future__ import annotations

import click

from mediahub import run_with_services


@click.group("library")
def library() -> None:
    """The music collection ([plugins.music_library] folders)."""


@library.command("scan")
@click.pass_context
def scan(ctx: click.Context) -> None:
    """Scan the folders now: new, changed, moved and removed files."""
    from mediahub_music_library.scanner import scan_folders

    def progress(counts) -> None:
        click.echo(f"\rseen {counts.seen}  added {counts.added}  changed {counts.changed}  "
                   f"moved {counts.moved}  removed {counts.removed}  failed {counts.failed}",
                   nl=False, err=True)

    async def work(host):
        config = host.plugin_config("music_library")
        if not config.folders:
            raise click.ClickException("no folders configured: set [plugins.music_library] folders")
        return await scan_folders(config, progress)

    counts = run_with_services(ctx, work)
    click.echo("", err=True)
    for path, reason in counts.problems:
        click.echo(f"skipped {path}: {reason}")
    click.echo(f"scanned {counts.seen} files: {counts.added} added, {counts.changed} changed, "
               f"{counts.moved} moved, {counts.removed} removed, {counts.failed} failed")


@library.command("status")
@click.pass_context
def status(ctx: click.Context) -> None:
    """What the collection holds and which files were skipped, and why."""
    from mediahub_music_library.models import (MusicAlbum, MusicArtist, MusicFolder,
                                               MusicScanIssue, MusicTrack)

    async def work(host):
        lines = []
        for folder in await MusicFolder.all().order_by("id"):
            count = await MusicTrack.filter(folder_id=folder.id, present=True).count()
            lines.append(f"{folder.path}: {count} tracks")
        lines.append(f"total: {await MusicTrack.filter(present=True).count()} tracks, "
                     f"{await MusicAlbum.all().count()} albums, {await MusicArtist.all().count()} artists")
        issues = await MusicScanIssue.all().order_by("rel_path")
        lines.append(f"skipped files: {len(issues)}")
        lines += [f"  {issue.rel_path}: {issue.reason}" for issue in issues]
        return lines

    for line in run_with_services(ctx, work):
        click.echo(line)
