"""Child processes of the scripts: a free port to serve on, and stopping a child by its PID.

Standard library only: the benchmark's measured processes import this without loading the
project's dependencies.
"""

import signal
import socket
import subprocess


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stop(
    process: subprocess.Popen[bytes] | subprocess.Popen[str],
    sig: signal.Signals = signal.SIGTERM,
    timeout: float = 30.0,
) -> int:
    """Send ``sig`` to ``process`` if it still runs; SIGKILL it if it outlives ``timeout``.

    Returns the exit status: negative for a signal, as in :attr:`subprocess.Popen.returncode`.
    """
    if process.poll() is None:
        process.send_signal(sig)
        try:
            return process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
    return process.wait()
