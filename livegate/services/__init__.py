"""Services: what the phases and the command line share — the gate, modes and the halt rule,
the one assembly of the order gateway, approvals, emergency controls, alerts, monitoring and
status. They read and write the ledger only through `livegate.ledger`."""
