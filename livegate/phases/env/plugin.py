"""Phase 1 — environment validation (`phases/env.yaml`, seed 000 §1.1–§1.4).

Each check measures one thing for real: git is asked about `.env`, the exchange is asked what
its API key may do, the chain node for its id, the clock is compared with the exchange's.
Probes are built on first use and shared through the context's extras (`env`, `exchange`,
`rpc`, `scan`), so tests and the CLI may hand in their own."""

from __future__ import annotations

from typing import Any

from livegate.adapters.envcheck.gitrepo import env_file_safe, env_file_status
from livegate.adapters.envcheck.secretscan import scan
from livegate.adapters.envcheck.signer import signer_address
from livegate.adapters.envcheck.venues import ExchangeProbe, RpcProbe
from livegate.adapters.exchange.client import CREDENTIAL_ENV, exchange_facts, workspace_exchange
from livegate.adapters.exchange.permissions import can_read_permissions
from livegate.config.environment import EXCHANGE_KEYS, SAFE_FLAGS, WorkspaceEnv, load_env
from livegate.core.redact import is_secret_name
from livegate.core.results import Verdict
from livegate.ledger import queries
from livegate.phases import Measurement, PhaseContext
from livegate.services.exchange_key import BASELINE_FIELD, key_evidence

TESTNET_SKIP = "not applicable on a testnet (it has no key-permission endpoint); checked for real keys on a live venue"
NO_CHAIN = "chain.enabled is false: no on-chain trading, no signer or node to check"
ATTESTATION = "api_key_permissions"
ATTEST_STATEMENT = ("This API key can read balances and orders and place orders, and has NO right to withdraw "
                    "or transfer funds (withdrawals, internal and universal transfers all disabled).")


# -- shared probes ------------------------------------------------------------------------------

def env_of(ctx: PhaseContext) -> WorkspaceEnv:
    if "env" not in ctx.extras:
        ctx.extras["env"] = load_env(ctx.workspace.root)
    return ctx.extras["env"]


def has_keys(ctx: PhaseContext) -> bool:
    env = env_of(ctx)
    return all(env.get(name) for name in EXCHANGE_KEYS)


def exchange_probe(ctx: PhaseContext):
    """The exchange probe (signed with the workspace's key when both key and secret are set)."""
    if "exchange" not in ctx.extras:
        section = ctx.effective.config.exchange
        client = workspace_exchange(section, env_of(ctx) if has_keys(ctx) else None, timeout_ms=5000)
        ctx.extras["exchange"] = ExchangeProbe(client, exchange_where(section, client))
    return ctx.extras["exchange"]


def exchange_where(section: Any, client: Any = None) -> str:
    """The exchange and the URL it is reached at, for messages."""
    url = section.base_url
    if url is None and client is not None:
        api = client.urls.get("api")
        if isinstance(api, dict):
            url = next((api[k] for k in ("public", "rest", "spot") if isinstance(api.get(k), str)), None) or next(iter(api.values()), None)
        else:
            url = api
    return f"{section.id} at {url}" if url else section.id


def rpc_probe(ctx: PhaseContext):
    if "rpc" not in ctx.extras:
        ctx.extras["rpc"] = RpcProbe(ctx.effective.config.chain.rpc_url)
    return ctx.extras["rpc"]


def unreachable(ctx: PhaseContext) -> list[str]:
    """Messages of every venue that could not be reached during the checks."""
    return [m for name in ("exchange", "rpc") if name in ctx.extras for m in ctx.extras[name].unreachable]


def _chain_off(ctx: PhaseContext) -> Measurement | None:
    chain = ctx.effective.config.chain
    if not chain.enabled:
        return Measurement(None, message=NO_CHAIN, verdict=Verdict.SKIP)
    if not chain.rpc_url:
        return Measurement(None, message="chain.rpc_url is not set in livegate.yaml", verdict=Verdict.FAIL)
    return None


# -- 1.1 configuration -----------------------------------------------------------------------------

def check_config_schema_valid(ctx: PhaseContext) -> Measurement:
    """The YAML files validated to get here; the `.env` values are checked now."""
    env = env_of(ctx)
    problems = env.problems()
    evidence = {"files": ["livegate.yaml", "risk_limits.yaml", "phases/*.yaml", ".env"], "config_fingerprint": ctx.effective.fingerprint}
    if not problems:
        evidence["environment"] = env.in_force()
    return Measurement(not problems, evidence=evidence, message="; ".join(problems))


def check_env_file_present(ctx: PhaseContext) -> Measurement:
    env = env_of(ctx)
    return Measurement(env.env_file_exists, evidence=str(env.env_file),
                       message="" if env.env_file_exists else f"{env.env_file} does not exist: copy .env.example to .env and fill it in")


