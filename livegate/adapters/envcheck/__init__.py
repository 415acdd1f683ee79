"""What `livegate validate` (phase 1, seed 000 §1) measures beyond the config files: the git
status of `.env`, a secret scan, the signer's address, and the exchange and chain probes."""
