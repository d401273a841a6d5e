"""The `stocksync` command. Each command parses its options and calls services; nothing more."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
from sqlalchemy import Connection, Engine
from tqdm import tqdm

from stocksync import jsoncodec
from stocksync.db import migrate
from stocksync.db.engine import make_engine, read_tx, resolve_url
from stocksync.db.tenants import tenant_id

DB_OPTION = click.option(
    "--db",
    "db_url",
    envvar="STOCKSYNC_DB",
    default=None,
    help="Database URL or SQLite file (default: $STOCKSYNC_DB, else the user data directory).",
)


def _engine(db_url: str | None) -> Engine:
    engine = make_engine(db_url)
    migrate.upgrade(engine)
    return engine


def _tenant(conn: Connection, sid: str) -> int:
    found = tenant_id(conn, sid)
    if found is None:
        raise click.ClickException(f"unknown seller (sid): {sid}")
    return found


class ProgressBars:
    """One tqdm bar per snapshot section, drawn on stderr (hidden when it is not a terminal)."""

    def __init__(self) -> None:
        self._bar: tqdm[Any] | None = None
        self._section = ""

    def __enter__(self) -> ProgressBars:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.close()

    def update(self, section: str, done: int, total: int) -> None:
        if section != self._section:
            if self._bar is not None:
                self._bar.close()
            self._section = section
            self._bar = tqdm(
                total=total, desc=section, unit="rec", file=sys.stderr, disable=None, leave=False
            )
        assert self._bar is not None
        self._bar.update(done - self._bar.n)


def _echo_json(value: Any) -> None:
    click.echo(jsoncodec.dumps(value, pretty=True).decode())


@click.group()
@click.version_option(package_name="stocksync")
def main() -> None:
    """stocksync: stock-sync engine and flagship open-API server."""


@main.command()
@DB_OPTION
def init(db_url: str | None) -> None:
    """Create or migrate the database to the current schema."""
    _engine(db_url)
    click.echo(f"database ready: {resolve_url(db_url)}")


@main.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@DB_OPTION
def import_(file: Path, db_url: str | None) -> None:
    """Import a tenant snapshot (all or nothing, idempotent)."""
    from stocksync.services.snapshot import SnapshotInvalid, import_snapshot

    engine = _engine(db_url)
    try:
        with ProgressBars() as bars:
            report = import_snapshot(engine, file, progress=bars.update)
    except SnapshotInvalid as exc:
        for error in exc.errors:
            click.echo(f"error: {error}", err=True)
        raise click.ClickException(f"{len(exc.errors)} problem(s); nothing was imported") from None
    for warning in report.warnings:
        click.echo(f"warning: {warning}", err=True)
    click.echo(
        f"imported sid {report.sid}: created {_counts(report.created)}; "
        f"updated {_counts(report.updated)}; {report.changed_listings} listing(s) marked changed"
    )


def _counts(counts: dict[str, int]) -> str:
    shown = [f"{n} {name}" for name, n in counts.items() if n]
    return ", ".join(shown) or "nothing"


@main.command()
@click.option("--sid", default=None, help="The seller to export (default: the only one).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None)
@DB_OPTION
def export(sid: str | None, out: Path | None, db_url: str | None) -> None:
    """Export one seller as a snapshot document (to stdout or --out)."""
    from stocksync.db.tenants import list_sids
    from stocksync.services.snapshot import write_snapshot

    engine = _engine(db_url)
    with read_tx(engine) as conn:
        if sid is None:
            sids = list_sids(conn)
            if len(sids) != 1:
                raise click.ClickException(f"give --sid; sellers here: {', '.join(sids) or 'none'}")
            sid = sids[0]
        _tenant(conn, sid)
        if out is None:
            write_snapshot(conn, sid, sys.stdout.buffer)
            sys.stdout.buffer.flush()
            return
        with out.open("wb") as stream:
            write_snapshot(conn, sid, stream)
    click.echo(f"exported sid {sid} to {out}", err=True)


@main.command()
@click.argument("rec_id", type=int)
@click.option("--sid", required=True)
@click.option("--json", "as_json", is_flag=True, help="Print the calcStock record as JSON.")
@click.option("--explain", is_flag=True, help="Explain every step of the number.")
@click.option("--force", is_flag=True, help="forceSync: skip the disabled/delayed check.")
@DB_OPTION
def calc(
    rec_id: int, sid: str, as_json: bool, explain: bool, force: bool, db_url: str | None
) -> None:
    """Compute syn_stock for one listing, as calcStock does."""
    from stocksync.domain.errors import BusinessError
    from stocksync.domain.explain import render, story_to_dict
    from stocksync.services.calc import calc_listing, explain_listing

    engine = _engine(db_url)
    with read_tx(engine) as conn:
        tid = _tenant(conn, sid)
        if explain:
            story = explain_listing(conn, tid, rec_id, force_sync=force)
            if as_json:
                _echo_json(story_to_dict(story))
            else:
                click.echo(render(story))
            return
        try:
            record = calc_listing(conn, tid, rec_id, force_sync=force).record
        except BusinessError as exc:
            if as_json:
                _echo_json({"status": 100, "message": exc.message})
                return
            raise click.ClickException(exc.message) from None
    if as_json:
        _echo_json(record)
    else:
        for key, value in record.items():
            click.echo(f"{key:24} {value}")


@main.command()
@click.option("--sid", required=True)
@click.option("--json", "as_json", is_flag=True)
@click.option("--shop", "shop_id", type=int, default=None, help="Only this shop's listings.")
@click.option("--pending", is_flag=True, help="Only listings waiting to be synced.")
@click.option("--errors", is_flag=True, help="Only listings whose calculation fails.")
@DB_OPTION
def listings(
    sid: str, as_json: bool, shop_id: int | None, pending: bool, errors: bool, db_url: str | None
) -> None:
    """syn_stock of every listing (the batch path), as a table or JSON."""
    from stocksync.services.batch import batch_syn_stock

    engine = _engine(db_url)
    with read_tx(engine) as conn:
        tid = _tenant(conn, sid)
        items = batch_syn_stock(
            conn, tid, shop_id=shop_id, pending_only=pending, errors_only=errors
        )
    if as_json:
        _echo_json(
            [
                {"rec_id": i.rec_id, "error": i.error}
                if i.error is not None
                else {"rec_id": i.rec_id, "syn_stock": i.syn_stock}
                for i in items
            ]
        )
        return
    click.echo(f"{'rec_id':>10}  {'syn_stock':>10}  error")
    for item in items:
        shown = "" if item.syn_stock is None else str(item.syn_stock)
        click.echo(f"{item.rec_id:>10}  {shown:>10}  {item.error or ''}")
    click.echo(f"{len(items)} listing(s)")


SERVE_OPTIONS = [
    click.option("--host", default="127.0.0.1", show_default=True),
    click.option("--port", default=8000, show_default=True, type=int),
    click.option("--workers", default=1, show_default=True, type=int),
]


def _serve_options(func: Any) -> Any:
    for option in reversed(SERVE_OPTIONS):
        func = option(func)
    return func


@main.command()
@_serve_options
@DB_OPTION
def serve(host: str, port: int, workers: int, db_url: str | None) -> None:
    """Serve the flagship open API (POST /openapi)."""
    from stocksync.bootstrap import serve as run_server

    _engine(db_url)
    run_server(resolve_url(db_url), host=host, port=port, workers=workers)


@main.command()
@click.option("--no-serve", is_flag=True, help="Create the demo tenant and exit.")
@_serve_options
@DB_OPTION
def demo(no_serve: bool, host: str, port: int, workers: int, db_url: str | None) -> None:
    """Create (or refresh) the demo seller, then serve it."""
    from stocksync.bootstrap import serve as run_server
    from stocksync.services.demo import create_demo

    engine = _engine(db_url)
    info = create_demo(engine)
    click.echo(f"demo seller ready in {resolve_url(db_url)}")
    click.echo(f"  sid={info.sid} key={info.key} appsecret={info.secret}:{info.salt}")
    if no_serve:
        return
    click.echo(f"  open API: http://{host}:{port}/openapi")
    run_server(resolve_url(db_url), host=host, port=port, workers=workers)
