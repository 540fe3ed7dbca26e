"""A TCP forwarder between a free loopback port and a real server, which a test can cut and restore.

``cut()`` closes every forwarded connection and stops listening (new connections are refused), as a database that
went away looks to its clients; ``restore()`` listens on the same port again. The real server is never touched.

>>> import socket, threading
>>> echo = socket.create_server(("127.0.0.1", 0))
>>> def serve_echo():
...     while True:
...         try:
...             conn, _ = echo.accept()
...         except OSError:
...             return
...         with conn:
...             conn.sendall(conn.recv(100))
>>> _ = threading.Thread(target=serve_echo, daemon=True).start()
>>> with TcpProxy(echo.getsockname()) as proxy:
...     with socket.create_connection(("127.0.0.1", proxy.port)) as c:
...         _ = c.sendall(b"ping")
...         c.recv(100)
...     proxy.cut()
...     try:
...         socket.create_connection(("127.0.0.1", proxy.port), timeout=1)
...     except OSError:
...         print("refused")
...     proxy.restore()
...     with socket.create_connection(("127.0.0.1", proxy.port)) as c:
...         _ = c.sendall(b"pong")
...         c.recv(100)
b'ping'
refused
b'pong'
>>> echo.close()
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading


class TcpProxy:
    """Forwards ``127.0.0.1:port`` to ``target`` (one thread per direction of each connection)."""

    def __init__(self, target: tuple[str, int] = ("127.0.0.1", 5432), port: int = 0) -> None:
        self.target = target
        self._lock = threading.Lock()
        self._conns: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self._accepting: threading.Thread | None = None
        self._stop = threading.Event()
        self.port = port
        self.connections = 0  # accepted so far
        self.restore()

    # -- control ------------------------------------------------------------------------------------------------------
    def restore(self) -> None:
        """Listen (again, on the same port) and forward new connections."""
        with self._lock:
            if self._listener is not None:
                return
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind(("127.0.0.1", self.port))
            listener.listen(128)
            self.port = listener.getsockname()[1]
            self._listener = listener
            self._stop = threading.Event()
            self._accepting = threading.Thread(target=self._accept, args=(listener, self._stop), daemon=True,
                                               name=f"tcp-proxy-{self.port}")
            self._accepting.start()

    def cut(self) -> None:
        """Close every forwarded connection and refuse new ones until :meth:`restore`."""
        with self._lock:
            listener, self._listener = self._listener, None
            stop = self._stop
            conns, self._conns = self._conns, set()
        stop.set()
        if listener is not None:
            listener.close()
        if self._accepting is not None:
            self._accepting.join(5)
        for s in conns:
            _close(s)

    def close(self) -> None:
        self.cut()

    def __enter__(self) -> TcpProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- forwarding ---------------------------------------------------------------------------------------------------
    def _accept(self, listener: socket.socket, stop: threading.Event) -> None:
        sel = selectors.DefaultSelector()
        sel.register(listener, selectors.EVENT_READ)
        try:
            while not stop.is_set():
                if not sel.select(timeout=0.05):
                    continue
                try:
                    client, _ = listener.accept()
                except OSError:
                    return
                try:
                    upstream = socket.create_connection(self.target, timeout=5)
                    upstream.settimeout(None)
                except OSError:
                    _close(client)
                    continue
                with self._lock:
                    if stop.is_set():  # cut meanwhile
                        _close(client)
                        _close(upstream)
                        return
                    self._conns |= {client, upstream}
                    self.connections += 1
                for a, b in ((client, upstream), (upstream, client)):
                    threading.Thread(target=self._pump, args=(a, b), daemon=True).start()
        finally:
            sel.close()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            with self._lock:
                self._conns.discard(src)
                self._conns.discard(dst)
            _close(src)
            _close(dst)


def _close(s: socket.socket) -> None:
    with contextlib.suppress(OSError):
        s.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        s.close()