def check_env_file_not_tracked(ctx: PhaseContext) -> Measurement:
    status = env_file_status(ctx.workspace.root)
    ok, problems = env_file_safe(status)
    note = "" if status["repository"] else "not a git repository; .gitignore checked"
    return Measurement(ok, evidence=status, message=problems or note)


def check_safe_flags_initial(ctx: PhaseContext) -> Measurement:
    env = env_of(ctx)
    seen = {name: env.flag(name) for name in SAFE_FLAGS}
    wrong = [(f"{name} is not set" if env.get(name) is None else f"{name} is {env.get(name)} ({env.where(name)})")
             + f", must be {str(want).lower()}" for name, want in SAFE_FLAGS.items() if seen[name] is not want]
    return Measurement(not wrong, evidence={name: {"value": env.get(name), "set_in": env.where(name)} for name in SAFE_FLAGS},
                       message="; ".join(wrong))


def needed_credentials(ctx: PhaseContext) -> list[tuple[str, ...]]:
    """Each credential the configured venues need, as alternatives (any one of them will do)."""

    exchange = exchange_facts(ctx.effective.config.exchange.id)
    required = getattr(exchange, "requiredCredentials", {}) or {}
    needed = [(name,) for name in EXCHANGE_KEYS]
    needed += [(env_name,) for cred, env_name in CREDENTIAL_ENV.items() if required.get(cred) and env_name not in EXCHANGE_KEYS]
    if ctx.effective.config.chain.enabled:
        needed.append(("SIGNER_KEYSTORE_PATH", "SIGNER_PRIVATE_KEY"))
    return needed


def check_api_keys_present(ctx: PhaseContext) -> Measurement:
    env = env_of(ctx)
    missing = [" or ".join(names) for names in needed_credentials(ctx) if not any(env.get(n) for n in names)]
    if env.get("SIGNER_KEYSTORE_PATH") and not env.get("SIGNER_KEYSTORE_PASSWORD"):
        missing.append("SIGNER_KEYSTORE_PASSWORD")
    evidence: dict[str, str | None] = {name: ("set in " + env.where(name)) if env.get(name) else "missing"
                                       for names in needed_credentials(ctx) for name in names}
    evidence.update(key_evidence(env, ctx.effective.config.exchange.id))  # the key the sign-off binds (SPEC §14)
    return Measurement(not missing, evidence=evidence, message=("missing: " + ", ".join(missing)) if missing else "")


# -- 1.2 credentials -------------------------------------------------------------------------------

def _permissions(ctx: PhaseContext):
    """The key's permissions as the exchange reports them; a SKIP/FAIL Measurement when they
    cannot be asked (testnet, no keys, an exchange livegate cannot ask and no attestation)."""

    section = ctx.effective.config.exchange
    if section.testnet:
        return Measurement(None, message=TESTNET_SKIP, verdict=Verdict.SKIP)
    if not has_keys(ctx):
        return Measurement(None, message="EXCHANGE_API_KEY and EXCHANGE_API_SECRET are not both set", verdict=Verdict.FAIL)
    if not can_read_permissions(section.id):
        attested = attestation_for(ctx)
        if attested is None:
            return Measurement(None, message=f"livegate cannot read {section.id} key permissions; check them on the exchange, then "
                                             "record your signed statement with `livegate validate --attest-no-withdrawal`",
                               verdict=Verdict.FAIL)
        return attested
    return exchange_probe(ctx).permissions()


def _permission(attr: str, ok_when: bool, fail_hint: str, attested: bool = True):
    """A check of one permission flag; `attested`: whether an operator attestation covers it."""
    def check(ctx: PhaseContext) -> Measurement:
        perms = _permissions(ctx)
        if isinstance(perms, Measurement):
            return perms
        if isinstance(perms, dict) and not attested:
            return Measurement(None, evidence=perms, message="the exchange does not report it and the attestation does not cover it",
                               verdict=Verdict.SKIP)
        if isinstance(perms, dict):  # an operator attestation
            return Measurement(True, evidence=perms, message=f"attested by {perms['by']} (ledger event #{perms['event']})")
        value = getattr(perms, attr)
        if value is None:
            return Measurement(None, evidence=perms.evidence(), message=f"{perms.source} does not report this", verdict=Verdict.SKIP)
        ok = value is ok_when
        message = "" if ok else fail_hint.format(rights=", ".join(perms.withdraw_rights) or attr)
        return Measurement(ok, evidence=perms.evidence(), message=message)

    check.__name__ = f"check_{attr}"
    return check


