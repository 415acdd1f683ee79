"""Adapters: the only code that talks to the outside world — exchanges through ccxt, chains
through web3, alert transports through apprise, git, the secret scanner, market-data files
and the local sandbox venue. ccxt, web3 and apprise are imported lazily, inside adapters."""
