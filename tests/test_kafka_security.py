"""SASL/SSL settings reach Faust and aiokafka alike, and bad combinations name their variable.

No broker is needed: these pin down what closeknit hands to the clients. Certificates are
made with the `openssl` command line in a temporary directory.
"""

from __future__ import annotations

import asyncio
import shutil
import ssl
import subprocess
from dataclasses import dataclass, fields
from pathlib import Path

import faust
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth

from service.config import ConfigError, Settings, load_settings, settings_doc
from service.kafka_security import ENV, PLAINTEXT, SETTINGS_PREFIX, KafkaSecurity, variables

PASSWORD = "correct-horse-battery-staple"


@dataclass(frozen=True)
class Pki:
    ca: Path
    cert: Path
    key: Path
    other_key: Path
    not_pem: Path


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """A self-signed CA certificate, a client certificate with its key, and a stray key."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make test certificates")
    d = tmp_path_factory.mktemp("pki")

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=d)

    for name in ("ca", "client"):
        openssl(
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-subj", f"/CN=closeknit-test-{name}",
            "-keyout", f"{name}.key", "-out", f"{name}.pem",
        )  # fmt: skip
    openssl("genrsa", "-out", "other.key", "2048")
    (d / "not.pem").write_text("this is not a certificate\n")
    return Pki(d / "ca.pem", d / "client.pem", d / "client.key", d / "other.key", d / "not.pem")


def env(**values: str) -> dict[str, str]:
    """Variables by their KafkaSecurity field name: env(security_protocol="SSL")."""
    return {ENV[name]: value for name, value in values.items()}


def sasl_ssl_env(pki: Pki, **extra: str) -> dict[str, str]:
    return env(
        security_protocol="SASL_SSL",
        sasl_mechanism="SCRAM-SHA-512",
        sasl_username="closeknit",
        sasl_password=PASSWORD,
        ssl_cafile=str(pki.ca),
        **extra,
    )


# --- what the clients get -------------------------------------------------------------------


def test_nothing_set_means_plaintext_and_no_credentials() -> None:
    security = KafkaSecurity.from_env({})

    assert security == PLAINTEXT
    assert security.faust_credentials() is None
    assert security.aiokafka_kwargs() == {"security_protocol": "PLAINTEXT"}
    assert security.ssl_context() is None


def test_empty_variables_count_as_unset() -> None:
    blank = {var: "" for var in ENV.values()}

    assert KafkaSecurity.from_env(blank) == PLAINTEXT


def test_sasl_ssl_gives_faust_sasl_credentials_over_tls(pki: Pki) -> None:
    security = KafkaSecurity.from_env(sasl_ssl_env(pki))

    credentials = security.faust_credentials()

    assert isinstance(credentials, faust.SASLCredentials)
    assert credentials.protocol.value == "SASL_SSL"
    assert credentials.mechanism.value == "SCRAM-SHA-512"
    assert (credentials.username, credentials.password) == ("closeknit", PASSWORD)
    assert isinstance(credentials.ssl_context, ssl.SSLContext)
    assert credentials.ssl_context.check_hostname
    assert credentials.ssl_context.verify_mode == ssl.CERT_REQUIRED


def test_sasl_ssl_gives_aiokafka_the_same_settings_faust_derives(pki: Pki) -> None:
    security = KafkaSecurity.from_env(sasl_ssl_env(pki))

    ours = security.aiokafka_kwargs()
    fausts = credentials_to_aiokafka_auth(security.faust_credentials())

    assert isinstance(ours.pop("ssl_context"), ssl.SSLContext)
    assert isinstance(fausts.pop("ssl_context"), ssl.SSLContext)
    expected = {
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "closeknit",
        "sasl_plain_password": PASSWORD,
    }
    assert ours == expected
    assert fausts == expected


def test_sasl_plaintext_defaults_to_plain_and_warns_that_the_password_travels_in_clear() -> None:
    security = KafkaSecurity.from_env(
        env(security_protocol="sasl_plaintext", sasl_username="u", sasl_password=PASSWORD)
    )

    assert security.security_protocol == "SASL_PLAINTEXT"
    assert security.mechanism == "PLAIN"
    credentials = security.faust_credentials()
    assert isinstance(credentials, faust.SASLCredentials)
    assert credentials.protocol.value == "SASL_PLAINTEXT"
    assert security.aiokafka_kwargs() == {
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "PLAIN",
        "sasl_plain_username": "u",
        "sasl_plain_password": PASSWORD,
    }
    (warning,) = security.warnings()
    assert "unencrypted" in warning and PASSWORD not in warning


def test_scram_over_sasl_plaintext_raises_no_warning() -> None:
    security = KafkaSecurity.from_env(
        env(
            security_protocol="SASL_PLAINTEXT",
            sasl_mechanism="scram-sha-256",
            sasl_username="u",
            sasl_password=PASSWORD,
        )
    )

    assert security.mechanism == "SCRAM-SHA-256"
    assert security.warnings() == []


def test_ssl_with_a_client_certificate_gives_faust_ssl_credentials(pki: Pki) -> None:
    security = KafkaSecurity.from_env(
        env(
            security_protocol="SSL",
            ssl_cafile=str(pki.ca),
            ssl_certfile=str(pki.cert),
            ssl_keyfile=str(pki.key),
        )
    )

    credentials = security.faust_credentials()

    assert isinstance(credentials, faust.SSLCredentials)
    assert credentials.protocol.value == "SSL"
    kwargs = security.aiokafka_kwargs()
    assert kwargs.keys() == {"security_protocol", "ssl_context"}
    assert kwargs["security_protocol"] == "SSL"
    fausts = credentials_to_aiokafka_auth(credentials)
    assert fausts["security_protocol"] == "SSL"


def test_ssl_without_a_ca_file_trusts_the_system_cas() -> None:
    security = KafkaSecurity.from_env(env(security_protocol="SSL"))

    context = security.ssl_context()

    assert context is not None and context.check_hostname
    assert "system CAs" in security.describe()


def test_faust_accepts_the_credentials(pki: Pki) -> None:
    credentials = KafkaSecurity.from_env(sasl_ssl_env(pki)).faust_credentials()

    app = faust.App("closeknit-security-test", broker_credentials=credentials)

    assert app.conf.broker_credentials is credentials


def test_aiokafka_clients_accept_the_kwargs(pki: Pki) -> None:
    kwargs = KafkaSecurity.from_env(sasl_ssl_env(pki)).aiokafka_kwargs()

    async def construct() -> None:
        # Constructed, never started: no broker is contacted.
        AIOKafkaProducer(bootstrap_servers="127.0.0.1:9", **kwargs)
        AIOKafkaConsumer(bootstrap_servers="127.0.0.1:9", **kwargs)
        AIOKafkaAdminClient(bootstrap_servers="127.0.0.1:9", **kwargs)

    asyncio.run(construct())


# --- refusals that name the variable --------------------------------------------------------


def refusal(values: dict[str, str]) -> str:
    with pytest.raises(ConfigError) as caught:
        KafkaSecurity.from_env(values).ssl_context()
    message = str(caught.value)
    assert PASSWORD not in message
    return message


def test_an_unknown_protocol_is_refused() -> None:
    message = refusal(env(security_protocol="TLS"))

    assert "CLOSEKNIT_KAFKA_SECURITY_PROTOCOL='TLS'" in message
    assert "SASL_SSL" in message


def test_an_unknown_mechanism_is_refused() -> None:
    message = refusal(
        env(
            security_protocol="SASL_SSL",
            sasl_mechanism="GSSAPI",
            sasl_username="u",
            sasl_password=PASSWORD,
        )
    )

    assert "CLOSEKNIT_KAFKA_SASL_MECHANISM='GSSAPI'" in message
    assert "SCRAM-SHA-512" in message


@pytest.mark.parametrize("missing", ["sasl_username", "sasl_password"])
def test_sasl_without_username_or_password_is_refused(missing: str) -> None:
    values = env(security_protocol="SASL_SSL", sasl_username="u", sasl_password=PASSWORD)
    del values[ENV[missing]]

    message = refusal(values)

    assert f"CLOSEKNIT_KAFKA_SECURITY_PROTOCOL=SASL_SSL needs {ENV[missing]}" in message


@pytest.mark.parametrize("name", ["sasl_mechanism", "sasl_username", "sasl_password"])
def test_sasl_settings_without_a_sasl_protocol_are_refused_not_ignored(name: str) -> None:
    value = "PLAIN" if name == "sasl_mechanism" else "x" if name == "sasl_username" else PASSWORD

    message = refusal({ENV[name]: value})

    assert f"{ENV[name]} is set" in message
    assert "CLOSEKNIT_KAFKA_SECURITY_PROTOCOL=PLAINTEXT does not use SASL" in message


@pytest.mark.parametrize("protocol", ["PLAINTEXT", "SASL_PLAINTEXT"])
def test_ssl_files_without_a_tls_protocol_are_refused_not_ignored(pki: Pki, protocol: str) -> None:
    values = env(security_protocol=protocol, ssl_cafile=str(pki.ca))
    if protocol.startswith("SASL"):
        values |= env(sasl_username="u", sasl_password=PASSWORD)

    message = refusal(values)

    assert f"CLOSEKNIT_KAFKA_SSL_CAFILE is set but {ENV['security_protocol']}={protocol}" in message
    assert "does not use TLS" in message


def test_a_key_without_its_certificate_is_refused(pki: Pki) -> None:
    message = refusal(env(security_protocol="SSL", ssl_keyfile=str(pki.key)))

    assert "CLOSEKNIT_KAFKA_SSL_KEYFILE is set without CLOSEKNIT_KAFKA_SSL_CERTFILE" in message


@pytest.mark.parametrize("name", ["ssl_cafile", "ssl_certfile"])
def test_a_missing_file_is_refused_with_its_path(tmp_path: Path, name: str) -> None:
    missing = tmp_path / "nowhere.pem"

    message = refusal(env(security_protocol="SSL", **{name: str(missing)}))

    assert f"{ENV[name]}='{missing}': no such file" in message


def test_a_ca_file_that_is_not_pem_is_refused_at_context_creation(pki: Pki) -> None:
    message = refusal(env(security_protocol="SSL", ssl_cafile=str(pki.not_pem)))

    assert f"CLOSEKNIT_KAFKA_SSL_CAFILE='{pki.not_pem}': cannot load CA certificates" in message


def test_a_key_that_does_not_match_the_certificate_is_refused(pki: Pki) -> None:
    message = refusal(
        env(security_protocol="SSL", ssl_certfile=str(pki.cert), ssl_keyfile=str(pki.other_key))
    )

    assert "CLOSEKNIT_KAFKA_SSL_CERTFILE / CLOSEKNIT_KAFKA_SSL_KEYFILE" in message
    assert "match the certificate" in message


# --- the password stays secret --------------------------------------------------------------


def test_the_password_is_in_no_repr_or_summary(pki: Pki) -> None:
    security = KafkaSecurity.from_env(sasl_ssl_env(pki))

    shown = " ".join(
        [repr(security), str(security), security.describe(), repr(security.faust_credentials())]
    )

    assert PASSWORD not in shown
    assert "SASL_SSL" in security.describe()
    assert "SCRAM-SHA-512 as 'closeknit'" in security.describe()


def test_spaces_around_a_password_are_kept() -> None:
    security = KafkaSecurity.from_env(
        env(security_protocol="SASL_SSL", sasl_username=" u ", sasl_password=" p ")
    )

    assert (security.sasl_username, security.sasl_password) == ("u", " p ")


# --- one source of truth with Settings ------------------------------------------------------


def test_every_field_has_its_variable() -> None:
    assert variables() == [ENV[spec.name] for spec in fields(KafkaSecurity)]
    assert all(var.startswith("CLOSEKNIT_KAFKA_") for var in variables())


def test_from_settings_reads_the_kafka_fields_of_any_settings_object() -> None:
    @dataclass
    class Fake:
        kafka_security_protocol: str | None = "SASL_PLAINTEXT"
        kafka_sasl_mechanism: str | None = "SCRAM-SHA-256"
        kafka_sasl_username: str | None = "u"
        kafka_sasl_password: str | None = PASSWORD

    security = KafkaSecurity.from_settings(Fake())

    assert security.aiokafka_kwargs()["sasl_mechanism"] == "SCRAM-SHA-256"


SETTINGS_HAS_FIELDS = all(
    hasattr(Settings, SETTINGS_PREFIX + spec.name) for spec in fields(KafkaSecurity)
)


@pytest.mark.skipif(
    not SETTINGS_HAS_FIELDS,
    reason="the kafka_* fields are not in service.config.Settings yet (the lead pastes them)",
)
def test_settings_document_every_variable_and_agree_with_the_environment(pki: Pki) -> None:
    documented = {var for var, _, _ in settings_doc()}
    values = sasl_ssl_env(pki)

    from_settings = KafkaSecurity.from_settings(load_settings(values))

    assert set(variables()) <= documented
    assert from_settings == KafkaSecurity.from_env(values)
