"""The relay inside the till's own event loop, for a single shop (docs/architecture.md, "Embedding").

`start()` migrates the database, makes sure this till has a key (created once and kept in `key_file`,
mode 0600, so the callback URL and the key survive restarts), and serves the relay on loopback with
uvicorn in the running loop. The till then talks to it over HTTP like to any remote relay.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from litestar import Litestar
from sqlalchemy import Connection

from daraja_core.serve import BackgroundServer
from relay.app import create_app, release_waiters
from relay.c2b import ShopError, ShopRef, add_till_to_shop, create_shop, find_shop
from relay.db import Database
from relay.migrate import upgrade
from relay.settings import RelaySettings
from relay.tills import TillRef, create_till_key, till_for_key


class EmbeddedRelay:
    def __init__(
        self,
        database_url: str,
        host: str = "127.0.0.1",
        port: int = 0,
        till_name: str = "this-till",
        key_file: Path | None = None,
        shutdown_grace_s: float = 0.5,
    ) -> None:
        self.database_url = database_url
        # The till is the only client and is going away when it stops the relay: a request still open
        # then (its own feed long-poll) may be cut short after a moment instead of holding the exit.
        self.shutdown_grace_s = shutdown_grace_s
        self.host = host
        self.port = port
        self.till_name = till_name
        self.key_file = key_file
        self.base_url = ""
        self.till_key = ""
        self.callback_path = ""
        self._server: BackgroundServer | None = None
        self._app: Litestar | None = None

    async def start(self) -> None:
        await upgrade(self.database_url)
        till, key = await self._ensure_key()
        self.till_key = key
        self.callback_path = till.callback_path
        settings = RelaySettings(database_url=self.database_url, migrate_on_start=False)
        # proxy_headers off: the relay decides itself whom to believe about X-Forwarded-For.
        self._app = create_app(settings)
        server = BackgroundServer(
            self._app,
            self.host,
            self.port,
            proxy_headers=False,
            timeout_graceful_shutdown=self.shutdown_grace_s,
        )
        await server.start()
        self._server = server
        self.port = server.port
        self.base_url = server.base_url

    async def stop(self) -> None:
        """Stops at once: open long-polls (the till's own) are answered with their current status."""
        if self._app is not None:
            release_waiters(self._app)
        if self._server is not None:
            await self._server.stop()
            self._server = None

    async def ensure_shop(self, name: str, shortcode: str) -> ShopRef:
        """The shop `name` owning `shortcode`, with this till in it (created on first use), so the
        till sees the shop's C2B payments (demo mode: the simulator's paybill)."""

        def ensure(connection: Connection) -> ShopRef:
            try:
                find_shop(connection, name)
            except ShopError:
                create_shop(connection, name, shortcode)
            return add_till_to_shop(connection, name, self.till_name)

        db = Database(self.database_url)
        try:
            return await db.write(ensure)
        finally:
            await db.dispose()

    async def _ensure_key(self) -> tuple[TillRef, str]:
        db = Database(self.database_url)
        try:
            stored = self._read_key()
            if stored:
                found = await db.read(lambda connection: till_for_key(connection, stored))
                if found is not None:
                    return found, stored
            # No usable key: issue one; an existing till of that name keeps its callback URL.
            till, key = await db.write(lambda c: create_till_key(c, self.till_name, replace=True))
        finally:
            await db.dispose()
        self._write_key(key)
        return till, key

    def _read_key(self) -> str | None:
        if self.key_file is None or not self.key_file.exists():
            return None
        return self.key_file.read_text(encoding="utf-8").strip() or None

    def _write_key(self, key: str) -> None:
        if self.key_file is None:
            return
        self.key_file.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.key_file.with_name(self.key_file.name + ".tmp")
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(key + "\n")
        os.replace(temporary, self.key_file)
        os.chmod(self.key_file, 0o600)
