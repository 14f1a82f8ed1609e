"""The relay started inside the till (embedded and demo modes), and the ngrok tunnel that gives it a
public HTTPS address for Safaricom's callbacks. The ONLY module of the till that imports `relay`
(docs/architecture.md "Packages"); everything else talks to the relay over HTTP.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


class TunnelError(RuntimeError):
    """The ngrok tunnel could not start; the message says why and what to do."""


class _HideSecret(logging.Filter):
    """Replaces a secret in a logger's records: the ngrok agent quotes a refused authtoken back ("Your
    authtoken: …"), and pyngrok logs every agent line and puts the error line in its exception."""

    def __init__(self, secret: str) -> None:
        super().__init__()
        self.secret = secret

    def hide(self, text: str) -> str:
        return text.replace(self.secret, "<NGROK_AUTHTOKEN>") if self.secret else text

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if self.secret and self.secret in message:
            record.msg, record.args = self.hide(message), None
        return True


class EmbeddedRelayHost:
    """relay.embedded.EmbeddedRelay on loopback, with its till key kept in `key_file`."""

    def __init__(
        self, database_path: Path, key_file: Path, *, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        from relay.embedded import EmbeddedRelay

        database_path.parent.mkdir(parents=True, exist_ok=True)
        self._relay = EmbeddedRelay(
            f"sqlite+aiosqlite:///{database_path}",
            host=host,
            port=port,
            till_name="this-till",
            key_file=key_file,
        )

    async def start(self) -> None:
        await self._relay.start()

    async def stop(self) -> None:
        # EmbeddedRelay answers open long-polls and cuts what is still open after a short grace;
        # uvicorn reports cutting a request short as an error, which here is expected.
        uvicorn_errors = logging.getLogger("uvicorn.error")
        level = uvicorn_errors.level
        uvicorn_errors.setLevel(logging.CRITICAL)
        try:
            await self._relay.stop()
        finally:
            uvicorn_errors.setLevel(level)

    async def c2b_urls(self, shop_name: str, shortcode: str) -> tuple[str, str]:
        """The confirmation and validation URLs of a shop owning `shortcode` that this till belongs to
        (docs/daraja.md §6), the shop made on first use."""
        from relay.c2b import CONFIRMATION, VALIDATION

        shop = await self._relay.ensure_shop(shop_name, shortcode)
        return shop.url(CONFIRMATION, self.base_url), shop.url(VALIDATION, self.base_url)

    @property
    def base_url(self) -> str:
        return str(self._relay.base_url)

    @property
    def till_key(self) -> str:
        return str(self._relay.till_key)

    @property
    def callback_path(self) -> str:
        return str(self._relay.callback_path)

    @property
    def port(self) -> int:
        from urllib.parse import urlsplit

        return int(urlsplit(self.base_url).port or 0)


class Tunnel:
    """An ngrok tunnel to a loopback port (pyngrok). `connect` is pyngrok.ngrok.connect unless given."""

    def __init__(
        self,
        authtoken: str,
        *,
        ngrok_path: str | None = None,
        connect: Callable[..., Any] | None = None,
        disconnect: Callable[..., Any] | None = None,
    ) -> None:
        self._authtoken = authtoken
        self._ngrok_path = ngrok_path
        self._connect = connect
        self._disconnect = disconnect
        self.public_url: str | None = None

    def _pyngrok_config(self) -> Any:
        from pyngrok import conf

        options: dict[str, Any] = {"auth_token": self._authtoken}
        if self._ngrok_path:
            options["ngrok_path"] = self._ngrok_path
        return conf.PyngrokConfig(**options)

    async def open(self, port: int) -> str:
        if not self._authtoken:
            raise TunnelError(
                "No ngrok token: set NGROK_AUTHTOKEN (Settings → embedded relay) or use a relay URL."
            )
        try:
            from pyngrok import ngrok
        except ImportError as error:  # pragma: no cover - the `till` extra installs pyngrok
            raise TunnelError("pyngrok is not installed: pip install '.[till]'") from error
        connect = self._connect or ngrok.connect
        hide = _HideSecret(self._authtoken)
        ngrok_log = logging.getLogger("pyngrok.process.ngrok")
        if not any(isinstance(f, _HideSecret) and f.secret == self._authtoken for f in ngrok_log.filters):
            ngrok_log.addFilter(hide)
        try:
            tunnel = await asyncio.to_thread(
                connect, str(port), "http", pyngrok_config=self._pyngrok_config(), bind_tls=True
            )
        except Exception as error:
            # PyngrokNgrokInstallError (agent download failed), PyngrokNgrokError (bad token, no network)…
            raise TunnelError(
                f"The ngrok tunnel could not start ({type(error).__name__}: {hide.hide(str(error))[:200]}). "
                "Payments are confirmed by STK Query only until it works: check NGROK_AUTHTOKEN and "
                "the internet connection."
            ) from error
        url = str(getattr(tunnel, "public_url", "") or "")
        if url.startswith("http://"):
            url = (
                "https://" + url[len("http://") :]
            )  # Daraja needs HTTPS in production (docs/daraja.md §5); ngrok serves both
        if not url.startswith("https://"):
            raise TunnelError(f"ngrok gave no HTTPS address ({url or 'none'}); payments use STK Query only.")
        self.public_url = url
        log.info("ngrok tunnel open at %s", url)
        return url

    async def close(self) -> None:
        if not self.public_url:
            return
        try:
            from pyngrok import ngrok

            disconnect = self._disconnect or ngrok.disconnect
            await asyncio.to_thread(disconnect, self.public_url, pyngrok_config=self._pyngrok_config())
        except Exception as error:
            log.info("closing the ngrok tunnel: %s", type(error).__name__)
        self.public_url = None
