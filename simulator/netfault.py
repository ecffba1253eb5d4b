"""A TCP proxy between one agent and the broker that can be cut: a real network partition.

The agent connects to the proxy instead of the broker. Two kinds of partition:

- ``cut()`` drops every open connection without a goodbye (the broker fires the agent's
  last will) and drops new ones as soon as they arrive: both ends notice at once, then
  the agent's reconnects fail with backoff.
- ``black_hole()`` is dead school Wi-Fi: traffic stops in both directions and the sockets
  stay open. Nothing is lost or reordered (TCP would retransmit); bytes are held, not
  dropped, so when the hole heals before either end gave up, the connection goes on as
  if slow. Only keepalive finds out: the agent misses its PINGRESP and closes its socket,
  the broker misses the agent's packets for 1.5 keepalives and fires the last will. A
  close is itself traffic: the other end hears of it only when the hole heals. A new
  connection is accepted (the SYN is answered by this host's kernel) and held.

``restore()`` lets everything through again.

The listening socket is bound once, when the proxy is made, and kept until ``close()``:
a port given up at a cut could be taken by another process (an outgoing connection's
ephemeral port, another test) before the restore, and fifty proxies made with
``free_port()`` could even be handed the same port twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Coroutine
from types import TracebackType
from typing import Any

CHUNK = 65536
BACKLOG = 128


class PartitionProxy:
    """Forward 127.0.0.1:``port`` to the broker until ``cut``; runs its own event loop thread."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(BACKLOG)
        self.port: int = self._listener.getsockname()[1]
        self.connections_cut = 0
        self.connections_refused = 0
        self.closed_in_black_hole = 0
        """Connection ends that closed while in a black hole (their keepalive found out)."""
        self._cut_now = True  # until start()
        self._holed = False
        self._flowing: asyncio.Event | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="partition-proxy", daemon=True
        )
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        """The broker URL to give the agent."""
        return f"mqtt://127.0.0.1:{self.port}"

    @property
    def is_cut(self) -> bool:
        """Whether the link is down (cut or black hole)."""
        return self._cut_now or self._holed

    def start(self) -> PartitionProxy:
        """Start forwarding."""
        self._thread.start()
        self._call(self._listen())
        self.restore()
        return self

    def cut(self) -> None:
        """Partition: close every connection abruptly and refuse new ones."""
        self._call(self._cut())

    def black_hole(self) -> None:
        """Partition: hold all traffic, keep every socket open (see the module docstring)."""
        self._call(self._hole(True))

    def restore(self) -> None:
        """Heal the partition: let connections and held traffic through again."""
        self._cut_now = False
        if self._thread.is_alive():
            self._call(self._hole(False))

    def close(self) -> None:
        """Cut, stop listening and stop the proxy's thread."""
        if self._thread.is_alive():
            self.cut()
            self._call(self._unlisten())
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)
        self._loop.close()
        self._listener.close()

    def _call(self, coroutine: Coroutine[Any, Any, None]) -> None:
        asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(10)

    async def _hole(self, holed: bool) -> None:
        if self._flowing is None:
            self._flowing = asyncio.Event()
        self._holed = holed
        if holed:
            self.closed_in_black_hole = 0
            self._flowing.clear()
        else:
            self._flowing.set()

    async def _through(self) -> None:
        """Until traffic may pass (at once unless in a black hole)."""
        if self._holed and self._flowing is not None:
            await self._flowing.wait()

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._serve, sock=self._listener)

    async def _unlisten(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
            await server.wait_closed()
        # Aborted transports close their sockets on a later loop turn: give them those
        # turns before the loop stops, or the sockets are left for the garbage collector.
        for _ in range(3):
            await asyncio.sleep(0)

    async def _cut(self) -> None:
        self._cut_now = True
        await self._hole(False)  # what waited in a black hole now finds its socket gone
        for writer in list(self._writers):
            # SO_LINGER 0 would send RST; closing the transport without flushing is enough
            # for the broker and the agent to see the connection die without DISCONNECT.
            writer.transport.abort()
            self.connections_cut += 1
        self._writers.clear()

    async def _serve(
        self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter
    ) -> None:
        if self._cut_now:
            self.connections_refused += 1
            client_writer.transport.abort()
            return
        await self._through()  # a connection made into a black hole waits for it to heal
        if self._cut_now:
            client_writer.transport.abort()
            return
        try:
            broker_reader, broker_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            client_writer.transport.abort()
            return
        self._writers.update((client_writer, broker_writer))
        await asyncio.gather(
            self._pipe(client_reader, broker_writer), self._pipe(broker_reader, client_writer)
        )
        for writer in (client_writer, broker_writer):
            self._writers.discard(writer)
            writer.transport.abort()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while data := await reader.read(CHUNK):
                await self._through()
                writer.write(data)
                await writer.drain()
        if self._holed:
            self.closed_in_black_hole += 1
            await self._through()  # the other end hears of the close once the hole heals
        writer.transport.abort()

    def __enter__(self) -> PartitionProxy:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
