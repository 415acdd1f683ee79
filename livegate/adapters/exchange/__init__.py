"""Exchange adapters: the only package that talks to ccxt (imported lazily, inside functions).

`client.build_exchange` builds every ccxt client; `client.translate_error` and
`client.with_exchange_errors` turn ccxt's exceptions into livegate's."""

WEBSOCKET_NOT_USED = "not used (REST polling)"  # livegate polls venues over REST: no websocket whose disconnections could be counted
