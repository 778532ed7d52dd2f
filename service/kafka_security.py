"""SASL and SSL settings for production Kafka, for Faust and for closeknit's own clients.

One set of environment variables (below) configures both the worker (Faust's
`broker_credentials`) and the command-line clients built directly on aiokafka (replay,
tail, topics, the admin helpers), so a cluster that needs credentials gets them everywhere.

| variable | values |
|---|---|
| `CLOSEKNIT_KAFKA_SECURITY_PROTOCOL` | `PLAINTEXT` (default), `SSL`, `SASL_PLAINTEXT`, `SASL_SSL` |
| `CLOSEKNIT_KAFKA_SASL_MECHANISM` | `PLAIN` (default with SASL), `SCRAM-SHA-256`, `SCRAM-SHA-512` |
| `CLOSEKNIT_KAFKA_SASL_USERNAME` / `_PASSWORD` | required with `SASL_*` |
| `CLOSEKNIT_KAFKA_SSL_CAFILE` | PEM CA bundle; unset: the system's trusted CAs |
| `CLOSEKNIT_KAFKA_SSL_CERTFILE` / `_KEYFILE` | client certificate and unencrypted key (mTLS) |

Combinations that cannot work, or would silently drop a setting, are refused with a
`ConfigError` naming the variable. The password is never part of a repr, log line or error.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from service.config import ConfigError

if TYPE_CHECKING:
    from faust.types.auth import CredentialsT

PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")

# KafkaSecurity field -> environment variable. The matching Settings field (so that the
# variables appear in `closeknit config` and the README) is "kafka_" + the field name.
ENV: dict[str, str] = {
    "security_protocol": "CLOSEKNIT_KAFKA_SECURITY_PROTOCOL",
    "sasl_mechanism": "CLOSEKNIT_KAFKA_SASL_MECHANISM",
    "sasl_username": "CLOSEKNIT_KAFKA_SASL_USERNAME",
    "sasl_password": "CLOSEKNIT_KAFKA_SASL_PASSWORD",
    "ssl_cafile": "CLOSEKNIT_KAFKA_SSL_CAFILE",
    "ssl_certfile": "CLOSEKNIT_KAFKA_SSL_CERTFILE",
    "ssl_keyfile": "CLOSEKNIT_KAFKA_SSL_KEYFILE",
}
SETTINGS_PREFIX = "kafka_"

_SASL_FIELDS = ("sasl_mechanism", "sasl_username", "sasl_password")
_SSL_FIELDS = ("ssl_cafile", "ssl_certfile", "ssl_keyfile")


@dataclass(frozen=True, slots=True)
class KafkaSecurity:
    """How to authenticate to and encrypt traffic with the Kafka cluster (validated)."""

    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: str | None = field(default=None, repr=False)
    ssl_cafile: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> KafkaSecurity:
        """Read and validate the variables in `ENV` (empty counts as unset)."""
        env = os.environ if environ is None else environ
        return cls.from_values({name: env.get(var) for name, var in ENV.items()})

    @classmethod
    def from_settings(cls, settings: object) -> KafkaSecurity:
        """Read and validate the `kafka_*` fields of a `Settings` (absent fields: unset)."""
        return cls.from_values(
            {name: getattr(settings, SETTINGS_PREFIX + name, None) for name in ENV}
        )

    @classmethod
    def from_values(cls, values: Mapping[str, str | None]) -> KafkaSecurity:
        cleaned = {name: _clean(values.get(name), strip=name != "sasl_password") for name in ENV}
        protocol = (cleaned.pop("security_protocol") or "PLAINTEXT").upper()
        mechanism = cleaned.pop("sasl_mechanism")
        security = cls(
            security_protocol=protocol,
            sasl_mechanism=mechanism.upper() if mechanism else None,
            **cleaned,
        )
        security.validate()
        return security

    @property
    def uses_sasl(self) -> bool:
        return self.security_protocol.startswith("SASL_")

    @property
    def uses_ssl(self) -> bool:
        return self.security_protocol in ("SSL", "SASL_SSL")

    @property
    def mechanism(self) -> str:
        """The SASL mechanism in effect (PLAIN unless set)."""
        return self.sasl_mechanism or "PLAIN"

    def validate(self) -> None:
        """Raise `ConfigError`, naming the variable, for a combination that cannot work."""
        protocol_var = ENV["security_protocol"]
        if self.security_protocol not in PROTOCOLS:
            raise ConfigError(
                f"{protocol_var}={self.security_protocol!r}: expected one of {', '.join(PROTOCOLS)}"
            )
        if self.sasl_mechanism is not None and self.sasl_mechanism not in SASL_MECHANISMS:
            raise ConfigError(
                f"{ENV['sasl_mechanism']}={self.sasl_mechanism!r}: expected one of "
                f"{', '.join(SASL_MECHANISMS)}"
            )
        if not self.uses_sasl:
            for name in _SASL_FIELDS:
                if getattr(self, name) is not None:
                    raise ConfigError(
                        f"{ENV[name]} is set but {protocol_var}={self.security_protocol} does not "
                        "use SASL: set the protocol to SASL_SSL or SASL_PLAINTEXT, or unset it"
                    )
        else:
            for name in ("sasl_username", "sasl_password"):
                if getattr(self, name) is None:
                    raise ConfigError(
                        f"{protocol_var}={self.security_protocol} needs {ENV[name]} "
                        f"(SASL {self.mechanism})"
                    )
        if not self.uses_ssl:
            for name in _SSL_FIELDS:
                if getattr(self, name) is not None:
                    raise ConfigError(
                        f"{ENV[name]} is set but {protocol_var}={self.security_protocol} does not "
                        "use TLS: set the protocol to SSL or SASL_SSL, or unset it"
                    )
        if self.ssl_keyfile is not None and self.ssl_certfile is None:
            raise ConfigError(
                f"{ENV['ssl_keyfile']} is set without {ENV['ssl_certfile']}: a client key needs "
                "its certificate"
            )
        for name in _SSL_FIELDS:
            path = getattr(self, name)
            if path is not None and not Path(path).is_file():
                raise ConfigError(f"{ENV[name]}={path!r}: no such file")

    def warnings(self) -> list[str]:
        """Legal but risky choices, worth a log line at start-up."""
        notes = []
        if self.security_protocol == "SASL_PLAINTEXT" and self.mechanism == "PLAIN":
            notes.append(
                f"{ENV['security_protocol']}=SASL_PLAINTEXT with SASL PLAIN sends the password "
                "unencrypted; prefer SASL_SSL"
            )
        return notes

    def describe(self) -> str:
        """A one-line summary safe to log: never the password."""
        parts = [self.security_protocol]
        if self.uses_sasl:
            parts.append(f"SASL {self.mechanism} as {self.sasl_username!r}")
        if self.uses_ssl:
            parts.append(f"CA {self.ssl_cafile}" if self.ssl_cafile else "system CAs")
            if self.ssl_certfile:
                parts.append(f"client certificate {self.ssl_certfile}")
        return ", ".join(parts)

    def ssl_context(self) -> ssl.SSLContext | None:
        """A client TLS context (hostname checked), or None when the protocol has no TLS."""
        if not self.uses_ssl:
            return None
        from aiokafka.helpers import create_ssl_context

        try:
            context = create_ssl_context(cafile=self.ssl_cafile)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(
                f"{ENV['ssl_cafile']}={self.ssl_cafile!r}: cannot load CA certificates ({exc})"
            ) from None
        if self.ssl_certfile is not None:
            try:
                context.load_cert_chain(self.ssl_certfile, self.ssl_keyfile)
            except (OSError, ssl.SSLError) as exc:
                names = ENV["ssl_certfile"]
                if self.ssl_keyfile is not None:
                    names += f" / {ENV['ssl_keyfile']}"
                raise ConfigError(
                    f"{names}: cannot load the client certificate and key ({exc}); the key "
                    "must be PEM and unencrypted, and match the certificate"
                ) from None
        return context

    def faust_credentials(self) -> CredentialsT | None:
        """The value for `faust.App(broker_credentials=...)`; None for PLAINTEXT."""
        import faust

        if not self.uses_sasl:
            context = self.ssl_context()
            return None if context is None else faust.SSLCredentials(context)
        return faust.SASLCredentials(
            username=self.sasl_username,
            password=self.sasl_password,
            mechanism=self.mechanism,
            ssl_context=self.ssl_context(),
        )

    def aiokafka_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for AIOKafkaProducer, AIOKafkaConsumer and AIOKafkaAdminClient.

        They hold the password: pass them on, never log them.
        """
        kwargs: dict[str, Any] = {"security_protocol": self.security_protocol}
        if self.uses_sasl:
            kwargs["sasl_mechanism"] = self.mechanism
            kwargs["sasl_plain_username"] = self.sasl_username
            kwargs["sasl_plain_password"] = self.sasl_password
        if self.uses_ssl:
            kwargs["ssl_context"] = self.ssl_context()
        return kwargs


PLAINTEXT = KafkaSecurity()


@lru_cache(maxsize=1)
def client_kwargs() -> dict[str, Any]:
    """SASL/SSL keyword arguments for every aiokafka client closeknit makes, from the
    environment (read once per process): the same settings as the worker's Faust app."""
    return KafkaSecurity.from_env().aiokafka_kwargs()


def _clean(value: object, *, strip: bool = True) -> str | None:
    """Unset and empty are the same; spaces around a value are dropped (never a password's)."""
    if value is None:
        return None
    text = str(value).strip() if strip else str(value)
    return text or None


def variables() -> list[str]:
    """Every variable this module reads, in documentation order."""
    return [ENV[spec.name] for spec in fields(KafkaSecurity)]


__all__ = [
    "ENV",
    "PLAINTEXT",
    "PROTOCOLS",
    "SASL_MECHANISMS",
    "SETTINGS_PREFIX",
    "KafkaSecurity",
    "variables",
]
