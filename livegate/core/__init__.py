"""The pure core: criteria, phase results, gate rules, canonical hashing.

Nothing here does I/O or imports typer, rich, sqlite, ccxt or web3.
"""
