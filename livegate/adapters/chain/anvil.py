"""`AnvilNode`: Foundry's anvil as a child process on 127.0.0.1, on a port picked first.

Blocks are mined per transaction and each block's timestamp is one second after the last
(`anvil_setBlockTimestampInterval 1`), so block times and gas behave like a real chain's."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from livegate.adapters.chain import node_modules
from livegate.adapters.chain.accounts import DEV_ACCOUNTS, DEV_BALANCE_ETH, DEV_HD_PATH, DEV_MNEMONIC
from livegate.adapters.chain.rpc import LOOPBACK, free_port, rpc_call, wait_until_answering
from livegate.core.errors import VenueUnreachable

START_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 5.0
PORT_ATTEMPTS = 3


class AnvilNode:
    """An anvil process: `start()` returns its JSON-RPC URL once it answers; `stop()` ends it
    (terminate, wait, then kill). `binary` defaults to the one `node_modules.find_anvil` finds."""

    backend = "anvil"

    def __init__(self, chain_id: int = 31337, *, binary: Path | None = None, host: str = LOOPBACK,
                 start_timeout: float = START_TIMEOUT_S):
        self.chain_id, self.host, self.start_timeout = chain_id, host, start_timeout
        self.binary = binary
        self.rpc_url: str | None = None
        self._process: subprocess.Popen | None = None
        self._log = None

    def start(self) -> str:
        """Start anvil and wait until it answers; returns the RPC URL."""
        if self.rpc_url is not None:
            return self.rpc_url
        binary = self.binary or node_modules.find_anvil()
        if binary is None:
            raise VenueUnreachable(
                f"cannot start a local chain on {self.host}: no anvil binary "
                f"(searched {node_modules.searched()} and PATH); {node_modules.INSTALL_HINT}, "
                "or use the eth-tester backend (LIVEGATE_CHAIN_BACKEND=eth-tester; "
                "`pip install 'livegate[chain-fallback]'` when it is not installed)")
        for attempt in range(PORT_ATTEMPTS):
            url = f"http://{self.host}:{free_port(self.host)}"
            try:
                self._spawn(binary, url)
                wait_until_answering(url, self.start_timeout, self._exit_reason)
                rpc_call(url, "anvil_setBlockTimestampInterval", [1])
                break
            except VenueUnreachable:
                # another process may have taken the port between picking and binding it
                port_taken = "address already in use" in self._output().lower()
                self.stop()
                if not port_taken or attempt + 1 == PORT_ATTEMPTS:
                    raise
        self.rpc_url = url
        return url

    def stop(self) -> None:
        """End the process: SIGTERM, wait, SIGKILL if it lingers."""
        process, self._process, self.rpc_url = self._process, None, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=STOP_TIMEOUT_S)
        if self._log is not None:
            self._log.close()
            self._log = None

    def _spawn(self, binary: Path, url: str) -> None:
        port = url.rsplit(":", 1)[1]
        self._log = tempfile.TemporaryFile(mode="w+b")
        args = [str(binary), "--host", self.host, "--port", port, "--chain-id", str(self.chain_id),
                "--mnemonic", DEV_MNEMONIC, "--derivation-path", f"{DEV_HD_PATH}/",
                "--accounts", str(len(DEV_ACCOUNTS)), "--balance", str(DEV_BALANCE_ETH), "--quiet"]
        try:
            self._process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=self._log,
                                             stderr=subprocess.STDOUT)
        except OSError as exc:
            raise VenueUnreachable(f"cannot start anvil ({binary}) for {url}: {exc}") from exc

    def _exit_reason(self) -> str | None:
        if self._process is None or self._process.poll() is None:
            return None
        output = self._output().strip()
        return f"anvil exited with code {self._process.returncode}" + (f": {output[-500:]}" if output else "")

    def _output(self) -> str:
        if self._log is None:
            return ""
        self._log.seek(0)
        return self._log.read().decode(errors="replace")

    def __enter__(self) -> AnvilNode:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