def check_key_can_read(ctx: PhaseContext) -> Measurement:
    """A real signed read (the balance), plus the exchange's own flag where it reports one. What
    the account holds now is kept as the baseline of the sign-off: the operator's own holdings,
    which the switch to a live mode leaves out of its open positions."""
    if not has_keys(ctx):
        return Measurement(None, message="EXCHANGE_API_KEY and EXCHANGE_API_SECRET are not both set", verdict=Verdict.FAIL)
    balance = exchange_probe(ctx).balance()
    perms = _permissions(ctx)
    if not isinstance(perms, Measurement) and not isinstance(perms, dict) and perms.read is False:
        return Measurement(False, evidence=perms.evidence(), message="the exchange reports the key without read access")
    return Measurement(True, evidence={"fetch_balance": "ok", "assets": balance["assets"], BASELINE_FIELD: balance["holdings"]})


check_key_can_trade = _permission("trade", True, "the key cannot place orders: enable spot trading for it")
check_key_withdrawal_disabled = _permission(
    "withdraw", False, "the key can move funds out ({rights}): create a key without withdrawal and transfer rights")
check_key_ip_whitelist = _permission("ip_restricted", True, "the key is not restricted to whitelisted IPs", attested=False)


def check_signer_address_pinned(ctx: PhaseContext) -> Measurement:
    off = _chain_off(ctx)
    if off is not None and off.verdict == Verdict.SKIP:
        return off
    env = env_of(ctx)
    address, kind = signer_address(env, ctx.workspace.root)
    allowed = env.allowlist("ALLOW_SIGNER_ADDRESSES")
    if address is None:
        return Measurement(None, message="no signer configured: set SIGNER_KEYSTORE_PATH (or SIGNER_PRIVATE_KEY)", verdict=Verdict.FAIL)
    pinned = address.lower() in {a.lower() for a in allowed}
    notes = [] if pinned else [f"{address} is not in ALLOW_SIGNER_ADDRESSES ({', '.join(allowed) or 'empty'})"]
    if kind == "env key":
        notes.append("a raw private key in the environment: use a keystore (or a remote signer) for production")
    return Measurement(pinned, evidence={"address": address, "signer": kind, "allowed": allowed}, message="; ".join(notes))


# -- 1.3 connectivity ------------------------------------------------------------------------------

def _probe_note(timing: dict) -> str:
    if not timing.get("retries"):
        return ""
    return f"{timing['retries']} request(s) retried ({timing['rate_limited']} rate-limited with 429)"


def check_exchange_latency_ms(ctx: PhaseContext) -> Measurement:
    timing = exchange_probe(ctx).timing()
    return Measurement(timing["latency_ms"], evidence=timing, message=_probe_note(timing))


def check_clock_skew_ms(ctx: PhaseContext) -> Measurement:
    timing = exchange_probe(ctx).timing()
    skew = timing["skew_ms"]
    ahead = "ahead of" if skew > 0 else "behind"
    return Measurement(abs(skew), evidence={"skew_ms": skew, "url": timing["url"]},
                       message=f"the exchange's clock is {abs(skew):,.0f} ms {ahead} this machine's" if abs(skew) >= 1 else "")


def check_rpc_latency_ms(ctx: PhaseContext) -> Measurement:
    off = _chain_off(ctx)
    if off is not None:
        return off
    timing = rpc_probe(ctx).timing()
    return Measurement(timing["latency_ms"], evidence=timing)


def check_chain_id_matches(ctx: PhaseContext) -> Measurement:
    off = _chain_off(ctx)
    if off is not None:
        return off
    timing = rpc_probe(ctx).timing()
    want = ctx.effective.config.chain.chain_id
    ok = timing["chain_id"] == want
    return Measurement(ok, evidence={"node": timing["chain_id"], "configured": want, "url": timing["url"]},
                       message="" if ok else f"the node at {timing['url']} is chain {timing['chain_id']}, livegate.yaml says {want}")


# -- 1.4 security ----------------------------------------------------------------------------------

def check_secret_findings(ctx: PhaseContext) -> Measurement:
    if "scan" not in ctx.extras:
        env = env_of(ctx)
        known = {name: s.value for name, s in env.settings.items() if is_secret_name(name)}
        ctx.extras["scan"] = scan(ctx.workspace.root, known)
    report = ctx.extras["scan"]
    findings = report["findings"]
    shown = [f"{f['file']}:{f['line']}{' @' + f['commit'] if 'commit' in f else ''} ({f['detector']})" for f in findings[:5]]
    more = f" and {len(findings) - 5} more" if len(findings) > 5 else ""
    return Measurement(len(findings), evidence={**report, "findings": findings[:50]},
                       message=("; ".join(shown) + more) if findings else
                       f"{report['files_scanned']} files and {report['commits_scanned']} commits scanned")


