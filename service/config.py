"""Configuration from environment variables, each with a documented default.

The README's configuration table is generated from `SETTINGS_DOC` (see `closeknit config`),
so the names, defaults and meanings here are the single source of truth.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path

from service.broker.quirks import QUIRKS, BrokerKind, BrokerQuirks
from service.config_rules import broker_problem, range_problem

DEFAULT_EMBEDDED_PORT = 19092


class ConfigError(ValueError):
    """A configuration variable holds a value closeknit cannot use."""


@dataclass(frozen=True, slots=True)
class Settings:
    broker: str | None = field(
        default=None,
        metadata={
            "env": "CLOSEKNIT_BROKER",
            "doc": "Kafka bootstrap URL, e.g. `kafka://kafka:9092`. Unset: use the embedded "
            "broker (`CLOSEKNIT_EMBEDDED_BROKER`), starting it if none answers.",
        },
    )
    embedded_broker: str = field(
        default="tansu",
        metadata={
            "env": "CLOSEKNIT_EMBEDDED_BROKER",
            "doc": "Which broker closeknit starts when `CLOSEKNIT_BROKER` is unset: `tansu` "
            "(in memory, needs nothing) or `kafka` (Apache Kafka in KRaft mode, jars fetched "
            "from Maven Central on first use; needs Java 17+ and Maven).",
            "choices": ("tansu", "kafka"),
        },
    )
    broker_kind: str | None = field(
        default=None,
        metadata={
            "env": "CLOSEKNIT_BROKER_KIND",
            "doc": "`tansu` or `kafka`: which broker's workarounds apply. Unset: the embedded "
            "broker's kind, or for `CLOSEKNIT_BROKER` the kind its cluster id shows.",
            "choices": ("tansu", "kafka"),
        },
    )
    embedded_port: int = field(
        default=DEFAULT_EMBEDDED_PORT,
        metadata={
            "env": "CLOSEKNIT_EMBEDDED_PORT",
            "doc": "Port of the embedded broker.",
            "min": 1,
            "max": 65535,
        },
    )
    topic_prefix: str = field(
        default="closeknit.",
        metadata={"env": "CLOSEKNIT_TOPIC_PREFIX", "doc": "Prefix of every topic name."},
    )
    partitions: int = field(
        default=4,
        metadata={
            "env": "CLOSEKNIT_PARTITIONS",
            "doc": "Partitions of each keyed topic and table (the unit of parallelism).",
            "min": 1,
            "max": 10000,
        },
    )
    app_id: str = field(
        default="closeknit",
        metadata={
            "env": "CLOSEKNIT_APP_ID",
            "doc": "Faust app id: consumer group and changelog topic names derive from it.",
        },
    )
    web_host: str = field(
        default="127.0.0.1",
        metadata={
            "env": "CLOSEKNIT_WEB_HOST",
            "doc": "Interface the worker's web server binds. Set `0.0.0.0` only behind a token.",
        },
    )
    web_port: int = field(
        default=6066,
        metadata={
            "env": "CLOSEKNIT_WEB_PORT",
            "doc": "Port of the worker's web server.",
            "min": 1,
            "max": 65535,
        },
    )
    api_token: str | None = field(
        default=None,
        metadata={
            "env": "CLOSEKNIT_API_TOKEN",
            "doc": "If set, `/api/*` requires `Authorization: Bearer <token>`. "
            "`/health` and `/metrics` stay open.",
        },
    )
    data_dir: Path = field(
        default=Path(".closeknit"),
        metadata={"env": "CLOSEKNIT_DATA_DIR", "doc": "Worker data directory (Faust datadir)."},
    )
    max_message_bytes: int = field(
        default=65536,
        metadata={
            "env": "CLOSEKNIT_MAX_MESSAGE_BYTES",
            "doc": "Input records larger than this go to the dead-letter topic unparsed.",
            "min": 1024,
            "max": 1048576,
        },
    )
    max_future_skew_s: float = field(
        default=300.0,
        metadata={
            "env": "CLOSEKNIT_MAX_FUTURE_SKEW_S",
            "doc": "Events stamped further than this into the future (wall clock) are rejected.",
            "min": 0.0,
            "max": 86400.0,
        },
    )
    session_timeout_s: float | None = field(
        default=None,
        metadata={
            "env": "CLOSEKNIT_SESSION_TIMEOUT_S",
            "doc": "Consumer-group session timeout. Unset: 6 s on Tansu (it holds every group "
            "join for half of it), Faust's 60 s on Kafka.",
            "gt": 0.0,
            "max": 1800.0,
        },
    )
    fetch_max_wait_ms: int | None = field(
        default=None,
        metadata={
            "env": "CLOSEKNIT_FETCH_MAX_WAIT_MS",
            "doc": "Longest a consumer fetch waits on the broker for new data. Unset: 25 ms on "
            "Tansu (it does not wake a waiting fetch when data arrives, so Faust's fixed "
            "1,500 ms cost about 450 ms per pipeline hop), Faust's 1,500 ms on Kafka.",
            "min": 0,
            "max": 30000,
        },
    )
    producer_linger_ms: int = field(
        default=20,
        metadata={
            "env": "CLOSEKNIT_PRODUCER_LINGER_MS",
            "doc": "How long the worker's producer holds a record to batch it with others. "
            "Faust's 0 sent a request per record: measured on the embedded broker, 20 ms "
            "about doubled end-to-end throughput, at up to 20 ms more latency per hop.",
            "min": 0,
            "max": 10000,
        },
    )
    batch_max_events: int = field(
        default=1000,
        metadata={
            "env": "CLOSEKNIT_BATCH_MAX_EVENTS",
            "doc": "Most records a stage takes as one batch (input events at ingest, "
            "envelopes after it). A batch writes each changed table row once and sends one "
            "envelope per destination partition to the next stage, so larger batches mean "
            "fewer records.",
            "min": 1,
            "max": 100000,
        },
    )
    batch_window_ms: int = field(
        default=10,
        metadata={
            "env": "CLOSEKNIT_BATCH_WINDOW_MS",
            "doc": "How long a stage waits to fill a batch before it processes what it has: "
            "the latency a quiet stream pays for batching, per stage.",
            "min": 1,
            "max": 10000,
        },
    )
    gc_young_threshold: int = field(
        default=100_000,
        metadata={
            "env": "CLOSEKNIT_GC_YOUNG_THRESHOLD",
            "doc": "Allocations between the garbage collector's young collections "
            "(service/gc_policy.py). CPython's 700 made full collections walk the whole "
            "state so often that they took about 40% of the core's time; 0 keeps "
            "CPython's defaults.",
            "min": 0,
            "max": 10_000_000,
        },
    )
    compaction_max_lag_s: float = field(
        default=600.0,
        metadata={
            "env": "CLOSEKNIT_COMPACTION_MAX_LAG_S",
            "doc": "Kafka: longest an overwritten or erased record waits before the log cleaner "
            "must remove it from a compacted topic (`max.compaction.lag.ms`; also `segment.ms` "
            "and `delete.retention.ms`). An opted-out person's old snapshots leave "
            "`dyad-updates` and the changelogs within about this, their "
            "tombstones within about three times it. Set on topics closeknit creates.",
            "min": 1.0,
            "max": 30 * 86400.0,
        },
    )
    retention_hours: float = field(
        default=168.0,
        metadata={
            "env": "CLOSEKNIT_RETENTION_HOURS",
            "doc": "`retention.ms` of the delete-policy topics (`mentions`, `replies`, "
            "`interactions`, `person-ties`, ...), timed from arrival (`LogAppendTime`): a "
            "person's raw events are gone this long after they arrive, plus one segment "
            "(at most an hour) and the broker's retention check. Set on topics closeknit "
            "creates.",
            "gt": 0.0,
            "max": 24 * 3650.0,
        },
    )
    half_life_days: float = field(
        default=14.0,
        metadata={
            "env": "CLOSEKNIT_HALF_LIFE_DAYS",
            "doc": "Half-life of tie weights, in days of event time.",
            "gt": 0.0,
            "max": 3650.0,
        },
    )
    weight_mention: float = field(
        default=1.0,
        metadata={
            "env": "CLOSEKNIT_WEIGHT_MENTION",
            "doc": "Tie weight of one mention.",
            "gt": 0.0,
            "max": 1000.0,
        },
    )
    weight_reply: float = field(
        default=2.0,
        metadata={
            "env": "CLOSEKNIT_WEIGHT_REPLY",
            "doc": "Tie weight of one reply (a conversation turn: more effort than a mention).",
            "gt": 0.0,
            "max": 1000.0,
        },
    )
    dedup_horizon_days: float = field(
        default=7.0,
        metadata={
            "env": "CLOSEKNIT_DEDUP_HORIZON_DAYS",
            "doc": "How far behind a dyad's newest event a repeat is still recognised; older "
            "events go to the dead-letter topic as `too_late`.",
            "gt": 0.0,
            "max": 365.0,
        },
    )
    strong_tie_threshold: float = field(
        default=0.6,
        metadata={
            "env": "CLOSEKNIT_STRONG_TIE_THRESHOLD",
            "doc": "Tie strength (0 to 1) at or above which a tie counts as strong.",
            "gt": 0.0,
            "lt": 1.0,
        },
    )
    failure_taxonomy: Path | None = field(
        default=None,
        metadata={
            "env": "CLOSEKNIT_FAILURE_TAXONOMY",
            "doc": "JSON file of product-failure categories and their phrases. Unset: the "
            "bundled `service/core/data/failure_taxonomy.json`.",
        },
    )
    brand_accounts: Path | None = field(
        default=None,
        metadata={
            "env": "CLOSEKNIT_BRAND_ACCOUNTS",
            "doc": "TOML file mapping each brand to its own accounts (`[brands]` then "
            '`acme = ["acme", "acmesupport"]`). Brand accounts never raise a critic '
            "alert; see deploy/brand-accounts/. Unset: only accounts the source marks "
            "(`inbound: false`) or that reply like a support desk.",
        },
    )
    webhook_url: str | None = field(
        default=None,
        metadata={
            "env": "CLOSEKNIT_WEBHOOK_URL",
            "doc": "POST each paging alert record (alert v1 JSON) here. Unset: no webhook.",
        },
    )
    webhook_secret: str | None = field(
        default=None,
        metadata={
            "env": "CLOSEKNIT_WEBHOOK_SECRET",
            "doc": "Signs each webhook body: `X-Closeknit-Signature: t=<unix>,v1=<hex>`, "
            "HMAC-SHA256 over `<t>.<body>` (service/core/webhook.py). Unset: unsigned.",
        },
    )
    webhook_events: str = field(
        default="pages",
        metadata={
            "env": "CLOSEKNIT_WEBHOOK_EVENTS",
            "doc": "`pages`: only records that page on-call; `all`: every alert record.",
            "choices": ("pages", "all"),
        },
    )
    webhook_slack: bool = field(
        default=False,
        metadata={
            "env": "CLOSEKNIT_WEBHOOK_SLACK",
            "doc": "Add a Slack-compatible `text` line to each webhook body.",
        },
    )
    webhook_max_attempts: int = field(
        default=5,
        metadata={
            "env": "CLOSEKNIT_WEBHOOK_MAX_ATTEMPTS",
            "doc": "Attempts per record (backoff 1 s doubling to 60 s) before it goes to the "
            "dead-letter topic as `webhook_failed`.",
            "min": 1,
            "max": 50,
        },
    )
    burst_prior_per_hour: float = field(
        default=2.0,
        metadata={
            "env": "CLOSEKNIT_BURST_PRIOR_PER_HOUR",
            "doc": "Failure complaints an hour expected of a brand (or failure category) seen "
            "for the first time: its moment-of-truth baseline starts here, not from silence, "
            "so it can page on its first day. A brand first seen far above it pages once "
            "and settles within the hour; set it near your brands' usual rate.",
            "gt": 0.0,
        },
    )
    critic_stale_hours: float = field(
        default=72.0,
        metadata={
            "env": "CLOSEKNIT_CRITIC_STALE_HOURS",
            "doc": "A critic alert whose person has not posted for this long (event time) "
            'resolves as stale (`actions.resolved_by` "stale"); their next post opens it again.',
            "gt": 0.0,
        },
    )
    critic_min_influence: float = field(
        default=10.0,
        metadata={
            "env": "CLOSEKNIT_CRITIC_MIN_INFLUENCE",
            "doc": "Relationship-based influence (overall or in the topic) a person needs before "
            "turning negative raises an alert; 10 is about ten balanced two-way ties active in "
            "the last half-life.",
            "min": 0.0,
        },
    )
    log_level: str = field(
        default="info",
        metadata={"env": "CLOSEKNIT_LOG_LEVEL", "doc": "Worker log level."},
    )
    kafka_security_protocol: str = field(
        default="PLAINTEXT",
        metadata={
            "env": "CLOSEKNIT_KAFKA_SECURITY_PROTOCOL",
            "doc": "`PLAINTEXT`, `SSL`, `SASL_PLAINTEXT` or `SASL_SSL`: how closeknit's Kafka "
            "clients and workers authenticate and encrypt (see deploy/README.md).",
        },
    )
    kafka_sasl_mechanism: str | None = field(
        default=None,
        metadata={
            "env": "CLOSEKNIT_KAFKA_SASL_MECHANISM",
            "doc": "`PLAIN`, `SCRAM-SHA-256` or `SCRAM-SHA-512`, with `SASL_*`. Unset: `PLAIN`.",
        },
    )
    kafka_sasl_username: str | None = field(
        default=None,
        metadata={
            "env": "CLOSEKNIT_KAFKA_SASL_USERNAME",
            "doc": "SASL user name; required with `SASL_*`.",
        },
    )
    kafka_sasl_password: str | None = field(
        default=None,
        repr=False,
        metadata={
            "env": "CLOSEKNIT_KAFKA_SASL_PASSWORD",
            "doc": "SASL password; required with `SASL_*`. Never printed or logged.",
        },
    )
    kafka_ssl_cafile: str | None = field(
        default=None,
        metadata={
            "env": "CLOSEKNIT_KAFKA_SSL_CAFILE",
            "doc": "PEM file of the CAs that signed the brokers' certificates, with `SSL` or "
            "`SASL_SSL`. Unset: the system's CAs.",
        },
    )
    kafka_ssl_certfile: str | None = field(
        default=None,
        metadata={
            "env": "CLOSEKNIT_KAFKA_SSL_CERTFILE",
            "doc": "PEM client certificate, for brokers that require mutual TLS.",
        },
    )
    kafka_ssl_keyfile: str | None = field(
        default=None,
        metadata={
            "env": "CLOSEKNIT_KAFKA_SSL_KEYFILE",
            "doc": "Private key of the client certificate (PEM, unencrypted).",
        },
    )

    @property
    def uses_embedded_broker(self) -> bool:
        return self.broker is None

    def broker_url(self) -> str:
        """The bootstrap URL, `kafka://host:port`, embedded or configured."""
        return self.broker or f"kafka://127.0.0.1:{self.embedded_port}"

    def bootstrap_servers(self) -> str:
        """`host:port[,host:port]` as aiokafka wants it."""
        return bootstrap_servers(self.broker_url())

    def topic(self, name: str) -> str:
        return f"{self.topic_prefix}{name}"

    @property
    def resolved_broker_kind(self) -> BrokerKind:
        """Which broker this is: as configured, else the embedded one's, else Kafka.

        `service.shell.runtime.prepare_broker` fills `broker_kind` in for a configured broker
        from its cluster id, so only a caller that skips it falls back to Kafka here.
        """
        if self.broker_kind is not None:
            return self.broker_kind  # type: ignore[return-value]  # checked by load_settings
        if self.uses_embedded_broker:
            return self.embedded_broker  # type: ignore[return-value]
        return "kafka"

    @property
    def quirks(self) -> BrokerQuirks:
        return QUIRKS[self.resolved_broker_kind]

    def effective_session_timeout_s(self) -> float:
        if self.session_timeout_s is not None:
            return self.session_timeout_s
        return self.quirks.session_timeout_s

    def effective_fetch_max_wait_ms(self) -> int:
        if self.fetch_max_wait_ms is not None:
            return self.fetch_max_wait_ms
        return self.quirks.fetch_max_wait_ms


def bootstrap_servers(url: str) -> str:
    """Strip the `kafka://` scheme Faust uses; aiokafka wants plain `host:port` lists."""
    servers = []
    for part in url.split(";")[0].split(","):
        part = part.strip()
        if "://" in part:
            part = part.split("://", 1)[1]
        servers.append(part.rstrip("/"))
    return ",".join(servers)


TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off")


def _convert(name: str, raw: str, annotation: str) -> object:
    if annotation.startswith("bool"):
        word = raw.strip().lower()
        if word not in TRUE_WORDS + FALSE_WORDS:
            raise ConfigError(f"{name}={raw!r}: expected true or false")
        return word in TRUE_WORDS
    try:
        if annotation.startswith("int"):
            return int(raw)
        if annotation.startswith("float"):
            return float(raw)
        if annotation.startswith("Path"):
            return Path(raw)
    except ValueError:
        kind = "a whole number" if annotation.startswith("int") else "a number"
        raise ConfigError(f"{name}={raw!r}: expected {kind}") from None
    return raw


def load_settings(environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
    """Read settings from the environment; keyword overrides win (used by CLI flags)."""
    env = os.environ if environ is None else environ
    values: dict[str, object] = {}
    given: dict[str, str] = {}  # how each value was written, for the error messages
    for spec in fields(Settings):
        var = spec.metadata["env"]
        raw = env.get(var)
        if raw is not None and raw != "":
            values[spec.name] = _convert(var, raw, str(spec.type))
            given[spec.name] = f"{var}={raw!r}"
    for name, value in overrides.items():
        if value is not None:
            values[name] = value
            # A keyword override comes from a CLI flag (--broker, --web-port).
            given[name] = f"--{name.replace('_', '-')}={value!r}"
    _check(values, given)
    broker = values.get("broker")
    if isinstance(broker, str) and "://" not in broker:
        values["broker"] = f"kafka://{broker}"
    return Settings(**values)  # type: ignore[arg-type]


def _check(values: Mapping[str, object], given: Mapping[str, str]) -> None:
    """Ranges from each field's metadata, and the broker URL's form."""
    for spec in fields(Settings):
        value = values.get(spec.name)
        choices = spec.metadata.get("choices")
        if spec.name == "broker" and isinstance(value, str):
            problem = broker_problem(value)
        elif choices and value is not None and value not in choices:
            problem = f"expected one of {', '.join(choices)}"
        else:
            problem = range_problem(value, spec.metadata, str(spec.type).startswith("int"))
        if problem:
            raise ConfigError(f"{given.get(spec.name, spec.name)}: {problem}")


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment that makes `load_settings` give back `settings` (unset ones left out):
    how a worker child process gets exactly its parent's configuration."""
    env = {}
    for spec in fields(Settings):
        value = getattr(settings, spec.name)
        if value is not None:
            env[spec.metadata["env"]] = str(value)
    return env


def settings_doc() -> list[tuple[str, str, str]]:
    """(variable, default, meaning) rows for the README and `closeknit config`."""
    rows = []
    for spec in fields(Settings):
        default = spec.default
        shown = "unset" if default is None else f"`{default}`"
        rows.append((spec.metadata["env"], shown, spec.metadata["doc"]))
    return rows
