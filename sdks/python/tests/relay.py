"""A TCP relay on loopback that can go silent: the connection a client sees stays open, and
carries nothing, as behind a stuck proxy or a dead NAT entry."""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading
import time

__all__ = ["Relay"]


class Relay:
    """Relays 127.0.0.1:`port` to 127.0.0.1:`target`. `silence()` stops moving bytes both
    ways, new connections included, without closing anything; `resume()` moves them again."""

    def __init__(self, target: int) -> None:
        self.target = target
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._silent = threading.Event()
        self._closed = threading.Event()
        self._sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def silence(self) -> None:
        self._silent.set()

    def resume(self) -> None:
        self._silent.clear()

    def close(self) -> None:
        self._closed.set()
        for sock in [self._listener, *self._sockets]:
            with contextlib.suppress(OSError):
                sock.close()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
                upstream = socket.create_connection(("127.0.0.1", self.target), timeout=5)
            except OSError:
                return
            self._sockets += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()

    def _pump(self, a: socket.socket, b: socket.socket) -> None:
        peer = {a: b, b: a}
        with selectors.DefaultSelector() as selector:
            for sock in (a, b):
                selector.register(sock, selectors.EVENT_READ)
            while not self._closed.is_set():
                if self._silent.is_set():
                    time.sleep(0.02)  # bytes wait in the kernel's buffers, unread
                    continue
                for key, _ in selector.select(0.05):
                    sock = key.fileobj
                    assert isinstance(sock, socket.socket)
                    try:
                        data = sock.recv(65536)
                        if not data:
                            raise OSError("closed")
                        peer[sock].sendall(data)
                    except OSError:
                        for s in (a, b):
                            with contextlib.suppress(OSError):
                                s.close()
                        return