def check_allowlists_set(ctx: PhaseContext) -> Measurement:
    env = env_of(ctx)
    cfg = ctx.effective.config
    lists = {name: env.allowlist(name) for name in ("ALLOW_EXCHANGES", "ALLOW_CHAINS", "ALLOW_TOKENS", "ALLOW_SIGNER_ADDRESSES")}
    problems = []
    if cfg.exchange.id not in lists["ALLOW_EXCHANGES"]:
        problems.append(f"ALLOW_EXCHANGES ({', '.join(lists['ALLOW_EXCHANGES']) or 'empty'}) does not include exchange.id {cfg.exchange.id}")
    if cfg.chain.enabled:
        chains = {c.lower() for c in lists["ALLOW_CHAINS"]}
        if cfg.chain.name.lower() not in chains and str(cfg.chain.chain_id) not in chains:
            problems.append(f"ALLOW_CHAINS ({', '.join(lists['ALLOW_CHAINS']) or 'empty'}) does not include chain {cfg.chain.name} ({cfg.chain.chain_id})")
        for name in ("ALLOW_TOKENS", "ALLOW_SIGNER_ADDRESSES"):
            if not lists[name]:
                problems.append(f"{name} is empty: on-chain trading needs it set")
    return Measurement(not problems, evidence=lists, message="; ".join(problems))


def check_rate_limits_set(ctx: PhaseContext) -> Measurement:
    """Set for every venue, and no faster than ccxt's published pace for the exchange."""
    cfg = ctx.effective.config
    problems = []
    exchange_rpm = cfg.exchange.rate_limit_per_minute
    published = _published_rpm(cfg.exchange.id)
    if exchange_rpm is None:
        problems.append("exchange.rate_limit_per_minute is not set")
    elif published is not None and exchange_rpm > published:
        problems.append(f"exchange.rate_limit_per_minute {exchange_rpm} is faster than {cfg.exchange.id}'s published pace ({published:g}/min)")
    if cfg.chain.enabled and cfg.chain.rate_limit_per_minute is None:
        problems.append("chain.rate_limit_per_minute is not set")
    return Measurement(not problems, evidence={"exchange_per_minute": exchange_rpm, "exchange_published_per_minute": published,
                                               "chain_per_minute": cfg.chain.rate_limit_per_minute if cfg.chain.enabled else None},
                       message="; ".join(problems))


def _published_rpm(exchange_id: str) -> float | None:
    """Requests per minute at ccxt's own pace for the exchange (its `rateLimit`, ms between calls)."""
    exchange = exchange_facts(exchange_id)
    gap = getattr(exchange, "rateLimit", None)
    return round(60_000 / gap, 1) if gap else None


# -- attestation -----------------------------------------------------------------------------------

def key_id(api_key: str) -> str:
    """A short, non-reversible name of an API key (so an attestation binds to one key)."""
    import hashlib

    return hashlib.sha256(api_key.encode()).hexdigest()[:16]


def attestation_payload(ctx: PhaseContext) -> dict:
    env = env_of(ctx)
    return {"kind": ATTESTATION, "exchange": ctx.effective.config.exchange.id,
            "key_fingerprint": key_id(env.get("EXCHANGE_API_KEY") or ""), "statement": ATTEST_STATEMENT}


def attestation_for(ctx: PhaseContext) -> dict | None:
    """The latest signed attestation for this exchange and this API key, if any."""

    want = attestation_payload(ctx)
    with queries.reading(ctx.workspace.ledger_path) as conn:
        event = queries.latest_with(conn, "attestation", {name: want[name] for name in ("kind", "exchange", "key_fingerprint")})
    if event is None:
        return None
    return {"by": event["actor"], "at": event["ts"], "event": event["id"], "statement": event["payload"].get("statement")}


class EnvPhase:
    id = "env"
    checks = {
        "config_schema_valid": check_config_schema_valid,
        "env_file_present": check_env_file_present,
        "env_file_not_tracked": check_env_file_not_tracked,
        "safe_flags_initial": check_safe_flags_initial,
        "api_keys_present": check_api_keys_present,
        "key_can_read": check_key_can_read,
        "key_can_trade": check_key_can_trade,
        "key_withdrawal_disabled": check_key_withdrawal_disabled,
        "key_ip_whitelist": check_key_ip_whitelist,
        "signer_address_pinned": check_signer_address_pinned,
        "exchange_latency_ms": check_exchange_latency_ms,
        "rpc_latency_ms": check_rpc_latency_ms,
        "chain_id_matches": check_chain_id_matches,
        "clock_skew_ms": check_clock_skew_ms,
        "secret_findings": check_secret_findings,
        "allowlists_set": check_allowlists_set,
        "rate_limits_set": check_rate_limits_set,
    }


PHASE = EnvPhase()
