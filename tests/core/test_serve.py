import httpx
from litestar import Litestar, get

from daraja_core.serve import serving


@get("/ping", sync_to_thread=False)
def ping() -> dict[str, str]:
    return {"pong": "yes"}


async def test_an_app_served_in_the_loop_answers_real_http_on_a_free_loopback_port() -> None:
    async with serving(Litestar([ping])) as server:
        assert server.port != 0
        async with httpx.AsyncClient(base_url=server.base_url) as client:
            answer = await client.get("/ping")
        assert answer.json() == {"pong": "yes"}
    async with httpx.AsyncClient() as client:
        try:
            await client.get(f"{server.base_url}/ping", timeout=1)
        except httpx.ConnectError:
            pass
        else:
            raise AssertionError("the server still answers after stop()")
